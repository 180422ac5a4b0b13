package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Knowledge entry statuses and visibilities.
const (
	EntryDraft     = "DRAFT"
	EntryPublished = "PUBLISHED"
	EntryArchived  = "ARCHIVED"

	VisibilityPrivate   = "PRIVATE"
	VisibilityWorkspace = "WORKSPACE"

	// MaxEntryBody is the largest body in bytes.
	MaxEntryBody = 1 << 20
)

// ValidEntryStatus reports whether s is DRAFT, PUBLISHED or ARCHIVED.
func ValidEntryStatus(s string) bool {
	return s == EntryDraft || s == EntryPublished || s == EntryArchived
}

// ValidVisibility reports whether v is PRIVATE or WORKSPACE.
func ValidVisibility(v string) bool { return v == VisibilityPrivate || v == VisibilityWorkspace }

// Entry (mosaictype.Entry) is a knowledge entry as its reader sees it.
type Entry = mosaictype.Entry

// entryDest lists where the columns of entryColumns go.
func entryDest(e *Entry) []any {
	return []any{&e.WorkspaceID, &e.ID, &e.Slug, &e.Title, &e.Body, &e.Status, &e.Visibility, &e.AuthorID, &e.UpdatedBy,
		&e.Version, &e.IndexedVersion, &e.IndexedAt, &e.CreatedAt, &e.UpdatedAt, &e.Aliases, (*rawJSON)(&e.Metadata), &e.FileName, &e.Tags}
}

// rawJSON scans a json column read as text into a json.RawMessage, byte for byte.
type rawJSON json.RawMessage

func (r *rawJSON) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*r = rawJSON(v)
	case []byte:
		*r = append(rawJSON(nil), v...)
	case nil:
		*r = rawJSON("{}")
	default:
		return fmt.Errorf("store: cannot scan %T as JSON", src)
	}
	return nil
}

func scanEntry(row pgx.Row) (Entry, error) {
	var e Entry
	err := row.Scan(entryDest(&e)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrNotFound
	}
	return e, err
}

// metadataText is m as the json column's text: "{}" when m is empty.
func metadataText(m json.RawMessage) string {
	if len(m) == 0 {
		return "{}"
	}
	return string(m)
}

// NewEntry is an entry to create; the caller has validated it.
type NewEntry struct {
	ID         uuid.UUID
	Slug       string
	Title      string
	Body       string
	Status     string
	Visibility string
	Tags       []string
	Aliases    []string
	Metadata   json.RawMessage // a JSON object; nil: {}
	FileName   string
	CreatedAt  *time.Time // nil: now
	Message    string
}

// CreateEntry inserts an entry and its first version in tx (a workspace door). A taken slug is
// ErrConflict.
func CreateEntry(ctx context.Context, tx pgx.Tx, ws, author uuid.UUID, n NewEntry) (Entry, error) {
	if n.Aliases == nil {
		n.Aliases = []string{}
	}
	_, err := tx.Exec(ctx, insertEntrySQL, ws, n.ID, n.Slug, n.Title, n.Body, n.Status, n.Visibility, nilUUID(author),
		n.Aliases, metadataText(n.Metadata), n.FileName, n.CreatedAt)
	if IsUniqueViolation(err) {
		return Entry{}, fmt.Errorf("entry %q: the slug is taken: %w", n.Slug, ErrConflict)
	}
	if err != nil {
		return Entry{}, err
	}
	// Its slug is a name at once: links that name it resolve now (its index job adds the rest).
	if _, err := tx.Exec(ctx, insertSlugSQL, ws, n.Slug, n.ID); err != nil {
		return Entry{}, err
	}
	if _, err := tx.Exec(ctx, reresolveByNameSQL, ws, n.Slug); err != nil {
		return Entry{}, err
	}
	if err := setEntryTags(ctx, tx, ws, n.ID, n.Tags); err != nil {
		return Entry{}, err
	}
	if _, err := tx.Exec(ctx, insertEntryVersionSQL, ws, n.ID, nilUUID(author), nilString(n.Message)); err != nil {
		return Entry{}, err
	}
	return scanEntry(tx.QueryRow(ctx, getEntryByIDSQL, ws, n.ID))
}

