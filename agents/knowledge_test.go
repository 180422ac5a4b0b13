package agents_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// kbEnv is a knowledge base with its agent running on the KNOWLEDGE stream.
type kbEnv struct {
	*testBundle
	svc  *knowledge.Service
	user uuid.UUID // a member, the author of the entries
}

func setupKnowledge(t *testing.T, cfg knowledge.Config) *kbEnv {
	t.Helper()
	emb := embed.NewLexical(0)
	db := pgtest.DB(t)
	cfg.DB, cfg.Embedder = db, emb
	b := setupOn(t, db, func(r *agents.Registry) { knowledge.Register(r, cfg) })
	e := &kbEnv{testBundle: b, svc: &knowledge.Service{DB: db, Tasks: b.client, Embedder: emb}}
	var err error
	if e.user, err = db.AddMember(context.Background(), b.ws, "author", store.RoleMember); err != nil {
		t.Fatal(err)
	}
	b.pool(t, agents.PoolConfig{Name: "kb", Stream: events.KnowledgeStream, Concurrency: 4})
	return e
}

func (e *kbEnv) put(t *testing.T, title, body string, tags ...string) store.Entry {
	t.Helper()
	in := knowledge.EntryInput{Title: &title, Body: &body}
	if tags != nil {
		in.Tags = &tags
	}
	en, err := e.svc.Create(context.Background(), e.ws, e.user, in)
	if err != nil {
		t.Fatalf("create %q: %v", title, err)
	}
	return en
}

// indexed waits until the entry's index describes its current version.
func (e *kbEnv) indexed(t *testing.T, slug string) store.Entry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		en, err := e.db.GetEntry(context.Background(), e.ws, e.user, slug)
		if err == nil && en.IndexedVersion == en.Version {
			return en
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("entry %s not indexed within 20s", slug)
	return store.Entry{}
}

func linkState(t *testing.T, e *kbEnv, slug string) map[string]bool {
	t.Helper()
	links, _, err := e.db.EntryLinks(context.Background(), e.ws, e.user, slug)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range links {
		out[l.TargetSlug] = l.TargetID != nil
	}
	return out
}

