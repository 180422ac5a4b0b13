package metrics

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/store"
)

var (
	tasksDesc = prometheus.NewDesc("mosaic_tasks",
		"Tasks by kind and status, every workspace summed (counted at scrape time, the count cached for 10 s by default).", []string{"kind", "status"}, nil)
	deadLettersDesc = prometheus.NewDesc("mosaic_dead_letters",
		"Dead letters not yet replayed, by reason, every workspace summed (counted with mosaic_tasks).", []string{"reason"}, nil)
	workspacesDesc = prometheus.NewDesc("mosaic_workspaces", "Workspaces (tenants).", nil, nil)
)

// taskStatuses are the statuses mosaic_tasks shows for every kind it shows, zero when none.
var taskStatuses = []store.Status{store.StatusQueued, store.StatusScheduled, store.StatusRunning, store.StatusRetrying,
	store.StatusSucceeded, store.StatusDead, store.StatusCancelled}

type taskKey struct {
	kind   string
	status store.Status
}

// counts are the PostgreSQL counts of one walk of the workspaces, labels already bounded.
type counts struct {
	workspaces  int
	tasks       map[taskKey]int64
	deadLetters map[string]int64
}

// dbCollector counts tasks and dead letters workspace by workspace, through the RLS door, and
// keeps the result for ttl.
type dbCollector struct {
	db      *store.DB
	kinds   atomic.Pointer[agents.Registry] // nil: every kind
	ttl     time.Duration
	timeout time.Duration
	errs    *scrapeErrors
	log     zerolog.Logger

	mu   sync.Mutex // held during a count: concurrent scrapes wait for it rather than count again
	at   time.Time  // of the last count; zero: none yet
	last *counts    // nil: the last count failed
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- deadLettersDesc
	ch <- workspacesDesc
	ch <- c.errs.desc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	cn := c.get()
	ch <- c.errs.metric()
	if cn == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(workspacesDesc, prometheus.GaugeValue, float64(cn.workspaces))
	for k, n := range cn.tasks {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), k.kind, string(k.status))
	}
	for reason, n := range cn.deadLetters {
		ch <- prometheus.MustNewConstMetric(deadLettersDesc, prometheus.GaugeValue, float64(n), reason)
	}
}

// get returns the cached counts, counting again once they are older than ttl.
func (c *dbCollector) get() *counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && c.ttl > 0 && time.Since(c.at) < c.ttl {
		return c.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cn, err := c.count(ctx)
	c.at, c.last = time.Now(), cn
	if err != nil {
		c.last = nil
		c.errs.Inc()
		c.log.Warn().Err(err).Msg("cannot count tasks and dead letters")
	}
	return c.last
}

// count walks the workspaces; in each, one round trip counts its tasks and its dead letters.
func (c *dbCollector) count(ctx context.Context) (*counts, error) {
	ids, err := c.db.WorkspaceIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	tasks, dead := map[taskKey]int64{}, map[string]int64{}
	for _, ws := range ids {
		err := c.db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(countTasksSQL).Query(func(rows pgx.Rows) error {
				var k taskKey
				var n int64
				_, err := pgx.ForEachRow(rows, []any{&k.kind, &k.status, &n}, func() error { tasks[k] += n; return nil })
				return err
			})
			b.Queue(countDeadLettersSQL).Query(func(rows pgx.Rows) error {
				var reason string
				var n int64
				_, err := pgx.ForEachRow(rows, []any{&reason, &n}, func() error { dead[reason] += n; return nil })
				return err
			})
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return nil, fmt.Errorf("count a workspace's tasks: %w", err)
		}
	}
	return &counts{workspaces: len(ids), tasks: c.boundTasks(tasks), deadLetters: boundReasons(dead)}, nil
}

// boundTasks gives the counts their label values: a kind the registry does not know is Other,
// and so are the kinds past the MaxKinds most common; every kind shown gets every status.
func (c *dbCollector) boundTasks(raw map[taskKey]int64) map[taskKey]int64 {
	known := c.kinds.Load()
	perKind := map[string]int64{}
	for k, n := range raw {
		if known != nil && !known.Has(k.kind) {
			k.kind = Other
		}
		perKind[k.kind] += n
	}
	keep := capLabels(perKind, MaxKinds)
	out := map[taskKey]int64{}
	for kind := range keep {
		for _, s := range taskStatuses {
			out[taskKey{kind, s}] = 0
		}
	}
	for k, n := range raw {
		if known != nil && !known.Has(k.kind) {
			k.kind = Other
		}
		if _, ok := keep[k.kind]; !ok {
			k.kind = Other
		}
		if !slices.Contains(taskStatuses, k.status) {
			k.status = Other
		}
		out[k] += n
	}
	return out
}

// boundReasons keeps the reasons that look like the engine's (lower-case letters and '_', as
// every reason constant of events and store) — a reason is never a tenant's text, but a row
// could say anything — and the MaxKinds most common of them.
func boundReasons(raw map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for reason, n := range raw {
		if !reasonLike(reason) {
			reason = Other
		}
		out[reason] += n
	}
	return capLabels(out, MaxKinds)
}

func reasonLike(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// capLabels keeps the max label values with the largest counts (ties: by name) and sums the rest
// into Other.
func capLabels(counts map[string]int64, max int) map[string]int64 {
	if len(counts) <= max {
		return counts
	}
	names := slices.Collect(maps.Keys(counts))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := map[string]int64{}
	for i, name := range names {
		if i >= max || name == Other {
			out[Other] += counts[name]
			continue
		}
		out[name] = counts[name]
	}
	return out
}
