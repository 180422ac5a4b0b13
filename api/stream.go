package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/store"
)

// GET /v1/workspaces/{ws}/events/stream (GUEST and up) streams the workspace's domain events
// (mosaic.events.<ws>.>) as server-sent events, one per message:
//
//	id: <Nats-Msg-Id, when the message has one>
//	event: <type: the subject's tokens after the workspace, e.g. task.succeeded>
//	data: <the event's JSON body>
//
// The stream reads core NATS, not a JetStream consumer: what the outbox relay publishes on the
// EVENTS stream reaches core subscribers too. It carries the events from the moment it opens
// (no replay; a client that reconnects re-reads what it shows) and may drop events for a client
// too slow to read them. An idle stream sends a comment line every Config.StreamHeartbeat, so
// proxies keep it open and a client can tell a dead connection. It ends when the client goes,
// when the HTTP server shuts down (http.Server.Shutdown, through RegisterOnShutdown), or at
// Server.Close.
//
// With ?federated=true it also carries the task events of the connected instances' workspaces
// that grant this instance events.subscribe: comment lines first say how each instance answered
// (": instance home ok"), then each remote event comes as its type with a JSON body that adds
// "instance" and "workspace" to the task event. Credential rotation events never cross.

// DefaultStreamHeartbeat is how often an idle event stream sends a comment line.
const DefaultStreamHeartbeat = 15 * time.Second

// streamBuffer is how many events wait for a slow client before NATS drops the next ones.
const streamBuffer = 256

func (s *Server) mountStream(r *Router) {
	r.Handle("GET /v1/workspaces/{ws}/events/stream", store.RoleGuest, s.streamEvents)
}

func (s *Server) streamEvents(w http.ResponseWriter, r *Request) *Error {
	flusher, ok := w.(http.Flusher)
	if !ok {
		return errorf(CodeInternal, "event stream: the response cannot be flushed")
	}
	prefix := events.EventSubject(r.Workspace, "")
	msgs := make(chan *nats.Msg, streamBuffer)
	sub, err := s.cfg.NC.ChanSubscribe(prefix+">", msgs)
	if err != nil {
		return errorf(CodeUnavailable, "nats: %v", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// Once the server has the subscription, every event published from now on reaches this
	// stream: only then does the client get its answer.
	if err := s.cfg.NC.FlushTimeout(5 * time.Second); err != nil {
		return errorf(CodeUnavailable, "nats: %v", err)
	}
	serverDone, closed := s.streams.done(r.Context())

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	send := func(frame string) bool {
		if _, err := bw.WriteString(frame); err != nil {
			return false
		}
		if err := bw.Flush(); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if !send(": subscribed to " + prefix + ">\n\n") {
		return nil
	}
	// ?federated=true: the task events of the peers' granted workspaces too, labelled.
	var remote <-chan federation.RemoteEvent
	if fed, _ := federated(r); fed && s.cfg.Federation != nil {
		ch, results, err := s.cfg.Federation.Events(r.Context())
		if err != nil {
			send(": federation: " + oneLine(err.Error()) + "\n\n")
		}
		for _, pr := range results {
			line := ": instance " + pr.Instance + " " + pr.Status
			if pr.Error != "" {
				line += " (" + pr.Error + ")"
			}
			if !send(oneLine(line) + "\n\n") { // a peer's name and error text: one comment line
				return nil
			}
		}
		remote = ch
	}
	every := s.cfg.StreamHeartbeat
	if every <= 0 {
		every = DefaultStreamHeartbeat
	}
	beat := time.NewTicker(every)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-serverDone:
			return nil
		case <-closed:
			return nil
		case <-beat.C:
			if !send(": heartbeat\n\n") {
				return nil
			}
		case m := <-msgs:
			if !send(sseFrame(m, prefix)) {
				return nil
			}
			beat.Reset(every)
		case ev := <-remote:
			data, _ := json.Marshal(ev)
			if !send("id: " + ev.ID.String() + "\nevent: " + ev.Type + "\ndata: " + string(data) + "\n\n") {
				return nil
			}
			beat.Reset(every)
		}
	}
}

// oneLine keeps text on one line of the event stream (SSE ends a line at CR, LF or CRLF).
func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// sseFrame formats one message as a server-sent event: its id (Nats-Msg-Id), its type (the
// subject after prefix) and its body, one data line per line of the body.
func sseFrame(m *nats.Msg, prefix string) string {
	var b strings.Builder
	if id := m.Header.Get(nats.MsgIdHdr); id != "" && !strings.ContainsAny(id, "\r\n") {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + strings.TrimPrefix(m.Subject, prefix) + "\n")
	body := strings.ReplaceAll(strings.ReplaceAll(string(m.Data), "\r\n", "\n"), "\r", "\n")
	for line := range strings.SplitSeq(body, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// streamStops tells event streams to end: when their HTTP server shuts down, or when the Server
// closes. http.Server.Shutdown waits for active requests and does not cancel them, so each
// http.Server that serves a stream gets one RegisterOnShutdown hook, registered at its first
// stream. The zero value is ready.
type streamStops struct {
	mu      sync.Mutex
	servers map[*http.Server]chan struct{}
	closed  chan struct{}
	isShut  bool
}

// done returns a channel closed when the HTTP server serving ctx shuts down (nil when ctx names
// none) and one closed at Server.Close.
func (st *streamStops) done(ctx context.Context) (serverDone, closed <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed == nil {
		st.closed = make(chan struct{})
	}
	hs, _ := ctx.Value(http.ServerContextKey).(*http.Server)
	if hs == nil {
		return nil, st.closed
	}
	ch, ok := st.servers[hs]
	if !ok {
		if st.servers == nil {
			st.servers = map[*http.Server]chan struct{}{}
		}
		ch = make(chan struct{})
		st.servers[hs] = ch
		hs.RegisterOnShutdown(func() {
			close(ch) // kept in the map: a stream that starts later ends at once
		})
	}
	return ch, st.closed
}

// close ends every stream, now and later.
func (st *streamStops) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed == nil {
		st.closed = make(chan struct{})
	}
	if !st.isShut {
		close(st.closed)
		st.isShut = true
	}
}
