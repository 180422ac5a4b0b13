package knowledge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// ErrInvalid wraps every validation error of the service: the message names the entry and the
// field.
var ErrInvalid = errors.New("invalid")

// Limits.
const (
	MaxTitle   = 300
	MaxTags    = 32
	MaxTag     = 64
	MaxMessage = 500
	MaxLimit   = 100
	MaxAliases = 32
	MaxFile    = 255
	// MaxMetadata is the largest metadata object, in bytes of JSON.
	MaxMetadata = 64 << 10
)

// Service is the knowledge base: every write records a version and enqueues the entry's index
// job through the outbox, in the same transaction.
type Service struct {
	DB       *store.DB
	Tasks    *agents.Client
	Embedder embed.Embedder
	// MinSimilarity is the semantic leg's floor: an entry whose cosine similarity to the query is
	// below it is no semantic hit, in semantic and hybrid mode alike. 0 means the embedder's
	// default (embed.DefaultMinSimilarity).
	MinSimilarity float64

	vectors vectorCache
}

// EntryInput (mosaictype.EntryInput) is an entry to create, or an edit (nil: unchanged).
type EntryInput = mosaictype.EntryInput

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

// validateInput checks and normalises in (name is the entry, for messages); create demands a title.
func validateInput(in *EntryInput, name string, create bool, user uuid.UUID) error {
	var errs []error
	if in.Title != nil {
		t := strings.TrimSpace(*in.Title)
		in.Title = &t
		switch {
		case t == "":
			errs = append(errs, invalid("entry %s: title is empty", name))
		case utf8.RuneCountInString(t) > MaxTitle:
			errs = append(errs, invalid("entry %s: title is longer than %d characters", name, MaxTitle))
		case strings.ContainsRune(t, 0):
			errs = append(errs, invalid("entry %s: title contains NUL", name))
		}
	} else if create {
		errs = append(errs, invalid("entry %s: title is required", name))
	}
	if in.Body != nil && len(*in.Body) > store.MaxEntryBody {
		errs = append(errs, invalid("entry %s: body is %d bytes; the limit is %d (1 MiB)", name, len(*in.Body), store.MaxEntryBody))
	}
	if in.Body != nil && (!utf8.ValidString(*in.Body) || strings.ContainsRune(*in.Body, 0)) {
		errs = append(errs, invalid("entry %s: body is not valid UTF-8 without NUL", name))
	}
	if in.Status != nil {
		s := strings.ToUpper(*in.Status)
		if !store.ValidEntryStatus(s) {
			errs = append(errs, invalid("entry %s: status %q is not DRAFT, PUBLISHED or ARCHIVED", name, *in.Status))
		}
		in.Status = &s
	}
	if in.Visibility != nil {
		v := strings.ToUpper(*in.Visibility)
		given := *in.Visibility
		in.Visibility = &v
		switch {
		case !store.ValidVisibility(v):
			errs = append(errs, invalid("entry %s: visibility %q is not PRIVATE or WORKSPACE", name, given))
		case v == store.VisibilityPrivate && user == uuid.Nil:
			errs = append(errs, invalid("entry %s: a PRIVATE entry needs an author (an API key, not the admin token)", name))
		}
	}
	if in.Tags != nil {
		tags, err := tagRule.normalise(name, *in.Tags)
		if err != nil {
			errs = append(errs, err)
		}
		in.Tags = &tags
	}
	if in.Aliases != nil {
		aliases, err := aliasRule.normalise(name, *in.Aliases)
		if err != nil {
			errs = append(errs, err)
		}
		in.Aliases = &aliases
	}
	if in.Metadata != nil {
		if err := checkMetadata(in.Metadata); err != nil {
			errs = append(errs, invalid("entry %s: metadata: %v", name, err))
		}
	}
	if in.FileName != nil {
		f := strings.TrimSpace(*in.FileName)
		in.FileName = &f
		switch {
		case utf8.RuneCountInString(f) > MaxFile:
			errs = append(errs, invalid("entry %s: file_name is longer than %d characters", name, MaxFile))
		case strings.ContainsAny(f, "/\\\x00"):
			errs = append(errs, invalid("entry %s: file_name %q holds a path separator or NUL (give the name alone)", name, f))
		}
	}
	if utf8.RuneCountInString(in.Message) > MaxMessage {
		errs = append(errs, invalid("entry %s: message is longer than %d characters", name, MaxMessage))
	}
	if strings.ContainsRune(in.Message, 0) {
		errs = append(errs, invalid("entry %s: message contains NUL", name))
	}
	return errors.Join(errs...)
}

