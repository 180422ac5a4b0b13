package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SearchFilter narrows a search or a listing to visible entries with a tag, a status, or updated
// within a window.
type SearchFilter struct {
	Tag           string
	Status        string
	UpdatedAfter  *time.Time
	UpdatedBefore *time.Time
}

// where renders the filter as SQL conditions on entries e, appending to args ($1 is the workspace).
func (f SearchFilter) where(args *[]any) string {
	var b strings.Builder
	b.WriteString("e.workspace_id = $1")
	add := func(cond string, v any) {
		*args = append(*args, v)
		fmt.Fprintf(&b, " AND "+cond, len(*args))
	}
	if f.Tag != "" {
		add(`EXISTS (SELECT 1 FROM knowledge_entry_tags et JOIN knowledge_tags t ON t.workspace_id = et.workspace_id AND t.id = et.tag_id
			WHERE et.workspace_id = e.workspace_id AND et.entry_id = e.id AND t.name = $%d)`, f.Tag)
	}
	if f.Status != "" {
		add("e.status = $%d", f.Status)
	}
	if f.UpdatedAfter != nil {
		add("e.updated_at >= $%d", *f.UpdatedAfter)
	}
	if f.UpdatedBefore != nil {
		add("e.updated_at < $%d", *f.UpdatedBefore)
	}
	return b.String()
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

// ErrEmptyQuery: the query holds no searchable word.
var ErrEmptyQuery = fmt.Errorf("the query has no searchable words (only stop words or punctuation)")

// ListEntries lists visible entries, most recently updated first.
func (db *DB) ListEntries(ctx context.Context, ws, user uuid.UUID, f SearchFilter, limit, offset int) ([]Entry, error) {
	args := []any{ws}
	where := f.where(&args)
	args = append(args, limit, offset)
	sql := fmt.Sprintf(`SELECT %s FROM knowledge_entries e WHERE %s ORDER BY e.updated_at DESC, e.id LIMIT $%d OFFSET $%d`,
		entryColumns, where, len(args)-1, len(args))
	var out []Entry
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// SearchFullText ranks visible entries by websearch_to_tsquery(query) against their search
// documents (title weighted above body), with a highlighted snippet each.
func (db *DB) SearchFullText(ctx context.Context, ws, user uuid.UUID, query string, f SearchFilter, limit, offset int) ([]Hit, error) {
	args := []any{ws}
	where := f.where(&args)
	args = append(args, query, limit, offset)
	n := len(args)
	sql := fmt.Sprintf(`
		WITH q AS (SELECT websearch_to_tsquery('english', $%d) AS q),
		hits AS (
			SELECT e.id, e.slug, e.title, e.status, e.updated_at, e.body, ts_rank_cd(e.search_doc, q.q) AS rank
			FROM knowledge_entries e, q WHERE %s AND e.search_doc @@ q.q
			ORDER BY rank DESC, e.id LIMIT $%d OFFSET $%d)
		SELECT h.id, h.slug, h.title, h.status, h.updated_at, h.rank,
			ts_headline('english', h.body, q.q, 'StartSel=«, StopSel=», MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "')
		FROM hits h, q ORDER BY h.rank DESC, h.id`, n-2, where, n-1, n)
	var out []Hit
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var empty bool
		if err := tx.QueryRow(ctx, emptyQuerySQL, query).Scan(&empty); err != nil {
			return err
		}
		if empty {
			return ErrEmptyQuery
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Hit, error) {
			var h Hit
			var rank float32
			err := r.Scan(&h.ID, &h.Slug, &h.Title, &h.Status, &h.UpdatedAt, &rank, &h.Snippet)
			h.Score = float64(rank)
			return h, err
		})
		return err
	})
	return out, err
}