// EntryChange is an edit: nil fields keep their value.
type EntryChange struct {
	Title      *string
	Body       *string
	Status     *string
	Visibility *string
	Tags       *[]string
	Aliases    *[]string
	Metadata   json.RawMessage // a JSON object; nil: unchanged
	FileName   *string
	Message    string
	// IfVersion, when not 0, makes the edit conditional on the entry being at that version.
	IfVersion int
}

// ErrVersionMismatch: the entry moved on since the version the edit was based on.
var ErrVersionMismatch = errors.New("the entry has changed since that version")

// UpdateEntry applies an edit in tx and records it as a new version. A PRIVATE entry is its
// author's alone to change (RLS hides it from everyone else).
func UpdateEntry(ctx context.Context, tx pgx.Tx, ws, user uuid.UUID, slug string, c EntryChange) (Entry, error) {
	cur, err := scanEntry(tx.QueryRow(ctx, lockEntrySQL, ws, slug))
	if err != nil {
		return Entry{}, fmt.Errorf("entry %q: %w", slug, err)
	}
	if c.IfVersion != 0 && c.IfVersion != cur.Version {
		return Entry{}, fmt.Errorf("entry %q is at version %d, not %d: %w", slug, cur.Version, c.IfVersion, ErrVersionMismatch)
	}
	title, body, status, vis := cur.Title, cur.Body, cur.Status, cur.Visibility
	for _, f := range []struct {
		dst *string
		src *string
	}{{&title, c.Title}, {&body, c.Body}, {&status, c.Status}, {&vis, c.Visibility}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if vis == VisibilityPrivate && (cur.AuthorID == nil || *cur.AuthorID != user) {
		return Entry{}, fmt.Errorf("entry %q: only its author may make it PRIVATE: %w", slug, ErrForbidden)
	}
	aliases, meta, file := cur.Aliases, cur.Metadata, cur.FileName
	if c.Aliases != nil {
		aliases = *c.Aliases
	}
	if aliases == nil {
		aliases = []string{}
	}
	if c.Metadata != nil {
		meta = c.Metadata
	}
	if c.FileName != nil {
		file = *c.FileName
	}
	if _, err := tx.Exec(ctx, updateEntrySQL, ws, cur.ID, title, body, status, vis, nilUUID(user), aliases, metadataText(meta), file); err != nil {
		return Entry{}, err
	}
	if c.Tags != nil {
		if _, err := tx.Exec(ctx, clearEntryTagsSQL, ws, cur.ID); err != nil {
			return Entry{}, err
		}
		if err := setEntryTags(ctx, tx, ws, cur.ID, *c.Tags); err != nil {
			return Entry{}, err
		}
	}
	if _, err := tx.Exec(ctx, insertEntryVersionSQL, ws, cur.ID, nilUUID(user), nilString(c.Message)); err != nil {
		return Entry{}, err
	}
	return scanEntry(tx.QueryRow(ctx, getEntryByIDSQL, ws, cur.ID))
}

func setEntryTags(ctx context.Context, tx pgx.Tx, ws, entry uuid.UUID, tags []string) error {
	for i, name := range tags {
		var id uuid.UUID
		if err := tx.QueryRow(ctx, upsertTagSQL, ws, newID(), name).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertEntryTagSQL, ws, entry, id, i); err != nil {
			return err
		}
	}
	return nil
}

