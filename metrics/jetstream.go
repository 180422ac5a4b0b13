package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

var (
	consumerLabels = []string{"stream", "consumer"}
	pendingDesc    = prometheus.NewDesc("mosaic_consumer_pending_messages",
		"Messages of the stream that match a durable consumer and are not yet delivered to it.", consumerLabels, nil)
	ackPendingDesc = prometheus.NewDesc("mosaic_consumer_ack_pending_messages",
		"Messages delivered to a durable consumer and not yet acknowledged.", consumerLabels, nil)
	redeliveredDesc = prometheus.NewDesc("mosaic_consumer_redelivered_messages",
		"Messages delivered to a durable consumer more than once and not yet acknowledged.", consumerLabels, nil)
	waitingDesc = prometheus.NewDesc("mosaic_consumer_waiting_pulls",
		"Pull requests waiting on a durable consumer for messages.", consumerLabels, nil)
	streamMsgsDesc = prometheus.NewDesc("mosaic_stream_messages", "Messages a stream holds.", []string{"stream"}, nil)
)

// jsCollector reads the streams and their durable consumers at scrape time. Ephemeral consumers
// (random names) are left out, so that consumer label values stay the pools' (<pool>-p<n>).
type jsCollector struct {
	js      jetstream.JetStream
	streams []string
	timeout time.Duration
	errs    *scrapeErrors
	log     zerolog.Logger
}

func (c *jsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pendingDesc, ackPendingDesc, redeliveredDesc, waitingDesc, streamMsgsDesc, c.errs.desc} {
		ch <- d
	}
}

// Collect sends what it could read within the timeout; anything it could not counts one scrape
// error.
func (c *jsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var errs []error
	for _, name := range c.streams {
		if err := c.collectStream(ctx, name, ch); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		c.errs.Inc()
		c.log.Warn().Err(err).Msg("cannot read the JetStream consumers")
	}
	ch <- c.errs.metric()
}

func (c *jsCollector) collectStream(ctx context.Context, name string, ch chan<- prometheus.Metric) error {
	s, err := c.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	ch <- prometheus.MustNewConstMetric(streamMsgsDesc, prometheus.GaugeValue, float64(s.CachedInfo().State.Msgs), name)
	seen := map[string]bool{}
	list := s.ListConsumers(ctx)
	for ci := range list.Info() { // read to the end: the lister closes the channel when done or failed
		if ci.Config.Durable == "" || seen[ci.Name] {
			continue
		}
		seen[ci.Name] = true
		for d, v := range map[*prometheus.Desc]float64{
			pendingDesc:     float64(ci.NumPending),
			ackPendingDesc:  float64(ci.NumAckPending),
			redeliveredDesc: float64(ci.NumRedelivered),
			waitingDesc:     float64(ci.NumWaiting),
		} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name, ci.Name)
		}
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("consumers of %s: %w", name, err)
	}
	return nil
}
