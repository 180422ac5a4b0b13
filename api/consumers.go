package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// ConsumerReport (mosaictype.ConsumerReport) answers GET /v1/consumers (admin token): every
// consumer of every stream of the topology, what it holds, how fast it settles, and the dead
// letters of its messages.
type ConsumerReport = mosaictype.ConsumerReport

// StreamReport (mosaictype.StreamReport) is one stream and its consumers.
type StreamReport = mosaictype.StreamReport

// ConsumerState (mosaictype.ConsumerState) is one consumer as JetStream reports it, with the pool
// and band it stands for, its rate and its dead letters.
type ConsumerState = mosaictype.ConsumerState

// ConsumerTotals (mosaictype.ConsumerTotals) sums a stream's consumers. OldestUnackedSeconds is the
// largest; RatePerSecond sums the known rates (null when none is known).
type ConsumerTotals = mosaictype.ConsumerTotals

// DefaultConsumerSampleInterval is how often the server samples ack floors by default.
const DefaultConsumerSampleInterval = 5 * time.Second

// rateSamples is how many ack-floor samples the server keeps per consumer: 12 intervals, a
// minute at the default interval.
const rateSamples = 13

func (s *Server) mountConsumers(r *Router) {
	r.Handle("GET /v1/consumers", AdminOnly, s.listConsumers)
}

func (s *Server) listConsumers(w http.ResponseWriter, r *Request) *Error {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	if _, err := s.cfg.JS.AccountInfo(ctx); err != nil {
		return errorf(CodeUnavailable, "jetstream: %v", err)
	}
	rep := ConsumerReport{At: time.Now().UTC(), SampleInterval: s.sampler.interval.String(), Streams: []StreamReport{}}
	for _, sc := range s.sampler.topology {
		rep.Streams = append(rep.Streams, s.streamReport(ctx, sc.Name))
	}
	counts, err := s.deadLetterCounts(ctx)
	if err != nil {
		rep.Warnings = append(rep.Warnings, "dead letters: "+err.Error())
	} else {
		rep.DeadLetters = attributeDeadLetters(s.sampler.topology, rep.Streams, counts)
	}
	for i := range rep.Streams {
		rep.Streams[i].Total = sumConsumers(&rep.Streams[i], err == nil)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) streamReport(ctx context.Context, name string) StreamReport {
	sr := StreamReport{Stream: name, Consumers: []ConsumerState{}}
	st, err := s.cfg.JS.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		sr.Error = "stream not found (the topology is applied when `mosaic dev` or `mosaic worker` starts)"
		return sr
	} else if err != nil {
		sr.Error = err.Error()
		return sr
	}
	sr.Messages = st.CachedInfo().State.Msgs
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		sr.Consumers = append(sr.Consumers, s.consumerState(ctx, st, ci))
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		sr.Error = "list consumers: " + err.Error()
	}
	slices.SortFunc(sr.Consumers, func(a, b ConsumerState) int {
		return cmp.Or(cmp.Compare(a.Pool, b.Pool), cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Name, b.Name))
	})
	return sr
}

func (s *Server) consumerState(ctx context.Context, st jetstream.Stream, ci *jetstream.ConsumerInfo) ConsumerState {
	c := ConsumerState{
		Stream: ci.Stream, Name: ci.Name, FilterSubjects: consumerFilters(ci.Config),
		Pending: ci.NumPending, AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered, Waiting: ci.NumWaiting,
		Paused: ci.Paused,
	}
	if pool, prio, ok := agents.ParseConsumerName(ci.Stream, ci.Name); ok {
		c.Pool, c.Priority = pool, prio
		if prio > 0 {
			c.Band = events.Band(prio)
		}
	}
	if ci.Paused && ci.Config.PauseUntil != nil {
		until := ci.Config.PauseUntil.UTC()
		c.PausedUntil = &until
	}
	c.RatePerSecond = s.sampler.rate(consumerKey{ci.Stream, ci.Name})
	if at, ok := oldestUnacked(ctx, st, ci); ok {
		now := ci.TimeStamp
		if now.IsZero() {
			now = time.Now()
		}
		age := max(now.Sub(at), 0).Seconds()
		at = at.UTC()
		c.OldestUnackedAt, c.OldestUnackedSeconds = &at, &age
	}
	return c
}

