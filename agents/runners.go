package agents

import (
	"sync"
	"sync/atomic"
	"time"
)

// runners runs the pool's deliveries on goroutines that outlive them. A new goroutine starts with
// a small stack and copies it each time it grows; a delivery grows it to a handler's depth (JSON,
// pgx, zerolog), which cost a short task about 3% of the pool's CPU (docs/benchmarks.md, tenth
// session). A delivery given to run takes a goroutine left idle by an earlier one, whose stack
// has grown already, or starts one; an idle goroutine waits up to runnerIdle for the next, then
// ends, so that a burst leaves no crowd of them behind. At most maxRunners goroutines wait for
// more work; past them a delivery runs on a goroutine of its own, as before.
type runners struct {
	work    chan func()
	quit    chan struct{}
	wg      sync.WaitGroup
	looping atomic.Int32 // goroutines that run deliveries one after another
}

// runnerIdle is how long a goroutine with nothing to run waits for the next delivery.
const runnerIdle = 10 * time.Second

// maxRunners bounds the goroutines kept for more work: enough for short tasks at full speed (a
// pool of 64 handlers has up to three deliveries per handler under way: its own, and two writing
// their ends). Long tasks gain nothing from a grown stack, and kept goroutines cost memory: with
// every one of 10 000 deliveries in flight on one (the bench's worker RSS run), the worker's RSS
// grew from 178-184 MiB to 217-229 MiB.
const maxRunners = 256

func newRunners() *runners {
	return &runners{work: make(chan func()), quit: make(chan struct{})}
}

// run runs f on an idle goroutine, or on a new one when none is idle. It must not be called
// after stop.
func (r *runners) run(f func()) {
	select {
	case r.work <- f:
		return
	default:
	}
	r.wg.Add(1)
	if r.looping.Add(1) > maxRunners {
		r.looping.Add(-1)
		go func() {
			defer r.wg.Done()
			f()
		}()
		return
	}
	go r.loop(f)
}

func (r *runners) loop(f func()) {
	defer r.wg.Done()
	defer r.looping.Add(-1)
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(runnerIdle)
		select {
		case f = <-r.work:
		case <-idle.C:
			return
		case <-r.quit:
			return
		}
	}
}

// stop ends the idle goroutines and waits for every goroutine to end: the caller has waited for
// what it gave to run.
func (r *runners) stop() {
	close(r.quit)
	r.wg.Wait()
}
