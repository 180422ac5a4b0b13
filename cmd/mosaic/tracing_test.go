package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

func TestTracingSettings(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cases := []struct {
		name     string
		endpoint string
		env      map[string]string
		on, ok   bool
	}{
		{"nothing set: off", "", nil, false, true},
		{"the flag", "http://localhost:4318", nil, true, true},
		{"the standard variable", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, true},
		{"the traces variable", "", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, true},
		{"disabled wins", "http://localhost:4318", map[string]string{"OTEL_SDK_DISABLED": "true"}, false, true},
		{"not a URL", "localhost:4318", nil, true, false},
		{"gRPC", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, false},
		{"disabled, not a boolean", "", map[string]string{"OTEL_SDK_DISABLED": "yes please"}, true, false},
	}
	for _, c := range cases {
		s := tracingSettings{endpoint: c.endpoint, getenv: env(c.env)}
		if got := s.on(); got != c.on && c.ok {
			t.Errorf("%s: on = %v; want %v", c.name, got, c.on)
		}
		if err := s.validate(); (err == nil) != c.ok {
			t.Errorf("%s: validate = %v; want ok %v", c.name, err, c.ok)
		}
	}
}

// With --otel-endpoint, spans go to its /v1/traces over OTLP/HTTP, flushed at shutdown.
func TestTracingExportsToTheEndpoint(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		if len(body) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(collector.Close)
	log := zerolog.New(zerolog.NewTestWriter(t))
	traces, err := startTracing(context.Background(), tracingSettings{endpoint: collector.URL, getenv: func(string) string { return "" }}, log)
	if err != nil {
		t.Fatal(err)
	}
	if traces.tracerProvider() == nil {
		t.Fatal("no tracer provider with an endpoint")
	}
	_, span := traces.tracerProvider().Tracer("test").Start(context.Background(), "one")
	span.End()
	traces.shutdown(log)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "POST /v1/traces application/x-protobuf" {
		t.Fatalf("the collector got %v; want one POST /v1/traces of protobuf", got)
	}
	off, err := startTracing(context.Background(), tracingSettings{getenv: func(string) string { return "" }}, log)
	if err != nil || off.tracerProvider() != nil {
		t.Fatalf("tracing without an endpoint: %v, %v; want none", off.tracerProvider(), err)
	}
}