// consumerFilters are a consumer's filter subjects (">" when it has none).
func consumerFilters(cc jetstream.ConsumerConfig) []string {
	switch {
	case len(cc.FilterSubjects) > 0:
		return slices.Clone(cc.FilterSubjects)
	case cc.FilterSubject != "":
		return []string{cc.FilterSubject}
	}
	return []string{">"}
}

// oldestUnacked returns when the oldest unacknowledged message of a consumer entered the stream.
// Consumer info gives the ack floor (every message up to it is acknowledged) and the last
// delivered stream sequence, not the messages in between; the first message after the floor
// that matches one of the consumer's filters, among those delivered, is the oldest one
// unacknowledged (one "next by subject" read per filter).
func oldestUnacked(ctx context.Context, st jetstream.Stream, ci *jetstream.ConsumerInfo) (time.Time, bool) {
	if ci.NumAckPending == 0 {
		return time.Time{}, false
	}
	var oldest *jetstream.RawStreamMsg
	for _, f := range consumerFilters(ci.Config) {
		m, err := st.GetMsg(ctx, ci.AckFloor.Stream+1, jetstream.WithGetMsgSubject(f))
		if err != nil || m.Sequence > ci.Delivered.Stream {
			continue
		}
		if oldest == nil || m.Sequence < oldest.Sequence {
			oldest = m
		}
	}
	if oldest == nil {
		return time.Time{}, false
	}
	return oldest.Time, true
}

// deadLetterCounts walks every workspace through its door and counts its dead letters by subject
// and reason: one statement per workspace.
func (s *Server) deadLetterCounts(ctx context.Context) ([]store.DeadLetterCount, error) {
	ids, err := s.cfg.DB.WorkspaceIDs(ctx)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var all []store.DeadLetterCount
	err = forEachWorkspace(ctx, ids, func(ctx context.Context, ws uuid.UUID) error {
		counts, err := s.cfg.DB.CountDeadLettersBySubject(ctx, ws)
		if err != nil {
			return err
		}
		mu.Lock()
		all = append(all, counts...)
		mu.Unlock()
		return nil
	})
	return all, err
}

// attributeDeadLetters gives each dead letter to the consumer whose filter matches its message's
// subject (pools on a work-queue stream do not overlap, so at most one does), or to its stream's
// unattributed ones; it returns the counts by reason.
func attributeDeadLetters(topology []jetstream.StreamConfig, streams []StreamReport, counts []store.DeadLetterCount) map[string]int {
	byReason := map[string]int{}
	for i := range streams {
		for j := range streams[i].Consumers {
			zero := 0
			streams[i].Consumers[j].DeadLetters = &zero
		}
	}
	for _, dc := range counts {
		byReason[dc.Reason] += dc.Count
		sr := streamOfSubject(topology, streams, dc.Subject)
		if sr == nil {
			continue
		}
		var owner *ConsumerState
		for j := range sr.Consumers {
			if slices.ContainsFunc(sr.Consumers[j].FilterSubjects, func(f string) bool { return events.SubjectMatches(f, dc.Subject) }) {
				owner = &sr.Consumers[j]
				break
			}
		}
		if owner == nil {
			if sr.UnattributedDeadLetters == nil {
				sr.UnattributedDeadLetters = map[string]int{}
			}
			sr.UnattributedDeadLetters[dc.Reason] += dc.Count
			continue
		}
		*owner.DeadLetters += dc.Count
		if owner.DeadLettersByReason == nil {
			owner.DeadLettersByReason = map[string]int{}
		}
		owner.DeadLettersByReason[dc.Reason] += dc.Count
	}
	return byReason
}

// streamOfSubject is the report of the stream whose subjects take subject, or nil.
func streamOfSubject(topology []jetstream.StreamConfig, streams []StreamReport, subject string) *StreamReport {
	for _, sc := range topology {
		if !slices.ContainsFunc(sc.Subjects, func(f string) bool { return events.SubjectMatches(f, subject) }) {
			continue
		}
		for i := range streams {
			if streams[i].Stream == sc.Name {
				return &streams[i]
			}
		}
	}
	return nil
}

