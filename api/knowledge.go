package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Entry writes may carry a 1 MiB body, which JSON escaping can grow: the request may be larger.
const maxEntryRequest = 8 << 20

func (s *Server) mountKnowledge(r *Router) {
	const base = "/v1/workspaces/{ws}/knowledge"
	r.Handle("POST "+base+"/entries", store.RoleMember, s.createEntry)
	r.Handle("GET "+base+"/entries", store.RoleGuest, s.listEntries)
	r.Handle("GET "+base+"/entries/{slug}", store.RoleGuest, s.getEntry)
	r.Handle("PATCH "+base+"/entries/{slug}", store.RoleMember, s.updateEntry)
	r.Handle("DELETE "+base+"/entries/{slug}", store.RoleMember, s.deleteEntry)
	r.Handle("GET "+base+"/entries/{slug}/links", store.RoleGuest, s.entryLinks)
	r.Handle("GET "+base+"/entries/{slug}/versions", store.RoleGuest, s.entryVersions)
	r.Handle("GET "+base+"/entries/{slug}/versions/{version}", store.RoleGuest, s.entryVersion)
	r.Handle("GET "+base+"/entries/{slug}/diff", store.RoleGuest, s.entryDiff)
	r.Handle("POST "+base+"/entries/{slug}/restore", store.RoleMember, s.restoreEntry)
	r.Handle("GET "+base+"/search", store.RoleGuest, s.searchKnowledge)
	r.Handle("GET "+base+"/graph", store.RoleGuest, s.knowledgeGraph)
	r.Handle("GET "+base+"/tags", store.RoleGuest, s.knowledgeTags)
	r.Handle("POST "+base+"/reindex", store.RoleAdmin, s.reindexKnowledge)
}

