package periodic

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones wherever the binary runs, whatever the host has

	"github.com/robfig/cron/v3"
)

// MinEvery is the shortest interval a schedule may have.
const MinEvery = time.Second

// MaxEvery is the longest: a year.
const MaxEvery = 366 * 24 * time.Hour

// maxWalk bounds how many due times of a cron expression a firing walks to find the latest one
// that has passed: 100 000 minutes are some 69 days of nothing firing.
const maxWalk = 100_000

// Timing is when a schedule falls due: a cron expression in a time zone, or an interval.
type Timing struct {
	cron  cron.Schedule
	loc   *time.Location
	every time.Duration
}

// ParseTiming reads a cron expression (five fields, minute first, or a descriptor such as @hourly;
// read by robfig/cron) with its IANA time zone ("" is UTC), or an interval of at least MinEvery:
// one of the two.
func ParseTiming(expr, zone string, every time.Duration) (Timing, error) {
	switch {
	case expr == "" && every == 0:
		return Timing{}, errors.New("give a cron expression or an interval")
	case expr != "" && every != 0:
		return Timing{}, errors.New("give a cron expression or an interval, not both")
	case every != 0:
		if zone != "" && zone != "UTC" {
			return Timing{}, errors.New("a time zone goes with a cron expression, not an interval")
		}
		if every < MinEvery || every > MaxEvery || every%time.Second != 0 {
			return Timing{}, fmt.Errorf("interval %s: want whole seconds from %s to %s", every, MinEvery, MaxEvery)
		}
		return Timing{every: every}, nil
	}
	if strings.Contains(expr, "TZ=") {
		return Timing{}, errors.New("cron expression: give the time zone apart, not as TZ= in the expression")
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return Timing{}, fmt.Errorf("time zone %q is not an IANA name such as Europe/Paris or UTC", zone)
	}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return Timing{}, fmt.Errorf("cron expression %q: %v", expr, err)
	}
	// An expression that can never fall due (February 30th) is refused now, not at its first run.
	if s.Next(time.Now().In(loc)).IsZero() {
		return Timing{}, fmt.Errorf("cron expression %q never falls due", expr)
	}
	return Timing{cron: s, loc: loc}, nil
}

// Next is the first due time after t: for an interval, on the grid of due times through from (a
// due time of the schedule); for a cron expression, from alone does not matter.
func (tm Timing) Next(from, t time.Time) time.Time {
	if tm.every > 0 {
		if t.Before(from) {
			return from
		}
		k := t.Sub(from)/tm.every + 1
		return from.Add(k * tm.every)
	}
	return tm.cron.Next(t.In(tm.loc)).UTC()
}

// Latest is the last due time at or before now, walking from first (a due time at or before now),
// and how many due times that walk passed, first and the latest included.
func (tm Timing) Latest(first, now time.Time) (latest time.Time, n int64) {
	if tm.every > 0 {
		k := now.Sub(first) / tm.every
		return first.Add(k * tm.every), int64(k) + 1
	}
	latest, n, done := tm.walk(first, now)
	if done {
		return latest, n
	}
	// Nothing fired for longer than the walk goes (an every-minute expression: some 69 days):
	// start again from a due time close to now, the closest of these windows that holds one.
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 31 * 24 * time.Hour, 366 * 24 * time.Hour} {
		if t := tm.cron.Next(now.Add(-back).In(tm.loc)); !t.IsZero() && !t.After(now) {
			l, m, _ := tm.walk(t.UTC(), now)
			return l, n + m
		}
	}
	return latest, n
}

// walk goes from first through the cron expression's due times up to now, at most maxWalk of
// them: the last reached, how many, and whether it reached the last one at or before now.
func (tm Timing) walk(first, now time.Time) (latest time.Time, n int64, done bool) {
	latest, n = first, 1
	for range maxWalk {
		next := tm.cron.Next(latest.In(tm.loc))
		if next.IsZero() || next.After(now) {
			return latest, n, true
		}
		latest, n = next.UTC(), n+1
	}
	return latest, n, false
}

// NextRuns lists the next n due times after t (for the console and `schedules get`).
func (tm Timing) NextRuns(from, t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for range n {
		t = tm.Next(from, t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}