// Links are parsed by the agent, dangle until their target exists, resolve when it appears, and
// dangle again when it is deleted; backlinks and the graph follow.
func TestKnowledgeLinksResolveWhenTargetAppears(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	e.put(t, "Alpha", "See [[Beta Page]] and [[gamma|the third]].\n\n```\n[[not-a-link]]\n```\nand `[[nor-this]]`.")
	e.indexed(t, "alpha")
	if got := linkState(t, e, "alpha"); len(got) != 2 || got["beta-page"] || got["gamma"] {
		t.Fatalf("alpha's links before their targets exist: %v; want beta-page and gamma, dangling", got)
	}

	e.put(t, "Beta Page", "Back to [[Alpha]].")
	e.indexed(t, "beta-page")
	if got := linkState(t, e, "alpha"); !got["beta-page"] || got["gamma"] {
		t.Fatalf("after Beta Page appeared: %v; want beta-page resolved", got)
	}
	_, back, err := e.db.EntryLinks(ctx, e.ws, e.user, "beta-page")
	if err != nil || len(back) != 1 || back[0].Slug != "alpha" {
		t.Fatalf("backlinks of beta-page: %v %v", back, err)
	}
	e.put(t, "Lonely", "no links here")
	e.indexed(t, "lonely")

	g, err := e.svc.Graph(ctx, e.ws, e.user, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if g.Stats.Nodes != 3 || g.Stats.Edges != 2 || g.Stats.OrphanCount != 1 || g.Stats.Orphans[0].Slug != "lonely" ||
		g.Stats.DanglingLinks != 1 || g.Stats.MostConnected[0].Degree != 2 {
		t.Fatalf("graph stats: %+v", g.Stats)
	}
	around, err := e.svc.Graph(ctx, e.ws, e.user, "beta-page", 1)
	if err != nil || len(around.Nodes) != 2 || around.Nodes[0].Slug != "beta-page" || around.Nodes[1].Depth != 1 {
		t.Fatalf("graph around beta-page: %+v %v", around.Nodes, err)
	}
	for _, d := range []int{0, 6} {
		if _, err := e.svc.Graph(ctx, e.ws, e.user, "beta-page", d); !errors.Is(err, knowledge.ErrInvalid) {
			t.Fatalf("depth %d: %v; want invalid", d, err)
		}
	}

	if err := e.svc.Delete(ctx, e.ws, e.user, "beta-page"); err != nil {
		t.Fatal(err)
	}
	if got := linkState(t, e, "alpha"); got["beta-page"] {
		t.Fatalf("after Beta Page was deleted: %v; want its link dangling", got)
	}
}

// Links resolve as wikis resolve them: by slug, then the file an entry came from, then title, then
// alias, folding case and accents; they follow an entry that appears, is renamed or is deleted.
func TestKnowledgeLinksByTitleAliasAndFileName(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	create := func(in knowledge.EntryInput) {
		t.Helper()
		en, err := e.svc.Create(ctx, e.ws, e.user, in)
		if err != nil {
			t.Fatal(err)
		}
		e.indexed(t, en.Slug)
	}
	str := func(s string) *string { return &s }
	create(knowledge.EntryInput{Slug: "pg-backups", Title: str("PostgreSQL backups with pgBackRest"), Body: str("Full and incremental."),
		Aliases: &[]string{"Backups"}, FileName: str("2024 backups note")})
	create(knowledge.EntryInput{Title: str("Index"), Body: str("[[postgresql BACKUPS with pgbackrest]], [[Backups|the backups]], " +
		"[[2024 backups note]], [[pg-backups#Restore]], [[Café Crème]].\n\n    [[indented code is no link]]\n")})
	want := map[string]bool{"postgresql-backups-with-pgbackrest": true, "backups": true, "2024-backups-note": true, "pg-backups": true, "cafe-creme": false}
	if got := linkState(t, e, "index"); !maps.Equal(got, want) {
		t.Fatalf("links by title, alias, file name and slug: %v; want %v", got, want)
	}
	target := func(name string) string {
		t.Helper()
		links, _, err := e.db.EntryLinks(ctx, e.ws, e.user, "index")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			if l.TargetSlug == name && l.TargetID != nil {
				en, err := e.db.GetEntryByID(ctx, e.ws, e.user, *l.TargetID)
				if err != nil {
					t.Fatal(err)
				}
				return en.Slug
			}
		}
		return ""
	}
	if got := target("backups"); got != "pg-backups" {
		t.Fatalf("[[Backups]] goes to %q, want pg-backups (its alias)", got)
	}

	// An entry that a dangling link names appears: the link resolves, accents folded.
	create(knowledge.EntryInput{Title: str("Cafe creme"), Body: str("Coffee.")})
	if got := target("cafe-creme"); got != "cafe-creme" {
		t.Fatalf("[[Café Crème]] after the entry appeared goes to %q", got)
	}
	// A slug outranks an alias: an entry whose slug is "backups" takes [[Backups]].
	create(knowledge.EntryInput{Slug: "backups", Title: str("Backup policy"), Body: str("Keep 30 days.")})
	if got := target("backups"); got != "backups" {
		t.Fatalf("[[Backups]] after an entry with that slug appeared goes to %q, want backups", got)
	}
	// Renamed: the old title no longer leads to it, the alias-free names still do.
	if _, err := e.svc.Update(ctx, e.ws, e.user, "pg-backups", knowledge.EntryInput{Title: str("Postgres backups")}); err != nil {
		t.Fatal(err)
	}
	e.indexed(t, "pg-backups")
	if got := linkState(t, e, "index"); got["postgresql-backups-with-pgbackrest"] || !got["2024-backups-note"] {
		t.Fatalf("after the rename: %v; want the old title dangling, the file name resolved", got)
	}
	// Deleted: a link that named it by a name another entry holds goes there.
	if err := e.svc.Delete(ctx, e.ws, e.user, "backups"); err != nil {
		t.Fatal(err)
	}
	if got := target("backups"); got != "pg-backups" {
		t.Fatalf("[[Backups]] after the entry with that slug was deleted goes to %q, want pg-backups again", got)
	}
}

