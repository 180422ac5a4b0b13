package localpg

import (
	"os/exec"
	"strconv"
	"syscall"
)

// watchdogScript polls, once a second, whether the parent ($1) and the server ($2) are alive;
// when the parent is gone it sends the server SIGINT (fast shutdown), and when the server is gone
// it exits. It runs as /bin/sh, present wherever PostgreSQL is, in a process group of its own so
// that a terminal's Ctrl-C leaves it to see the ordered stop through.
const watchdogScript = `while kill -0 "$1" 2>/dev/null; do
	kill -0 "$2" 2>/dev/null || exit 0
	sleep 1
done
kill -INT "$2" 2>/dev/null
exit 0`

// watchParent starts a watchdog that stops the server (pid server) when the process parent
// dies, where the kernel cannot be asked to (no Pdeathsig). It is reaped in the background.
func watchParent(parent, server int) error {
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "mosaic-pg-watchdog", strconv.Itoa(parent), strconv.Itoa(server))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
