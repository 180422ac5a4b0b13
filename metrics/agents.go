package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

var agentsDesc = prometheus.NewDesc("mosaic_agents", "Agents (worker processes) by state.", []string{"state"}, nil)

// agentCollector exposes mosaic_agents from the function SetAgentCounter gave.
type agentCollector struct {
	timeout time.Duration
	errs    *scrapeErrors
	log     zerolog.Logger

	mu    sync.Mutex
	count func(ctx context.Context) (map[string]int, error)
}

func (c *agentCollector) set(count func(ctx context.Context) (map[string]int, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count = count
}

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- agentsDesc
	ch <- c.errs.desc
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	count := c.count
	c.mu.Unlock()
	defer func() { ch <- c.errs.metric() }()
	if count == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	states, err := count(ctx)
	if err != nil {
		c.errs.Inc()
		c.log.Warn().Err(err).Msg("cannot count the agents")
		return
	}
	byState := map[string]int64{}
	for state, n := range states {
		byState[state] += int64(n)
	}
	for state, n := range capLabels(byState, MaxKinds) {
		ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(n), state)
	}
}
