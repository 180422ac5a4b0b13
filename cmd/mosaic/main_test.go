package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/internal/pgtest"
)

// These tests run the real binary: built once, started as separate OS processes.

var mosaicBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mosaic-bin-")
	if err != nil {
		panic(err)
	}
	mosaicBin = filepath.Join(dir, "mosaic")
	out, err := exec.Command("go", "build", "-o", mosaicBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runMosaic(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runMosaicIn(t, "", env, args...)
}

// runMosaicIn runs the binary with stdin as its standard input.
func runMosaicIn(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mosaicBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// cleanEnv is the test's environment without MOSAIC_* settings, so the machine's do not leak in.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOSAIC_") {
			out = append(out, kv)
		}
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestConfigurationErrors(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	takenPort := fmt.Sprint(taken.Addr().(*net.TCPAddr).Port)

	cases := []struct {
		name    string
		env     []string
		args    []string
		want    string
		started bool // whether anything may have been started before the error
	}{
		{"malformed database URL", []string{"MOSAIC_DATABASE_URL=postgres://u:secretpw@host:notaport/db"}, []string{"dev"}, "--database-url (MOSAIC_DATABASE_URL)", false},
		{"not a postgres URL", nil, []string{"dev", "--database-url", "mysql://root@localhost/x"}, "is not a postgres:// URL", false},
		{"unreachable database", []string{"MOSAIC_DATABASE_URL=postgres://u:secretpw@127.0.0.1:1/db?connect_timeout=2"}, []string{"dev", "--nats-port", "0", "--http", "127.0.0.1:0"}, "unreachable", true},
		{"malformed NATS URL", nil, []string{"dev", "--nats-url", "http://127.0.0.1:4222"}, "--nats-url (MOSAIC_NATS_URL)", false},
		{"NATS port out of range", []string{"MOSAIC_NATS_PORT=70000"}, []string{"dev"}, "--nats-port (MOSAIC_NATS_PORT)", false},
		{"NATS port not a number", []string{"MOSAIC_NATS_PORT=abc"}, []string{"dev"}, "MOSAIC_NATS_PORT=\"abc\"", false},
		{"HTTP port in use", nil, []string{"dev", "--http", taken.Addr().String()}, "--http (MOSAIC_HTTP)", false},
		{"NATS port in use", nil, []string{"dev", "--nats-port", takenPort, "--http", "127.0.0.1:0"}, "--nats-port (MOSAIC_NATS_PORT)", true},
		{"local keyring in production", []string{"MOSAIC_ENV=production"}, []string{"dev"}, "the local keyring is not for production", false},
		{"OpenBao without auth", nil, []string{"worker", "--openbao-addr", "https://127.0.0.1:8200"}, "--openbao-token (MOSAIC_OPENBAO_TOKEN)", false},
		{"production on a single lazy replica", nil, []string{"dev", "--env", "production", "--allow-local-keyring", "--nats-port", "0", "--http", "127.0.0.1:0"}, "Jepsen", true},
		{"rotation allow-list", []string{"MOSAIC_ROTATION_HTTP_ALLOW=10.0.0.0/40"}, []string{"worker"}, "--rotation-http-allow (MOSAIC_ROTATION_HTTP_ALLOW)", false},
		{"worker streams", nil, []string{"worker", "--streams", "jobs"}, "--streams (MOSAIC_STREAMS)", false},
		{"stranded tasks' wait", nil, []string{"worker", "--stranded-after", "10s"}, "--stranded-after (MOSAIC_STRANDED_AFTER)", false},
		{"worker metrics address", []string{"MOSAIC_METRICS=9464"}, []string{"worker"}, "--metrics (MOSAIC_METRICS)", false},
		{"log level", nil, []string{"dev", "--log-level", "loud"}, "--log-level (MOSAIC_LOG_LEVEL)", false},
		{"OTLP endpoint", []string{"MOSAIC_OTEL_ENDPOINT=localhost:4318"}, []string{"worker"}, "--otel-endpoint (MOSAIC_OTEL_ENDPOINT)", false},
		{"OTLP over gRPC", []string{"OTEL_EXPORTER_OTLP_PROTOCOL=grpc"}, []string{"dev"}, "OTEL_EXPORTER_OTLP_PROTOCOL", false},
		{"empty workspace name", nil, []string{"workspaces", "create", ""}, "workspace name is empty", false},
		{"long workspace name", nil, []string{"workspaces", "create", strings.Repeat("n", 65)}, "the limit is 64", false},
		{"output format", nil, []string{"workspaces", "list", "--output", "yaml"}, "--output (MOSAIC_OUTPUT)", false},
		{"federation listener", nil, []string{"dev", "--federation-listen", "7422"}, "--federation-listen (MOSAIC_FEDERATION_LISTEN)", false},
		{"federation advertise", []string{"MOSAIC_FEDERATION_ADVERTISE=http://example.test:7422"}, []string{"dev"}, "--federation-advertise (MOSAIC_FEDERATION_ADVERTISE)", false},
		{"federation TLS half given", nil, []string{"dev", "--federation-cert", "cert.pem"}, "--federation-cert (MOSAIC_FEDERATION_CERT) and --federation-key", false},
		{"federation timeout", nil, []string{"dev", "--federation-timeout", "2h"}, "--federation-timeout (MOSAIC_FEDERATION_TIMEOUT)", false},
		{"federation listener in use", nil, []string{"dev", "--federation-listen", taken.Addr().String(), "--nats-port", "0", "--http", "127.0.0.1:0"}, "--federation-listen (MOSAIC_FEDERATION_LISTEN)", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dataDir := filepath.Join(t.TempDir(), "data")
			r := runMosaic(t, c.env, append(c.args, "--data-dir", dataDir)...)
			if r.code == 0 {
				t.Fatalf("exit 0; want an error\nstderr: %s", r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "mosaic: ") || !strings.Contains(last, c.want) {
				t.Fatalf("error line %q; want it to name %q", last, c.want)
			}
			if strings.Contains(r.stderr, "secretpw") {
				t.Fatalf("the database password leaked into the error: %s", r.stderr)
			}
			if !c.started {
				if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
					t.Fatalf("a configuration error left %s behind", dataDir)
				}
			}
		})
	}
}

