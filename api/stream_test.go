package api_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/mosaictype"
)

type streamBundle struct {
	srv        *api.Server
	url        string
	nc         *nats.Conn
	js         jetstream.JetStream
	own, other api.CreatedWorkspace
}

// streamSetup serves the API with a real embedded JetStream server (topology applied) and makes
// two workspaces.
func streamSetup(t *testing.T, heartbeat time.Duration) *streamBundle {
	t.Helper()
	ctx := context.Background()
	db := pgtest.DB(t)
	nc, js := eventstest.Connect(t, eventstest.RunServer(t))
	if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{DB: db, AdminToken: adminToken, NC: nc, StreamHeartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(checkOpenAPI(t, srv.Handler()))
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close) // before ts.Close: ends the streams still open
	b := &streamBundle{srv: srv, url: ts.URL, nc: nc, js: js}
	admin, _ := client.New(ts.URL, adminToken)
	if b.own, err = admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "stream-" + uuid.NewString()[:8]}); err != nil {
		t.Fatal(err)
	}
	if b.other, err = admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "stream-other-" + uuid.NewString()[:8]}); err != nil {
		t.Fatal(err)
	}
	return b
}

func streamPath(ws uuid.UUID) string { return "/v1/workspaces/" + ws.String() + "/events/stream" }

// openStream opens the event stream of ws; it is closed when the test ends.
func openStream(t *testing.T, base string, ws uuid.UUID, token string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+streamPath(ws), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: status %d: %s", resp.StatusCode, body)
	}
	return resp, readSSE(resp.Body)
}

// sseEvent is one server-sent event, or a comment.
type sseEvent struct{ ID, Event, Data, Comment string }

// readSSE parses a stream of server-sent events until it ends (then the channel closes).
func readSSE(body io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		var data []string
		seen := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if seen {
					ev.Data = strings.Join(data, "\n")
					ch <- ev
				}
				ev, data, seen = sseEvent{}, nil, false
			case strings.HasPrefix(line, ":"):
				ev.Comment, seen = strings.TrimSpace(line[1:]), true
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "id":
					ev.ID = value
				case "event":
					ev.Event = value
				case "data":
					data = append(data, value)
				}
				seen = true
			}
		}
	}()
	return ch
}

// next returns the next event (comments too when comments is set), failing after 10 s.
func next(t *testing.T, ch <-chan sseEvent, comments bool) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.Comment != "" && !comments {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

// waitEnd waits (10 s at most) for the stream to end.
func waitEnd(t *testing.T, ch <-chan sseEvent) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the stream did not end within 10s")
		}
	}
}

func TestEventStreamAuth(t *testing.T) {
	t.Parallel()
	b := streamSetup(t, 0)
	ctx := context.Background()
	own := streamPath(b.own.ID)
	cases := []struct {
		name, token, path string
		code              string
	}{
		{"no key", "", own, api.CodeUnauthenticated},
		{"wrong key", b.own.APIKey[:len(b.own.APIKey)-4] + "AAAA", own, api.CodeUnauthenticated},
		// The Router answers a key of another workspace with 403 (it knows the workspace the key
		// names), whether or not the workspace of the path exists.
		{"another workspace's key", b.other.APIKey, own, api.CodeForbidden},
		{"this key, another workspace", b.own.APIKey, streamPath(b.other.ID), api.CodeForbidden},
		{"this key, no such workspace", b.own.APIKey, streamPath(uuid.New()), api.CodeForbidden},
		{"admin, no such workspace", adminToken, streamPath(uuid.New()), api.CodeNotFound},
	}
	for _, c := range cases {
		cl, _ := client.New(b.url, c.token)
		err := cl.Do(ctx, http.MethodGet, c.path, nil, nil)
		if !mosaictype.IsCode(err, c.code) {
			t.Errorf("%s: %v; want %s", c.name, err, c.code)
		}
	}
	// A guest may read the stream.
	var guest api.CreatedAPIKey
	owner, _ := client.New(b.url, b.own.APIKey)
	if err := owner.Do(ctx, http.MethodPost, "/v1/workspaces/"+b.own.ID.String()+"/api-keys", api.CreateAPIKeyRequest{Name: "g", Role: "GUEST"}, &guest); err != nil {
		t.Fatal(err)
	}
	resp, ch := openStream(t, b.url, b.own.ID, guest.APIKey)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q; want text/event-stream", ct)
	}
	if ev := next(t, ch, true); !strings.HasPrefix(ev.Comment, "subscribed to mosaic.events."+b.own.ID.String()) {
		t.Fatalf("first frame %+v; want the subscription comment", ev)
	}
}

func TestEventStreamCarriesItsWorkspaceOnly(t *testing.T) {
	t.Parallel()
	b := streamSetup(t, 0)
	ctx := context.Background()
	_, ch := openStream(t, b.url, b.own.ID, b.own.APIKey)
	next(t, ch, true) // subscribed: every event published from now on reaches the stream

	// Another workspace's event, on core NATS; then this workspace's, through JetStream (as the
	// outbox relay sends them); then a marker. One connection publishes all three, in order: had
	// the first leaked, it would come first.
	if err := b.nc.Publish(events.EventSubject(b.other.ID, "task.succeeded"), []byte(`{"workspace":"other"}`)); err != nil {
		t.Fatal(err)
	}
	msgID := uuid.NewString()
	body := `{"type":"task.succeeded","task_id":"` + uuid.NewString() + `"}`
	if _, err := b.js.Publish(ctx, events.EventSubject(b.own.ID, "task.succeeded"), []byte(body), jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Publish(events.EventSubject(b.own.ID, "task.failed"), []byte("line one\nline two")); err != nil {
		t.Fatal(err)
	}

	ev := next(t, ch, false)
	if ev.Event != "task.succeeded" || ev.ID != msgID || ev.Data != body {
		t.Fatalf("first event %+v; want task.succeeded, id %s, data %s", ev, msgID, body)
	}
	ev = next(t, ch, false)
	if ev.Event != "task.failed" || ev.Data != "line one\nline two" {
		t.Fatalf("second event %+v; want the task.failed marker with its two lines", ev)
	}
}

func TestEventStreamHeartbeat(t *testing.T) {
	t.Parallel()
	b := streamSetup(t, 50*time.Millisecond)
	_, ch := openStream(t, b.url, b.own.ID, b.own.APIKey)
	next(t, ch, true) // subscribed
	if ev := next(t, ch, true); ev.Comment != "heartbeat" {
		t.Fatalf("idle stream sent %+v; want a heartbeat comment", ev)
	}
}

func TestEventStreamEndsAtShutdown(t *testing.T) {
	t.Parallel()
	b := streamSetup(t, 0)

	// http.Server.Shutdown waits for active requests: the stream must end for it to return.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: b.srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	_, ch := openStream(t, "http://"+ln.Addr().String(), b.own.ID, b.own.APIKey)
	next(t, ch, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (the stream kept the server up)", err)
	}
	waitEnd(t, ch)

	// Server.Close ends the streams of a server that is not shut down (httptest here).
	_, ch = openStream(t, b.url, b.own.ID, b.own.APIKey)
	next(t, ch, true)
	b.srv.Close()
	waitEnd(t, ch)
	// A stream opened after Close ends at once.
	_, ch = openStream(t, b.url, b.own.ID, b.own.APIKey)
	waitEnd(t, ch)
}