func (s *Server) createEntry(w http.ResponseWriter, r *Request) *Error {
	var in knowledge.EntryInput
	if e := r.DecodeUpTo(&in, maxEntryRequest); e != nil {
		return e
	}
	if in.IfVersion != 0 {
		return errorf(CodeInvalidArgument, "if_version is for edits (PATCH)")
	}
	e, err := s.cfg.Knowledge.Create(r.Context(), r.Workspace, r.Caller.Principal.UserID, in)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

func (s *Server) updateEntry(w http.ResponseWriter, r *Request) *Error {
	var in knowledge.EntryInput
	if e := r.DecodeUpTo(&in, maxEntryRequest); e != nil {
		return e
	}
	if in.Slug != "" && in.Slug != r.PathValue("slug") {
		return errorf(CodeInvalidArgument, "slug: an entry's slug does not change (create a new entry instead)")
	}
	e, err := s.cfg.Knowledge.Update(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"), in)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) deleteEntry(w http.ResponseWriter, r *Request) *Error {
	if err := s.cfg.Knowledge.Delete(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug")); err != nil {
		return errorOf(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getEntry(w http.ResponseWriter, r *Request) *Error {
	e, err := s.cfg.DB.GetEntry(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"))
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

// EntryList (mosaictype.EntryList) is a page of entries.
type EntryList = mosaictype.EntryList

// filterFrom reads tag, status, updated_after and updated_before.
func filterFrom(r *Request) (store.SearchFilter, *Error) {
	q := r.URL.Query()
	f := store.SearchFilter{Tag: q.Get("tag"), Status: q.Get("status")}
	if f.Status != "" && !store.ValidEntryStatus(f.Status) {
		return f, errorf(CodeInvalidArgument, "status: %q is not DRAFT, PUBLISHED or ARCHIVED", f.Status)
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"updated_after", &f.UpdatedAfter}, {"updated_before", &f.UpdatedBefore}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseDate(v)
			if err != nil {
				return f, errorf(CodeInvalidArgument, "%s: %q is not a date (2026-01-31) or an RFC 3339 time", p.name, v)
			}
			*p.dst = &t
		}
	}
	return f, nil
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, v)
}

// limitOffset reads limit (1…max, default def) and offset (0…10000).
func limitOffset(r *Request, def, maxLimit int) (int, int, *Error) {
	q := r.URL.Query()
	limit, offset := def, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, errorf(CodeInvalidArgument, "limit: %q is not 1…%d", v, maxLimit)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			return 0, 0, errorf(CodeInvalidArgument, "offset: %q is not 0…10000", v)
		}
		offset = n
	}
	return limit, offset, nil
}

func (s *Server) listEntries(w http.ResponseWriter, r *Request) *Error {
	f, e := filterFrom(r)
	if e != nil {
		return e
	}
	limit, offset, e := limitOffset(r, 50, 500)
	if e != nil {
		return e
	}
	list, err := s.cfg.DB.ListEntries(r.Context(), r.Workspace, r.Caller.Principal.UserID, f, limit+1, offset)
	if err != nil {
		return errorOf(err)
	}
	out := EntryList{Entries: list}
	if len(list) > limit {
		out.Entries = list[:limit]
		next := offset + limit
		out.NextOffset = &next
	}
	if out.Entries == nil {
		out.Entries = []store.Entry{}
	}
	if r.URL.Query().Get("include_body") != "true" {
		for i := range out.Entries {
			out.Entries[i].Body = ""
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) entryLinks(w http.ResponseWriter, r *Request) *Error {
	links, back, err := s.cfg.DB.EntryLinks(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"))
	if err != nil {
		return errorOf(err)
	}
	if links == nil {
		links = []store.EntryLink{}
	}
	if back == nil {
		back = []store.EntryRef{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": links, "backlinks": back})
	return nil
}

func (s *Server) entryVersions(w http.ResponseWriter, r *Request) *Error {
	list, err := s.cfg.DB.EntryVersions(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"))
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": list})
	return nil
}

func versionParam(name, v string) (int, *Error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errorf(CodeInvalidArgument, "%s: %q is not a version number (1, 2, …)", name, v)
	}
	return n, nil
}

func (s *Server) entryVersion(w http.ResponseWriter, r *Request) *Error {
	n, e := versionParam("version", r.PathValue("version"))
	if e != nil {
		return e
	}
	v, err := s.cfg.DB.EntryVersionAt(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"), n)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) entryDiff(w http.ResponseWriter, r *Request) *Error {
	q := r.URL.Query()
	from, e := versionParam("from", q.Get("from"))
	if e != nil {
		return e
	}
	to, e := versionParam("to", q.Get("to"))
	if e != nil {
		return e
	}
	d, err := s.cfg.Knowledge.Diff(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"), from, to)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// RestoreRequest (mosaictype.RestoreRequest) restores an old version of an entry.
type RestoreRequest = mosaictype.RestoreRequest

func (s *Server) restoreEntry(w http.ResponseWriter, r *Request) *Error {
	var req RestoreRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if req.Version < 1 {
		return errorf(CodeInvalidArgument, "version: give the version to restore (1, 2, …)")
	}
	e, err := s.cfg.Knowledge.Restore(r.Context(), r.Workspace, r.Caller.Principal.UserID, r.PathValue("slug"), req.Version)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) searchKnowledge(w http.ResponseWriter, r *Request) *Error {
	f, e := filterFrom(r)
	if e != nil {
		return e
	}
	limit, offset, e := limitOffset(r, 20, knowledge.MaxLimit)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	fed, e := federated(r)
	if e != nil {
		return e
	}
	if fed && (s.cfg.Federation == nil || offset > 0) {
		return errorf(CodeInvalidArgument, "federated: this instance has no federation, or offset was given (a federated search has one page)")
	}
	req := knowledge.SearchRequest{Query: q.Get("q"), Mode: q.Get("mode"), Filter: f, Limit: limit, Offset: offset}
	res, err := s.cfg.Knowledge.Search(r.Context(), r.Workspace, r.Caller.Principal.UserID, req)
	if err != nil {
		return errorOf(err)
	}
	if fed {
		return s.federatedSearch(w, r, req, res)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) knowledgeGraph(w http.ResponseWriter, r *Request) *Error {
	q := r.URL.Query()
	depth := 0
	if q.Get("center") != "" {
		depth = 2
	}
	if v := q.Get("depth"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errorf(CodeInvalidArgument, "depth: %q is not 1…%d", v, knowledge.MaxDepth)
		}
		if q.Get("center") == "" {
			return errorf(CodeInvalidArgument, "depth needs center (the slug the neighbourhood is around)")
		}
		depth = n
	}
	g, err := s.cfg.Knowledge.Graph(r.Context(), r.Workspace, r.Caller.Principal.UserID, q.Get("center"), depth)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Server) knowledgeTags(w http.ResponseWriter, r *Request) *Error {
	tags, err := s.cfg.DB.Tags(r.Context(), r.Workspace, r.Caller.Principal.UserID)
	if err != nil {
		return errorOf(err)
	}
	if tags == nil {
		tags = []store.TagCount{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags})
	return nil
}

// ReindexRequest (mosaictype.ReindexRequest) starts a whole-workspace re-index.
type ReindexRequest = mosaictype.ReindexRequest

func (s *Server) reindexKnowledge(w http.ResponseWriter, r *Request) *Error {
	var req ReindexRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if req.BatchSize < 0 || req.BatchSize > 1000 {
		return errorf(CodeInvalidArgument, "batch_size: %d is not 0…1000", req.BatchSize)
	}
	id, err := s.cfg.Knowledge.Reindex(r.Context(), r.Workspace, r.Caller.Principal.UserID, req.BatchSize)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"task_id": id})
	return nil
}
