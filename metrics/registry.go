package metrics

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/crypto/transit"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// MaxKinds bounds the distinct kind label values of a series; the rest count as kind="other".
const MaxKinds = 100

// Other is the label value of whatever a bounded label does not name.
const Other = "other"

// Config configures a Registry. The zero value exposes the handler, Transit, agent and Go
// runtime series only.
type Config struct {
	// DB, when set, is counted at scrape time: mosaic_tasks, mosaic_dead_letters,
	// mosaic_workspaces.
	DB *store.DB
	// Kinds, when set, are the kinds that keep their name in the kind label of mosaic_tasks; a
	// kind it does not know (one a raw message made up) counts as "other". Nil: every kind does,
	// up to MaxKinds. Set it (or call SetKinds): a tenant who can publish raw messages chooses
	// their kinds.
	Kinds *agents.Registry
	// JS, when set, is read at scrape time: the consumer and stream gauges.
	JS jetstream.JetStream
	// Streams whose durable consumers are reported. Default: TASKS, CREDENTIALS, KNOWLEDGE,
	// EVENTS and ADVISORIES. A stream that does not exist is skipped.
	Streams []string
	// CacheTTL is how long the PostgreSQL counts serve scrapes before they are taken again.
	// Default 10s; negative: every scrape counts.
	CacheTTL time.Duration
	// DBTimeout bounds one count of every workspace. Default 5s.
	DBTimeout time.Duration
	// JetStreamTimeout bounds the JetStream reads of one scrape. Default 2s.
	JetStreamTimeout time.Duration
	// Logger receives a line per failed read. Default: none.
	Logger *zerolog.Logger
}

// Registry holds Mosaic's collectors and serves them. Its methods are safe for concurrent use.
type Registry struct {
	reg *prometheus.Registry
	log zerolog.Logger

	handlerSeconds *prometheus.HistogramVec
	handlerRuns    *prometheus.CounterVec
	handlerKinds   labelSet

	transitSeconds *prometheus.HistogramVec
	transitErrors  *prometheus.CounterVec

	naks *prometheus.CounterVec

	retentionDeleted  *prometheus.CounterVec
	retentionPasses   prometheus.Counter
	retentionLastPass prometheus.Gauge
	retentionSeconds  prometheus.Histogram

	federationRequests *prometheus.CounterVec
	federationSeconds  *prometheus.HistogramVec

	agents *agentCollector
	db     *dbCollector // nil without Config.DB
}

// Scrape-error sources: the label values of mosaic_scrape_errors_total.
const (
	SourcePostgres  = "postgres"
	SourceJetStream = "jetstream"
	SourceAgents    = "agents"
)

// New builds the registry with the collectors cfg allows.
func New(cfg Config) *Registry {
	if len(cfg.Streams) == 0 {
		cfg.Streams = []string{events.TasksStream, events.CredentialsStream, events.KnowledgeStream, events.EventsStream, events.AdvisoriesStream}
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 10 * time.Second
	}
	if cfg.DBTimeout <= 0 {
		cfg.DBTimeout = 5 * time.Second
	}
	if cfg.JetStreamTimeout <= 0 {
		cfg.JetStreamTimeout = 2 * time.Second
	}
	r := &Registry{reg: prometheus.NewRegistry(), log: zerolog.Nop(), handlerKinds: labelSet{max: MaxKinds}}
	if cfg.Logger != nil {
		r.log = cfg.Logger.With().Str("component", "metrics").Logger()
	}
	r.handlerSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mosaic_handler_duration_seconds",
		Help:    "How long task handlers ran, by pool, kind and outcome (succeeded: the handler returned nil; failed: an error).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"pool", "kind", "outcome"})
	r.handlerRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mosaic_handler_runs_total",
		Help: "Task handler runs, by pool, kind and outcome (succeeded or failed).",
	}, []string{"pool", "kind", "outcome"})
	r.transitSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mosaic_transit_request_duration_seconds",
		Help:    "OpenBao Transit calls by operation, retries included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"op"})
	r.transitErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mosaic_transit_errors_total",
		Help: "Failed OpenBao Transit calls by operation and kind (permission, client, server, unavailable).",
	}, []string{"op", "kind"})
	r.naks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mosaic_messages_naked_total",
		Help: "Negative acknowledgements seen on Mosaic's work streams (retries, deferrals), by stream.",
	}, []string{"stream"})
	r.federationRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mosaic_federation_requests_total",
		Help: "Federation requests, served to peers or asked of them, by operation and outcome.",
	}, []string{"direction", "op", "outcome"})
	r.federationSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mosaic_federation_request_duration_seconds",
		Help:    "How long federation requests took, served to peers or asked of them, by operation.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"direction", "op"})
	r.agents = &agentCollector{timeout: 2 * time.Second, errs: newScrapeErrors(SourceAgents), log: r.log}
	r.retentionDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mosaic_retention_deleted_rows_total",
		Help: "Rows the retention cleaner of this process deleted, by class (succeeded, cancelled, dead: tasks; dead_letters) and table.",
	}, []string{"class", "table"})
	r.retentionPasses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mosaic_retention_passes_total",
		Help: "Cleaning passes over every workspace this process ran to their end (a pass another process held is not counted).",
	})
	r.retentionLastPass = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mosaic_retention_last_pass_timestamp_seconds",
		Help: "When this process's last cleaning pass ended (Unix time; 0: none yet).",
	})
	r.retentionSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mosaic_retention_pass_seconds",
		Help:    "How long a cleaning pass over every workspace took.",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
	})
	r.reg.MustRegister(r.retentionDeleted, r.retentionPasses, r.retentionLastPass, r.retentionSeconds)
	r.reg.MustRegister(r.handlerSeconds, r.handlerRuns, r.transitSeconds, r.transitErrors, r.naks, r.federationRequests, r.federationSeconds, r.agents,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.DB != nil {
		r.db = &dbCollector{db: cfg.DB, ttl: cfg.CacheTTL, timeout: cfg.DBTimeout, errs: newScrapeErrors(SourcePostgres), log: r.log}
		r.db.kinds.Store(cfg.Kinds)
		r.reg.MustRegister(r.db)
	}
	if cfg.JS != nil {
		r.reg.MustRegister(&jsCollector{js: cfg.JS, streams: cfg.Streams, timeout: cfg.JetStreamTimeout,
			errs: newScrapeErrors(SourceJetStream), log: r.log})
	}
	return r
}

