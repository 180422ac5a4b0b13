package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/strictjson"
	"github.com/mosaicstack/mosaic/metrics"
	"github.com/mosaicstack/mosaic/store"
)

// MaxBodyBytes bounds a request body: 1 MiB.
const MaxBodyBytes = 1 << 20

// Check is one readiness check: nil when the dependency answers.
type Check func(ctx context.Context) error

// Config configures the API server.
type Config struct {
	// DB is the runtime pool. Required.
	DB *store.DB
	// AuthCacheTTL is how long an API key this server accepted is taken as valid without asking
	// PostgreSQL again. Default DefaultAuthCacheTTL (2s); negative: every request asks. A key
	// revoked through this server is refused at once; through another, within the TTL.
	AuthCacheTTL time.Duration
	// Retention is the retention of a workspace without settings of its own, as this process's
	// cleaner applies it (GET …/retention shows it). Nil: store.DefaultRetention.
	Retention *store.Retention
	// AdminToken is the operator's token (creates workspaces, acts in any workspace). Required.
	AdminToken string
	// Checks run on /readyz, by name ("postgres", "jetstream"). Each gets 2 s.
	Checks map[string]Check
	// Liveness runs on /healthz: the dependencies this process owns (the local PostgreSQL that
	// mosaic dev started), whose loss makes the process itself unhealthy. Empty: always ok.
	Liveness map[string]Check
	// Tasks publishes and cancels tasks; NC carries cancel requests to running handlers. When Tasks
	// is nil the task routes are not served.
	Tasks *agents.Client
	NC    *nats.Conn
	// Credentials stores credentials (encrypting them); when nil the credential routes are not
	// served.
	Credentials *credentials.Vault
	// Federation is this instance in federation: its identity (/federation/identity), the
	// peer-facing routes, the admin's peer routes and ?federated= reads. When nil none is served.
	Federation *federation.Node
	// Knowledge is the knowledge base; when nil its routes are not served.
	Knowledge *knowledge.Service
	// Logger receives one line per request. Default: none.
	Logger *zerolog.Logger
	// Metrics, when set, is served on GET /metrics without authentication (Prometheus scrapes
	// it, like /healthz); nil: no /metrics route.
	Metrics *metrics.Registry
	// JS is the JetStream handle GET /v1/consumers reads; when nil that route is not served.
	// With it, New starts sampling every consumer's ack floor (for the rates) until Close.
	JS jetstream.JetStream
	// ConsumerSampleInterval is how often ack floors are sampled; 13 samples are kept, so a rate
	// spans 12 intervals. Zero or less: 5s (a rate over the last minute).
	ConsumerSampleInterval time.Duration
	// StreamHeartbeat is how often an idle event stream (GET …/events/stream, served when NC is
	// set) sends a comment line. Zero or less: 15s.
	StreamHeartbeat time.Duration
}

// Server serves the HTTP API.
type Server struct {
	cfg       Config
	adminHash [32]byte
	keys      *authCache // API keys checked lately; nil: every request asks PostgreSQL
	mux       *http.ServeMux
	log       zerolog.Logger
	sampler   *rateSampler // nil without Config.JS
	streams   streamStops  // ends the event streams at shutdown
	connects  connectLimiter
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.DB == nil {
		errs = append(errs, errors.New("api: Config.DB is required"))
	}
	if len(cfg.AdminToken) < 16 {
		errs = append(errs, errors.New("api: Config.AdminToken must be at least 16 characters"))
	}
	openAPI, err := OpenAPI()
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ttl := cfg.AuthCacheTTL
	if ttl == 0 {
		ttl = DefaultAuthCacheTTL
	}
	s := &Server{cfg: cfg, adminHash: sha256.Sum256([]byte(cfg.AdminToken)), keys: newAuthCache(ttl), mux: http.NewServeMux(), log: zerolog.Nop()}
	if cfg.Logger != nil {
		s.log = *cfg.Logger
	}
	r := &Router{s: s}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s.runChecks(w, r, s.cfg.Liveness, "ok", "failing")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI(openAPI))
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics.Handler())
	}
	r.Handle("POST /v1/operator-keys", AdminOnly, s.createOperatorKey)
	r.Handle("GET /v1/operator-keys", AdminOnly, s.listOperatorKeys)
	r.Handle("DELETE /v1/operator-keys/{key}", AdminOnly, s.revokeOperatorKey)
	r.Handle("POST /v1/workspaces", AdminOnly, s.createWorkspace)
	r.Handle("GET /v1/workspaces", AdminOnly, s.listWorkspaces)
	r.Handle("GET /v1/workspaces/{ws}", store.RoleGuest, s.getWorkspace)
	r.Handle("PUT /v1/workspaces/{ws}/limits", AdminOnly, s.putLimits)
	r.Handle("GET /v1/workspaces/{ws}/limits", store.RoleGuest, s.getLimits)
	s.mountRetention(r)
	r.Handle("POST /v1/workspaces/{ws}/api-keys", store.RoleAdmin, s.createAPIKey)
	r.Handle("DELETE /v1/workspaces/{ws}/api-keys/{id}", store.RoleAdmin, s.revokeAPIKey)
	if cfg.Tasks != nil {
		s.mountTasks(r)
		s.mountAgents(r)
		s.mountSchedules(r)
	}
	if cfg.Credentials != nil {
		s.mountCredentials(r)
	}
	if cfg.Federation != nil {
		s.mountFederation(r)
	}
	if cfg.Knowledge != nil {
		s.mountKnowledge(r)
		s.mountConsole()
	}
	r.Handle("GET /v1/overview", AdminOnly, s.overview)
	r.Handle("GET /v1/stats/minutes", AdminOnly, s.minutes)
	s.mountDebug(r)
	if cfg.NC != nil {
		s.mountStream(r)
	}
	if cfg.JS != nil {
		s.sampler = startRateSampler(cfg.JS, cfg.ConsumerSampleInterval, s.log)
		s.mountConsumers(r)
		s.mountPauses(r)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.logRequests(s.mux) }