// listRule is what each item of a list field (tags, aliases) must be.
type listRule struct {
	item, items string // "tag", "tags"
	tooLong     func(string) bool
	limit       string // the length limit, said
	max         int    // items
}

var (
	tagRule   = listRule{"tag", "tags", func(t string) bool { return len(t) > MaxTag }, fmt.Sprintf("%d bytes", MaxTag), MaxTags}
	aliasRule = listRule{"alias", "aliases", func(a string) bool { return utf8.RuneCountInString(a) > MaxTitle },
		fmt.Sprintf("%d characters", MaxTitle), MaxAliases}
)

// normalise trims each item and drops repeats, or says which item breaks the rule.
func (r listRule) normalise(name string, in []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			return nil, invalid("entry %s: a %s is empty", name, r.item)
		case r.tooLong(t):
			return nil, invalid("entry %s: %s %q is longer than %s", name, r.item, t, r.limit)
		case strings.ContainsRune(t, 0):
			return nil, invalid("entry %s: %s %q contains NUL", name, r.item, t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > r.max {
		return nil, invalid("entry %s: %d %s; the limit is %d", name, len(out), r.items, r.max)
	}
	return out, nil
}

// checkMetadata says what is wrong with m as an entry's metadata: it must be one JSON object.
func checkMetadata(m json.RawMessage) error {
	switch t := bytes.TrimSpace(m); {
	case len(m) > MaxMetadata:
		return fmt.Errorf("%d bytes; the limit is %d", len(m), MaxMetadata)
	case !json.Valid(t):
		return errors.New("not valid JSON")
	case len(t) == 0 || t[0] != '{':
		return errors.New("not a JSON object")
	case bytes.Contains(t, []byte(`\u0000`)):
		return errors.New("holds NUL")
	}
	return nil
}

// ValidSlug checks a slug as given by a person: it must already be in slug form.
func ValidSlug(slug string) error {
	switch {
	case slug == "":
		return invalid("slug is empty")
	case len(slug) > wikilink.MaxSlugLen:
		return invalid("slug %q is longer than %d bytes", slug, wikilink.MaxSlugLen)
	case wikilink.Slugify(slug) != slug:
		return invalid("slug %q is not in slug form (it would be %q)", slug, wikilink.Slugify(slug))
	}
	return nil
}

func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, ws, user uuid.UUID, e store.Entry) error {
	args := IndexArgs{EntryID: e.ID, Slug: e.Slug}
	if e.Visibility == store.VisibilityPrivate {
		// Task args are shown to every member who may list tasks: a PRIVATE entry's slug (often its
		// title) must not reach those who cannot see the entry. The id is enough to index it.
		args.Slug = ""
	}
	_, err := s.Tasks.PublishTx(ctx, tx, agents.TaskSpec{WorkspaceID: ws, Kind: KindIndex, PublishedBy: user,
		Args: args, IdempotencyKey: fmt.Sprintf("index:%s:v%d", e.ID, e.Version)})
	return err
}

