package localpg_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/store/localpg"
)

func start(t *testing.T, dir string) *localpg.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := localpg.Start(ctx, localpg.Config{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Destroy(context.Background()) })
	return s
}

func exec1(t *testing.T, s *localpg.Server, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.SuperuserURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var out string
	if strings.HasPrefix(sql, "SELECT") {
		if err := conn.QueryRow(ctx, sql).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
	return ""
}

func stop(t *testing.T, s *localpg.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	exec1(t, s, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
	stop(t, s)
	s = start(t, dir)
	if got := exec1(t, s, "SELECT v FROM kept"); got != "still here" {
		t.Fatalf("after restart: %q", got)
	}
}

func TestStalePidFileIsCleared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	stop(t, s)
	// A pid file left by a server that died without removing it, naming a process that is gone.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(s.DataDir(), "postmaster.pid")
	stale := fmt.Sprintf("%d\n%s\n0\n5432\n\n127.0.0.1\n0 0\nready\n", dead.Process.Pid, s.DataDir())
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	s = start(t, dir)
	exec1(t, s, "SELECT 1")
}

// A server from an earlier run that outlived its parent (started here by pg_ctl, which detaches
// it) still holds the data directory: Start stops it and starts its own.
func TestServerLeftRunningIsReplaced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	stop(t, s)
	bin := filepath.Dir(postgresBinary(t))
	pgctl := fmt.Sprintf("%s/pg_ctl -D %s -l %s/orphan.log -w -o '-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=' start",
		bin, s.DataDir(), filepath.Dir(s.DataDir()), s.Port())
	cmd := exec.Command("sh", "-c", pgctl)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("no postgres user to run pg_ctl as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(s.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	orphan, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	s = start(t, dir)
	exec1(t, s, "SELECT 1")
	if alive(orphan) {
		t.Fatalf("the orphaned server (pid %d) is still running", orphan)
	}
}

func postgresBinary(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if env := os.Getenv("MOSAIC_PG_BIN"); env != "" {
		return filepath.Join(env, "postgres")
	}
	if len(dirs) > 0 {
		return dirs[len(dirs)-1]
	}
	p, err := exec.LookPath("postgres")
	if err != nil {
		t.Skip("no postgres binary")
	}
	return p
}

// alive reports whether pid runs (a zombie awaiting its reaper does not count).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
