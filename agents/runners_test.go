package agents

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goroutineID is the running goroutine's number, from its stack trace's first line.
func goroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	n, _ := strconv.Atoi(string(buf[:bytes.IndexByte(buf, ' ')]))
	return n
}

func TestRunnersReuseAnIdleGoroutine(t *testing.T) {
	t.Parallel()
	r := newRunners()
	ids := make(chan int, 1)
	r.run(func() { ids <- goroutineID() })
	first := <-ids
	// The first goroutine is idle once it waits for work; until then a run starts another.
	deadline := time.Now().Add(10 * time.Second)
	var second int
	for time.Now().Before(deadline) {
		r.run(func() { ids <- goroutineID() })
		if second = <-ids; second == first {
			break
		}
	}
	if second != first {
		t.Fatalf("a function given to run after the first ended ran on goroutine %d, not on the idle %d", second, first)
	}
	r.stop()
}

func TestRunnersRunConcurrentlyAndStopWaits(t *testing.T) {
	t.Parallel()
	r := newRunners()
	const n = maxRunners + 50 // past the goroutines kept for more work, too
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var mu sync.Mutex
	ended := 0
	for range n {
		r.run(func() {
			started.Done()
			release.Wait() // each waits for all: run must not queue one behind another
			mu.Lock()
			ended++
			mu.Unlock()
		})
	}
	started.Wait()
	if kept := r.looping.Load(); kept != maxRunners {
		t.Errorf("%d goroutines kept for more work with %d functions running, want %d", kept, n, maxRunners)
	}
	release.Done()
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(runnerIdle / 2):
		t.Fatal("stop did not end the idle goroutines")
	}
	mu.Lock()
	defer mu.Unlock()
	if ended != n {
		t.Fatalf("stop returned with %d of %d functions ended", ended, n)
	}
}