// Create stores a new entry (slug from in.Slug, else from the title) as user, and enqueues its
// indexing.
func (s *Service) Create(ctx context.Context, ws, user uuid.UUID, in EntryInput) (store.Entry, error) {
	name := fmt.Sprintf("%q", in.Slug)
	if in.Slug == "" && in.Title != nil {
		name = fmt.Sprintf("%q", strings.TrimSpace(*in.Title))
	}
	if err := validateInput(&in, name, true, user); err != nil {
		return store.Entry{}, err
	}
	if in.Slug == "" {
		if in.Slug = wikilink.Slugify(*in.Title); in.Slug == "" {
			return store.Entry{}, invalid("entry %s: the title makes no slug (no letters or digits); give one", name)
		}
	}
	if err := ValidSlug(in.Slug); err != nil {
		return store.Entry{}, err
	}
	n := store.NewEntry{ID: store.NewID(), Slug: in.Slug, Title: *in.Title, Status: store.EntryDraft,
		Visibility: store.VisibilityWorkspace, Message: in.Message}
	if in.Body != nil {
		n.Body = *in.Body
	}
	if in.Status != nil {
		n.Status = *in.Status
	}
	if in.Visibility != nil {
		n.Visibility = *in.Visibility
	}
	if in.Tags != nil {
		n.Tags = *in.Tags
	}
	if in.Aliases != nil {
		n.Aliases = *in.Aliases
	}
	if in.FileName != nil {
		n.FileName = *in.FileName
	}
	n.Metadata, n.CreatedAt = in.Metadata, in.CreatedAt
	var e store.Entry
	err := s.DB.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		if e, err = store.CreateEntry(ctx, tx, ws, user, n); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, ws, user, e)
	})
	return e, err
}

// Update edits an entry as user (a new version), and enqueues its indexing.
func (s *Service) Update(ctx context.Context, ws, user uuid.UUID, slug string, in EntryInput) (store.Entry, error) {
	if err := validateInput(&in, fmt.Sprintf("%q", slug), false, user); err != nil {
		return store.Entry{}, err
	}
	var e store.Entry
	err := s.DB.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		var err error
		e, err = store.UpdateEntry(ctx, tx, ws, user, slug, store.EntryChange{Title: in.Title, Body: in.Body, Status: in.Status,
			Visibility: in.Visibility, Tags: in.Tags, Aliases: in.Aliases, Metadata: in.Metadata, FileName: in.FileName,
			Message: in.Message, IfVersion: in.IfVersion})
		if err != nil {
			return err
		}
		return s.enqueue(ctx, tx, ws, user, e)
	})
	return e, err
}

// Restore makes version the entry's content again, as a new version.
func (s *Service) Restore(ctx context.Context, ws, user uuid.UUID, slug string, version int) (store.Entry, error) {
	v, err := s.DB.EntryVersionAt(ctx, ws, user, slug, version)
	if err != nil {
		return store.Entry{}, err
	}
	msg := fmt.Sprintf("restore version %d", version)
	return s.Update(ctx, ws, user, slug, EntryInput{Title: &v.Title, Body: &v.Body, Status: &v.Status, Message: msg})
}

// Delete removes an entry; links to it dangle. The index job it enqueues finds the entry gone
// and records that.
func (s *Service) Delete(ctx context.Context, ws, user uuid.UUID, slug string) error {
	return s.DB.InWorkspaceAs(ctx, ws, user, func(tx pgx.Tx) error {
		e, err := store.DeleteEntry(ctx, tx, ws, slug)
		if err != nil {
			return err
		}
		e.Version++ // a distinct idempotency key from the last edit's
		return s.enqueue(ctx, tx, ws, user, e)
	})
}

// Reindex enqueues a whole-workspace re-index.
func (s *Service) Reindex(ctx context.Context, ws, user uuid.UUID, batch int) (uuid.UUID, error) {
	res, err := s.Tasks.Publish(ctx, agents.TaskSpec{WorkspaceID: ws, Kind: KindReindex, PublishedBy: user, Args: ReindexArgs{BatchSize: batch}})
	return res.ID, err
}

// Diff (mosaictype.Diff) is a unified diff between two versions of an entry.
type Diff = mosaictype.Diff

