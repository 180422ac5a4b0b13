package embed_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/crypto"
)

var apis = []string{embed.APIOllama, embed.APIOpenAI}

// forEachAPI runs fn as a parallel subtest per wire format.
func forEachAPI(t *testing.T, fn func(t *testing.T, api string)) {
	t.Parallel()
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			fn(t, api)
		})
	}
}

func key(s string) crypto.Secret { return crypto.NewSecret([]byte(s)) }

// reference is what the fakes' vectors must come back as: the lexical vectors at dims,
// truncated to dims and normalised.
func reference(dims int, input []string) [][]float32 {
	vecs := vectors(dims, input)
	for _, v := range vecs {
		embed.Normalize(v)
	}
	return vecs
}

func TestHTTPBatchesAndOrder(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		for _, batch := range []int{0, 32} { // 0 is the default, 32
			f, e := newFakeEmbedder(t, api, fakeOptions{}, embed.HTTPConfig{BatchSize: batch})
			in := texts(70)
			vecs, err := e.Embed(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(f.batchSizes()); got != "[32 32 6]" {
				t.Errorf("BatchSize %d: requests of %s texts, want [32 32 6]", batch, got)
			}
			want := reference(fakeOllamaDims, in)
			for i := range in {
				if embed.Cosine(vecs[i], want[i]) < 0.99999 {
					t.Fatalf("vector %d is not text %d's", i, i)
				}
			}
			if n := f.shuffledAnswers(); api == embed.APIOpenAI && n != 3 {
				t.Errorf("the fake shuffled %d answers of 3", n)
			}
		}
	})
}

func TestHTTPWordlessTextsNotSent(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		f, e := newFakeEmbedder(t, api, fakeOptions{}, embed.HTTPConfig{})
		vecs, err := e.Embed(context.Background(), []string{"", "rotate keys", " \n ", "…!"})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(f.batches()); got != "[[rotate keys]]" {
			t.Errorf("sent %s, want [[rotate keys]]", got)
		}
		for i, v := range vecs {
			if len(v) != e.Dims() || (norm(v) == 0) != (i != 1) {
				t.Errorf("vector %d: %d dims, norm %v", i, len(v), norm(v))
			}
		}
		if _, err := e.Embed(context.Background(), []string{"", "?"}); err != nil || f.requests() != 1 {
			t.Errorf("wordless texts only: %v, %d requests, want none", err, f.requests())
		}
	})
}

func TestHTTPAuthorizationHeader(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		with, e := newFakeEmbedder(t, api, fakeOptions{key: "sk-test-123"}, embed.HTTPConfig{APIKey: key("sk-test-123")})
		if _, err := e.Embed(context.Background(), texts(3)); err != nil {
			t.Fatal(err)
		}
		if got := with.authHeaders(); len(got) != 1 || got[0] != "Bearer sk-test-123" {
			t.Errorf("with APIKey: Authorization %q", got)
		}

		without, e := newFakeEmbedder(t, api, fakeOptions{}, embed.HTTPConfig{})
		if _, err := e.Embed(context.Background(), texts(3)); err != nil {
			t.Fatal(err)
		}
		if got := without.authHeaders(); len(got) != 1 || got[0] != "" {
			t.Errorf("without APIKey: Authorization %q", got)
		}
	})
}

// assertNoSecret fails if s appears anywhere in err: its text in every format, and every error
// in its chain.
func assertNoSecret(t *testing.T, err error, s string) {
	t.Helper()
	for _, text := range []string{err.Error(), fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err)} {
		if strings.Contains(text, s) {
			t.Fatalf("the secret appears in the error: %s", text)
		}
	}
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%#v", err), s) {
			t.Fatalf("the secret appears in a wrapped %T: %v", err, err)
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
}

