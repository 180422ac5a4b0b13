package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
	"github.com/mosaicstack/mosaic/store/localpg"
)

// These tests restart the infrastructure under running `mosaic worker` processes: PostgreSQL
// and NATS go away for a few seconds and come back on the same port and the same data. The
// workers must ride it out (reconnect, not exit) and every task must still end exactly once.
// Each test runs its own PostgreSQL cluster and NATS server, so that stopping them touches no
// other test.

// restartEnv is a workerEnv on a PostgreSQL and a NATS server of the test's own.
type restartEnv struct {
	*workerEnv
	pgDir    string
	pg       *localpg.Server
	pgPort   int
	natsDir  string
	nats     *events.Server
	natsPort int
	natsAuth *events.ServerAuth
}

func newRestartEnv(t *testing.T) *restartEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := &restartEnv{pgDir: t.TempDir(), natsDir: t.TempDir()}

	var err error
	if e.pg, err = localpg.Start(ctx, localpg.Config{Dir: e.pgDir, Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	e.pgPort = e.pg.Port()
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		if e.pg != nil {
			_ = e.pg.Destroy(stopCtx)
		}
	})
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	password := hex.EncodeToString(b)
	if err := store.Provision(ctx, e.pg.SuperuserURL("postgres"), store.Provisioning{Database: "mosaic_restart", Owner: "mosaic_owner", OwnerPassword: password}); err != nil {
		t.Fatal(err)
	}
	ownerURL := e.pg.URL("mosaic_owner", password, "mosaic_restart")
	mig, err := store.NewMigrator(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mig.Up(ctx)
	mig.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Config{URL: ownerURL, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)

	e.natsAuth = events.GenerateServerAuth()
	if e.nats, err = events.StartServer(events.ServerConfig{StoreDir: e.natsDir, Port: -1, Auth: e.natsAuth}); err != nil {
		t.Fatal(err)
	}
	e.natsPort = e.nats.Port()
	t.Cleanup(func() {
		if e.nats != nil {
			e.nats.Shutdown()
		}
	})
	nc, js, err := events.Connect(ctx, e.nats.SystemConn(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{})); err != nil {
		t.Fatal(err)
	}

	w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "w-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	reg := agents.NewRegistry()
	demo.Register(reg)
	client, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	e.workerEnv = &workerEnv{db: db, ws: w.ID, client: client,
		env: []string{"MOSAIC_DATABASE_URL=" + ownerURL, "MOSAIC_NATS_URL=" + e.nats.ClientURL(), "MOSAIC_NATS_USER=" + e.nats.SystemConn("").User, "MOSAIC_NATS_PASSWORD=" + e.nats.SystemConn("").Password, "MOSAIC_LOG_FORMAT=json"}}
	return e
}

// restartPostgres stops the cluster (fast shutdown), leaves it down for outage, and starts it
// again on the same directory and port.
func (e *restartEnv) restartPostgres(t *testing.T, outage time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.pg.Stop(ctx); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
	e.pg = nil
	time.Sleep(outage)
	pg, err := localpg.Start(ctx, localpg.Config{Dir: e.pgDir, Port: e.pgPort, Ephemeral: true})
	if err != nil {
		t.Fatalf("restart PostgreSQL on port %d: %v", e.pgPort, err)
	}
	e.pg = pg
}

// restartNATS shuts the server down, leaves it down for outage, and starts a new one on the same
// port and store directory.
func (e *restartEnv) restartNATS(t *testing.T, outage time.Duration) {
	t.Helper()
	e.nats.Shutdown()
	e.nats = nil
	time.Sleep(outage)
	var srv *events.Server
	var err error
	// The port may take a moment to be free again; a bounded retry, not a timing assumption.
	deadline := time.Now().Add(15 * time.Second)
	for {
		srv, err = events.StartServer(events.ServerConfig{StoreDir: e.natsDir, Port: e.natsPort, Auth: e.natsAuth})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart NATS on port %d: %v", e.natsPort, err)
	}
	e.nats = srv
}

// statuses reads every task's status; during an outage reads fail, and that is not an error:
// ok is false then.
func (e *restartEnv) statuses(ids []uuid.UUID) (succeeded, terminal int, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		task, err := e.db.GetTask(ctx, e.ws, id)
		if err != nil {
			return 0, 0, false
		}
		if task.Status == store.StatusSucceeded {
			succeeded++
		}
		if store.Terminal(task.Status) {
			terminal++
		}
	}
	return succeeded, terminal, true
}