// Diff compares versions from and to of an entry (to 0: the current one; from 0: the one
// before to). The title is part of the compared text, as its first line.
func (s *Service) Diff(ctx context.Context, ws, user uuid.UUID, slug string, from, to int) (Diff, error) {
	if to == 0 {
		e, err := s.DB.GetEntry(ctx, ws, user, slug)
		if err != nil {
			return Diff{}, err
		}
		to = e.Version
	}
	if from == 0 {
		from = max(to-1, 1)
	}
	if from < 1 || to < 1 {
		return Diff{}, invalid("entry %q: versions start at 1", slug)
	}
	a, err := s.DB.EntryVersionAt(ctx, ws, user, slug, from)
	if err != nil {
		return Diff{}, err
	}
	b, err := s.DB.EntryVersionAt(ctx, ws, user, slug, to)
	if err != nil {
		return Diff{}, err
	}
	ta, tb := "# "+a.Title+"\n\n"+a.Body, "# "+b.Title+"\n\n"+b.Body
	u, err := udiff.ToUnifiedDiff(fmt.Sprintf("%s@v%d", slug, from), fmt.Sprintf("%s@v%d", slug, to), ta, udiff.Lines(ta, tb), 3)
	if err != nil { // the edits come from the same texts: not expected
		return Diff{}, fmt.Errorf("diff %s v%d…v%d: %w", slug, from, to, err)
	}
	d := Diff{Slug: slug, From: from, To: to}
	if len(u.Hunks) > 0 {
		d.Diff = u.String()
	}
	for _, h := range u.Hunks {
		for _, l := range h.Lines {
			switch l.Kind {
			case udiff.Insert:
				d.Added++
			case udiff.Delete:
				d.Removed++
			}
		}
	}
	return d, nil
}

// Search modes.
const (
	ModeFullText = "fulltext"
	ModeSemantic = "semantic"
	ModeHybrid   = "hybrid"
)

// SearchRequest is a search.
type SearchRequest struct {
	Query  string
	Mode   string // fulltext (default), semantic or hybrid
	Filter store.SearchFilter
	Limit  int // 1…100, default 20
	Offset int
}

// SearchResult (mosaictype.SearchResult) is a page of hits.
type SearchResult = mosaictype.SearchResult

// LexicalNote is SearchResult.Note when the semantic leg is the built-in lexical embedder.
const LexicalNote = "The built-in embedder hashes words (lexical): semantic search with it matches shared words, not meaning; " +
	"configure an HTTP embedder (Ollama or OpenAI-compatible) for search by meaning"

// minSimilarity is the semantic leg's floor in use.
func (s *Service) minSimilarity() float64 {
	if s.MinSimilarity > 0 {
		return s.MinSimilarity
	}
	return embed.DefaultMinSimilarity(s.Embedder)
}

// rrfK is reciprocal rank fusion's constant (Cormack et al. use 60).
const rrfK = 60

