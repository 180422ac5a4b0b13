package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mosaicstack/mosaic/api"
)

// The HTTP API's description, api/openapi.yaml, is held to the code three ways:
//   - TestOpenAPIRoutes: the routes the server registers (read from the source, as the
//     authorization matrix reads them) are the document's operations, both ways, each with the
//     least role it is registered with;
//   - every request the package's tests make through newServer or setup goes through
//     openAPIContract, which fails the test when the document has no operation for a request the
//     server serves, when a request the document refuses (an undeclared query parameter, a
//     parameter or body off its schema) gets a 2xx, or when a response's status, media type or
//     JSON body is not one the document declares for the operation;
//   - TestOpenAPISchemasAreTheGoTypes and TestOpenAPIClientTypes: each component schema names the
//     Go type it describes (x-go-type) and has its JSON fields, and every Client method decodes an
//     answer into the type the document gives its operation.

// openAPINotDescribed are the registered routes the document leaves out, by prefix: the console's
// static pages and Go's profiles are not the JSON API.
var openAPINotDescribed = []string{"GET /console", "GET /debug/pprof/"}

func openAPIDescribes(pattern string) bool {
	return !slices.ContainsFunc(openAPINotDescribed, func(p string) bool { return strings.HasPrefix(pattern, p) })
}

// loadOpenAPI loads the description the server serves, once for the package, and validates it as
// OpenAPI 3.1.
var loadOpenAPI = sync.OnceValues(func() (*openapi3.T, error) {
	raw, err := api.OpenAPI()
	if err != nil {
		return nil, err
	}
	return parseOpenAPI(raw)
})

func parseOpenAPI(raw []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		return nil, fmt.Errorf("openapi is %q; want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableSchemaFormatValidation(), openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

func openAPIDoc(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := loadOpenAPI()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return doc
}

// TestOpenAPIServed: GET /v1/openapi.json serves the description as JSON, without a token, and
// what it serves is valid OpenAPI 3.1.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp, err := http.Get(b.server.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := parseOpenAPI(raw)
	if err != nil {
		t.Fatalf("the served document: %v", err)
	}
	if want, _ := api.OpenAPI(); !bytes.Equal(raw, want) {
		t.Error("the served document is not api.OpenAPI()")
	}
	if doc.Paths.Find("/v1/openapi.json") == nil {
		t.Error("the document does not describe its own route")
	}
}

// TestOpenAPIRoutes: the document's operations are the routes the server registers, with the
// least role each is registered with (x-mosaic-role) and security schemes that fit it.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	doc := openAPIDoc(t)
	registered := authzRegisteredRoutes(t)
	described := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described[method+" "+path] = op
		}
	}
	var problems []string
	for pattern, role := range registered {
		if !openAPIDescribes(pattern) {
			continue
		}
		op, ok := described[pattern]
		if !ok {
			problems = append(problems, fmt.Sprintf("route %q is registered but not in api/openapi.yaml", pattern))
			continue
		}
		if got, _ := op.Extensions["x-mosaic-role"].(string); got != string(role) {
			problems = append(problems, fmt.Sprintf("%s: x-mosaic-role is %q; the route is registered for %s", pattern, got, role))
		}
		schemes := map[string]bool{}
		if op.Security != nil {
			for _, req := range *op.Security {
				for name := range req {
					schemes[name] = true
				}
			}
		}
		switch {
		case op.Security == nil:
			problems = append(problems, fmt.Sprintf("%s: no security (write security: [] for a public route)", pattern))
		case role == authzPublic && len(schemes) > 0, role == api.AdminOnly && schemes["apiKey"],
			role != authzPublic && role != api.AdminOnly && !schemes["apiKey"], role != authzPublic && !schemes["adminToken"]:
			problems = append(problems, fmt.Sprintf("%s: security %v does not fit role %s", pattern, slices.Sorted(maps.Keys(schemes)), role))
		}
	}
	for pattern := range described {
		if _, ok := registered[pattern]; !ok {
			problems = append(problems, fmt.Sprintf("api/openapi.yaml describes %q, which the server does not register", pattern))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Fatalf("the document and the routes differ:\n  %s", strings.Join(problems, "\n  "))
	}
}

// openAPIContract checks the requests a test makes and the server's answers against the
// document. Its mux holds the document's operations under the patterns the server registers, so a
// request finds its operation by the server's own rules.
type openAPIContract struct {
	doc *openapi3.T
	mux *http.ServeMux
}

type openAPIMatch struct {
	route  *routers.Route
	params map[string]string
}

