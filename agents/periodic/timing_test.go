package periodic_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents/periodic"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTimingNextAndLatest(t *testing.T) {
	t.Parallel()
	// 09:30 on weekdays in Paris: 08:30 UTC in winter (CET), 07:30 UTC in summer (CEST).
	tm, err := periodic.ParseTiming("30 9 * * 1-5", "Europe/Paris", 0)
	if err != nil {
		t.Fatal(err)
	}
	from := mustTime(t, "2026-03-27T12:00:00Z") // a Friday, the last one before summer time
	got := tm.NextRuns(from, from, 3)
	want := []string{"2026-03-30T07:30:00Z", "2026-03-31T07:30:00Z", "2026-04-01T07:30:00Z"} // Monday in summer time
	for i, w := range want {
		if i >= len(got) || !got[i].Equal(mustTime(t, w)) {
			t.Fatalf("next runs after %s: %v; want %v", from, got, want)
		}
	}
	first := mustTime(t, "2026-03-23T08:30:00Z") // Monday, winter time
	latest, n := tm.Latest(first, mustTime(t, "2026-03-31T08:00:00Z"))
	if !latest.Equal(mustTime(t, "2026-03-31T07:30:00Z")) || n != 7 {
		t.Fatalf("latest: %s, %d due times; want 2026-03-31T07:30:00Z and 7 (5 + Monday and Tuesday)", latest, n)
	}

	// After more than the walk's reach (100 000 minutes) of nothing firing, the latest due time is
	// still the last one before now.
	minutely, err := periodic.ParseTiming("* * * * *", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := mustTime(t, "2026-12-07T12:00:30Z")
	if latest, _ := minutely.Latest(now.Add(-100*24*time.Hour), now); !latest.Equal(mustTime(t, "2026-12-07T12:00:00Z")) {
		t.Fatalf("latest after 100 days: %s; want 2026-12-07T12:00:00Z", latest)
	}

	every, err := periodic.ParseTiming("", "", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := mustTime(t, "2026-01-01T00:00:00Z")
	if got := every.Next(start, start); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("interval next from a due time: %s", got)
	}
	if got := every.Next(start, start.Add(200*time.Second)); !got.Equal(start.Add(270 * time.Second)) {
		t.Fatalf("interval next keeps its grid: %s; want +270s", got)
	}
	if latest, n := every.Latest(start, start.Add(200*time.Second)); !latest.Equal(start.Add(180*time.Second)) || n != 3 {
		t.Fatalf("interval latest: %s, %d", latest, n)
	}
	if got := every.Next(start, start.Add(-time.Hour)); !got.Equal(start) {
		t.Fatalf("before the first due time, next is the first: %s", got)
	}
}

func TestTimingRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cron, zone string
		every      time.Duration
		want       string
	}{
		{"", "", 0, "give a cron expression or an interval"},
		{"* * * * *", "", time.Minute, "not both"},
		{"61 * * * *", "", 0, "cron expression"},
		{"* * *", "", 0, "cron expression"},
		{"0 0 30 2 *", "", 0, "never falls due"},
		{"* * * * *", "Mars/Olympus", 0, "time zone"},
		{"* * * * *", "Local", 0, "time zone"},
		{"CRON_TZ=UTC * * * * *", "", 0, "time zone apart"},
		{"", "", 500 * time.Millisecond, "whole seconds"},
		{"", "", 1500 * time.Millisecond, "whole seconds"},
		{"", "Europe/Paris", time.Minute, "goes with a cron expression"},
		{"", "", 400 * 24 * time.Hour, "whole seconds from"},
	} {
		_, err := periodic.ParseTiming(c.cron, c.zone, c.every)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTiming(%q, %q, %s): %v; want an error with %q", c.cron, c.zone, c.every, err, c.want)
		}
	}
	for _, ok := range []string{"@hourly", "@daily", "*/5 * * * *", "0 9 * * MON-FRI"} {
		if _, err := periodic.ParseTiming(ok, "America/New_York", 0); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