// DeleteEntry removes an entry with its versions, tags, names and outgoing links; a link to it
// goes to the next entry its name leads to, or dangles.
func DeleteEntry(ctx context.Context, tx pgx.Tx, ws uuid.UUID, slug string) (Entry, error) {
	// In turn with the index writes: a job that links to this entry while it goes would otherwise
	// keep a link to an entry that no longer exists, which no later job re-resolves.
	if _, err := tx.Exec(ctx, lockIndexWritesSQL, ws); err != nil {
		return Entry{}, err
	}
	e, err := scanEntry(tx.QueryRow(ctx, lockEntrySQL, ws, slug))
	if err != nil {
		return Entry{}, fmt.Errorf("entry %q: %w", slug, err)
	}
	if _, err = tx.Exec(ctx, deleteEntrySQL, ws, e.ID); err != nil {
		return Entry{}, err
	}
	_, err = tx.Exec(ctx, reresolveByTargetSQL, ws, e.ID)
	return e, err
}

// GetEntry reads an entry by slug as user sees it.
func (db *DB) GetEntry(ctx context.Context, ws, user uuid.UUID, slug string) (Entry, error) {
	var e Entry
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		e, err = scanEntry(tx.QueryRow(ctx, getEntrySQL, ws, slug))
		return err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("entry %q: %w", slug, err)
	}
	return e, nil
}

// GetEntryByID reads an entry by id as user sees it.
func (db *DB) GetEntryByID(ctx context.Context, ws, user, id uuid.UUID) (Entry, error) {
	var e Entry
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		e, err = scanEntry(tx.QueryRow(ctx, getEntryByIDSQL, ws, id))
		return err
	})
	return e, err
}

// EntryVersion (mosaictype.EntryVersion) is one recorded edit.
type EntryVersion = mosaictype.EntryVersion

// EntryVersions lists an entry's versions, newest first (without bodies).
func (db *DB) EntryVersions(ctx context.Context, ws, user uuid.UUID, slug string) ([]EntryVersion, error) {
	var out []EntryVersion
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		e, err := scanEntry(tx.QueryRow(ctx, getEntrySQL, ws, slug))
		if err != nil {
			return fmt.Errorf("entry %q: %w", slug, err)
		}
		rows, err := tx.Query(ctx, listVersionsSQL, ws, e.ID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntryVersion, error) {
			var v EntryVersion
			err := r.Scan(&v.Version, &v.Title, &v.Status, &v.AuthorID, &v.Message, &v.CreatedAt, &v.Size)
			return v, err
		})
		return err
	})
	return out, err
}

// EntryVersionAt reads one version of an entry, with its body.
func (db *DB) EntryVersionAt(ctx context.Context, ws, user uuid.UUID, slug string, version int) (EntryVersion, error) {
	var v EntryVersion
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		e, err := scanEntry(tx.QueryRow(ctx, getEntrySQL, ws, slug))
		if err != nil {
			return fmt.Errorf("entry %q: %w", slug, err)
		}
		if version > math.MaxInt32 { // versions are PostgreSQL integers: a larger one cannot exist
			return fmt.Errorf("entry %q has no version %d: %w", slug, version, ErrNotFound)
		}
		err = tx.QueryRow(ctx, getVersionSQL, ws, e.ID, version).Scan(&v.Version, &v.Title, &v.Body, &v.Status, &v.AuthorID, &v.Message, &v.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("entry %q has no version %d: %w", slug, version, ErrNotFound)
		}
		v.Size = len(v.Body)
		return err
	})
	return v, err
}

// EntryLink (mosaictype.EntryLink) is a link as its reader sees it: Target is nil while it dangles
// (or its target is not visible to the reader).
type EntryLink = mosaictype.EntryLink

// EntryRef (mosaictype.EntryRef) names an entry.
type EntryRef = mosaictype.EntryRef

