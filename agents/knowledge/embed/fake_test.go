package embed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
)

// fakeServer is a faithful stand-in for Ollama's POST /api/embed or an OpenAI-compatible
// POST /v1/embeddings: same request and answer bodies, same error shapes. Its vectors are the
// lexical embedder's, scaled by 3 so that the client has to normalise them; OpenAI's "data"
// comes back shuffled, as the API permits. Knobs in fakeOptions make it misbehave.
type fakeServer struct {
	*httptest.Server
	api  string
	opts fakeOptions

	mu       sync.Mutex
	inputs   [][]string // the "input" of each request, in arrival order
	auth     []string   // the Authorization header of each request
	shuffled int        // OpenAI answers whose data was not in index order
	arrived  sync.Once
}

type fakeOptions struct {
	dims       int           // vector length; 0: 16 for Ollama, the requested "dimensions" for OpenAI
	key        string        // when set, requests must carry "Bearer <key>"; a 401 echoes what came
	status     int           // when set, every request gets this status and message
	message    string        // the error message for status
	retryAfter string        // Retry-After header sent with status
	rawBody    string        // when set, every request gets 200 with this body
	sleep      time.Duration // delay before answering, cut short if the client goes away
	arrived    chan struct{} // closed when the first request arrives
	hang       bool          // never answer: wait for the client to go away
}

const fakeOllamaDims = 16

func newFake(t *testing.T, api string, opts fakeOptions) *fakeServer {
	t.Helper()
	f := &fakeServer{api: api, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/embed", f.ollama)
	mux.HandleFunc("POST /v1/embeddings", f.openAI)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inputs)
}

func (f *fakeServer) authHeaders() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

func (f *fakeServer) batches() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.inputs...)
}

func (f *fakeServer) shuffledAnswers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.shuffled
}

func (f *fakeServer) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, in := range f.inputs {
		n = append(n, len(in))
	}
	return n
}

// common does what both endpoints share before computing vectors; false means it answered.
func (f *fakeServer) common(w http.ResponseWriter, r *http.Request, api string, req any) bool {
	if f.api != api {
		http.NotFound(w, r)
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.fail(w, http.StatusBadRequest, "content type "+ct)
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	if err := json.Unmarshal(body, req); err != nil {
		f.fail(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return false
	}
	// The body is read first: only then does the server notice a client that goes away.
	if f.opts.arrived != nil {
		f.arrived.Do(func() { close(f.opts.arrived) })
	}
	if f.opts.hang {
		<-r.Context().Done()
		return false
	}
	if f.opts.sleep > 0 {
		select {
		case <-time.After(f.opts.sleep):
		case <-r.Context().Done():
			return false
		}
	}
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	f.auth = append(f.auth, auth)
	f.mu.Unlock()
	if f.opts.key != "" && auth != "Bearer "+f.opts.key {
		f.fail(w, http.StatusUnauthorized, "Incorrect API key provided: "+strings.TrimPrefix(auth, "Bearer ")+".")
		return false
	}
	if f.opts.status != 0 {
		if f.opts.retryAfter != "" {
			w.Header().Set("Retry-After", f.opts.retryAfter)
		}
		f.fail(w, f.opts.status, f.opts.message)
		return false
	}
	return true
}

func (f *fakeServer) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if f.api == embed.APIOllama {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": msg})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": "invalid_request_error", "param": nil, "code": nil,
	}})
}

func (f *fakeServer) ok(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/json")
	if f.opts.rawBody != "" {
		_, _ = w.Write([]byte(f.opts.rawBody))
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// vectors embeds input lexically at dims and scales the results by 3.
func vectors(dims int, input []string) [][]float32 {
	vecs, err := embed.NewLexical(max(dims, embed.MinLexicalDims)).Embed(context.Background(), input)
	if err != nil {
		panic(err)
	}
	for i, v := range vecs {
		v = v[:dims]
		for j := range v {
			v[j] *= 3
		}
		vecs[i] = v
	}
	return vecs
}

func (f *fakeServer) ollama(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !f.common(w, r, embed.APIOllama, &req) {
		return
	}
	if req.Model == "" {
		f.fail(w, http.StatusBadRequest, "model is required")
		return
	}
	var input []string // Ollama takes a string or an array of strings
	if json.Unmarshal(req.Input, &input) != nil {
		var one string
		if err := json.Unmarshal(req.Input, &one); err != nil {
			f.fail(w, http.StatusBadRequest, "invalid input type")
			return
		}
		input = []string{one}
	}
	f.record(input)
	dims := f.opts.dims
	if dims == 0 {
		dims = fakeOllamaDims
	}
	f.ok(w, map[string]any{
		"model": req.Model, "embeddings": vectors(dims, input),
		"total_duration": 14143917, "load_duration": 1019500, "prompt_eval_count": 8,
	})
}

func (f *fakeServer) openAI(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model          string   `json:"model"`
		Input          []string `json:"input"`
		Dimensions     int      `json:"dimensions"`
		EncodingFormat string   `json:"encoding_format"`
	}
	if !f.common(w, r, embed.APIOpenAI, &req) {
		return
	}
	switch {
	case req.Model == "":
		f.fail(w, http.StatusBadRequest, "you must provide a model parameter")
		return
	case len(req.Input) == 0 || len(req.Input) > 2048:
		f.fail(w, http.StatusBadRequest, "'$.input' is invalid")
		return
	case req.EncodingFormat != "float":
		f.fail(w, http.StatusBadRequest, "encoding_format must be float in this fake")
		return
	case req.Dimensions <= 0:
		f.fail(w, http.StatusBadRequest, "dimensions must be positive in this fake")
		return
	}
	for _, in := range req.Input {
		if in == "" {
			f.fail(w, http.StatusBadRequest, "'$.input' is invalid: empty string")
			return
		}
	}
	f.record(req.Input)
	dims := f.opts.dims
	if dims == 0 {
		dims = req.Dimensions
	}
	vecs := vectors(dims, req.Input)
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(vecs))
	perm := rand.Perm(len(vecs))
	if len(perm) > 1 && perm[0] == 0 {
		perm[0], perm[1] = perm[1], perm[0] // never in order: the client must use "index"
	}
	for i, p := range perm {
		data[i] = item{Object: "embedding", Index: p, Embedding: vecs[p]}
	}
	if len(perm) > 1 {
		f.mu.Lock()
		f.shuffled++
		f.mu.Unlock()
	}
	f.ok(w, map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": 8 * len(vecs), "total_tokens": 8 * len(vecs)},
	})
}

func (f *fakeServer) record(input []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, input)
}

// newFakeEmbedder starts a fake of api and returns an embedder configured for it, with cfg's
// other fields (URL, API and Model are filled in; Dims defaults to 16).
func newFakeEmbedder(t *testing.T, api string, opts fakeOptions, cfg embed.HTTPConfig) (*fakeServer, embed.Embedder) {
	t.Helper()
	f := newFake(t, api, opts)
	cfg.URL, cfg.API, cfg.Model = f.URL, api, "fake-model"
	if cfg.Dims == 0 {
		cfg.Dims = fakeOllamaDims
	}
	e, err := embed.NewHTTP(cfg)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	return f, e
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("document number %d about topic %d", i, i%7)
	}
	return out
}