// Close stops the server's background work (the consumer rate sampler) and ends the event
// streams. Call it once the HTTP server has shut down.
func (s *Server) Close() {
	s.streams.close()
	if s.sampler != nil {
		s.sampler.close()
	}
}

// AdminOnly marks a route for the operator's admin token only.
const AdminOnly store.Role = "ADMIN_TOKEN"

// Caller is who made a request.
type Caller struct {
	Admin     bool            // the operator's admin token, or a named operator key
	Operator  string          // the name of the operator key ("" for the admin token itself)
	Principal store.Principal // for an API key
}

// Name names the caller in audit records: "admin", "operator:<name>" or "key:<key id>".
func (c Caller) Name() string {
	switch {
	case c.Operator != "":
		return "operator:" + c.Operator
	case c.Admin:
		return "admin"
	}
	return "key:" + c.Principal.KeyID.String()
}

// Request is what a route handler gets: the request, its caller and the workspace of the path.
type Request struct {
	*http.Request
	Caller    Caller
	Workspace uuid.UUID // uuid.Nil for routes without {ws}
}

// checkURLText refuses a path or query that PostgreSQL could not store or compare: a NUL byte or
// invalid UTF-8 (after percent-decoding) is a 400 naming the part, never a 500 further in.
func checkURLText(r *http.Request) *Error {
	if bad(r.URL.Path) {
		return errorf(CodeInvalidArgument, "the path has a NUL byte or invalid UTF-8")
	}
	for k, vs := range r.URL.Query() {
		if bad(k) {
			return errorf(CodeInvalidArgument, "a query parameter's name has a NUL byte or invalid UTF-8")
		}
		for _, v := range vs {
			if bad(v) {
				return errorf(CodeInvalidArgument, "query parameter %q has a NUL byte or invalid UTF-8", k)
			}
		}
	}
	return nil
}

func bad(s string) bool { return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) }

// badField finds a string (or map key) in a decoded body holding a NUL byte, and returns its JSON
// path ("" when none). encoding/json turns invalid UTF-8 into U+FFFD but keeps \u0000, which
// PostgreSQL's text cannot hold.
func badField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return badField(v.Elem(), path)
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return path
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if p := badField(v.Field(i), path+"."+name); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // bytes (json.RawMessage): checked where they are decoded
		}
		for i := range v.Len() {
			if p := badField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if k.Kind() == reflect.String && strings.IndexByte(k.String(), 0) >= 0 {
				return path + "{key}"
			}
			if p := badField(v.MapIndex(k), path+"."+fmt.Sprint(k.Interface())); p != "" {
				return p
			}
		}
	}
	return ""
}

// Decode reads a JSON body strictly (unknown fields are errors) into v.
func (r *Request) Decode(v any) *Error { return r.DecodeUpTo(v, MaxBodyBytes) }

// DecodeUpTo is Decode for a body of up to limit bytes.
func (r *Request) DecodeUpTo(v any, limit int64) *Error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(CodeTooLarge, "request body is larger than %d bytes", limit)
	} else if err != nil {
		return errorf(CodeInvalidArgument, "request body: %v", err)
	}
	if !utf8.Valid(body) {
		return errorf(CodeInvalidArgument, "request body is not valid UTF-8")
	}
	if err := strictjson.Decode(body, v); err != nil {
		switch {
		case errors.Is(err, strictjson.ErrEmpty):
			return errorf(CodeInvalidArgument, "request body is empty; want a JSON object")
		case errors.Is(err, strictjson.ErrTrailingData):
			return errorf(CodeInvalidArgument, "request body has more than one JSON value")
		default:
			return errorf(CodeInvalidArgument, "request body: %v", err)
		}
	}
	// A NUL can only come escaped (a raw control character is not JSON): without "\u0000" in the
	// body, no field holds one, and the walk (which allocates per field) is skipped.
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	if p := badField(reflect.ValueOf(v), ""); p != "" {
		return errorf(CodeInvalidArgument, "request body: %s has a NUL character", strings.TrimPrefix(p, "."))
	}
	return nil
}

