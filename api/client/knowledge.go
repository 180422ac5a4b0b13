package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

func kbPath(ws uuid.UUID, rest string) string { return wsPath(ws, "/knowledge"+rest) }

// CreateEntry creates a knowledge entry.
func (c *Client) CreateEntry(ctx context.Context, ws uuid.UUID, in mosaictype.EntryInput) (mosaictype.Entry, error) {
	var e mosaictype.Entry
	return e, c.Do(ctx, http.MethodPost, kbPath(ws, "/entries"), in, &e)
}

// UpdateEntry edits an entry (a new version).
func (c *Client) UpdateEntry(ctx context.Context, ws uuid.UUID, slug string, in mosaictype.EntryInput) (mosaictype.Entry, error) {
	var e mosaictype.Entry
	return e, c.Do(ctx, http.MethodPatch, kbPath(ws, "/entries/"+slug), in, &e)
}

// GetEntry reads an entry.
func (c *Client) GetEntry(ctx context.Context, ws uuid.UUID, slug string) (mosaictype.Entry, error) {
	var e mosaictype.Entry
	return e, c.Do(ctx, http.MethodGet, kbPath(ws, "/entries/"+slug), nil, &e)
}

// DeleteEntry deletes an entry.
func (c *Client) DeleteEntry(ctx context.Context, ws uuid.UUID, slug string) error {
	return c.Do(ctx, http.MethodDelete, kbPath(ws, "/entries/"+slug), nil, nil)
}

// ListEntries lists a page of entries; q holds tag, status, updated_after, updated_before, limit,
// offset, include_body.
func (c *Client) ListEntries(ctx context.Context, ws uuid.UUID, q url.Values) (mosaictype.EntryList, error) {
	var out mosaictype.EntryList
	return out, c.Do(ctx, http.MethodGet, kbPath(ws, "/entries?"+q.Encode()), nil, &out)
}

// EntryLinks reads an entry's links and backlinks.
func (c *Client) EntryLinks(ctx context.Context, ws uuid.UUID, slug string) (links []mosaictype.EntryLink, backlinks []mosaictype.EntryRef, err error) {
	var out struct {
		Links     []mosaictype.EntryLink `json:"links"`
		Backlinks []mosaictype.EntryRef  `json:"backlinks"`
	}
	err = c.Do(ctx, http.MethodGet, kbPath(ws, "/entries/"+slug+"/links"), nil, &out)
	return out.Links, out.Backlinks, err
}

// SearchKnowledge searches; q holds q, mode, tag, status, updated_after, updated_before, limit, offset.
func (c *Client) SearchKnowledge(ctx context.Context, ws uuid.UUID, q url.Values) (mosaictype.SearchResult, error) {
	var out mosaictype.SearchResult
	return out, c.Do(ctx, http.MethodGet, kbPath(ws, "/search?"+q.Encode()), nil, &out)
}

// KnowledgeGraph reads the link graph (center "": the whole workspace).
func (c *Client) KnowledgeGraph(ctx context.Context, ws uuid.UUID, center string, depth int) (mosaictype.Graph, error) {
	q := url.Values{}
	if center != "" {
		q.Set("center", center)
		q.Set("depth", strconv.Itoa(depth))
	}
	var out mosaictype.Graph
	return out, c.Do(ctx, http.MethodGet, kbPath(ws, "/graph?"+q.Encode()), nil, &out)
}

// EntryVersions lists an entry's versions, newest first.
func (c *Client) EntryVersions(ctx context.Context, ws uuid.UUID, slug string) ([]mosaictype.EntryVersion, error) {
	var out struct {
		Versions []mosaictype.EntryVersion `json:"versions"`
	}
	return out.Versions, c.Do(ctx, http.MethodGet, kbPath(ws, "/entries/"+slug+"/versions"), nil, &out)
}

// EntryDiff diffs two versions (0: the defaults).
func (c *Client) EntryDiff(ctx context.Context, ws uuid.UUID, slug string, from, to int) (mosaictype.Diff, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.Itoa(from))
	}
	if to > 0 {
		q.Set("to", strconv.Itoa(to))
	}
	var out mosaictype.Diff
	return out, c.Do(ctx, http.MethodGet, kbPath(ws, "/entries/"+slug+"/diff?"+q.Encode()), nil, &out)
}

// RestoreEntry restores a version as a new one.
func (c *Client) RestoreEntry(ctx context.Context, ws uuid.UUID, slug string, version int) (mosaictype.Entry, error) {
	var e mosaictype.Entry
	return e, c.Do(ctx, http.MethodPost, kbPath(ws, "/entries/"+slug+"/restore"), mosaictype.RestoreRequest{Version: version}, &e)
}

// Reindex queues a whole-workspace re-index.
func (c *Client) Reindex(ctx context.Context, ws uuid.UUID, batch int) (uuid.UUID, error) {
	var out struct {
		TaskID uuid.UUID `json:"task_id"`
	}
	return out.TaskID, c.Do(ctx, http.MethodPost, kbPath(ws, "/reindex"), mosaictype.ReindexRequest{BatchSize: batch}, &out)
}

// KnowledgeTags lists tags with their entry counts.
func (c *Client) KnowledgeTags(ctx context.Context, ws uuid.UUID) ([]mosaictype.TagCount, error) {
	var out struct {
		Tags []mosaictype.TagCount `json:"tags"`
	}
	return out.Tags, c.Do(ctx, http.MethodGet, kbPath(ws, "/tags"), nil, &out)
}
