package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/events"
)

type devFlags struct {
	stackFlags
	poolFlags
	cipherFlags
	embedderFlags
	http string
	federationFlags
}

func newDevCmd() *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system in one process on embedded NATS and a local PostgreSQL",
		Long: `Run the whole system in one process: an embedded NATS JetStream server and a local PostgreSQL
cluster (both under --data-dir) unless --nats-url / --database-url point elsewhere, the migrations
and the stream topology, and the HTTP API. Stops cleanly on SIGINT or SIGTERM; started again on the
same data directory, it comes back with everything it had.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd, f) },
	}
	f.stackFlags.register(cmd, true)
	f.poolFlags.register(cmd, "workers", 8)
	f.cipherFlags.register(cmd)
	f.embedderFlags.register(cmd)
	f.federationFlags.register(cmd)
	cmd.Flags().StringVar(&f.http, "http", "127.0.0.1:8080", "address of the HTTP API (/healthz, /readyz, /metrics, /v1)")
	return cmd
}

// devInfo is written to <data-dir>/dev.json so that the CLI and `mosaic worker` find a running dev.
type devInfo struct {
	PID         int       `json:"pid"`
	Server      string    `json:"server"`
	NATSURL     string    `json:"nats_url"`
	DatabaseURL string    `json:"database_url"`
	StartedAt   time.Time `json:"started_at"`
}

func runDev(cmd *cobra.Command, f *devFlags) (err error) {
	ctx := cmd.Context()
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	if err := errors.Join(f.stackFlags.validate(cmd), f.poolFlags.validate(), f.cipherFlags.validate(), f.embedderFlags.validate(), f.federationFlags.validate()); err != nil {
		return err
	}
	traces, err := startTracing(ctx, f.tracing(), log)
	if err != nil {
		return err
	}
	defer traces.shutdown(log) // last: after the pools, the API and the client have ended their spans
	// Take the HTTP address first: a taken address fails before anything is created.
	ln, err := listen(f.http, cmd.Flags().Changed("http"), "http", log)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := os.MkdirAll(f.dataDir, dataDirMode); err != nil {
		return fmt.Errorf("%s: %w", setting("data-dir"), err)
	}
	unlock, err := lockDataDir(f.dataDir)
	if err != nil {
		return err
	}
	defer unlock()

	st, err := startStack(ctx, cmd, &f.stackFlags, f.cipherFlags.env, log, true)
	if err != nil {
		return err
	}
	defer st.close()
	// The local PostgreSQL is this process's own: when it dies, say so at once, bring it back on
	// the same data (a few times), and when that fails stop with an error rather than serve on
	// without a database.
	pgGone := make(chan error, 1)
	liveness := map[string]api.Check{}
	if st.pg != nil {
		watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
		defer stopWatch()
		go func() {
			if err := st.pg.Watch(watchCtx, pgRestarts); err != nil {
				pgGone <- err // nil: stopped with the process
			}
		}()
		liveness["postgres"] = func(context.Context) error {
			if !st.pg.Up() {
				return errors.New("the local PostgreSQL is not running")
			}
			return nil
		}
	}

	tokenPath := filepath.Join(st.dataDir, "admin.token")
	adminToken, err := readOrCreateSecret(tokenPath)
	if err != nil {
		return err
	}
	mreg := newMetrics(st, log) // before the cipher: its calls are observed from the canary on
	k, err := openKinds(ctx, &f.cipherFlags, &f.embedderFlags, st.db, st.dataDir, mreg, log)
	if err != nil {
		return err
	}
	defer k.close()
	creds, reg := k.creds, k.registry
	var rt *mosaic.Runtime
	onDrain := func() {
		log.Info().Msg("drain requested by an operator: the pools finish what they run and stop; the API stays up")
		drainCtx, cancel := context.WithTimeout(context.Background(), f.drainTimeout)
		defer cancel()
		if err := rt.Drain(drainCtx); err != nil {
			log.Warn().Err(err).Msg("drain")
		}
	}
	rt, err = mosaic.New(f.poolFlags.runtimeConfig(st, reg, creds, mreg, traces.tracerProvider(), onDrain, &log))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rt.StopAndCancel(context.Background())) }() // nil once Stop has run
	tasks := rt.Client()
	serverURL := "http://" + ln.Addr().String()
	kb := &knowledge.Service{DB: st.db, Tasks: tasks, Embedder: k.embedder, MinSimilarity: f.floor}
	fed, err := f.federationFlags.start(ctx, cmd, st, k.cipher, tasks, kb, serverURL, mreg.ObserveFederation, log)
	if err != nil {
		return err
	}
	defer func() { fed.close() }() // on an early return; the shutdown below closes it before the client
	if err := rt.Start(ctx); err != nil {
		return err
	}
	srv, err := api.New(api.Config{
		DB:          st.db,
		Retention:   &f.poolFlags.retention,
		AdminToken:  adminToken,
		Tasks:       tasks,
		NC:          st.nc,
		Credentials: creds,
		Knowledge:   kb,
		Federation:  fed.nodeOrNil(),
		Logger:      &log,
		Metrics:     mreg,
		JS:          st.js,
		Checks: map[string]api.Check{
			"postgres":  st.db.Ping,
			"jetstream": func(ctx context.Context) error { _, err := st.js.AccountInfo(ctx); return err },
		},
		Liveness: liveness,
	})
	if err != nil {
		return err
	}
	defer srv.Close() // on return: after the HTTP server has shut down, before NATS closes
	// dev.json first, then the API: whoever finds the API answering finds dev.json too (the
	// listener is bound already, so a client that reads dev.json first waits in its backlog).
	info := devInfo{PID: os.Getpid(), Server: serverURL, NATSURL: st.natsURL, DatabaseURL: st.ownerURL, StartedAt: time.Now().UTC()}
	if err := writeJSONFile(filepath.Join(st.dataDir, "dev.json"), info); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(st.dataDir, "dev.json"))
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.Info().Str("http", serverURL).Str("nats", st.natsURL).Int("workers", f.concurrency).Msg("mosaic dev is ready")
	printBanner(info, st, fed, tokenPath, adminToken)

	var serveFailed error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case err := <-serveErr:
		serveFailed = fmt.Errorf("HTTP server: %w", err)
	case err := <-pgGone:
		log.Error().Err(err).Msg("the local PostgreSQL is gone: shutting down")
		serveFailed = err
	case <-rt.Failed():
		log.Error().Err(rt.Err()).Msg("a service stopped: shutting down") // rt.Stop returns it
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	fed.close() // before the runtime closes the client that peers' tasks are published with
	fed = nil
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), f.drainTimeout)
	defer cancelDrain()
	return errors.Join(serveFailed, rt.Stop(drainCtx))
}

// pgRestarts is how many times in a row mosaic dev restarts its local PostgreSQL before it gives up.
const pgRestarts = 3

func printBanner(info devInfo, st *stack, fed *fedRuntime, tokenPath, token string) {
	pg := "configured server"
	if st.pg != nil {
		pg = fmt.Sprintf("127.0.0.1:%d (local cluster in %s)", st.pg.Port(), filepath.Join(st.dataDir, "pg"))
	}
	nats := info.NATSURL
	if st.ns != nil {
		nats += " (embedded JetStream, store in " + filepath.Join(st.dataDir, "nats") +
			"; credentials required: mosaic nats credentials --workspace WS)"
	}
	federationLine := "off"
	if fed != nil {
		id := fed.node.Identity()
		federationLine = id.Name + ", peers connect to " + orDash(id.LeafURL) + "  (mosaic federation list)"
	}
	tokenLine := "in " + tokenPath
	if isTerminal(os.Stdout) {
		tokenLine = token + "  (also in " + tokenPath + ")"
	}
	fmt.Printf(`