// Entries written at once, each linking to the next by title (names that index jobs add): every
// link resolves once all are indexed, whichever job ran first.
func TestKnowledgeLinksResolveUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			title, body := fmt.Sprintf("Note number %d", i), fmt.Sprintf("Next: [[note number %d]].", (i+1)%n)
			_, err := e.svc.Create(ctx, e.ws, e.user, knowledge.EntryInput{Slug: fmt.Sprintf("n%d", i), Title: &title, Body: &body})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		e.indexed(t, fmt.Sprintf("n%d", i))
	}
	deadline := time.Now().Add(10 * time.Second) // the last index jobs may still be committing
	for {
		dangling := 0
		for i := range n {
			for _, ok := range linkState(t, e, fmt.Sprintf("n%d", i)) {
				if !ok {
					dangling++
				}
			}
		}
		if dangling == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d links dangle after every entry was indexed", dangling, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Full-text search finds by word with a highlighted snippet, filters by tag and status; every
// mode returns only entries that match; hybrid ranks every entry found both ways above any found
// one way and returns nothing neither leg found.
func TestKnowledgeSearch(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	e.put(t, "Rollback procedure", "How to roll back a Kubernetes deployment: kubectl rollout undo. Rollback is safe.", "ops", "k8s")
	e.put(t, "Deployment checklist", "Before each deployment: review, canary, watch the dashboards.", "ops")
	e.put(t, "Team lunch", "Pizza on Fridays, salad on Mondays.", "social")
	e.put(t, "Kubernetes basics", "Pods, services and deployments; a rollout replaces pods gradually.", "k8s")
	for _, s := range []string{"rollback-procedure", "deployment-checklist", "team-lunch", "kubernetes-basics"} {
		e.indexed(t, s)
	}

	res, err := e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "deployment"})
	if err != nil {
		t.Fatal(err)
	}
	slugs := hitSlugs(res.Results)
	if len(slugs) != 3 || slugs[0] != "deployment-checklist" || slices.Contains(slugs, "team-lunch") {
		t.Fatalf("full text for deployment: %v; want the titled one first, not lunch", slugs)
	}
	if !strings.Contains(res.Results[0].Snippet, "«deployment»") && !strings.Contains(res.Results[0].Snippet, "«Deployment»") {
		t.Fatalf("snippet %q has no highlight", res.Results[0].Snippet)
	}
	res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "deployment", Filter: store.SearchFilter{Tag: "k8s"}})
	if err != nil || !slices.Equal(hitSlugs(res.Results), []string{"kubernetes-basics", "rollback-procedure"}) && !slices.Equal(hitSlugs(res.Results), []string{"rollback-procedure", "kubernetes-basics"}) {
		t.Fatalf("full text with tag k8s: %v %v", hitSlugs(res.Results), err)
	}
	res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: `"roll back" -pizza`})
	if err != nil || !slices.Equal(hitSlugs(res.Results), []string{"rollback-procedure"}) {
		t.Fatalf("web search syntax: %v %v", hitSlugs(res.Results), err)
	}
	res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "deployment", Filter: store.SearchFilter{Status: store.EntryPublished}})
	if err != nil || len(res.Results) != 0 {
		t.Fatalf("status PUBLISHED (all are drafts): %v %v", hitSlugs(res.Results), err)
	}
	for _, bad := range []knowledge.SearchRequest{{Query: ""}, {Query: "the and of"}, {Query: "x", Mode: "psychic"}, {Query: "x", Limit: 1000}} {
		if _, err := e.svc.Search(ctx, e.ws, e.user, bad); !errors.Is(err, knowledge.ErrInvalid) {
			t.Fatalf("search %+v: %v; want a clear invalid error", bad, err)
		}
	}

	// Only what matches: a query about one note returns that note alone in every mode, and a
	// query about nothing here returns nothing (the semantic leg has a floor).
	for _, mode := range []string{knowledge.ModeFullText, knowledge.ModeSemantic, knowledge.ModeHybrid} {
		res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "pizza salad", Mode: mode})
		if err != nil || !slices.Equal(hitSlugs(res.Results), []string{"team-lunch"}) {
			t.Fatalf("%s for pizza salad: %v %v; want team-lunch alone", mode, hitSlugs(res.Results), err)
		}
		res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "quantum chromodynamics", Mode: mode})
		if err != nil || len(res.Results) != 0 {
			t.Fatalf("%s for a query about nothing here: %v %v; want no result", mode, hitSlugs(res.Results), err)
		}
		if mode != knowledge.ModeFullText && (res.Note != knowledge.LexicalNote || res.Embedder != "lexical-hash-v1/384" || res.MinSimilarity != embed.LexicalMinSimilarity) {
			t.Fatalf("%s with the lexical embedder: note %q embedder %q floor %v; want it said what the embedder is", mode, res.Note, res.Embedder, res.MinSimilarity)
		}
	}

	// A word that shares no letter with the entry but lands in the same hash bucket as "pizza"
	// scores high with the lexical embedder: it is no hit, since it shares no word.
	emb := embed.NewLexical(0)
	pizza, _ := emb.Embed(ctx, []string{"pizza"})
	collider := ""
	for i := 0; collider == "" && i < 200000; i++ {
		w := fmt.Sprintf("zq%dx", i)
		v, _ := emb.Embed(ctx, []string{w})
		if embed.Cosine(v[0], pizza[0]) > 0.99 {
			collider = w
		}
	}
	if collider == "" {
		t.Fatal("no word collides with pizza")
	}
	for _, mode := range []string{knowledge.ModeSemantic, knowledge.ModeHybrid} {
		res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: collider, Mode: mode})
		if err != nil || len(res.Results) != 0 {
			t.Fatalf("%s for %q, a hash collision of pizza: %v %v; want nothing", mode, collider, hitSlugs(res.Results), err)
		}
	}

	words, err := e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "rollout pods"})
	if err != nil {
		t.Fatal(err)
	}
	meaning, err := e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "rollout pods", Mode: knowledge.ModeSemantic})
	if err != nil {
		t.Fatal(err)
	}
	hybrid, err := e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "rollout pods", Mode: knowledge.ModeHybrid})
	if err != nil {
		t.Fatal(err)
	}
	fromWords, fromMeaning := hitSlugs(words.Results), hitSlugs(meaning.Results)
	if len(fromWords) == 0 {
		t.Fatal("full text found nothing for rollout pods")
	}
	var both []string
	for _, s := range fromWords {
		if slices.Contains(fromMeaning, s) {
			both = append(both, s)
		}
	}
	for i, h := range hybrid.Results {
		if !slices.Contains(fromWords, h.Slug) && !slices.Contains(fromMeaning, h.Slug) {
			t.Fatalf("hybrid returned %s, which neither leg found (%v, %v)", h.Slug, fromWords, fromMeaning)
		}
		if (i < len(both)) != slices.Contains(both, h.Slug) {
			t.Fatalf("hybrid order %v: the entries found both ways (%v) must come first", hitSlugs(hybrid.Results), both)
		}
	}
	for _, s := range fromWords {
		if !slices.Contains(hitSlugs(hybrid.Results), s) {
			t.Fatalf("hybrid %v lost the full-text hit %s", hitSlugs(hybrid.Results), s)
		}
	}
}