// runRestartUnderLoad runs tasks on two worker processes, calls restart once some have
// succeeded, and checks that every task ended exactly once and that both workers are still
// running.
func runRestartUnderLoad(t *testing.T, what string, restart func(e *restartEnv)) {
	const tasks, steps, stepMS, workers = 300, 5, 50, 2
	e := newRestartEnv(t)
	procs := make([]*workerProc, workers)
	for i := range procs {
		procs[i] = e.startWorker(t, "--name", fmt.Sprintf("r%d", i), "--concurrency", "8", "--ack-wait", "5s", "--heartbeat", "500ms")
	}
	e.waitAgentsRunning(t, workers)
	ids := e.publishSteps(t, tasks, steps, stepMS)

	// Restart once the run is under way: some tasks done, most still to come.
	e.waitFor(t, "the first tasks to succeed", 30*time.Second, func() bool {
		s, _, ok := e.statuses(ids)
		return ok && s >= 20
	})
	before, _, _ := e.statuses(ids)
	restart(e)
	restarts := 1

	deadline := time.Now().Add(75 * time.Second)
	for {
		_, done, ok := e.statuses(ids)
		if ok && done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks ended within 75s of the %s restart", done, len(ids), what)
		}
		time.Sleep(250 * time.Millisecond)
	}

	v := e.exactlyOnce(t, ids, steps)
	lost, doubled, badSteps, reruns := v.lost, v.doubled, v.badSteps, v.reruns
	exited := 0
	for i, p := range procs {
		select {
		case <-p.done:
			exited++
			t.Errorf("worker r%d exited during the %s restart: %v\n%s", i, what, p.err, p.stderr)
		default:
		}
	}
	// The agent registry shows every live worker running: an outage of the database must not
	// leave them marked lost (the new supervisor leader waits for their beats; an agent marked
	// lost while alive joins again).
	running := map[string]bool{}
	list, err := e.db.ListAgents(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.State == store.AgentRunning {
			running[a.Name] = true
		}
	}
	for i := range procs {
		if name := fmt.Sprintf("r%d", i); !running[name] {
			t.Errorf("%s restart: worker %s is alive but not running in the agent registry: %+v", what, name, list)
		}
	}
	// Stop the survivors cleanly (SIGTERM drains) and read what they said about the outage: a
	// process's log is only read once it has exited.
	warnings := map[string]int{}
	for i, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("worker r%d did not stop within 30s of SIGTERM", i)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			var l struct{ Level, Message, Error string }
			if json.Unmarshal([]byte(line), &l) == nil && (l.Level == "warn" || l.Level == "error") {
				warnings[l.Level+": "+l.Message]++
				if warnings[l.Level+": "+l.Message] == 1 && strings.Contains(l.Message, "lost") {
					t.Logf("worker r%d: %s", i, line)
				}
			}
		}
	}
	t.Logf("%s restart: worker warnings and errors: %v", what, warnings)
	t.Logf("%s restart verdict: %d tasks on %d workers, %d restart(s) of %s (%d tasks had succeeded before); %d ran again; lost %d, doubled %d, inconsistent step counts %d; workers exited %d",
		what, tasks, workers, restarts, what, before, reruns, lost, doubled, badSteps, exited)
	if lost+doubled+badSteps > 0 {
		t.Fatalf("not exactly once: lost %d, doubled %d, inconsistent %d", lost, doubled, badSteps)
	}
}

func TestRestartPostgresUnderLoad(t *testing.T) {
	runRestartUnderLoad(t, "PostgreSQL", func(e *restartEnv) { e.restartPostgres(t, 3*time.Second) })
}

func TestRestartNATSUnderLoad(t *testing.T) {
	runRestartUnderLoad(t, "NATS", func(e *restartEnv) { e.restartNATS(t, 3*time.Second) })
}

// TestRestartDevPostgresFreeze freezes the local PostgreSQL of `mosaic dev` (SIGSTOP on the
// postmaster and its backends) and checks /readyz says so, then says ready again once it thaws.
func TestRestartDevPostgresFreeze(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	postmaster := devPostmaster(t, dataDir, dev.cmd.Process.Pid)
	frozen := append([]int{postmaster}, childPIDs(postmaster)...)
	thaw := func() {
		for _, pid := range frozen {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw) // never leave a stopped cluster behind
	for _, pid := range frozen {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
	client := &http.Client{Timeout: 15 * time.Second}
	readyz := func() (int, map[string]string) {
		resp, err := client.Get(dev.server + "/readyz")
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var body struct {
			Checks map[string]string `json:"checks"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Checks
	}
	var during map[string]string
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, checks := readyz()
		if code == http.StatusServiceUnavailable && checks["postgres"] != "" && checks["postgres"] != "ok" {
			during = checks
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never reported PostgreSQL down while it was frozen (last: %d %v)", code, checks)
		}
		time.Sleep(200 * time.Millisecond)
	}
	thaw()
	deadline = time.Now().Add(30 * time.Second)
	var code int
	var after map[string]string
	for {
		code, after = readyz()
		if code == http.StatusOK && after["postgres"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not ready again after PostgreSQL thawed: %d %v\n%s", code, after, dev.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := dev.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("mosaic dev exited: %v", err)
	}
	t.Logf("dev PostgreSQL freeze verdict: %d processes frozen; during: 503 postgres=%q; after: %d %v", len(frozen), during["postgres"], code, after)
}

// devPostmaster finds the PostgreSQL server of `mosaic dev`: from postmaster.pid under
// <data-dir>/pg, else (the cluster lives elsewhere when its server user cannot reach the data
// directory) as the postgres child of the dev process.
func devPostmaster(t *testing.T, dataDir string, devPID int) int {
	t.Helper()
	for _, f := range []string{filepath.Join(dataDir, "pg", "data", "postmaster.pid"), filepath.Join(dataDir, "pg", "postmaster.pid")} {
		if b, err := os.ReadFile(f); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 0 {
				return pid
			}
		}
	}
	for _, pid := range childPIDs(devPID) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "postgres" {
			return pid
		}
	}
	t.Fatalf("no PostgreSQL server found for mosaic dev (pid %d) on %s", devPID, dataDir)
	return 0
}

// childPIDs lists the processes whose parent is pid (from /proc).
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range entries {
		child, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) >= 2 {
			if ppid, err := strconv.Atoi(fields[1]); err == nil && ppid == pid {
				out = append(out, child)
			}
		}
	}
	return out
}
