package knowledge

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
	"github.com/mosaicstack/mosaic/store"
)

// Kinds of the knowledge agent (on the KNOWLEDGE stream).
const (
	KindIndex   = "knowledge.index"
	KindReindex = "knowledge.reindex"
)

// IndexArgs index one entry: whatever version it is at when the job runs.
type IndexArgs struct {
	EntryID uuid.UUID `json:"entry_id"`
	Slug    string    `json:"slug,omitempty"` // for people reading the task list; never a PRIVATE entry's
}

// Kind implements agents.JobArgs.
func (IndexArgs) Kind() string { return KindIndex }

// Validate implements agents.ArgsValidator.
func (a IndexArgs) Validate() error {
	if a.EntryID == uuid.Nil {
		return errors.New("entry_id is required")
	}
	return nil
}

// ReindexArgs re-index every entry of the workspace.
type ReindexArgs struct {
	// BatchSize of entries per checkpoint. Default 100.
	BatchSize int `json:"batch_size,omitempty"`
}

// Kind implements agents.JobArgs.
func (ReindexArgs) Kind() string { return KindReindex }

// Validate implements agents.ArgsValidator.
func (a ReindexArgs) Validate() error {
	if a.BatchSize < 0 || a.BatchSize > 1000 {
		return errors.New("batch_size must be 0…1000")
	}
	return nil
}

// IndexResult is what indexing an entry did.
type IndexResult struct {
	Gone     bool `json:"gone,omitempty"`  // the entry was deleted (or hidden) before the job ran
	Stale    bool `json:"stale,omitempty"` // it changed while being indexed; its newer job follows
	Version  int  `json:"version,omitempty"`
	Links    int  `json:"links"`
	Resolved int  `json:"resolved"`
	Adopted  int  `json:"adopted"`  // links elsewhere whose target the entry's names changed
	Embedded bool `json:"embedded"` // false when the text and model were unchanged
}

// ReindexResult is what a whole-workspace re-index did.
type ReindexResult struct {
	Entries  int `json:"entries"`
	Embedded int `json:"embedded"`
	Links    int `json:"links"`
}

// Config configures the agent.
type Config struct {
	DB       *store.DB
	Embedder embed.Embedder
	// AfterBatch, when set, is called after each re-index batch is written and before its
	// checkpoint; an error ends the attempt there, as a crash would (tests kill a re-index with it).
	AfterBatch func(done int) error
}

// Register adds the knowledge agent's kinds to a registry.
func Register(reg *agents.Registry, cfg Config) {
	agents.AddWorkerConfig(reg, agents.WorkFunc[IndexArgs](func(ctx context.Context, job *agents.Job[IndexArgs]) error {
		return indexOne(ctx, cfg, job)
	}), agents.WorkerConfig{ProgressTimeout: 2 * time.Minute, MaxAttempts: 10})
	agents.AddWorkerConfig(reg, agents.WorkFunc[ReindexArgs](func(ctx context.Context, job *agents.Job[ReindexArgs]) error {
		return reindex(ctx, cfg, job)
	}), agents.WorkerConfig{ProgressTimeout: 5 * time.Minute, MaxAttempts: 10})
}

func indexOne(ctx context.Context, cfg Config, job *agents.Job[IndexArgs]) error {
	user, err := job.Publisher(ctx)
	if err != nil {
		return err
	}
	res, err := indexEntries(ctx, cfg, job.WorkspaceID, user, []uuid.UUID{job.Args.EntryID})
	if err != nil {
		return err
	}
	return job.SetResult(res[0])
}