func hitSlugs(hits []store.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Slug)
	}
	return out
}

// Every edit is a version; any two diff; restoring an old one makes a new version.
func TestKnowledgeVersionsDiffRestore(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	e.put(t, "Runbook", "line one\nline two\nline three\n")
	for _, body := range []string{"line one\nline 2\nline three\n", "line one\nline 2\nline three\nline four\n"} {
		b := body
		if _, err := e.svc.Update(ctx, e.ws, e.user, "runbook", knowledge.EntryInput{Body: &b, Message: "edit"}); err != nil {
			t.Fatal(err)
		}
	}
	stale := 1
	if _, err := e.svc.Update(ctx, e.ws, e.user, "runbook", knowledge.EntryInput{Body: new(string), IfVersion: stale}); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("an edit based on version 1: %v; want a version mismatch", err)
	}
	versions, err := e.db.EntryVersions(ctx, e.ws, e.user, "runbook")
	if err != nil || len(versions) != 3 || versions[0].Version != 3 || versions[0].Message != "edit" {
		t.Fatalf("versions: %+v %v", versions, err)
	}
	d, err := e.svc.Diff(ctx, e.ws, e.user, "runbook", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.Added != 2 || d.Removed != 1 || !strings.Contains(d.Diff, "-line two\n") || !strings.Contains(d.Diff, "+line 2\n") ||
		!strings.Contains(d.Diff, "+line four\n") || !strings.HasPrefix(d.Diff, "--- runbook@v1\n+++ runbook@v3\n") {
		t.Fatalf("diff v1..v3 (+%d -%d):\n%s", d.Added, d.Removed, d.Diff)
	}
	restored, err := e.svc.Restore(ctx, e.ws, e.user, "runbook", 1)
	if err != nil || restored.Version != 4 || restored.Body != "line one\nline two\nline three\n" {
		t.Fatalf("restore v1: %+v %v", restored, err)
	}
	if d, err := e.svc.Diff(ctx, e.ws, e.user, "runbook", 1, 4); err != nil || d.Diff != "" {
		t.Fatalf("v1 against the restored v4: %q %v", d.Diff, err)
	}
	if _, err := e.svc.Diff(ctx, e.ws, e.user, "runbook", 1, 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("diff to a version that does not exist: %v", err)
	}
}

