// Package eventstest starts real NATS JetStream servers for tests: an embedded nats-server on a
// random loopback port with its file store in a temporary directory, removed at cleanup.
package eventstest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
)

// RunServer starts an embedded JetStream server for the test; it is shut down at cleanup.
func RunServer(t testing.TB) *events.Server {
	t.Helper()
	srv, err := events.StartServer(events.ServerConfig{StoreDir: t.TempDir(), Port: -1, Auth: events.GenerateServerAuth()})
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Connect connects to srv as Mosaic's own processes do (the system user); the connection is
// closed at cleanup.
func Connect(t testing.TB, srv *events.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := events.Connect(context.Background(), srv.SystemConn(t.Name()))
	if err != nil {
		t.Fatalf("eventstest: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, js
}

// WithJS runs fn with a fresh embedded JetStream server and a connection to it.
func WithJS(t *testing.T, fn func(t *testing.T, nc *nats.Conn, js jetstream.JetStream)) {
	t.Helper()
	srv := RunServer(t)
	nc, js := Connect(t, srv)
	fn(t, nc, js)
}
