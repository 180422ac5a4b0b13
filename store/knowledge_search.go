package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// SearchFilter narrows a search or a listing to visible entries with a tag, a status, or updated
// within a window.
type SearchFilter struct {
	Tag           string
	Status        string
	UpdatedAfter  *time.Time
	UpdatedBefore *time.Time
	// AnyWordOf keeps entries whose search document holds at least one word of it (stemmed as
	// full text stems): what a lexical embedder's hit must share with its query.
	AnyWordOf string
}

// anyWordQuery is the words of q joined with "or", in websearch_to_tsquery syntax; "" when q has
// no word.
func anyWordQuery(q string) string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return strings.Join(words, " or ")
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
	if f.AnyWordOf != "" {
		// A sub-select: the query is made once, not once per row.
		add("e.search_doc @@ (SELECT websearch_to_tsquery('english', $%d))", anyWordQuery(f.AnyWordOf))
	}
	return b.String()
}

// Hit (mosaictype.Hit) is one search result.
type Hit = mosaictype.Hit

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

// SearchSemanticPgvector ranks visible entries with an embedding of model by cosine distance to
// the query vector (pgvector's text form), in PostgreSQL; entries less similar than floor are
// left out.
func (db *DB) SearchSemanticPgvector(ctx context.Context, ws, user uuid.UUID, model, literal string, floor float64, f SearchFilter, limit, offset int) ([]Hit, error) {
	args := []any{ws}
	where := f.where(&args)
	args = append(args, floor, model, literal, limit, offset)
	n := len(args)
	sql := fmt.Sprintf(`SELECT e.id, e.slug, e.title, e.status, e.updated_at, 1 - (m.embedding <=> $%[2]d::text::vector)
		FROM knowledge_embeddings m JOIN knowledge_entries e ON e.workspace_id = m.workspace_id AND e.id = m.entry_id
		WHERE %[1]s AND m.model = $%[3]d AND m.embedding IS NOT NULL AND 1 - (m.embedding <=> $%[2]d::text::vector) >= $%[6]d
		ORDER BY m.embedding <=> $%[2]d::text::vector, e.id LIMIT $%[4]d OFFSET $%[5]d`, where, n-2, n-3, n-1, n, n-4)
	var out []Hit
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanHit)
		return err
	})
	return out, err
}

func scanHit(r pgx.CollectableRow) (Hit, error) {
	var h Hit
	err := r.Scan(&h.ID, &h.Slug, &h.Title, &h.Status, &h.UpdatedAt, &h.Score)
	return h, err
}

// GraphNode (mosaictype.GraphNode) is an entry in the link graph.
type GraphNode = mosaictype.GraphNode

// GraphEdge (mosaictype.GraphEdge) is a resolved link between two visible entries.
type GraphEdge = mosaictype.GraphEdge

// GraphData reads every visible entry and every resolved link between two of them, and counts
// the dangling links of visible entries (a link to an entry the reader cannot see dangles for
// them). Links are filtered here rather than joined in SQL: two plain scans stay fast.
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
		visible := make(map[uuid.UUID]bool, len(nodes))
		for _, n := range nodes {
			visible[n.ID] = true
		}
		rows, err = tx.Query(ctx, graphLinksSQL, ws)
		if err != nil {
			return err
		}
		var source uuid.UUID
		var target *uuid.UUID
		var label string
		_, err = pgx.ForEachRow(rows, []any{&source, &target, &label}, func() error {
			switch {
			case !visible[source]:
			case target == nil || !visible[*target]:
				dangling++
			case *target != source:
				edges = append(edges, GraphEdge{Source: source, Target: *target, Label: label})
			}
			return nil
		})
		return err
	})
	return nodes, edges, dangling, err
}

// EmbeddingStamp changes whenever an embedding of model in the workspace is written or removed:
// their count and latest write. A cache of the vectors is current while its stamp is.
func (db *DB) EmbeddingStamp(ctx context.Context, ws uuid.UUID, model string) (string, error) {
	var n int
	var last *time.Time
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*), max(updated_at) FROM knowledge_embeddings WHERE workspace_id = $1 AND model = $2`, ws, model).Scan(&n, &last)
	})
	if err != nil || last == nil {
		return fmt.Sprint(n), err
	}
	return fmt.Sprintf("%d/%d", n, last.UnixNano()), nil
}

// EmbeddingVectors reads every embedding of model in the workspace (whatever the visibility of
// its entry: callers rank them, then keep what VisibleHits lets the reader see).
func (db *DB) EmbeddingVectors(ctx context.Context, ws uuid.UUID, model string, fn func(id uuid.UUID, vec []byte) error) error {
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT entry_id, vec FROM knowledge_embeddings WHERE workspace_id = $1 AND model = $2`, ws, model)
		if err != nil {
			return err
		}
		var id uuid.UUID
		var vec []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &vec}, func() error { return fn(id, vec) })
		return err
	})
}

// VisibleHits returns the entries among ids that user can see and that pass the filter, in no
// particular order.
func (db *DB) VisibleHits(ctx context.Context, ws, user uuid.UUID, f SearchFilter, ids []uuid.UUID) ([]Hit, error) {
	args := []any{ws}
	where := f.where(&args)
	args = append(args, ids)
	sql := fmt.Sprintf(`SELECT e.id, e.slug, e.title, e.status, e.updated_at, 0::float8 FROM knowledge_entries e WHERE %s AND e.id = ANY($%d)`, where, len(args))
	var out []Hit
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanHit)
		return err
	})
	return out, err
}