// Handler serves the registry in the Prometheus text format (GET /metrics). A collector that
// fails leaves its series out; the others are still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorLog: promLog{r.log}, ErrorHandling: promhttp.ContinueOnError})
}

// ObserveHandler records a handler run: plug it into agents.PoolConfig.Observe.
func (r *Registry) ObserveHandler(d agents.HandlerDone) {
	outcome := "succeeded"
	if d.Err != nil {
		outcome = "failed"
	}
	kind := r.handlerKinds.name(d.Kind)
	r.handlerSeconds.WithLabelValues(d.Pool, kind, outcome).Observe(d.Duration.Seconds())
	r.handlerRuns.WithLabelValues(d.Pool, kind, outcome).Inc()
}

// ObserveNak counts a nak advisory: plug it into agents.AdvisoryWatcher.OnNak.
func (r *Registry) ObserveNak(stream string) {
	switch stream {
	case events.TasksStream, events.CredentialsStream, events.KnowledgeStream:
	default:
		stream = Other
	}
	r.naks.WithLabelValues(stream).Inc()
}

// ObserveRetention counts a cleaner's batch: plug it into store.CleanerConfig.OnDeleted.
func (r *Registry) ObserveRetention(class string, rows, trail int) {
	table := "tasks"
	if class == store.RetainDeadLetters {
		table = "dead_letters"
	}
	r.retentionDeleted.WithLabelValues(class, table).Add(float64(rows))
	if trail > 0 {
		r.retentionDeleted.WithLabelValues(class, "task_events").Add(float64(trail))
	}
}

// ObserveRetentionPass records a cleaning pass that ran to its end: plug it into
// store.CleanerConfig.OnPass.
func (r *Registry) ObserveRetentionPass(took time.Duration) {
	r.retentionPasses.Inc()
	r.retentionLastPass.SetToCurrentTime()
	r.retentionSeconds.Observe(took.Seconds())
}

// ObserveTransit records an OpenBao Transit call: plug it into transit.Config.Observe.
func (r *Registry) ObserveTransit(op string, d time.Duration, err error) {
	r.transitSeconds.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		r.transitErrors.WithLabelValues(op, transit.ErrorKind(err)).Inc()
	}
}

// federationLabel keeps a federation label value bounded: lower-case words and dots, else "other".
var federationLabel = regexp.MustCompile(`^[a-z][a-z._]{0,31}$`)

// ObserveFederation records a federation request: plug it into federation.NodeConfig.Observe.
// direction is served (a peer asked) or asked (this instance asked a peer); peers are not labels.
func (r *Registry) ObserveFederation(direction, op, outcome string, d time.Duration) {
	for _, v := range []*string{&direction, &op, &outcome} {
		if !federationLabel.MatchString(*v) {
			*v = Other
		}
	}
	r.federationRequests.WithLabelValues(direction, op, outcome).Inc()
	r.federationSeconds.WithLabelValues(direction, op).Observe(d.Seconds())
}

// SetKinds replaces Config.Kinds, for a caller whose kind registry is made after the Registry
// (cmd/mosaic: its workers need the cipher whose calls the Registry observes from the first).
func (r *Registry) SetKinds(kinds *agents.Registry) {
	if r.db != nil {
		r.db.kinds.Store(kinds)
	}
}

// SetAgentCounter sets the function that counts agents by state for mosaic_agents; it is called
// at each scrape, with a 2 s deadline. States must be a small fixed set (beyond MaxKinds, they
// count as "other"). Until it is set, or after it is set to nil, mosaic_agents is not exposed.
func (r *Registry) SetAgentCounter(count func(ctx context.Context) (map[string]int, error)) {
	r.agents.set(count)
}

// labelSet bounds the values of a label over a registry's life: the first max values seen keep
// their names (a series, once exposed, keeps its labels), the rest are Other.
type labelSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func (s *labelSet) name(v string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return v
	}
	if len(s.seen) >= s.max {
		return Other
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	return v
}

// promLog passes promhttp's errors to the logger.
type promLog struct{ log zerolog.Logger }

func (l promLog) Println(v ...any) { l.log.Warn().Msg(fmt.Sprint(v...)) }

// scrapeErrors is mosaic_scrape_errors_total for one source. The collector that reads the source
// sends it after its reads, so a scrape shows its own failures (a counter registered apart would
// be gathered concurrently, and lag a scrape behind).
type scrapeErrors struct {
	desc *prometheus.Desc
	n    atomic.Uint64
}

func newScrapeErrors(source string) *scrapeErrors {
	return &scrapeErrors{desc: prometheus.NewDesc("mosaic_scrape_errors_total",
		"Reads at scrape time that failed or timed out, by source (postgres, jetstream, agents); their series are left out of that scrape.",
		nil, prometheus.Labels{"source": source})}
}

func (e *scrapeErrors) Inc() { e.n.Add(1) }

func (e *scrapeErrors) metric() prometheus.Metric {
	return prometheus.MustNewConstMetric(e.desc, prometheus.CounterValue, float64(e.n.Load()))
}
