package localpg

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// Superuser is the name of the cluster's superuser role.
const Superuser = "postgres"

// Config says where and how to run the cluster.
type Config struct {
	// Dir holds the cluster (data/, postgres.log, superuser.password). Required.
	Dir string
	// BinDir is the directory of initdb and postgres. Empty: MOSAIC_PG_BIN, then the newest
	// /usr/lib/postgresql/*/bin, then PATH.
	BinDir string
	// Port to listen on (127.0.0.1). 0 picks a free port at every start.
	Port int
	// Ephemeral trades durability for speed (fsync, full_page_writes and synchronous_commit
	// off): for tests and benchmarks whose data may be lost in a crash.
	Ephemeral bool
	// MaxConnections is the server's max_connections. Default 200.
	MaxConnections int
	// Settings are further server settings (name → value), e.g. shared_preload_libraries for a
	// benchmark that reads pg_stat_statements.
	Settings map[string]string
	// Logger receives what the cluster's lifecycle does. Default: no logging.
	Logger *zerolog.Logger
}

// Server is a running cluster.
type Server struct {
	cfg      Config
	dataDir  string
	port     int
	password string
	bin      string
	runAs    *osUser
	logPath  string
	stopOnce sync.Once
	stopErr  error
	log      zerolog.Logger
	up       atomic.Bool // serving: started and not exited since

	mu       sync.Mutex // guards the fields below, which a restart replaces
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error // how the last process ended
	stopping bool
}

// Start initialises the cluster if it is new and starts its server; it returns once the server
// accepts connections. A server left running on the same directory by an earlier process is
// stopped first; a stale postmaster.pid is removed.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("localpg: Config.Dir is required")
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 200
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	bin, err := findBinDir(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: data directory %q: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localpg: create data directory: %w", err)
	}
	runAs, err := serverUser()
	if err != nil {
		return nil, err
	}
	clusterDir := dir
	if runAs != nil && !reachable(filepath.Dir(dir), runAs) {
		// The unprivileged server user cannot reach this directory (e.g. one below /root): keep
		// the cluster in a directory it can reach, stable for this data directory.
		sweepOrphans(log)
		clusterDir = filepath.Join(os.TempDir(), clusterPrefix+shortHash(dir))
		log.Warn().Str("data_dir", dir).Str("cluster_dir", clusterDir).Str("server_user", runAs.name).
			Msg("PostgreSQL's server user cannot reach the data directory; the cluster lives elsewhere")
		if err := os.MkdirAll(clusterDir, 0o700); err != nil {
			return nil, fmt.Errorf("localpg: create cluster directory: %w", err)
		}
		if err := os.WriteFile(filepath.Join(clusterDir, originFile), []byte(dir), 0o600); err != nil {
			return nil, fmt.Errorf("localpg: record the cluster's data directory: %w", err)
		}
	}
	if runAs != nil {
		if err := os.Chown(clusterDir, runAs.uid, runAs.gid); err != nil {
			return nil, fmt.Errorf("localpg: hand the cluster directory to %s: %w", runAs.name, err)
		}
	}
	s := &Server{cfg: cfg, dataDir: filepath.Join(clusterDir, "data"), log: log}
	if s.password, err = ensurePassword(filepath.Join(dir, "superuser.password")); err != nil {
		return nil, err
	}
	if err := s.initdb(ctx, bin, runAs); err != nil {
		return nil, err
	}
	if err := s.clearStale(ctx); err != nil {
		return nil, err
	}
	s.bin, s.runAs, s.logPath = bin, runAs, filepath.Join(clusterDir, "postgres.log")
	if err := s.start(ctx, bin, runAs, s.logPath); err != nil {
		return nil, err
	}
	return s, nil
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// URL is a connection URL for a role, password and database of this server.
func (s *Server) URL(role, password, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(role, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SuperuserURL connects as the cluster's superuser to a database.
func (s *Server) SuperuserURL(database string) string {
	return s.URL(Superuser, s.password, database)
}

// Pid is the postmaster's process id (0 before Start): its children are the server's backends.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Exited is closed when the current server process has exited, for whatever reason.
func (s *Server) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// Up reports whether the server is serving: started, and not exited since.
func (s *Server) Up() bool { return s.up.Load() }

// ErrGone: the server exited on its own and could not be brought back.
var ErrGone = errors.New("localpg: PostgreSQL exited and could not be restarted")

// Watch keeps the server up until ctx ends or Stop is called. When the server exits on its own (a
// crash, a kill, an administrator), it logs one ERROR line with the exit status and the last lines
// of the server's log, and starts it again on the same data and port: up to restarts times in a
// row, 1 s, 2 s, 4 s … apart (a start that serves again for a minute resets the count). When it
// cannot, it returns ErrGone (wrapped, with the last start's error).
func (s *Server) Watch(ctx context.Context, restarts int) error {
	failures := 0
	lastStart := time.Now()
	for {
		exited := s.Exited()
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
		}
		s.mu.Lock()
		stopping, exitErr := s.stopping, s.exitErr
		s.mu.Unlock()
		if stopping {
			return nil
		}
		if time.Since(lastStart) >= time.Minute {
			failures = 0 // it had recovered: a new incident
		}
		status := "exit status 0"
		if exitErr != nil {
			status = exitErr.Error()
		}
		s.log.Error().Str("status", status).Str("log", s.logPath).Str("log_tail", lastLines(s.logPath, 5)).
			Msg("PostgreSQL exited unexpectedly; restarting it on the same data")
		for {
			if failures >= restarts {
				return fmt.Errorf("%w: %s after %d restarts", ErrGone, status, restarts)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second << failures):
			}
			failures++
			err := s.clearStale(ctx)
			if err == nil {
				err = s.start(ctx, s.bin, s.runAs, s.logPath)
			}
			if err != nil {
				status = err.Error()
				s.log.Error().Err(err).Int("restart", failures).Msg("PostgreSQL did not restart")
				continue
			}
			s.log.Warn().Int("restart", failures).Msg("PostgreSQL restarted")
			lastStart = time.Now()
			break
		}
	}
}