// Search finds visible entries by words, by meaning, or both fused by reciprocal rank.
func (s *Service) Search(ctx context.Context, ws, user uuid.UUID, r SearchRequest) (SearchResult, error) {
	q := strings.TrimSpace(r.Query)
	switch {
	case q == "":
		return SearchResult{}, invalid("q: the query is empty")
	case len(q) > 1000:
		return SearchResult{}, invalid("q: the query is longer than 1000 bytes")
	case r.Limit < 0 || r.Limit > MaxLimit:
		return SearchResult{}, invalid("limit: %d is not 1…%d", r.Limit, MaxLimit)
	case r.Offset < 0 || r.Offset > 10000:
		return SearchResult{}, invalid("offset: %d is not 0…10000", r.Offset)
	case r.Filter.Status != "" && !store.ValidEntryStatus(r.Filter.Status):
		return SearchResult{}, invalid("status: %q is not DRAFT, PUBLISHED or ARCHIVED", r.Filter.Status)
	}
	if r.Limit == 0 {
		r.Limit = 20
	}
	if r.Mode == "" {
		r.Mode = ModeFullText
	}
	res := SearchResult{Mode: r.Mode}
	if r.Mode != ModeFullText {
		res.Embedder, res.MinSimilarity = s.Embedder.Name(), s.minSimilarity()
		if embed.IsLexical(s.Embedder) {
			res.Note = LexicalNote
		}
	}
	var err error
	switch r.Mode {
	case ModeFullText:
		res.Results, err = s.DB.SearchFullText(ctx, ws, user, q, r.Filter, r.Limit+1, r.Offset)
	case ModeSemantic:
		res.Results, err = s.semantic(ctx, ws, user, q, r.Filter, r.Limit+1, r.Offset)
	case ModeHybrid:
		res.Results, err = s.hybrid(ctx, ws, user, q, r.Filter, r.Limit+1, r.Offset)
	default:
		return SearchResult{}, invalid("mode: %q is not fulltext, semantic or hybrid", r.Mode)
	}
	if errors.Is(err, store.ErrEmptyQuery) {
		return SearchResult{}, invalid("q: %v", err)
	}
	if err != nil {
		return SearchResult{}, err
	}
	if len(res.Results) > r.Limit {
		res.Results = res.Results[:r.Limit]
		next := r.Offset + r.Limit
		res.NextOffset = &next
	}
	if res.Results == nil {
		res.Results = []store.Hit{}
	}
	return res, nil
}

func (s *Service) semantic(ctx context.Context, ws, user uuid.UUID, q string, f store.SearchFilter, limit, offset int) ([]store.Hit, error) {
	vecs, err := s.Embedder.Embed(ctx, []string{q})
	if err != nil {
		return nil, fmt.Errorf("embed the query: %w", err)
	}
	qv := vecs[0]
	if !slices.ContainsFunc(qv, func(x float32) bool { return x != 0 }) {
		return nil, store.ErrEmptyQuery
	}
	if embed.IsLexical(s.Embedder) {
		// A lexical vector scores by the words it shares with the query, and by hash collisions:
		// a word that lands in the bucket of an entry's frequent word can score 0.3 and more with
		// no word in common. Only entries that share a word with the query are hits.
		f.AnyWordOf = q
	}
	if s.DB.HasPgvector(ctx) {
		return s.DB.SearchSemanticPgvector(ctx, ws, user, s.Embedder.Name(), vectorLiteral(qv), s.minSimilarity(), f, limit, offset)
	}
	return s.rankInMemory(ctx, ws, user, qv, s.minSimilarity(), f, limit, offset)
}

// hybrid fuses the full-text and semantic rankings: each list contributes 1/(rrfK + rank) to an
// entry's score, so an entry found both ways outranks one found one way. Each list holds only
// what its leg found relevant (words that match; a similarity at or above the floor), so an
// entry neither leg found is never returned.
func (s *Service) hybrid(ctx context.Context, ws, user uuid.UUID, q string, f store.SearchFilter, limit, offset int) ([]store.Hit, error) {
	pool := max(50, offset+limit)
	words, err := s.DB.SearchFullText(ctx, ws, user, q, f, pool, 0)
	if err != nil {
		return nil, err
	}
	meaning, err := s.semantic(ctx, ws, user, q, f, pool, 0)
	if err != nil {
		return nil, err
	}
	fused := map[uuid.UUID]*store.Hit{}
	for _, list := range [][]store.Hit{words, meaning} {
		for rank, h := range list {
			if fused[h.ID] == nil {
				c := h
				c.Score = 0
				fused[h.ID] = &c
			}
			fused[h.ID].Score += 1 / float64(rrfK+rank+1)
			if fused[h.ID].Snippet == "" {
				fused[h.ID].Snippet = h.Snippet
			}
		}
	}
	out := make([]store.Hit, 0, len(fused))
	for _, h := range fused {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Slug < out[j].Slug
	})
	if offset >= len(out) {
		return nil, nil
	}
	return out[offset:min(len(out), offset+limit)], nil
}