// Bad input: a clear error naming the entry or the field.
func TestKnowledgeBadInput(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	e.put(t, "Taken", "x")
	str := func(s string) *string { return &s }
	big := strings.Repeat("a", store.MaxEntryBody+1)
	cases := []struct {
		in   knowledge.EntryInput
		want string
		is   error
	}{
		{knowledge.EntryInput{Title: str("  ")}, "title is empty", knowledge.ErrInvalid},
		{knowledge.EntryInput{Slug: "ok", Title: nil}, "title is required", knowledge.ErrInvalid},
		{knowledge.EntryInput{Title: str("Taken")}, `entry "taken": the slug is taken`, store.ErrConflict},
		{knowledge.EntryInput{Title: str("Big"), Body: &big}, "the limit is 1048576", knowledge.ErrInvalid},
		{knowledge.EntryInput{Slug: "Not A Slug", Title: str("x")}, "not in slug form", knowledge.ErrInvalid},
		{knowledge.EntryInput{Title: str("!!!")}, "makes no slug", knowledge.ErrInvalid},
		{knowledge.EntryInput{Title: str("s"), Status: str("done")}, `status "done"`, knowledge.ErrInvalid},
		{knowledge.EntryInput{Title: str("v"), Tags: &[]string{"ok", ""}}, "a tag is empty", knowledge.ErrInvalid},
	}
	for _, c := range cases {
		_, err := e.svc.Create(ctx, e.ws, e.user, c.in)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("create %+v: %v; want %q", c.in, err, c.want)
		}
	}
	if _, err := e.svc.Create(ctx, e.ws, uuid.Nil, knowledge.EntryInput{Title: str("Mine"), Visibility: str("private")}); !errors.Is(err, knowledge.ErrInvalid) {
		t.Errorf("a PRIVATE entry without an author: %v", err)
	}
}

