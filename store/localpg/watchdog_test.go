package localpg

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestWatchdogStopsTheServerWhenItsParentDies: where the kernel has no parent-death signal
// (macOS), the watchdog stands in for it. It runs on every platform: a parent and a server (two
// sleeping processes) are watched; killing the parent stops the server with SIGINT, PostgreSQL's
// fast shutdown.
func TestWatchdogStopsTheServerWhenItsParentDies(t *testing.T) {
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	parent, server := start(), start()
	if err := watchParent(parent.Process.Pid, server.Process.Pid); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- server.Wait() }()
	select {
	case err := <-stopped:
		t.Fatalf("the server stopped while its parent lived: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	_ = parent.Process.Kill()
	_ = parent.Wait()
	select {
	case err := <-stopped:
		ws, ok := server.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Fatalf("the server ended with %v, want SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server still runs 10 s after its parent died")
	}
}