// EntryLinks reads an entry's outgoing links and its backlinks.
func (db *DB) EntryLinks(ctx context.Context, ws, user uuid.UUID, slug string) (out []EntryLink, back []EntryRef, err error) {
	err = db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		e, err := scanEntry(tx.QueryRow(ctx, getEntrySQL, ws, slug))
		if err != nil {
			return fmt.Errorf("entry %q: %w", slug, err)
		}
		rows, err := tx.Query(ctx, outLinksSQL, ws, e.ID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntryLink, error) {
			var l EntryLink
			err := r.Scan(&l.TargetSlug, &l.TargetID, &l.TargetTitle, &l.Label)
			return l, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, backlinksSQL, ws, e.ID)
		if err != nil {
			return err
		}
		back, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntryRef, error) {
			var b EntryRef
			err := r.Scan(&b.Slug, &b.Title, &b.ID)
			return b, err
		})
		return err
	})
	return out, back, err
}

// TagCount (mosaictype.TagCount) is a tag and how many visible entries carry it.
type TagCount = mosaictype.TagCount

// Tags lists the tags of the entries user may see.
func (db *DB) Tags(ctx context.Context, ws, user uuid.UUID) ([]TagCount, error) {
	var out []TagCount
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, listTagsSQL, ws)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TagCount, error) {
			var t TagCount
			err := r.Scan(&t.Name, &t.Entries)
			return t, err
		})
		return err
	})
	return out, err
}

// IndexedLink is a parsed link the indexer records.
type IndexedLink struct {
	TargetSlug string
	Label      string
}

// IndexedEmbedding is an entry's vector as the indexer computed it.
type IndexedEmbedding struct {
	Model       string
	Dims        int
	Vec         []byte // embed.Encode
	Literal     string // the vector as pgvector text ("[0.1,0.2]"), used when pgvector is present
	ContentHash []byte
}

// IndexOutcome says what an index write did.
type IndexOutcome struct {
	Stale    bool // the entry moved past the version read; a later job indexes the new one
	Links    int
	Resolved int // links of this entry whose target exists
	Adopted  int // links elsewhere that the entry's names now send to another target (or to it)
}

// Ranks of an entry's names: a link goes to the entry whose name matches with the lowest rank.
const (
	NameSlug  = 0
	NameFile  = 1
	NameTitle = 2
	NameAlias = 3
)

// EntryName is one name a link may use for an entry: already slugified.
type EntryName struct {
	Name string
	Rank int16
}

// IndexWrite is what the indexer derived from Version of entry ID: its links, and its embedding
// (nil: unchanged).
type IndexWrite struct {
	ID        uuid.UUID
	Slug      string
	Version   int
	Names     []EntryName // every name of the entry, its slug included
	KeepNames bool        // the stored names are Names already: not written again
	Links     []IndexedLink
	Embedding *IndexedEmbedding
}

// IndexSource is an entry as the indexer reads it, with its stored embedding's model and content
// hash ("" and nil when there is none).
type IndexSource struct {
	Entry
	EmbeddingModel string
	EmbeddingHash  []byte
	Names          []EntryName // the names stored now, by name then rank
}

// IndexSources reads the entries of ids that user can see (the others are left out), with their
// embeddings' model and hash, in one transaction.
func (db *DB) IndexSources(ctx context.Context, ws, user uuid.UUID, ids []uuid.UUID) ([]IndexSource, error) {
	var out []IndexSource
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, indexSourcesSQL, ws, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var src IndexSource
			var model *string
			var names []string
			var ranks []int16
			if err := rows.Scan(append(entryDest(&src.Entry), &model, &src.EmbeddingHash, &names, &ranks)...); err != nil {
				return err
			}
			if model != nil {
				src.EmbeddingModel = *model
			}
			for k := range min(len(names), len(ranks)) {
				src.Names = append(src.Names, EntryName{Name: names[k], Rank: ranks[k]})
			}
			out = append(out, src)
		}
		return rows.Err()
	})
	return out, err
}