// Stop shuts the server down (fast shutdown: open transactions roll back, data is kept) and waits
// for it to exit, up to ctx's deadline; then it kills it.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopping = true
		cmd, exited := s.cmd, s.exited
		s.mu.Unlock()
		if !s.up.Load() {
			select {
			case <-exited:
				s.log.Warn().Int("port", s.port).Msg("PostgreSQL was not running at shutdown")
				return
			default:
			}
		}
		if halt(ctx, cmd, exited) {
			s.stopErr = fmt.Errorf("localpg: server did not stop in time: %w", ctx.Err())
		}
		s.log.Info().Int("port", s.port).Msg("PostgreSQL stopped")
	})
	return s.stopErr
}

// Destroy stops the server, as Stop does, and removes its cluster's files: the data directory
// given in Config.Dir and, when the cluster lives elsewhere (a server user that cannot reach Dir:
// Start), that directory too — for a cluster that was only ever temporary (tests, benchmarks),
// which would otherwise leave a cluster behind in the system's temporary directory on each run.
func (s *Server) Destroy(ctx context.Context) error {
	err := s.Stop(ctx)
	dir, absErr := filepath.Abs(s.cfg.Dir)
	return errors.Join(err, absErr, os.RemoveAll(filepath.Dir(s.dataDir)), os.RemoveAll(dir))
}

// clusterPrefix names the directories, in the system's temporary directory, of clusters kept apart
// from a data directory their server user cannot reach; originFile, in each, names that data
// directory.
const (
	clusterPrefix = "mosaic-pg-"
	originFile    = "origin"
)

// sweepOrphans removes the clusters kept apart for a data directory that was itself temporary (in
// the system's temporary directory) and is gone, and whose server is not running: a test's or a
// benchmark's, stopped without Destroy (a process killed, a command run on a test's temporary
// directory). Such a cluster can never be used again (its superuser password was in the data
// directory); one for a data directory elsewhere is never touched.
func sweepOrphans(log zerolog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterPrefix+"*"))
	for _, c := range dirs {
		origin, err := os.ReadFile(filepath.Join(c, originFile))
		if err != nil || !strings.HasPrefix(string(origin), os.TempDir()+string(filepath.Separator)) {
			continue
		}
		if _, err := os.Stat(string(origin)); !os.IsNotExist(err) {
			continue
		}
		if pid, _ := postmasterPID(filepath.Join(c, "data")); pid > 0 && isPostgres(pid) {
			continue // still running: its owner will stop it
		}
		if err := os.RemoveAll(c); err == nil {
			log.Info().Str("cluster_dir", c).Str("data_dir", string(origin)).Msg("removed the cluster of a temporary data directory that is gone")
		}
	}
}

// postmasterPID is the pid in a data directory's postmaster.pid: 0 when the file holds none, an
// error when it cannot be read (os.ErrNotExist: no server claims the directory).
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return max(pid, 0), nil
}

// halt stops a server process: SIGINT (a fast shutdown), then, if it has not exited when ctx
// ends, SIGQUIT, and 5 s later SIGKILL. It returns once the process has exited, and whether it
// had to be forced.
func halt(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}) (forced bool) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		return false
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return true
}

func (s *Server) initdb(ctx context.Context, bin string, runAs *osUser) error {
	if _, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	// initdb into a scratch directory and rename it: a cluster is there whole or not at all.
	tmp := s.dataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("localpg: remove %s: %w", tmp, err)
	}
	pwfile := filepath.Join(filepath.Dir(s.dataDir), "initdb.pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("localpg: write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if runAs != nil {
		if err := os.Chown(pwfile, runAs.uid, runAs.gid); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
	}
	s.log.Info().Str("data_dir", s.dataDir).Msg("initialising a new PostgreSQL cluster")
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", tmp, "-U", Superuser, "--pwfile="+pwfile,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runAs.credential()}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("localpg: initdb failed: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp, s.dataDir); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	return nil
}