func sumConsumers(sr *StreamReport, deadKnown bool) ConsumerTotals {
	var t ConsumerTotals
	dead := 0
	for _, c := range sr.Consumers {
		t.Pending += c.Pending
		t.AckPending += c.AckPending
		t.Redelivered += c.Redelivered
		t.Waiting += c.Waiting
		if c.OldestUnackedSeconds != nil && (t.OldestUnackedSeconds == nil || *c.OldestUnackedSeconds > *t.OldestUnackedSeconds) {
			v := *c.OldestUnackedSeconds
			t.OldestUnackedSeconds = &v
		}
		if c.RatePerSecond != nil {
			v := *c.RatePerSecond
			if t.RatePerSecond != nil {
				v += *t.RatePerSecond
			}
			t.RatePerSecond = &v
		}
		if c.DeadLetters != nil {
			dead += *c.DeadLetters
		}
	}
	for _, n := range sr.UnattributedDeadLetters {
		dead += n
	}
	if deadKnown {
		t.DeadLetters = &dead
	}
	return t
}

// consumerKey names a consumer across streams.
type consumerKey struct{ stream, name string }

type rateSample struct {
	at    time.Time // the server's clock
	floor uint64    // ack floor, consumer sequence
}

// rateSampler samples every consumer's ack floor at an interval and keeps the last rateSamples of
// each, for the rates of GET /v1/consumers. The consumer sequence is used rather than the stream
// sequence: on TASKS the stream sequence also counts the messages of every other band and pool,
// while the consumer sequence counts this consumer's deliveries only.
type rateSampler struct {
	js       jetstream.JetStream
	topology []jetstream.StreamConfig
	interval time.Duration
	log      zerolog.Logger

	mu      sync.Mutex
	rings   map[consumerKey][]rateSample
	created map[consumerKey]time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

func startRateSampler(js jetstream.JetStream, interval time.Duration, log zerolog.Logger) *rateSampler {
	if interval <= 0 {
		interval = DefaultConsumerSampleInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &rateSampler{
		js: js, topology: events.Topology(events.TopologyConfig{}), interval: interval, log: log,
		rings: map[consumerKey][]rateSample{}, created: map[consumerKey]time.Time{},
		cancel: cancel, done: make(chan struct{}),
	}
	go rs.run(ctx)
	return rs
}

func (rs *rateSampler) run(ctx context.Context) {
	defer close(rs.done)
	t := time.NewTicker(rs.interval)
	defer t.Stop()
	for {
		rs.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample reads every consumer of every stream once.
func (rs *rateSampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(rs.interval, 5*time.Second))
	defer cancel()
	for _, sc := range rs.topology {
		st, err := rs.js.Stream(ctx, sc.Name)
		if err != nil {
			rs.log.Debug().Err(err).Str("stream", sc.Name).Msg("consumer rates: stream not read")
			continue
		}
		seen := map[consumerKey]bool{}
		lister := st.ListConsumers(ctx)
		for ci := range lister.Info() {
			key := consumerKey{ci.Stream, ci.Name}
			seen[key] = true
			at := ci.TimeStamp
			if at.IsZero() {
				at = time.Now()
			}
			rs.record(key, ci.Created, rateSample{at: at, floor: ci.AckFloor.Consumer})
		}
		if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
			rs.log.Debug().Err(err).Str("stream", sc.Name).Msg("consumer rates: consumers not listed")
			continue
		}
		rs.forget(sc.Name, seen)
	}
}

// record adds a sample; a consumer created again (or whose floor went back) starts a new ring.
func (rs *rateSampler) record(key consumerKey, created time.Time, s rateSample) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	ring := rs.rings[key]
	if !rs.created[key].Equal(created) || (len(ring) > 0 && s.floor < ring[len(ring)-1].floor) {
		ring = nil
	}
	rs.created[key] = created
	ring = append(ring, s)
	if len(ring) > rateSamples {
		ring = slices.Delete(ring, 0, len(ring)-rateSamples)
	}
	rs.rings[key] = ring
}

// forget drops the consumers of stream that were not seen.
func (rs *rateSampler) forget(stream string, seen map[consumerKey]bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for key := range rs.rings {
		if key.stream == stream && !seen[key] {
			delete(rs.rings, key)
			delete(rs.created, key)
		}
	}
}

// rate is the consumer's settled messages per second between its oldest and newest samples, or
// nil with fewer than two samples.
func (rs *rateSampler) rate(key consumerKey) *float64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	ring := rs.rings[key]
	if len(ring) < 2 {
		return nil
	}
	first, last := ring[0], ring[len(ring)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return nil
	}
	v := float64(last.floor-first.floor) / dt
	return &v
}

func (rs *rateSampler) close() {
	rs.cancel()
	<-rs.done
}