// PRIVATE entries are their author's: another member sees them nowhere (get, list, search, graph,
// backlinks), and a link to one dangles for them.
func TestKnowledgePrivateEntries(t *testing.T) {
	t.Parallel()
	e := setupKnowledge(t, knowledge.Config{})
	ctx := context.Background()
	other, err := e.db.AddMember(ctx, e.ws, "other", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	title, body, private := "Secret plan", "the zebra migration", store.VisibilityPrivate
	if _, err := e.svc.Create(ctx, e.ws, e.user, knowledge.EntryInput{Title: &title, Body: &body, Visibility: &private}); err != nil {
		t.Fatal(err)
	}
	pubTitle, pubBody := "Public notes", "see [[Secret plan]] about the zebra"
	if _, err := e.svc.Create(ctx, e.ws, other, knowledge.EntryInput{Title: &pubTitle, Body: &pubBody}); err != nil {
		t.Fatal(err)
	}
	e.indexed(t, "secret-plan")
	e.indexed(t, "public-notes")
	if _, err := e.db.GetEntry(ctx, e.ws, other, "secret-plan"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another member reads a PRIVATE entry: %v", err)
	}
	res, err := e.svc.Search(ctx, e.ws, other, knowledge.SearchRequest{Query: "zebra", Mode: knowledge.ModeHybrid})
	if err != nil || !slices.Equal(hitSlugs(res.Results), []string{"public-notes"}) {
		t.Fatalf("other's search: %v %v", hitSlugs(res.Results), err)
	}
	g, err := e.svc.Graph(ctx, e.ws, other, "", 0)
	if err != nil || g.Stats.Nodes != 1 || g.Stats.Edges != 0 {
		t.Fatalf("other's graph: %+v %v", g.Stats, err)
	}
	links, _, err := e.db.EntryLinks(ctx, e.ws, other, "public-notes")
	if err != nil || len(links) != 1 || links[0].TargetID != nil {
		t.Fatalf("other's view of the link to the private entry: %+v %v", links, err)
	}
	links, _, err = e.db.EntryLinks(ctx, e.ws, e.user, "public-notes")
	if err != nil || len(links) != 1 || links[0].TargetID == nil {
		t.Fatalf("the author's view of the same link: %+v %v", links, err)
	}
	res, err = e.svc.Search(ctx, e.ws, e.user, knowledge.SearchRequest{Query: "zebra"})
	if err != nil || len(res.Results) != 2 {
		t.Fatalf("the author's search: %v %v", hitSlugs(res.Results), err)
	}
	if _, err := e.svc.Update(ctx, e.ws, e.user, "public-notes", knowledge.EntryInput{Visibility: &private}); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("making someone else's entry PRIVATE: %v", err)
	}
	// The indexing tasks are listed to every member: the PRIVATE entry's slug is in none of them
	// (its id is), while a WORKSPACE entry's task names it.
	tasks, _, err := e.db.ListTasks(ctx, e.ws, store.TaskFilter{Kind: knowledge.KindIndex, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var sawPublic bool
	for _, tk := range tasks {
		if strings.Contains(string(tk.Args), "secret-plan") || strings.Contains(string(tk.Args), "Secret plan") {
			t.Fatalf("an indexing task's args name the PRIVATE entry: %s", tk.Args)
		}
		sawPublic = sawPublic || strings.Contains(string(tk.Args), "public-notes")
	}
	if !sawPublic {
		t.Fatalf("no indexing task names the WORKSPACE entry (%d tasks): the check above proves nothing", len(tasks))
	}
}

// A re-index killed after a batch resumes from its checkpoint and indexes every entry.
func TestKnowledgeReindexKilledMidwayResumes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []int
	crashed := false
	e := setupKnowledge(t, knowledge.Config{AfterBatch: func(done int) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, done)
		if done == 10 && !crashed {
			crashed = true
			return errors.New("killed after the second batch")
		}
		return nil
	}})
	ctx := context.Background()
	for i := range 23 {
		e.put(t, fmt.Sprintf("Entry %02d", i), fmt.Sprintf("body %d links to [[Entry %02d]]", i, (i+1)%23))
	}
	for i := range 23 {
		e.indexed(t, fmt.Sprintf("entry-%02d", i))
	}
	id, err := e.svc.Reindex(ctx, e.ws, e.user, 5)
	if err != nil {
		t.Fatal(err)
	}
	task := e.wait(t, id, store.StatusSucceeded, 30*time.Second)
	res := decode[knowledge.ReindexResult](t, task.Result)
	mu.Lock()
	defer mu.Unlock()
	if task.Attempt != 2 || res.Entries != 23 || res.Links != 23 || res.Embedded != 0 {
		t.Fatalf("re-index: attempt %d, result %+v; want attempt 2, 23 entries, 23 links, nothing re-embedded", task.Attempt, res)
	}
	if want := []int{5, 10, 10, 15, 20, 23}; !slices.Equal(calls, want) {
		t.Fatalf("batches done %v; want %v (the second attempt resumes after the first checkpointed batch)", calls, want)
	}
	g, err := e.svc.Graph(ctx, e.ws, e.user, "", 0)
	if err != nil || g.Stats.Edges != 23 || g.Stats.DanglingLinks != 0 {
		t.Fatalf("graph after re-index: %+v %v", g.Stats, err)
	}
}