// clearStale deals with a postmaster.pid left by an earlier run: a live server on this data
// directory is shut down (it may still be running after its parent was killed); a pid file whose
// process is gone is removed.
func (s *Server) clearStale(ctx context.Context) error {
	pidFile := filepath.Join(s.dataDir, "postmaster.pid")
	pid, err := postmasterPID(s.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("localpg: read %s: %w", pidFile, err)
	}
	if pid == 0 || !isPostgres(pid) {
		s.log.Warn().Str("pid_file", pidFile).Msg("removing a stale PostgreSQL pid file")
		return os.Remove(pidFile)
	}
	s.log.Warn().Int("pid", pid).Msg("a PostgreSQL server from an earlier run still holds the data directory; stopping it")
	_ = syscall.Kill(pid, syscall.SIGINT)
	deadline := time.Now().Add(30 * time.Second)
	for isPostgres(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("localpg: the PostgreSQL server (pid %d) from an earlier run did not stop", pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func (s *Server) start(ctx context.Context, bin string, runAs *osUser, logPath string) error {
	port := s.cfg.Port
	if s.port != 0 {
		port = s.port // a restart: the same port, which the process's connection strings name
	}
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	}
	s.port = port
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("localpg: open server log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{"-D", s.dataDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=" + strconv.Itoa(s.cfg.MaxConnections),
		"-c", "shared_buffers=128MB"}
	if s.cfg.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, k := range slices.Sorted(maps.Keys(s.cfg.Settings)) {
		args = append(args, "-c", k+"="+s.cfg.Settings[k])
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Setpgid: a terminal's Ctrl-C reaches us, and we stop the server in order. Our death stops
	// the server too (fast shutdown): the kernel's parent-death signal where there is one
	// (Linux), a watchdog process elsewhere.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runAs.credential(), Setpgid: true}
	stopWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("localpg: start postgres: %w", err)
	}
	if !parentDeathSignal {
		if err := watchParent(os.Getpid(), cmd.Process.Pid); err != nil {
			_ = cmd.Process.Signal(syscall.SIGINT)
			_, _ = cmd.Process.Wait()
			return fmt.Errorf("localpg: start the watchdog: %w", err)
		}
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.up.Store(false)
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(exited)
	}()

	if err := s.waitReady(ctx, logPath, exited); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		halt(stopCtx, cmd, exited)
		cancel()
		return err
	}
	s.up.Store(true)
	s.log.Info().Int("port", port).Str("data_dir", s.dataDir).Msg("PostgreSQL started")
	return nil
}

func (s *Server) waitReady(ctx context.Context, logPath string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	url := s.SuperuserURL("postgres")
	var last error
	for {
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("localpg: postgres exited at start (see %s): %s", logPath, lastLines(logPath, 5))
		case <-ctx.Done():
			return fmt.Errorf("localpg: postgres not ready after 60s (see %s): %w", logPath, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type osUser struct {
	name     string
	uid, gid int
}

func (u *osUser) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	return &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
}

// serverUser is the user the server runs as: nil (ourselves) unless we are root, which initdb
// and postgres refuse.
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &osUser{name: name, uid: uid, gid: gid}, nil
	}
	return nil, errors.New("localpg: running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

// reachable reports whether u can search every directory from / down to dir.
func reachable(dir string, u *osUser) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		mode := fi.Mode().Perm()
		switch {
		case int(st.Uid) == u.uid:
			if mode&0o100 == 0 {
				return false
			}
		case int(st.Gid) == u.gid:
			if mode&0o010 == 0 {
				return false
			}
		case mode&0o001 == 0:
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func findBinDir(configured string) (string, error) {
	var candidates []string
	if configured != "" {
		candidates = append(candidates, configured)
	} else if env := os.Getenv("MOSAIC_PG_BIN"); env != "" {
		candidates = append(candidates, env)
	} else {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
		candidates = append(candidates, dirs...)
		candidates = append(candidates, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")
		if p, err := exec.LookPath("initdb"); err == nil {
			candidates = append([]string{filepath.Dir(p)}, candidates...)
		}
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if configured != "" || os.Getenv("MOSAIC_PG_BIN") != "" {
		return "", fmt.Errorf("localpg: no initdb and postgres in %s (MOSAIC_PG_BIN)", candidates[0])
	}
	return "", errors.New("localpg: PostgreSQL server binaries (initdb, postgres) not found: install them " +
		"(Debian: apt-get install postgresql) or set MOSAIC_PG_BIN, or set MOSAIC_DATABASE_URL to use a running server")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func isPostgres(pid int) bool {
	if syscall.Kill(pid, 0) != nil && !errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
		return false
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	exe, _, _ := strings.Cut(string(cmdline), "\x00")
	return filepath.Base(exe) == "postgres" || strings.HasPrefix(string(cmdline), "postgres:")
}

func ensurePassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			return p, nil
		}
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	p := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(p+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("localpg: write %s: %w", path, err)
	}
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localpg: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func shortHash(s string) string {
	// FNV-1a, enough to give each data directory its own stable cluster directory.
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}

func lastLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, " | ")
}