// Router registers routes with authentication and error handling.
type Router struct{ s *Server }

// HandlerFunc handles a route: it writes the response itself, or returns an *Error.
type HandlerFunc func(w http.ResponseWriter, r *Request) *Error

// Handle registers pattern; min is the least role that may call it (AdminOnly: the admin token).
func (rt *Router) Handle(pattern string, min store.Role, h HandlerFunc) {
	rt.s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		req := &Request{Request: hr}
		if e := checkURLText(hr); e != nil {
			writeError(w, e)
			return
		}
		if e := rt.s.authorize(req, min); e != nil {
			writeError(w, e)
			return
		}
		if e := h(w, req); e != nil {
			rt.s.fail(w, pattern, e)
		}
	}))
}

func (s *Server) authorize(r *Request, min store.Role) *Error {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return errorf(CodeUnauthenticated, "missing bearer token (Authorization: Bearer <API key>)")
	}
	inWorkspace := false
	if raw := r.PathValue("ws"); raw != "" {
		ws, err := uuid.Parse(raw)
		if err != nil {
			return errorf(CodeInvalidArgument, "workspace %q is not a UUID", raw)
		}
		// The nil UUID names no workspace: refused below as one the caller has no access to, never
		// taken for "no workspace in the path".
		r.Workspace, inWorkspace = ws, true
	}
	sum := sha256.Sum256([]byte(token))
	admin := subtle.ConstantTimeCompare(sum[:], s.adminHash[:]) == 1
	if admin {
		r.Caller = Caller{Admin: true}
	} else if store.IsOperatorKey(token) {
		k, err := s.cfg.DB.AuthenticateOperator(r.Context(), token)
		if errors.Is(err, store.ErrUnauthenticated) {
			return errorf(CodeUnauthenticated, "invalid or revoked operator key")
		} else if err != nil {
			return errorf(CodeUnavailable, "authenticate: %v", err)
		}
		r.Caller, admin = Caller{Admin: true, Operator: k.Name}, true
	}
	if admin {
		if inWorkspace {
			if r.Workspace == uuid.Nil {
				return errorf(CodeNotFound, "workspace %s not found", r.Workspace)
			}
			if _, err := s.cfg.DB.GetWorkspace(r.Context(), r.Workspace); errors.Is(err, store.ErrNotFound) {
				return errorf(CodeNotFound, "workspace %s not found", r.Workspace)
			} else if err != nil {
				return errorf(CodeUnavailable, "database: %v", err)
			}
		}
		return nil
	}
	now := time.Now()
	p, cached, mark := s.keys.get(sum, now)
	if !cached {
		var err error
		p, err = s.cfg.DB.Authenticate(r.Context(), token)
		if errors.Is(err, store.ErrUnauthenticated) {
			return errorf(CodeUnauthenticated, "invalid, revoked or expired API key")
		} else if err != nil {
			return errorf(CodeUnavailable, "authenticate: %v", err)
		}
		s.keys.put(sum, p, now, mark)
	}
	if min == AdminOnly {
		return errorf(CodeForbidden, "this needs the operator's admin token")
	}
	r.Caller = Caller{Principal: p}
	if inWorkspace && r.Workspace != p.WorkspaceID {
		return errorf(CodeForbidden, "this API key belongs to another workspace")
	}
	if !p.Role.AtLeast(min) {
		return errorf(CodeForbidden, "role %s may not do this (needs %s or above)", p.Role, min)
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.runChecks(w, r, s.cfg.Checks, "ready", "unavailable")
}

// runChecks answers 200 with okState when every check passes, else 503 with failState. The body
// names each check and says "ok" or "failing" — never the error, which can carry a connection
// string, a user or a database name; the error goes to the log.
func (s *Server) runChecks(w http.ResponseWriter, r *http.Request, list map[string]Check, okState, failState string) {
	status := http.StatusOK
	checks := map[string]string{}
	for name, check := range list {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := check(ctx)
		cancel()
		if err != nil {
			status = http.StatusServiceUnavailable
			checks[name] = "failing"
			s.log.Warn().Str("check", name).Err(err).Str("route", r.URL.Path).Msg("health check failing")
			continue
		}
		checks[name] = "ok"
	}
	state := okState
	if status != http.StatusOK {
		state = failState
	}
	writeJSON(w, status, map[string]any{"status": state, "checks": checks})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming handlers flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error().Str("panic", fmt.Sprint(v)).Str("path", r.URL.Path).Msg("handler panicked")
				writeError(rec, errorf(CodeInternal, "internal error (logged)"))
			}
			ev := s.log.Debug()
			if rec.status >= 500 {
				ev = s.log.Warn()
			}
			ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.status).
				Dur("took", time.Since(start)).Msg("http")
		}()
		next.ServeHTTP(rec, r)
	})
}