Mosaic is running.
  HTTP API     %s   (/healthz, /readyz, /metrics, /v1)
  NATS         %s
  PostgreSQL   %s
  Federation   %s
  Admin token  %s
Next, in another terminal:
  bin/mosaic workspaces create demo
  bin/mosaic publish --kind demo.steps --args '{"steps":20,"step_ms":50}' --wait
Stop with Ctrl-C.

`, info.Server, nats, pg, federationLine, tokenLine)
}

// lockDataDir makes sure one `mosaic dev` at a time runs on a data directory.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "dev.lock")
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting("data-dir"), err)
	}
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fd.Close()
		return nil, fmt.Errorf("%s: another `mosaic dev` is running on %s", setting("data-dir"), dir)
	}
	return func() { fd.Close() }, nil
}

// readOrCreateSecret returns the secret in path, creating it (random, mode 0600) if missing.
func readOrCreateSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	s := hex.EncodeToString(buf)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

// natsSecretFile holds, in the data dir, the secret the embedded NATS server derives every
// password from (events.ServerAuth).
const natsSecretFile = "nats-auth.key"

// loadNATSAuth reads the embedded NATS server's secret from dataDir, creating it (as the admin
// token is: 32 random bytes, hex, mode 0600) when create is set. Without create, a missing file
// is an error wrapping fs.ErrNotExist. A file others may read is refused: whoever reads it can log
// in as any workspace's publisher, and as Mosaic itself.
func loadNATSAuth(dataDir string, create bool) (*events.ServerAuth, error) {
	path := filepath.Join(dataDir, natsSecretFile)
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("NATS secret: %w", err)
		}
	}
	secret, err := readOrCreateSecret(path)
	if err != nil {
		return nil, fmt.Errorf("NATS secret: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("NATS secret %s: permissions %v; it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	raw, err := hex.DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("NATS secret %s: not hex", path)
	}
	return events.NewServerAuth(raw)
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
