package embed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/internal/clip"
)

// The wire protocols NewHTTP speaks (HTTPConfig.API).
const (
	// APIOllama is Ollama's embedding endpoint: POST {URL}/api/embed.
	APIOllama = "ollama"
	// APIOpenAI is the OpenAI-compatible endpoint: POST {URL}/v1/embeddings.
	APIOpenAI = "openai"
)

// Defaults and limits of HTTPConfig.
const (
	DefaultHTTPTimeout   = 30 * time.Second // HTTPConfig.Timeout when zero
	DefaultHTTPBatchSize = 32               // HTTPConfig.BatchSize when zero
	MaxHTTPBatchSize     = 2048             // OpenAI's limit on inputs per request
	MaxHTTPDims          = 65536            // largest HTTPConfig.Dims accepted
)

// maxMessageLen bounds StatusError.Message, in bytes.
const maxMessageLen = 200

// maxErrorBody is how much of a non-2xx body is read to find the server's message.
const maxErrorBody = 64 << 10

// HTTPConfig configures an embedder served over HTTP.
type HTTPConfig struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:11434 (Ollama) or
	// https://api.openai.com (OpenAI-compatible). It may carry a path prefix (a proxy's), but no
	// credentials, query or fragment. For APIOpenAI a trailing /v1 is accepted and not doubled.
	URL string
	// API is APIOllama ("ollama", POST {URL}/api/embed) or APIOpenAI ("openai", POST
	// {URL}/v1/embeddings). Required.
	API string
	// Model is the model's name on the server, e.g. "nomic-embed-text". Required.
	Model string
	// Dims is the length of the model's vectors, 1…MaxHTTPDims. Required. It is sent as
	// "dimensions" to OpenAI-compatible servers (so text-embedding-3 models shorten their
	// vectors to it); a vector of any other length is an error wrapping ErrDimensionMismatch.
	Dims int
	// Timeout bounds each request, from sending to the last byte of the answer. 0 means
	// DefaultHTTPTimeout (30s).
	Timeout time.Duration
	// BatchSize is how many texts go in one request, 1…MaxHTTPBatchSize. 0 means
	// DefaultHTTPBatchSize (32).
	BatchSize int
	// APIKey, when set, is sent as "Authorization: Bearer <key>". It never appears in an error
	// (a server that echoes it gets it replaced by [REDACTED]) and is never logged. Optional: the
	// zero Secret sends no Authorization header.
	APIKey crypto.Secret
	// Client sends the requests. nil means a client of its own on http.DefaultTransport. Its own
	// Timeout, if any, applies on top of Timeout.
	Client *http.Client
}

// Validate reports every problem with c, one error wrapping ErrInvalidConfig per field, joined.
// It does not apply defaults: zero Timeout and BatchSize are valid.
func (c *HTTPConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: HTTPConfig."+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	// The URL is never quoted back: it may hold credentials by mistake.
	if c.URL == "" {
		bad("URL is required")
	} else if u, err := url.Parse(c.URL); err != nil {
		bad("URL does not parse as a URL")
	} else {
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			bad("URL must start with http:// or https://")
		case u.Host == "":
			bad("URL has no host")
		case u.User != nil:
			bad("URL must not contain credentials (use APIKey)")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			bad("URL must not have a query or a fragment")
		}
	}
	switch c.API {
	case APIOllama, APIOpenAI:
	case "":
		bad("API is required (%q or %q)", APIOllama, APIOpenAI)
	default:
		bad("API %q is not %q or %q", c.API, APIOllama, APIOpenAI)
	}
	if strings.TrimSpace(c.Model) == "" {
		bad("Model is required")
	}
	if c.Dims <= 0 || c.Dims > MaxHTTPDims {
		bad("Dims %d is outside 1…%d (it is required)", c.Dims, MaxHTTPDims)
	}
	if c.Timeout < 0 {
		bad("Timeout %s is negative", c.Timeout)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxHTTPBatchSize {
		bad("BatchSize %d is outside 1…%d (0 means %d)", c.BatchSize, MaxHTTPBatchSize, DefaultHTTPBatchSize)
	}
	if !c.APIKey.Wiped() {
		_ = c.APIKey.Use(func(k []byte) error {
			if !validToken(k) {
				bad("APIKey must be non-empty printable ASCII without spaces")
			}
			return nil
		})
	}
	return errors.Join(errs...)
}