// WriteIndexes stores what the indexer derived, for each entry: its search document, its links
// (resolving their targets, and adopting dangling links to it) and its embedding, in one
// transaction as user. An entry that moved past the version read is left for its newer job.
func (db *DB) WriteIndexes(ctx context.Context, ws, user uuid.UUID, writes []IndexWrite) ([]IndexOutcome, error) {
	out := make([]IndexOutcome, len(writes))
	pgvec := db.hasPgvector(ctx)
	err := db.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		// Round 1: the search documents (a stale entry is left alone) and the names, which say
		// whether any went. Index writes of a workspace take turns (a transaction-scoped
		// lock): a job that links to a name another job is adding either sees that name or is
		// seen by its re-resolution; concurrent, each could miss the other and leave the link
		// dangling for good.
		b := &pgx.Batch{}
		b.Queue(lockIndexWritesSQL, ws)
		gone := make([]int, len(writes))
		names := make([][]string, len(writes))
		for i, w := range writes {
			b.Queue(indexEntrySQL, ws, w.ID, w.Version).Exec(func(tag pgconn.CommandTag) error {
				out[i].Stale = tag.RowsAffected() == 0
				return nil
			})
			ranks := make([]int16, len(w.Names))
			names[i] = make([]string, len(w.Names))
			for k, n := range w.Names {
				names[i][k], ranks[k] = n.Name, n.Rank
			}
			if w.KeepNames {
				continue
			}
			// A stale entry's names are still its own (the job of its newer version writes
			// them again): written here, so that a batch is one shape.
			b.Queue(setNamesSQL, ws, w.ID, names[i], ranks).QueryRow(func(r pgx.Row) error {
				return r.Scan(&gone[i])
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		// Round 2: links that the changed names send elsewhere, then each entry's own links and
		// embedding.
		b = &pgx.Batch{}
		for i, w := range writes {
			if out[i].Stale {
				continue
			}
			adopted := func(tag pgconn.CommandTag) error {
				out[i].Adopted += int(tag.RowsAffected())
				return nil
			}
			if gone[i] > 0 { // links that reached it by a name it lost go elsewhere
				b.Queue(reresolveByTargetSQL, ws, w.ID).Exec(adopted)
			}
			// Links that name one of its names may come to it: always, not only for the names it
			// gained, so that a link another writer left dangling (an entry created while this
			// one's job ran) resolves at this entry's next index job.
			for _, name := range names[i] { // one name a statement: its plan is made once
				b.Queue(reresolveByNameSQL, ws, name).Exec(adopted)
			}
			b.Queue(clearLinksSQL, ws, w.ID)
			for pos, l := range w.Links {
				b.Queue(insertLinkSQL, ws, w.ID, pos, l.TargetSlug, l.Label)
			}
			b.Queue(resolvedCountSQL, ws, w.ID).QueryRow(func(r pgx.Row) error { return r.Scan(&out[i].Resolved) })
			out[i].Links = len(w.Links)
			if e := w.Embedding; e != nil {
				b.Queue(upsertEmbeddingSQL, ws, w.ID, e.Model, e.Dims, e.Vec, e.ContentHash)
				if pgvec && e.Literal != "" {
					b.Queue(setPgvectorSQL, ws, w.ID, e.Literal)
				}
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return out, err
}

// EntryIDsByAuthor pages through the entries of one author (uuid.Nil: entries without one), as
// that author, after the id after: the re-index walk.
func (db *DB) EntryIDsByAuthor(ctx context.Context, ws, author, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := db.InWorkspaceAs(ctx, ws, author, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, entryIDsByAuthorSQL, ws, nilUUID(author), after, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	return out, err
}

// hasPgvector reports (once) whether the embedding vector column exists.
func (db *DB) hasPgvector(ctx context.Context) bool {
	db.pgvecOnce.Do(func() {
		_ = db.pool.QueryRow(ctx, hasPgvectorSQL).Scan(&db.pgvec)
	})
	return db.pgvec
}

// HasPgvector reports whether semantic search runs in PostgreSQL (pgvector) or in Mosaic.
func (db *DB) HasPgvector(ctx context.Context) bool { return db.hasPgvector(ctx) }

func nilString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
