package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/outbox"
	"github.com/mosaicstack/mosaic/store"
)

// corpus makes reproducible synthetic entries: words drawn from a Zipf distribution over a
// vocabulary, a few [[links]] to other entries' titles.
type corpus struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newCorpus(seed uint64) *corpus {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &corpus{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, 4999)}
	syll := []string{"ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "do", "ge", "hu", "ri", "to"}
	for len(c.vocab) < 5000 {
		w := ""
		for n := 2 + rng.IntN(3); n > 0; n-- {
			w += syll[rng.IntN(len(syll))]
		}
		c.vocab = append(c.vocab, w)
	}
	return c
}

func (c *corpus) words(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = c.vocab[c.zipf.Uint64()]
	}
	return strings.Join(w, " ")
}

func title(i int) string { return fmt.Sprintf("Entry %05d", i) }

// seedEntries inserts n entries straight into the store (no index jobs: the re-index does them),
// each linking to links others among the n.
func seedEntries(ctx context.Context, db *store.DB, ws uuid.UUID, c *corpus, n, links int) error {
	for start := 0; start < n; start += 500 {
		err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
			for i := start; i < min(n, start+500); i++ {
				var b strings.Builder
				b.WriteString(c.words(100 + c.rng.IntN(200)))
				for range links {
					fmt.Fprintf(&b, " See [[%s]]. %s", title(c.rng.IntN(n)), c.words(10))
				}
				_, err := store.CreateEntry(ctx, tx, ws, uuid.Nil, store.NewEntry{ID: store.NewID(),
					Slug: fmt.Sprintf("entry-%05d", i), Title: title(i) + " " + c.words(3), Body: b.String(),
					Status: store.EntryPublished, Visibility: store.VisibilityWorkspace, Tags: []string{c.vocab[i%20]}})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// reindexed runs a whole-workspace re-index as the knowledge agent does and returns entries/s.
func reindexed(ctx context.Context, e *env, ws uuid.UUID, reg *agents.Registry, n int) (float64, error) {
	client, err := agents.NewClient(agents.ClientConfig{DB: e.db, Registry: reg, JS: e.js})
	if err != nil {
		return 0, err
	}
	defer client.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	relay := outbox.NewRelay(outbox.RelayConfig{DB: e.db, JS: e.js})
	go func() { _ = relay.Run(rctx) }()
	pool, err := agents.NewPool(agents.PoolConfig{DB: e.db, JS: e.js, NC: e.nc, Registry: reg, Name: "kb-bench",
		Stream: events.KnowledgeStream, Concurrency: 2, WorkerName: "bench"})
	if err != nil {
		return 0, err
	}
	if err := pool.Start(rctx); err != nil {
		return 0, err
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		_ = pool.Stop(sctx)
	}()
	started := time.Now()
	res, err := client.Publish(ctx, agents.TaskSpec{WorkspaceID: ws, Kind: knowledge.KindReindex, Args: knowledge.ReindexArgs{BatchSize: 200}})
	if err != nil {
		return 0, err
	}
	for {
		t, err := e.db.GetTask(ctx, ws, res.ID)
		if err != nil {
			return 0, err
		}
		if store.Terminal(t.Status) {
			if t.Status != store.StatusSucceeded {
				return 0, fmt.Errorf("re-index ended %s: %s", t.Status, deref(t.LastError))
			}
			return float64(n) / time.Since(started).Seconds(), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, int(float64(len(s))*p))
	return float64(s[i].Microseconds()) / 1000
}

// knowledgeBench measures search latency at cfg.entries entries, the graph of cfg.graphNodes
// nodes and the indexing throughput.
func knowledgeBench(ctx context.Context, e *env, cfg config) ([]figure, error) {
	emb := embed.NewLexical(0)
	reg := agents.NewRegistry()
	knowledge.Register(reg, knowledge.Config{DB: e.db, Embedder: emb})
	svc := &knowledge.Service{DB: e.db, Embedder: emb}
	c := newCorpus(42)

	w, err := e.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "kb-bench-" + uuid.NewString()[:8]})
	if err != nil {
		return nil, err
	}
	say("  seeding %d entries", cfg.entries)
	if err := seedEntries(ctx, e.db, w.ID, c, cfg.entries, 3); err != nil {
		return nil, err
	}
	var prof *pgProfile
	if cfg.pgstats {
		prof = startProfile(ctx, e)
	}
	t0 := time.Now()
	rate, err := reindexed(ctx, e, w.ID, reg, cfg.entries)
	if err != nil {
		return nil, err
	}
	if prof != nil {
		prof.report(ctx, cfg.entries, time.Since(t0).Seconds())
	}
	say("  indexed %d entries at %.0f entries/s", cfg.entries, rate)
	e.vacuum(ctx, e.ownerURL)
	again, err := reindexed(ctx, e, w.ID, reg, cfg.entries)
	if err != nil {
		return nil, err
	}
	say("  re-indexed them at %.0f entries/s", again)
	figures := []figure{
		{name: fmt.Sprintf("knowledge indexing (first index of %d)", cfg.entries), unit: "entries/s", values: []float64{rate}},
		{name: fmt.Sprintf("knowledge re-index of %d indexed", cfg.entries), unit: "entries/s", values: []float64{again}},
	}

	for _, mode := range []string{knowledge.ModeFullText, knowledge.ModeSemantic, knowledge.ModeHybrid} {
		var took []time.Duration
		qc := newCorpus(7)
		for range cfg.queries {
			q := qc.vocab[qc.rng.IntN(300)] + " " + qc.vocab[qc.rng.IntN(300)]
			if mode == knowledge.ModeFullText {
				q = qc.vocab[qc.rng.IntN(300)] + " or " + q
			}
			t0 := time.Now()
			if _, err := svc.Search(ctx, w.ID, uuid.Nil, knowledge.SearchRequest{Query: q, Mode: mode, Limit: 20}); err != nil {
				return nil, fmt.Errorf("%s search %q: %w", mode, q, err)
			}
			took = append(took, time.Since(t0))
		}
		figures = append(figures,
			figure{name: fmt.Sprintf("knowledge %s search p50, %d entries", mode, cfg.entries), unit: "ms", values: []float64{percentile(took, 0.5)}},
			figure{name: fmt.Sprintf("knowledge %s search p95, %d entries", mode, cfg.entries), unit: "ms", values: []float64{percentile(took, 0.95)}})
		say("  %s search: p50 %.1f ms, p95 %.1f ms", mode, percentile(took, 0.5), percentile(took, 0.95))
	}

	g, err := e.db.CreateWorkspace(ctx, store.NewWorkspace{Name: "kb-graph-" + uuid.NewString()[:8]})
	if err != nil {
		return nil, err
	}
	if err := seedEntries(ctx, e.db, g.ID, newCorpus(9), cfg.graphNodes, 3); err != nil {
		return nil, err
	}
	if _, err := reindexed(ctx, e, g.ID, reg, cfg.graphNodes); err != nil {
		return nil, err
	}
	var took []time.Duration
	var edges int
	for range 30 {
		t0 := time.Now()
		gr, err := svc.Graph(ctx, g.ID, uuid.Nil, "", 0)
		if err != nil {
			return nil, err
		}
		took = append(took, time.Since(t0))
		edges = gr.Stats.Edges
	}
	say("  graph of %d nodes, %d edges: p50 %.1f ms", cfg.graphNodes, edges, percentile(took, 0.5))
	figures = append(figures, figure{name: fmt.Sprintf("knowledge graph of %d nodes (%d edges), p50", cfg.graphNodes, edges), unit: "ms",
		values: []float64{percentile(took, 0.5)}})
	return figures, nil
}