// indexEntries indexes entries as user: one read of them all, their links parsed, one embedder
// call for the texts that changed (or whose model did), one transaction to write it all.
func indexEntries(ctx context.Context, cfg Config, ws, user uuid.UUID, ids []uuid.UUID) ([]IndexResult, error) {
	sources, err := cfg.DB.IndexSources(ctx, ws, user, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]int, len(sources))
	writes := make([]store.IndexWrite, len(sources))
	var texts []string
	var need []int
	for i, src := range sources {
		byID[src.ID] = i
		w := store.IndexWrite{ID: src.ID, Slug: src.Slug, Version: src.Version, Names: entryNames(src.Entry)}
		w.KeepNames = sameNames(w.Names, src.Names)
		for _, l := range wikilink.Parse(src.Body) {
			w.Links = append(w.Links, store.IndexedLink{TargetSlug: l.Slug, Label: l.Label})
		}
		text := src.Title + "\n\n" + src.Body
		h := sha256.Sum256([]byte(cfg.Embedder.Name() + "\x00" + text))
		if src.EmbeddingModel != cfg.Embedder.Name() || string(src.EmbeddingHash) != string(h[:]) {
			w.Embedding = &store.IndexedEmbedding{Model: cfg.Embedder.Name(), ContentHash: h[:]}
			texts = append(texts, text)
			need = append(need, i)
		}
		writes[i] = w
	}
	if len(texts) > 0 {
		vecs, err := cfg.Embedder.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		for j, i := range need {
			e := writes[i].Embedding
			e.Dims, e.Vec, e.Literal = len(vecs[j]), embed.Encode(vecs[j]), vectorLiteral(vecs[j])
		}
	}
	outcomes, err := cfg.DB.WriteIndexes(ctx, ws, user, writes)
	if err != nil {
		return nil, err
	}
	out := make([]IndexResult, len(ids))
	for k, id := range ids {
		i, ok := byID[id]
		if !ok {
			out[k].Gone = true
			continue
		}
		o := outcomes[i]
		out[k] = IndexResult{Stale: o.Stale, Version: writes[i].Version, Links: o.Links, Resolved: o.Resolved, Adopted: o.Adopted,
			Embedded: writes[i].Embedding != nil && !o.Stale}
	}
	return out, nil
}

// entryNames is every name a [[link]] may use for e, slugified: its slug, the file it was
// imported from, its title, its aliases (store.NameSlug…NameAlias); a name e holds twice is kept
// at its lowest rank.
func entryNames(e store.Entry) []store.EntryName {
	var out []store.EntryName
	seen := map[string]bool{}
	add := func(name string, rank int16) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		out = append(out, store.EntryName{Name: name, Rank: rank})
	}
	add(e.Slug, store.NameSlug)
	add(wikilink.Slugify(e.FileName), store.NameFile)
	add(wikilink.Slugify(e.Title), store.NameTitle)
	for _, a := range e.Aliases {
		add(wikilink.Slugify(a), store.NameAlias)
	}
	return out
}

// sameNames reports whether names (as entryNames makes them) are those stored (by name, then rank).
func sameNames(names, stored []store.EntryName) bool {
	if len(names) != len(stored) {
		return false
	}
	sorted := slices.Clone(names)
	slices.SortFunc(sorted, func(a, b store.EntryName) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Rank, b.Rank))
	})
	return slices.Equal(sorted, stored)
}

// vectorLiteral is v as pgvector's text form.
func vectorLiteral(v []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// reindexState is the re-index cursor, checkpointed after every batch: the author being walked
// (index into [no author, members…]) and the last entry id done.
type reindexState struct {
	AuthorIndex int       `json:"author_index"`
	After       uuid.UUID `json:"after"`
	Result      ReindexResult
}

// reindex walks every entry of the workspace, author by author (each as its author, who sees
// their PRIVATE entries too), in checkpointed batches.
func reindex(ctx context.Context, cfg Config, job *agents.Job[ReindexArgs]) error {
	batch := job.Args.BatchSize
	if batch == 0 {
		batch = 100
	}
	var st reindexState
	if _, err := job.Restore(&st); err != nil {
		return agents.Permanent(err)
	}
	members, err := cfg.DB.MemberIDs(ctx, job.WorkspaceID)
	if err != nil {
		return err
	}
	authors := append([]uuid.UUID{uuid.Nil}, members...)
	for ; st.AuthorIndex < len(authors); st.AuthorIndex, st.After = st.AuthorIndex+1, uuid.Nil {
		author := authors[st.AuthorIndex]
		for {
			ids, err := cfg.DB.EntryIDsByAuthor(ctx, job.WorkspaceID, author, st.After, batch)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			res, err := indexEntries(ctx, cfg, job.WorkspaceID, author, ids)
			if err != nil {
				return err
			}
			for _, r := range res {
				if !r.Gone {
					st.Result.Entries++
					st.Result.Links += r.Links
					if r.Embedded {
						st.Result.Embedded++
					}
				}
			}
			st.After = ids[len(ids)-1]
			if cfg.AfterBatch != nil {
				if err := cfg.AfterBatch(st.Result.Entries); err != nil {
					return err
				}
			}
			job.Progress(float64(st.AuthorIndex)/float64(len(authors)), fmt.Sprintf("indexed %d", st.Result.Entries))
			if err := job.Checkpoint(ctx, st); err != nil {
				return err
			}
		}
	}
	return job.SetResult(st.Result)
}