func validToken(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// NewHTTP returns an embedder served over HTTP, named "<API>/<Model>", e.g.
// "ollama/nomic-embed-text". It checks cfg (see HTTPConfig.Validate) but does not contact the
// server.
//
// Embed sends the texts in batches of BatchSize, one request after another, and returns the
// vectors in input order, each scaled to unit length. Texts without a letter or digit are not
// sent (OpenAI refuses an empty input) and get a zero vector. Any failure fails the whole call:
// a transport error (ErrUnavailable), a request over Timeout (ErrTimeout), a non-2xx answer
// (*StatusError, with the status and the server's message), a malformed answer (ErrBadResponse)
// or a vector of the wrong length (ErrDimensionMismatch). IsRetryable sorts them. Errors never
// contain the request body or the API key.
func NewHTTP(cfg HTTPConfig) (Embedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &httpEmbedder{
		name:    cfg.API + "/" + cfg.Model,
		api:     cfg.API,
		model:   cfg.Model,
		dims:    cfg.Dims,
		timeout: orDefault(cfg.Timeout, DefaultHTTPTimeout),
		batch:   orDefault(cfg.BatchSize, DefaultHTTPBatchSize),
		key:     cfg.APIKey,
		hasKey:  !cfg.APIKey.Wiped(),
		client:  cfg.Client,
	}
	if e.client == nil {
		e.client = &http.Client{}
	}
	base := strings.TrimRight(cfg.URL, "/")
	switch cfg.API {
	case APIOllama:
		e.endpoint = base + "/api/embed"
	case APIOpenAI:
		if strings.HasSuffix(base, "/v1") {
			e.endpoint = base + "/embeddings"
		} else {
			e.endpoint = base + "/v1/embeddings"
		}
	}
	return e, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

type httpEmbedder struct {
	name     string
	api      string
	endpoint string
	model    string
	dims     int
	timeout  time.Duration
	batch    int
	key      crypto.Secret
	hasKey   bool
	client   *http.Client
}

func (e *httpEmbedder) Name() string { return e.name }
func (e *httpEmbedder) Dims() int    { return e.dims }

func (e *httpEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	send := make([]int, 0, len(texts)) // indexes of the texts that go to the server
	for i, t := range texts {
		if hasWord(t) {
			send = append(send, i)
		} else {
			out[i] = make([]float32, e.dims)
		}
	}
	batches := (len(send) + e.batch - 1) / e.batch
	input := make([]string, 0, min(e.batch, len(send)))
	for b := range batches {
		idx := send[b*e.batch : min((b+1)*e.batch, len(send))]
		input = input[:0]
		for _, i := range idx {
			input = append(input, texts[i])
		}
		vecs, err := e.post(ctx, input)
		if err != nil {
			return nil, e.redact(fmt.Errorf("embed %s: batch %d of %d: %w", e.name, b+1, batches, err))
		}
		for j, v := range vecs {
			Normalize(v)
			out[idx[j]] = v
		}
	}
	return out, nil
}

// post sends one batch and returns its vectors, checked for count, length and finiteness.
func (e *httpEmbedder) post(ctx context.Context, input []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	body, err := e.encodeRequest(input)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if e.hasKey {
		err := e.key.Use(func(k []byte) error {
			req.Header.Set("Authorization", "Bearer "+string(k))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: HTTPConfig.APIKey has been wiped", ErrInvalidConfig)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, e.transportError(ctx, rctx, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &StatusError{
			StatusCode: resp.StatusCode,
			Message:    e.serverMessage(data),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
		}
	}
	// A generous bound on a JSON answer: no float needs 32 bytes, plus room for the envelope.
	limit := int64(len(input))*int64(e.dims)*32 + 64<<10
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, e.transportError(ctx, rctx, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: answer exceeds %d bytes", ErrBadResponse, limit)
	}
	vecs, err := e.decodeResponse(data, len(input))
	if err != nil {
		return nil, err
	}
	for i, v := range vecs {
		if len(v) != e.dims {
			return nil, fmt.Errorf("%w: vector %d of the batch has %d dimensions, HTTPConfig.Dims is %d", ErrDimensionMismatch, i, len(v), e.dims)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("%w: vector %d of the batch holds a non-finite number", ErrBadResponse, i)
			}
		}
	}
	return vecs, nil
}

// transportError classifies a failure to send or to read: the caller's context, our timeout, or
// the network.
func (e *httpEmbedder) transportError(ctx, rctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s: %w", ErrTimeout, e.timeout, context.DeadlineExceeded)
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// serverMessage extracts the server's message from an error body: Ollama's {"error": "..."},
// OpenAI's {"error": {"message": "..."}}, a top-level "message", or else the text itself. The API
// key is scrubbed before the message is cut to maxMessageLen bytes.
func (e *httpEmbedder) serverMessage(body []byte) string {
	msg, ok := errorMessage(body)
	if !ok {
		msg = string(body)
	}
	msg = e.scrub(msg)
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}), " ")
	return clip.Mark(msg, maxMessageLen)
}

// scrub replaces every occurrence of the API key in s.
func (e *httpEmbedder) scrub(s string) string {
	if !e.hasKey {
		return s
	}
	_ = e.key.Use(func(k []byte) error {
		if len(k) > 0 {
			s = strings.ReplaceAll(s, string(k), crypto.Redacted)
		}
		return nil
	})
	return s
}

// redact is the last guard: an error whose text holds the API key, wherever it came from, is
// replaced by one with the key scrubbed that still matches the same errors.Is targets.
func (e *httpEmbedder) redact(err error) error {
	msg := err.Error()
	if s := e.scrub(msg); s != msg {
		return &redactedError{msg: s, err: err}
	}
	return err
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