type openAPIMatchKey struct{}

var openAPIContracts = sync.OnceValues(func() (*openAPIContract, error) {
	doc, err := loadOpenAPI()
	if err != nil {
		return nil, err
	}
	c := &openAPIContract{doc: doc, mux: http.NewServeMux()}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			var names []string
			for _, seg := range strings.Split(path, "/") {
				if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
					names = append(names, strings.Trim(seg, "{}"))
				}
			}
			c.mux.HandleFunc(method+" "+path, func(_ http.ResponseWriter, r *http.Request) {
				m := &openAPIMatch{route: route, params: map[string]string{}}
				for _, n := range names {
					m.params[n] = r.PathValue(n)
				}
				*r.Context().Value(openAPIMatchKey{}).(**openAPIMatch) = m
			})
		}
	}
	c.mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) {})
	return c, nil
})

// checkOpenAPI wraps h so that every request and answer is checked against the document; a
// difference fails t.
func checkOpenAPI(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	c, err := openAPIContracts()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &contractRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		for _, p := range c.check(r, body, rec) {
			t.Errorf("api/openapi.yaml and the server differ: %s %s: %s", r.Method, r.URL.RequestURI(), p)
		}
	})
}

func (c *openAPIContract) find(r *http.Request) *openAPIMatch {
	var m *openAPIMatch
	probe := r.Clone(context.WithValue(r.Context(), openAPIMatchKey{}, &m))
	probe.Body = http.NoBody
	c.mux.ServeHTTP(httptest.NewRecorder(), probe)
	return m
}

// check returns what differs between the document and an exchange.
func (c *openAPIContract) check(r *http.Request, body []byte, rec *contractRecorder) []string {
	pattern := r.Method + " " + r.URL.Path
	m := c.find(r)
	if m == nil {
		if !openAPIDescribes(pattern) {
			return nil
		}
		// No operation: the server must answer as it does for a path it has no route for.
		errSchema := c.doc.Components.Schemas["ErrorResponse"].Value
		if rec.status != http.StatusNotFound {
			return []string{fmt.Sprintf("the document has no operation for it, yet the server answered %d", rec.status)}
		}
		if err := c.doc.ValidateSchemaJSON(errSchema, decodeJSON(rec.body.Bytes())); err != nil {
			return []string{"its 404 is not an ErrorResponse: " + brief(err)}
		}
		return nil
	}
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json") // the server reads every body as JSON
	}
	opts := &openapi3filter.Options{MultiError: true, AuthenticationFunc: bearerPresent}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: m.params, Route: m.route, Options: opts}
	var problems []string
	refused := openapi3filter.ValidateRequest(ctx, in)
	if undeclared := undeclaredQuery(m.route, r); undeclared != "" {
		refused = errors.Join(refused, errors.New(undeclared))
	}
	if refused != nil && rec.status < 400 {
		problems = append(problems, fmt.Sprintf("the document refuses the request, yet the server answered %d: %s", rec.status, brief(refused)))
	}
	media := strings.TrimSpace(strings.Split(rec.Header().Get("Content-Type"), ";")[0])
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.status, Header: rec.Header(),
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, ExcludeResponseBody: media != "application/json"},
	}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		problems = append(problems, fmt.Sprintf("its %d answer is not one the document declares: %s", rec.status, brief(err)))
	}
	return problems
}

// brief is a validation error without the schema and value the validator appends to it.
func brief(err error) string {
	var out []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if l := strings.TrimSpace(line); l == "Schema:" || l == "Value:" {
			break
		}
		out = append(out, line)
	}
	return strings.Join(out, " ")
}

// bearerPresent stands in for authentication: the document's schemes are all bearer tokens, and
// whether one is valid is the server's to say (a 401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	token, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// undeclaredQuery names the query parameters of r the operation does not declare.
func undeclaredQuery(route *routers.Route, r *http.Request) string {
	declared := map[string]bool{}
	for _, ps := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, p := range ps {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				declared[p.Value.Name] = true
			}
		}
	}
	var bad []string
	for k := range r.URL.Query() {
		if !declared[k] {
			bad = append(bad, strconv.Quote(k))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	slices.Sort(bad)
	return "undeclared query parameters " + strings.Join(bad, ", ")
}

func decodeJSON(raw []byte) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return v
}

// contractRecorder passes an answer through and keeps its status and, for JSON, its body (an
// event stream's body is not kept).
type contractRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *contractRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *contractRecorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	if strings.HasPrefix(r.Header().Get("Content-Type"), "application/json") {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

func (r *contractRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