func TestHTTPAPIKeyNeverInErrors(t *testing.T) {
	const planted = "sk-PLANTED-d41d8cd98f00b204e980"
	forEachAPI(t, func(t *testing.T, api string) {
		// The server rejects the key and echoes it in its message.
		_, e := newFakeEmbedder(t, api, fakeOptions{key: "sk-the-right-one"}, embed.HTTPConfig{APIKey: key(planted)})
		_, err := e.Embed(context.Background(), texts(2))
		var se *embed.StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 StatusError", err)
		}
		if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Incorrect API key provided: "+crypto.Redacted) {
			t.Errorf("err = %v, want the status and the scrubbed message", err)
		}
		assertNoSecret(t, err, planted)

		// A transport that puts the header into its error: the last guard scrubs it and keeps
		// the error's kind.
		f := newFake(t, api, fakeOptions{})
		e, err = embed.NewHTTP(embed.HTTPConfig{
			URL: f.URL, API: api, Model: "m", Dims: 16, APIKey: key(planted),
			Client: &http.Client{Transport: leakyTransport{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Embed(context.Background(), texts(2))
		if !errors.Is(err, embed.ErrUnavailable) || !strings.Contains(err.Error(), crypto.Redacted) {
			t.Fatalf("err = %v, want ErrUnavailable with the key redacted", err)
		}
		assertNoSecret(t, err, planted)
	})
}

type leakyTransport struct{}

func (leakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, errors.New("proxy refused " + r.Header.Get("Authorization"))
}

func TestHTTPDimensionMismatch(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		// Ollama's model gives 16; OpenAI's server ignores "dimensions" and gives 16.
		_, e := newFakeEmbedder(t, api, fakeOptions{dims: 16}, embed.HTTPConfig{Dims: 24})
		_, err := e.Embed(context.Background(), texts(3))
		if !errors.Is(err, embed.ErrDimensionMismatch) || !strings.Contains(err.Error(), "16 dimensions") {
			t.Fatalf("err = %v, want ErrDimensionMismatch naming 16", err)
		}
		if embed.IsRetryable(err) {
			t.Error("a dimension mismatch is reported retryable")
		}
	})
}

func TestHTTPStatusErrors(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		const secretInput = "confidential-request-text"
		for _, tc := range []struct {
			opts      fakeOptions
			wantText  string
			retryable bool
			after     time.Duration
		}{
			{fakeOptions{status: 500, message: "model runner has unexpectedly stopped"},
				"server answered 500 Internal Server Error: model runner has unexpectedly stopped", true, 0},
			{fakeOptions{status: 429, message: "Rate limit reached", retryAfter: "7"},
				"server answered 429 Too Many Requests: Rate limit reached", true, 7 * time.Second},
			{fakeOptions{status: 404, message: `model "fake-model" not found, try pulling it first`},
				`server answered 404 Not Found: model "fake-model" not found, try pulling it first`, false, 0},
			{fakeOptions{status: 503, message: strings.Repeat("overloaded ", 100)},
				"server answered 503 Service Unavailable: overloaded overloaded", true, 0},
		} {
			_, e := newFakeEmbedder(t, api, tc.opts, embed.HTTPConfig{})
			_, err := e.Embed(context.Background(), []string{secretInput})
			var se *embed.StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.opts.status {
				t.Fatalf("status %d: err = %v", tc.opts.status, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantText)
			}
			if len(se.Message) > 200 {
				t.Errorf("message of %d bytes, want at most 200", len(se.Message))
			}
			if strings.Contains(err.Error(), secretInput) {
				t.Errorf("the request body appears in the error: %v", err)
			}
			if embed.IsRetryable(err) != tc.retryable || se.RetryAfter != tc.after {
				t.Errorf("status %d: retryable %v, RetryAfter %s", tc.opts.status, embed.IsRetryable(err), se.RetryAfter)
			}
		}
	})
}

func TestHTTPNonJSONErrorBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html><body>502 Bad Gateway\r\n\x00nginx</body></html>", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	e, err := embed.NewHTTP(embed.HTTPConfig{URL: srv.URL, API: embed.APIOllama, Model: "m", Dims: 16})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(context.Background(), texts(1))
	if want := "502 Bad Gateway: <html><body>502 Bad Gateway nginx</body></html>"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
}