// devProcess is a running `mosaic dev`.
type devProcess struct {
	cmd    *exec.Cmd
	server string
	stderr *bytes.Buffer
}

func startDev(t *testing.T, dataDir string, extra ...string) *devProcess {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(mosaicBin, append([]string{"dev", "--data-dir", dataDir, "--http", addr, "--nats-port", "0"}, extra...)...)
	cmd.Env = cleanEnv()
	stderr := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devProcess{cmd: cmd, server: "http://" + addr, stderr: stderr}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(d.server + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("mosaic dev not ready after 60s:\n%s", stderr)
	return nil
}

func TestDevSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)

	resp, err := http.Get(dev.server + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if ready.Status != "ready" || ready.Checks["postgres"] != "ok" || ready.Checks["jetstream"] != "ok" {
		t.Fatalf("readyz: %+v", ready)
	}

	r := runMosaic(t, nil, "workspaces", "create", "demo", "--output", "json", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	var created struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Name != "demo" || !strings.HasPrefix(created.APIKey, "mosk_") {
		t.Fatalf("workspaces create printed %q (%v)", r.stdout, err)
	}

	// The newcomer's first task, from the CLI, waited for.
	r = runMosaic(t, nil, "publish", "--kind", "demo.steps", "--args", `{"steps":20,"step_ms":50}`, "--wait", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "status     succeeded") || !strings.Contains(r.stdout, `"executed":20`) {
		t.Fatalf("publish --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "publish", "--kind", "demo.steps", "--args", `{"steps":1,"fail_at":1,"fail_mode":"permanent"}`, "--wait", "--data-dir", dataDir)
	if r.code != 5 || !strings.Contains(r.stderr, "ended dead") {
		t.Fatalf("publish --wait of a failing task: exit %d (want 5), %s", r.code, r.stderr)
	}
	r = runMosaic(t, nil, "dlq", "summary", "--output", "json", "--data-dir", dataDir)
	var summary struct {
		Items []struct {
			Reason, Kind    string
			Count, Replayed int
		} `json:"items"`
		Next *string `json:"next"`
	}
	err = json.Unmarshal([]byte(r.stdout), &summary)
	groups := summary.Items
	if err != nil || summary.Next != nil || len(groups) != 1 || groups[0].Reason != "permanent" ||
		groups[0].Kind != "demo.steps" || groups[0].Count != 1 || groups[0].Replayed != 0 {
		t.Fatalf("dlq summary: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Every list has one JSON shape: items, and what --cursor takes for the next page.
	r = runMosaic(t, nil, "tasks", "list", "--limit", "1", "--output", "json", "--data-dir", dataDir)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Items) != 1 || page.Next == nil {
		t.Fatalf("tasks list --limit 1: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "tasks", "list", "--limit", "1", "--cursor", *page.Next, "--output", "json", "--data-dir", dataDir)
	first := page.Items[0].ID
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Items) != 1 || page.Items[0].ID == first {
		t.Fatalf("tasks list, the next page: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A wrong API key: one clear line, exit ≠ 0.
	r = runMosaic(t, []string{"MOSAIC_API_KEY=" + created.APIKey[:len(created.APIKey)-4] + "AAAA"},
		"workspaces", "limit", created.ID, "--max-concurrency", "2", "--data-dir", dataDir)
	if r.code != 4 || !strings.Contains(r.stderr, "invalid, revoked or expired API key") {
		t.Fatalf("wrong API key: %d (want 4) %q", r.code, r.stderr)
	}

	r = runMosaic(t, nil, "federation", "identity", "--output", "json", "--data-dir", dataDir)
	var identity struct {
		ID        string `json:"id"`
		PublicKey string `json:"public_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &identity); err != nil || !strings.HasPrefix(identity.PublicKey, "N") {
		t.Fatalf("federation identity: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// SIGKILL, then start again on the same data directory: everything is still there.
	if err := dev.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = dev.cmd.Wait()
	dev = startDev(t, dataDir)
	r = runMosaic(t, nil, "workspaces", "list", "--output", "json", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, created.ID) {
		t.Fatalf("after SIGKILL and restart, workspaces list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "federation", "identity", "--output", "json", "--data-dir", dataDir); !strings.Contains(r.stdout, identity.PublicKey) || !strings.Contains(r.stdout, identity.ID) {
		t.Fatalf("the instance identity changed across a restart: %s", r.stdout)
	}

	// SIGTERM: a clean stop with exit code 0.
	if err := dev.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dev.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, dev.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("mosaic dev did not stop within 60s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "dev.json")); !os.IsNotExist(err) {
		t.Fatal("dev.json outlived a clean stop")
	}
}

// TestDevRestartsItsPostgreSQL kills the local PostgreSQL that mosaic dev started: /healthz fails
// at once (naming the check, not the connection), the server comes back on the same data and
// port and /healthz and /readyz pass again; killed once more each time it is back, it is restarted
// three times, and then mosaic dev gives up and exits non-zero. The log has one ERROR line per
// death with its exit status, and does not claim a clean stop.
func TestDevRestartsItsPostgreSQL(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	exited := make(chan error, 1)
	go func() { exited <- dev.cmd.Wait() }()

	health := func() (int, string) {
		resp, err := http.Get(dev.server + "/healthz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The postmaster: the postgres process started with "-p <port>" of dev.json's database URL
	// (as root, the cluster may live outside the data directory).
	var info struct {
		DatabaseURL string `json:"database_url"`
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "dev.json")); err != nil || json.Unmarshal(b, &info) != nil {
		t.Fatalf("dev.json: %v", err)
	}
	cfg, err := pgx.ParseConfig(info.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	postmaster := func() int {
		want := "\x00-p\x00" + strconv.Itoa(int(cfg.Port)) + "\x00"
		files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(b), want) || !strings.Contains(filepath.Base(strings.SplitN(string(b), "\x00", 2)[0]), "postgres") {
				continue
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			return pid
		}
		t.Fatalf("no postgres process on port %d", cfg.Port)
		return 0
	}
	waitHealth := func(want int) string {
		deadline := time.Now().Add(45 * time.Second)
		for time.Now().Before(deadline) {
			if code, body := health(); code == want {
				return body
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("/healthz never answered %d", want)
		return ""
	}

	for kill := 1; kill <= 4; kill++ {
		if err := syscall.Kill(postmaster(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if kill == 4 {
			break
		}
		body := waitHealth(http.StatusServiceUnavailable)
		if !strings.Contains(body, `"postgres":"failing"`) || strings.Contains(body, "postgres://") || strings.Contains(body, "mosaic_owner") {
			t.Fatalf("/healthz while PostgreSQL is down: %s; want the check named, and no connection details", body)
		}
		waitHealth(http.StatusOK)
		if resp, err := http.Get(dev.server + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz after restart %d: %v %v", kill, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Fatal("mosaic dev exited 0 after losing its PostgreSQL for good")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("mosaic dev still runs after its PostgreSQL died a fourth time")
	}
	log := dev.stderr.String()
	if n := strings.Count(log, "PostgreSQL exited unexpectedly"); n != 4 {
		t.Errorf("%d ERROR lines for the deaths; want 4:\n%s", n, log)
	}
	if !strings.Contains(log, "signal: killed") || strings.Count(log, "PostgreSQL restarted") != 3 ||
		!strings.Contains(log, "the local PostgreSQL is gone") || strings.Contains(log, "PostgreSQL stopped") {
		t.Errorf("log: want the exit status, three restarts, the give-up line and no clean stop:\n%s", log)
	}
}

// TestDevRunsAsANonOwnerLogin: the running system of mosaic dev logs in to its local PostgreSQL as
// mosaic_runtime, a member of the runtime role that is neither the owner nor privileged, as
// production does: no statement it runs can RESET ROLE to the owner's powers (the owner could
// turn row-level security off).
func TestDevRunsAsANonOwnerLogin(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	var info struct {
		DatabaseURL string `json:"database_url"`
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "dev.json")); err != nil || json.Unmarshal(b, &info) != nil {
		t.Fatalf("dev.json: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, info.DatabaseURL) // the owner's URL
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The API answers through the pool; its sessions show who they are.
	if resp, err := http.Get(dev.server + "/readyz"); err == nil {
		resp.Body.Close()
	}
	var runtimeSessions, ownerSessions int
	var super, bypass, owns, isOwnerMember bool
	err = conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND usename = 'mosaic_runtime'),
			(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND usename = 'mosaic_owner' AND pid <> pg_backend_pid()),
			r.rolsuper, r.rolbypassrls,
			EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid),
			pg_has_role(r.oid, 'mosaic_owner', 'MEMBER')
		FROM pg_roles r WHERE r.rolname = 'mosaic_runtime'`).Scan(&runtimeSessions, &ownerSessions, &super, &bypass, &owns, &isOwnerMember)
	if err != nil {
		t.Fatal(err)
	}
	if runtimeSessions == 0 || ownerSessions != 0 || super || bypass || owns || isOwnerMember {
		t.Fatalf("runtime sessions %d, owner sessions %d; mosaic_runtime superuser %v, bypassrls %v, owns objects %v, member of the owner %v",
			runtimeSessions, ownerSessions, super, bypass, owns, isOwnerMember)
	}
}

// TestProductionRefusesAnOpenNATS: with --env production, a worker refuses a NATS server that
// lets clients in without credentials (anyone who reaches it could read and publish every
// workspace's tasks), and says so.
func TestProductionRefusesAnOpenNATS(t *testing.T) {
	t.Parallel()
	open, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go open.Start()
	if !open.ReadyForConnections(10 * time.Second) {
		t.Fatal("the open NATS server did not start")
	}
	t.Cleanup(open.Shutdown)
	r := runMosaic(t, nil, "worker", "--env", "production", "--allow-local-keyring", "--allow-unsafe-durability",
		"--nats-url", open.ClientURL(), "--database-url", pgtest.OwnerURL(t), "--data-dir", t.TempDir())
	if r.code == 0 || !strings.Contains(r.stderr, "lets clients in without credentials") {
		t.Fatalf("exit %d; want a refusal of the open NATS server\nstderr: %s", r.code, r.stderr)
	}
}

// TestDevNATSRequiresCredentials: mosaic dev's embedded NATS server refuses a client without
// credentials; `mosaic nats credentials` prints a workspace publisher's, from a secret the data dir
// keeps readable by its owner only; with them, a raw NATS publish runs a task in that workspace.
func TestDevNATSRequiresCredentials(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	startDev(t, dataDir)
	r := runMosaic(t, nil, "workspaces", "create", "raw", "--output", "json", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	var ws struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ws); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dataDir, "nats-auth.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the NATS secret: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	r = runMosaic(t, nil, "nats", "credentials", "--workspace", ws.ID, "--output", "json", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("nats credentials: %d %s", r.code, r.stderr)
	}
	var creds struct {
		URL, User, Password string
	}
	if err := json.Unmarshal([]byte(r.stdout), &creds); err != nil || creds.URL == "" || creds.User != "pub-"+ws.ID || creds.Password == "" {
		t.Fatalf("nats credentials printed %q (%v)", r.stdout, err)
	}
	if nc, err := nats.Connect(creds.URL, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected to mosaic dev's NATS without credentials")
	}
	// A secret others may read is refused (whoever reads it logs in as anyone), and taken again
	// once it is private.
	secretPath := filepath.Join(dataDir, "nats-auth.key")
	if err := os.Chmod(secretPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runMosaic(t, nil, "nats", "credentials", "--workspace", ws.ID, "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "chmod 600") {
		t.Fatalf("a world-readable NATS secret: exit %d, %s; want refused", r.code, r.stderr)
	}
	if err := os.Chmod(secretPath, 0o600); err != nil {
		t.Fatal(err)
	}
	if again := runMosaic(t, nil, "nats", "credentials", "--workspace", ws.ID, "--output", "json", "--data-dir", dataDir); again.stdout != r.stdout {
		t.Fatalf("the credentials changed between two reads of the same secret:\n%s\n%s", r.stdout, again.stdout)
	}

	nc, err := nats.Connect(creds.URL, nats.UserInfo(creds.User, creds.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New().String()
	env := fmt.Sprintf(`{"id":%q,"workspace_id":%q,"kind":"demo.echo","args":{"message":"raw"}}`, id, ws.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "mosaic.tasks.p5."+ws.ID+".demo.echo", []byte(env)); err != nil {
		t.Fatalf("publish with the workspace's credentials: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r = runMosaic(t, nil, "tasks", "get", id, "--workspace", ws.ID, "--output", "json", "--data-dir", dataDir)
		if r.code == 0 && strings.Contains(r.stdout, `"status": "succeeded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the raw task did not succeed: %s %s", r.stdout, r.stderr)
		}
	}
}

// TestUnknownSubcommandIsAnError: a subcommand a group does not have is an error (exit non-zero)
// with the closest ones on lines of their own, not the group's help and exit 0; and the help of
// a flag whose text names `mosaic dev` keeps its value placeholder ("string"), not "mosaic dev".
func TestUnknownSubcommandIsAnError(t *testing.T) {
	t.Parallel()
	r := runMosaic(t, nil, "tasks", "lst")
	if r.code == 0 || !strings.Contains(r.stderr, `mosaic: unknown command "lst" for "mosaic tasks"`) ||
		!regexp.MustCompile(`(?m)^\s+list$`).MatchString(r.stderr) {
		t.Fatalf("mosaic tasks lst: exit %d\n%s", r.code, r.stderr)
	}
	if r := runMosaic(t, nil, "tasks"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Fatalf("mosaic tasks alone: exit %d, %s", r.code, r.stdout)
	}
	r = runMosaic(t, nil, "tasks", "list", "--help")
	if r.code != 0 || strings.Contains(r.stdout, "--data-dir mosaic dev") || strings.Contains(r.stdout, "--server mosaic dev") ||
		!strings.Contains(r.stdout, "--server string") {
		t.Fatalf("mosaic tasks list --help: the placeholders:\n%s", r.stdout)
	}
}

// TestExitCodes: usage errors exit 2, an unreachable server 3, a missing or malformed key 4
// (a refused key, 4, and a task that ended dead under --wait, 5, are checked against a running
// mosaic dev in TestDevSurvivesSIGKILL); and variables fill connection settings, never a command's
// own options.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	key := []string{"MOSAIC_API_KEY=mosk_" + strings.Repeat("a", 32) + "_" + strings.Repeat("A", 43)}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"unknown subcommand", nil, []string{"tasks", "lst"}, 2},
		{"unknown flag", nil, []string{"tasks", "list", "--bogus"}, 2},
		{"missing argument", nil, []string{"tasks", "get"}, 2},
		{"missing required flag", nil, []string{"publish"}, 2},
		{"a command's own option from a variable", []string{"MOSAIC_KIND=demo.echo"}, []string{"publish"}, 2},
		{"bad value of a server setting", []string{"MOSAIC_NATS_PORT=abc"}, []string{"dev"}, 2},
		{"bad value of a connection setting", []string{"MOSAIC_OUTPUT=yaml"}, []string{"tasks", "list"}, 2},
		{"a time that is neither RFC 3339 nor a duration", key, []string{"tasks", "list", "--since", "yesterday", "--server", "http://127.0.0.1:1"}, 2},
		{"unreachable server", key, []string{"tasks", "list", "--server", "http://127.0.0.1:1"}, 3},
		{"malformed key", []string{"MOSAIC_API_KEY=nope"}, []string{"tasks", "list", "--server", "http://127.0.0.1:1"}, 4},
		{"no admin token", nil, []string{"workspaces", "list", "--data-dir", t.TempDir()}, 4},
	} {
		if r := runMosaic(t, c.env, c.args...); r.code != c.code {
			t.Errorf("%s: mosaic %v exited %d, want %d: %s", c.name, c.args, r.code, c.code, r.stderr)
		}
	}
}

// TestVersion: `mosaic version` and `mosaic --version` print the version, the commit and the Go
// version; a build that sets them (make build, from git) shows its own.
func TestVersion(t *testing.T) {
	plain := runMosaic(t, nil, "version")
	flag := runMosaic(t, nil, "--version")
	platform := goruntime.GOOS + "/" + goruntime.GOARCH
	if plain.code != 0 || !strings.HasPrefix(plain.stdout, "mosaic ") || !strings.Contains(plain.stdout, goruntime.Version()+" "+platform) {
		t.Fatalf("mosaic version: %d %q %q", plain.code, plain.stdout, plain.stderr)
	}
	if flag.code != 0 || flag.stdout != plain.stdout {
		t.Fatalf("mosaic --version: %d %q, want %q", flag.code, flag.stdout, plain.stdout)
	}
	var v struct{ Version, Go, Platform string }
	if r := runMosaic(t, nil, "version", "-o", "json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.Go != goruntime.Version() || v.Platform != platform || v.Version == "" {
		t.Fatalf("mosaic version -o json: %d %q", r.code, r.stdout)
	}

	stamped := filepath.Join(t.TempDir(), "mosaic")
	const commit = "0123456789abcdef0123456789abcdef01234567"
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7 -X main.commit="+commit, "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(stamped, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "mosaic v9.8.7 (commit "+commit+")") {
		t.Fatalf("a stamped build's version: %q %v", out, err)
	}
}
