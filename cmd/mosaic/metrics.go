package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/metrics"
)

// newMetrics makes the process's metrics registry, reading st's PostgreSQL and JetStream at
// scrape time.
func newMetrics(st *stack, log zerolog.Logger) *metrics.Registry {
	reg := metrics.New(metrics.Config{DB: st.db, JS: st.js, Logger: &log})
	reg.SetAgentCounter(st.db.CountAgents)
	return reg
}

// serveMetrics serves GET /metrics alone on ln (`mosaic worker --metrics`: a worker has no API
// server); the returned function shuts it down.
func serveMetrics(ln net.Listener, reg *metrics.Registry, log zerolog.Logger) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	log.Info().Str("metrics", "http://"+ln.Addr().String()+"/metrics").Msg("serving metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
