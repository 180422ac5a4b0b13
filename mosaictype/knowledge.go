package mosaictype

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Entry is a knowledge entry as its reader sees it.
type Entry struct {
	WorkspaceID    uuid.UUID  `json:"workspace_id"`
	ID             uuid.UUID  `json:"id"`
	Slug           string     `json:"slug"`
	Title          string     `json:"title"`
	Body           string     `json:"body"`
	Status         string     `json:"status"`
	Visibility     string     `json:"visibility"`
	AuthorID       *uuid.UUID `json:"author_id"`
	UpdatedBy      *uuid.UUID `json:"updated_by"`
	Version        int        `json:"version"`
	IndexedVersion int        `json:"indexed_version"`
	IndexedAt      *time.Time `json:"indexed_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Aliases        []string   `json:"aliases"`
	// Metadata is every front matter key that maps to no field, as a JSON object in the order
	// of the file it was imported from ({} when none).
	Metadata json.RawMessage `json:"metadata"`
	FileName string          `json:"file_name,omitempty"` // the file (without .md) it was imported from
	Tags     []string        `json:"tags"`
}

// EntryLink is a link as its reader sees it: Target is nil while it dangles (or its target is
// not visible to the reader).
type EntryLink struct {
	TargetSlug  string     `json:"target_slug"`
	TargetID    *uuid.UUID `json:"target_id"`
	TargetTitle string     `json:"target_title,omitempty"`
	Label       string     `json:"label,omitempty"`
}

// EntryRef names an entry.
type EntryRef struct {
	ID    uuid.UUID `json:"id"`
	Slug  string    `json:"slug"`
	Title string    `json:"title"`
}

// EntryVersion is one recorded edit.
type EntryVersion struct {
	Version   int        `json:"version"`
	Title     string     `json:"title"`
	Body      string     `json:"body,omitempty"`
	Status    string     `json:"status"`
	AuthorID  *uuid.UUID `json:"author_id"`
	Message   string     `json:"message,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	Size      int        `json:"size"`
}

// TagCount is a tag and how many visible entries carry it.
type TagCount struct {
	Name    string `json:"name"`
	Entries int    `json:"entries"`
}

// Hit is one search result.
type Hit struct {
	ID        uuid.UUID `json:"id"`
	Slug      string    `json:"slug"`
	Title     string    `json:"title"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
	// Score: ts_rank_cd for full text, cosine similarity for semantic, the fused score for hybrid.
	Score float64 `json:"score"`
	// Snippet is the best passage with the matched words between « and » (full text and hybrid).
	Snippet string `json:"snippet,omitempty"`
}

// GraphNode is an entry in the link graph.
type GraphNode struct {
	ID        uuid.UUID `json:"id"`
	Slug      string    `json:"slug"`
	Title     string    `json:"title"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GraphEdge is a resolved link between two visible entries.
type GraphEdge struct {
	Source uuid.UUID `json:"source"`
	Target uuid.UUID `json:"target"`
	Label  string    `json:"label,omitempty"`
}

// EntryInput is an entry to create, or an edit (nil: unchanged).
type EntryInput struct {
	Slug       string    `json:"slug,omitempty"`
	Title      *string   `json:"title,omitempty"`
	Body       *string   `json:"body,omitempty"`
	Status     *string   `json:"status,omitempty"`
	Visibility *string   `json:"visibility,omitempty"`
	Tags       *[]string `json:"tags,omitempty"`
	Aliases    *[]string `json:"aliases,omitempty"`
	// Metadata is front matter that maps to no field: a JSON object, kept as given (key order
	// included) and exported back. nil: unchanged ({} on create).
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// FileName is the file (without .md) the entry was imported from: links may name it.
	FileName *string `json:"file_name,omitempty"`
	// CreatedAt backdates a new entry (import: front matter's created or date); ignored by edits.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	Message   string     `json:"message,omitempty"`
	// IfVersion makes an edit conditional on the entry's current version.
	IfVersion int `json:"if_version,omitempty"`
}

// Diff is a unified diff between two versions of an entry.
type Diff struct {
	Slug    string `json:"slug"`
	From    int    `json:"from"`
	To      int    `json:"to"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Diff    string `json:"diff"`
}

// SearchResult is a page of hits.
type SearchResult struct {
	Mode       string `json:"mode"`
	Results    []Hit  `json:"results"`
	NextOffset *int   `json:"next_offset"`
	// Embedder names the embedder of the semantic leg, and MinSimilarity its floor (semantic and
	// hybrid mode only).
	Embedder      string  `json:"embedder,omitempty"`
	MinSimilarity float64 `json:"min_similarity,omitempty"`
	// Note says what the results can and cannot be: with the built-in lexical embedder, the
	// semantic leg matches shared words, not meaning.
	Note string `json:"note,omitempty"`
}

// Graph is nodes, edges and stats.
type Graph struct {
	Center string      `json:"center,omitempty"`
	Depth  int         `json:"depth,omitempty"`
	Nodes  []Node      `json:"nodes"`
	Edges  []GraphEdge `json:"edges"`
	Stats  GraphStats  `json:"stats"`
}

// Node is an entry in a graph answer.
type Node struct {
	GraphNode
	In  int `json:"in"`  // links to it
	Out int `json:"out"` // links from it
	// Depth is the distance from the centre (0 for it) in a neighbourhood graph.
	Depth int `json:"depth"`
}

// GraphStats summarise a graph.
type GraphStats struct {
	Nodes         int        `json:"nodes"`
	Edges         int        `json:"edges"`
	Orphans       []EntryRef `json:"orphans"` // entries with no link in or out (at most 50 listed)
	OrphanCount   int        `json:"orphan_count"`
	MostConnected []Degree   `json:"most_connected"` // the ten with most links
	DanglingLinks int        `json:"dangling_links"` // in the whole workspace, of visible entries
}

// Degree counts links either way.
type Degree struct {
	EntryRef
	Degree int `json:"degree"`
}

// EntryList is a page of entries.
type EntryList struct {
	Entries    []Entry `json:"entries"`
	NextOffset *int    `json:"next_offset"`
}

// RestoreRequest restores an old version of an entry.
type RestoreRequest struct {
	Version int `json:"version"`
}

// ReindexRequest starts a whole-workspace re-index.
type ReindexRequest struct {
	BatchSize int `json:"batch_size,omitempty"`
}
