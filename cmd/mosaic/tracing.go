package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracingSettings says whether a process exports traces, and where: --otel-endpoint (a base URL,
// like OTEL_EXPORTER_OTLP_ENDPOINT: spans go to its /v1/traces), else the exporter's standard
// variables OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT. OTEL_SDK_DISABLED=true
// turns it off whatever is set. getenv is os.Getenv (a map's lookup in tests).
type tracingSettings struct {
	endpoint string // --otel-endpoint
	getenv   func(string) string
}

// on says whether traces are exported.
func (s tracingSettings) on() bool {
	if disabled, _ := strconv.ParseBool(s.getenv("OTEL_SDK_DISABLED")); disabled {
		return false
	}
	return s.endpoint != "" || s.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || s.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// validate checks the settings before anything starts: the endpoint is an http(s) URL, and the
// protocol, if the variables name one, is OTLP over HTTP (the only exporter built in).
func (s tracingSettings) validate() error {
	var errs []error
	if s.endpoint != "" {
		if u, err := url.Parse(s.endpoint); err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			errs = append(errs, fmt.Errorf("%s: %q is not an http:// or https:// URL (the collector's OTLP/HTTP address, e.g. http://localhost:4318)", setting("otel-endpoint"), s.endpoint))
		}
	}
	if v := s.getenv("OTEL_SDK_DISABLED"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("OTEL_SDK_DISABLED: %q is not true or false", v))
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := s.getenv(name); v != "" && !strings.HasPrefix(v, "http/") {
			errs = append(errs, fmt.Errorf("%s: %q; mosaic exports OTLP over HTTP (http/protobuf or http/json, to the collector's port 4318)", name, v))
		}
	}
	return errors.Join(errs...)
}

// tracing is a process's tracer provider: an SDK provider batching spans to an OTLP/HTTP
// exporter, or none (nil: tracing off, at no cost).
type tracing struct {
	provider *sdktrace.TracerProvider
}

// startTracing builds the tracer provider the settings ask for. Its resource names the service
// mosaic with this build's version, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
// otherwise; the exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// compression, TLS) and the SDK OTEL_TRACES_SAMPLER and OTEL_BSP_*.
func startTracing(ctx context.Context, s tracingSettings, log zerolog.Logger) (*tracing, error) {
	if !s.on() {
		return &tracing{}, nil
	}
	var opts []otlptracehttp.Option
	if s.endpoint != "" {
		u, _ := url.Parse(s.endpoint) // validated
		u.Path = path.Join(u.Path, "/v1/traces")
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "mosaic"), attribute.String("service.version", currentVersion().Short())),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil { // a malformed OTEL_RESOURCE_ATTRIBUTES: the rest of the resource stands
		log.Warn().Err(err).Msg("tracing: resource attributes")
	}
	// Export failures (a collector away) are logged, not fatal: spans are dropped meanwhile.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn().Err(err).Msg("tracing") }))
	log.Info().Str("endpoint", s.endpoint).Msg("tracing: spans exported over OTLP/HTTP")
	return &tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// tracerProvider is what pools and clients take: nil when tracing is off.
func (t *tracing) tracerProvider() trace.TracerProvider {
	if t.provider == nil {
		return nil
	}
	return t.provider
}

// shutdown flushes the spans still batched and stops the exporter (5 s at most).
func (t *tracing) shutdown(log zerolog.Logger) {
	if t.provider == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("tracing: flushing the last spans")
	}
}