func TestHTTPBadResponses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		api, body string
	}{
		{embed.APIOllama, `not JSON`},
		{embed.APIOllama, `{"model":"m","embeddings":[]}`},
		{embed.APIOllama, `{"model":"m","embeddings":[[NaN,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]]}`},
		{embed.APIOllama, `{"model":"m","embeddings":[[Infinity,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]]}`},
		{embed.APIOllama, `{"model":"m","embeddings":[[1e39,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]]}`},
		{embed.APIOllama, `{"model":"m","embeddings":[["1",1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]]}`},
		{embed.APIOpenAI, `{"object":"list","data":[]}`},
		{embed.APIOpenAI, `{"object":"list","data":[{"object":"embedding","embedding":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}`},
		{embed.APIOpenAI, `{"object":"list","data":[{"object":"embedding","index":1,"embedding":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}`},
		{embed.APIOpenAI, `{"object":"list","data":[{"object":"embedding","index":0}]}`},
		{embed.APIOpenAI, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAAA=="}]}`},
	} {
		_, e := newFakeEmbedder(t, tc.api, fakeOptions{rawBody: tc.body}, embed.HTTPConfig{})
		_, err := e.Embed(context.Background(), texts(1))
		if !errors.Is(err, embed.ErrBadResponse) || embed.IsRetryable(err) {
			t.Errorf("%s %s: err = %v, want ErrBadResponse, not retryable", tc.api, tc.body, err)
		}
	}

	// Two texts, the same index twice.
	_, e := newFakeEmbedder(t, embed.APIOpenAI, fakeOptions{rawBody: `{"object":"list","data":[` +
		`{"object":"embedding","index":0,"embedding":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},` +
		`{"object":"embedding","index":0,"embedding":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}`}, embed.HTTPConfig{})
	if _, err := e.Embed(context.Background(), texts(2)); !errors.Is(err, embed.ErrBadResponse) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("repeated index: err = %v", err)
	}
}

func TestHTTPTimeout(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		// The server would answer after 10s; the test takes about Timeout.
		_, e := newFakeEmbedder(t, api, fakeOptions{sleep: 10 * time.Second}, embed.HTTPConfig{Timeout: 150 * time.Millisecond})
		_, err := e.Embed(context.Background(), texts(1))
		if !errors.Is(err, embed.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !embed.IsRetryable(err) {
			t.Fatalf("err = %v, want a retryable ErrTimeout", err)
		}
		if !strings.Contains(err.Error(), "150ms") {
			t.Errorf("err = %v, want it to name the timeout", err)
		}
	})
}

func TestHTTPContextCancel(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		arrived := make(chan struct{})
		_, e := newFakeEmbedder(t, api, fakeOptions{hang: true, arrived: arrived}, embed.HTTPConfig{Timeout: 20 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived // cancel while the request is in flight
			cancel()
		}()
		_, err := e.Embed(ctx, texts(1))
		if !errors.Is(err, context.Canceled) || errors.Is(err, embed.ErrTimeout) || embed.IsRetryable(err) {
			t.Fatalf("err = %v, want context.Canceled, not a timeout, not retryable", err)
		}
	})
}