// SemanticQuery is a nearest-neighbour search over the embeddings of one model.
type SemanticQuery struct {
	Model string
	// Literal is the query vector as pgvector text, for PostgreSQL's ordering when pgvector is
	// installed.
	Literal string
	// Score rates a stored vector (embed.Encode bytes) against the query, higher is nearer: the
	// ranking in Mosaic on stock PostgreSQL.
	Score func(vec []byte) float64
}

// SearchSemantic ranks visible entries with an embedding of q.Model by similarity to the query.
func (db *DB) SearchSemantic(ctx context.Context, ws, user uuid.UUID, q SemanticQuery, f SearchFilter, limit, offset int) ([]Hit, error) {
	args := []any{ws}
	where := f.where(&args)
	args = append(args, q.Model)
	where += fmt.Sprintf(" AND m.model = $%d", len(args))
	from := `knowledge_embeddings m JOIN knowledge_entries e ON e.workspace_id = m.workspace_id AND e.id = m.entry_id`
	var out []Hit
	pgvec := db.hasPgvector(ctx) && q.Literal != ""
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		if pgvec {
			args = append(args, q.Literal, limit, offset)
			n := len(args)
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT e.id, e.slug, e.title, e.status, e.updated_at, 1 - (m.embedding <=> $%d::text::vector)
				FROM %s WHERE %s AND m.embedding IS NOT NULL ORDER BY m.embedding <=> $%d::text::vector, e.id LIMIT $%d OFFSET $%d`,
				n-2, from, where, n-2, n-1, n), args...)
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, scanHit)
			return err
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT m.entry_id, m.vec FROM %s WHERE %s`, from, where), args...)
		if err != nil {
			return err
		}
		type scored struct {
			id    uuid.UUID
			score float64
		}
		var all []scored
		var id uuid.UUID
		var vec []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &vec}, func() error {
			all = append(all, scored{id, q.Score(vec)})
			return nil
		})
		if err != nil {
			return err
		}
		sort.Slice(all, func(i, j int) bool {
			if all[i].score != all[j].score {
				return all[i].score > all[j].score
			}
			return all[i].id.String() < all[j].id.String()
		})
		if offset >= len(all) {
			return nil
		}
		all = all[offset:min(len(all), offset+limit)]
		ids := make([]uuid.UUID, len(all))
		for i, s := range all {
			ids[i] = s.id
		}
		rows, err = tx.Query(ctx, `SELECT e.id, e.slug, e.title, e.status, e.updated_at, 0::float8 FROM knowledge_entries e
			WHERE e.workspace_id = $1 AND e.id = ANY($2)`, ws, ids)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, scanHit)
		if err != nil {
			return err
		}
		byID := make(map[uuid.UUID]Hit, len(found))
		for _, h := range found {
			byID[h.ID] = h
		}
		for _, s := range all {
			if h, ok := byID[s.id]; ok {
				h.Score = s.score
				out = append(out, h)
			}
		}
		return nil
	})
	return out, err
}

func scanHit(r pgx.CollectableRow) (Hit, error) {
	var h Hit
	err := r.Scan(&h.ID, &h.Slug, &h.Title, &h.Status, &h.UpdatedAt, &h.Score)
	return h, err
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

// GraphData reads every visible entry and every resolved link between two of them, and counts
// the dangling links of visible entries.
func (db *DB) GraphData(ctx context.Context, ws, user uuid.UUID) (nodes []GraphNode, edges []GraphEdge, dangling int, err error) {
	err = db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, graphNodesSQL, ws)
		if err != nil {
			return err
		}
		nodes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (GraphNode, error) {
			var n GraphNode
			err := r.Scan(&n.ID, &n.Slug, &n.Title, &n.Status, &n.UpdatedAt)
			return n, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, graphEdgesSQL, ws)
		if err != nil {
			return err
		}
		edges, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (GraphEdge, error) {
			var e GraphEdge
			err := r.Scan(&e.Source, &e.Target, &e.Label)
			return e, err
		})
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, danglingCountSQL, ws).Scan(&dangling)
	})
	return nodes, edges, dangling, err
}
