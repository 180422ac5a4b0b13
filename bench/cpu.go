package main

import (
	"syscall"
	"time"
)

// cpuMark is where the CPU counters stood at the start of a drain: this process's (the pool or
// River's client, the embedded NATS server and its clients) and PostgreSQL's (the postmaster and
// its backends). Measured, not sampled: the split of a task's CPU between them, the table
// docs/benchmarks.md keeps next to the figures.
type cpuMark struct {
	self, pg float64
	at       time.Time
}

func markCPU(e *env) cpuMark {
	m := cpuMark{self: selfCPU(), at: time.Now()}
	if e.pg != nil {
		m.pg = treeCPU(e.pg.Pid())
	}
	return m
}

// report prints the CPU per unit (task, job, message) since m, and how busy the machine's cores
// were with it.
func (m cpuMark) report(e *env, n int, unit string) {
	if n == 0 {
		return
	}
	wall := time.Since(m.at).Seconds()
	self := selfCPU() - m.self
	if e.pg == nil {
		say("    CPU per %s: this process %.0f µs (PostgreSQL not started by the bench: not measured)", unit, self/float64(n)*1e6)
		return
	}
	pg := treeCPU(e.pg.Pid()) - m.pg
	say("    CPU per %s: this process (pool, NATS server and clients) %.0f µs, PostgreSQL %.0f µs; together %.1f cores busy",
		unit, self/float64(n)*1e6, pg/float64(n)*1e6, (self+pg)/wall)
}

// selfCPU is this process's user+system CPU so far, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