func TestHTTPUnreachable(t *testing.T) {
	t.Parallel()
	f := newFake(t, embed.APIOllama, fakeOptions{})
	url := f.URL
	f.Close()
	e, err := embed.NewHTTP(embed.HTTPConfig{URL: url, API: embed.APIOllama, Model: "m", Dims: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(context.Background(), texts(1)); !errors.Is(err, embed.ErrUnavailable) || !embed.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable ErrUnavailable", err)
	}
}

func TestHTTPURLForms(t *testing.T) {
	forEachAPI(t, func(t *testing.T, api string) {
		f := newFake(t, api, fakeOptions{})
		suffixes := []string{"", "/"}
		if api == embed.APIOpenAI {
			suffixes = append(suffixes, "/v1", "/v1/")
		}
		for _, s := range suffixes {
			e, err := embed.NewHTTP(embed.HTTPConfig{URL: f.URL + s, API: api, Model: "m", Dims: 16})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Embed(context.Background(), texts(1)); err != nil {
				t.Errorf("URL ending %q: %v", s, err)
			}
		}
	})
}

func TestHTTPName(t *testing.T) {
	t.Parallel()
	for api, want := range map[string]string{embed.APIOllama: "ollama/nomic-embed-text", embed.APIOpenAI: "openai/nomic-embed-text"} {
		e, err := embed.NewHTTP(embed.HTTPConfig{URL: "http://127.0.0.1:1", API: api, Model: "nomic-embed-text", Dims: 768})
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() != want || e.Dims() != 768 {
			t.Errorf("Name %q, Dims %d; want %q, 768", e.Name(), e.Dims(), want)
		}
	}
}

func TestNewHTTPValidation(t *testing.T) {
	t.Parallel()
	good := func() embed.HTTPConfig {
		return embed.HTTPConfig{URL: "http://127.0.0.1:11434", API: embed.APIOllama, Model: "m", Dims: 384}
	}
	if _, err := embed.NewHTTP(good()); err != nil {
		t.Fatalf("a good config: %v", err)
	}

	_, err := embed.NewHTTP(embed.HTTPConfig{})
	for _, field := range []string{"HTTPConfig.URL", "HTTPConfig.API", "HTTPConfig.Model", "HTTPConfig.Dims"} {
		if !errors.Is(err, embed.ErrInvalidConfig) || !strings.Contains(fmt.Sprint(err), field) {
			t.Errorf("empty config: err = %v, want it to name %s", err, field)
		}
	}

	for _, tc := range []struct {
		field  string
		change func(*embed.HTTPConfig)
	}{
		{"URL", func(c *embed.HTTPConfig) { c.URL = "ftp://example.com" }},
		{"URL", func(c *embed.HTTPConfig) { c.URL = "127.0.0.1:11434" }},
		{"URL", func(c *embed.HTTPConfig) { c.URL = "http://" }},
		{"URL", func(c *embed.HTTPConfig) { c.URL = "http://user:hunter2@example.com" }},
		{"URL", func(c *embed.HTTPConfig) { c.URL = "http://example.com/?key=hunter2" }},
		{"URL", func(c *embed.HTTPConfig) { c.URL = "http://exa mple.com/%zz" }},
		{"API", func(c *embed.HTTPConfig) { c.API = "grpc" }},
		{"API", func(c *embed.HTTPConfig) { c.API = "Ollama" }},
		{"Model", func(c *embed.HTTPConfig) { c.Model = "  " }},
		{"Dims", func(c *embed.HTTPConfig) { c.Dims = -1 }},
		{"Dims", func(c *embed.HTTPConfig) { c.Dims = embed.MaxHTTPDims + 1 }},
		{"Timeout", func(c *embed.HTTPConfig) { c.Timeout = -time.Second }},
		{"BatchSize", func(c *embed.HTTPConfig) { c.BatchSize = -1 }},
		{"BatchSize", func(c *embed.HTTPConfig) { c.BatchSize = embed.MaxHTTPBatchSize + 1 }},
		{"APIKey", func(c *embed.HTTPConfig) { c.APIKey = key("hunter2 with spaces") }},
		{"APIKey", func(c *embed.HTTPConfig) { c.APIKey = key("hunter2\r\nX-Injected: 1") }},
		{"APIKey", func(c *embed.HTTPConfig) { c.APIKey = key("") }},
	} {
		cfg := good()
		tc.change(&cfg)
		_, err := embed.NewHTTP(cfg)
		if !errors.Is(err, embed.ErrInvalidConfig) || !strings.Contains(fmt.Sprint(err), "HTTPConfig."+tc.field) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig naming HTTPConfig.%s", tc.field, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: a credential appears in the error: %v", tc.field, err)
		}
	}

	// The limits themselves are valid.
	cfg := good()
	cfg.BatchSize, cfg.Dims, cfg.APIKey = embed.MaxHTTPBatchSize, embed.MaxHTTPDims, key("sk-abc")
	if _, err := embed.NewHTTP(cfg); err != nil {
		t.Errorf("limits: %v", err)
	}
}
