package agents

import (
	"sync"
	"time"
)

// runners runs the pool's deliveries on goroutines that outlive them. A new goroutine starts with
// a small stack and copies it each time it grows; a delivery grows it to a handler's depth (JSON,
// pgx, zerolog), which cost a short task about 3% of the pool's CPU (docs/benchmarks.md, tenth
// session). A delivery given to run takes a goroutine left idle by an earlier one, whose stack
// has grown already, or starts one; an idle goroutine waits up to runnerIdle for the next, then
// ends, so that a burst leaves no crowd of them behind.
type runners struct {
	work chan func()
	quit chan struct{}
	wg   sync.WaitGroup
}

// runnerIdle is how long a goroutine with nothing to run waits for the next delivery.
const runnerIdle = 10 * time.Second

func newRunners() *runners {
	return &runners{work: make(chan func()), quit: make(chan struct{})}
}

// run runs f on an idle goroutine, or on a new one when none is idle. It must not be called
// after stop.
func (r *runners) run(f func()) {
	select {
	case r.work <- f:
	default:
		r.wg.Add(1)
		go r.loop(f)
	}
}

func (r *runners) loop(f func()) {
	defer r.wg.Done()
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
