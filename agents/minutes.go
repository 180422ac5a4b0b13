package agents

import (
	"sync"
	"time"

	"github.com/mosaicstack/mosaic/store"
)

// minuteStats counts a pool's handler runs per minute and priority — succeeded, failed, and
// their queue waits and run times in store.MinuteBoundsMS buckets — for the agent's heartbeat to
// write (store.WriteAgentMinutes) and the console to chart.
type minuteStats struct {
	pool, stream string
	mu           sync.Mutex
	rows         map[minuteKey]*store.MinuteStat
}

type minuteKey struct {
	minute   int64 // Unix seconds of the minute's start
	priority int
}

func newMinuteStats(pool, stream string) *minuteStats {
	return &minuteStats{pool: pool, stream: stream, rows: map[minuteKey]*store.MinuteStat{}}
}

// record counts one handler run that ended at end.
func (m *minuteStats) record(end time.Time, priority int, wait, run time.Duration, ok bool) {
	minute := end.Truncate(time.Minute)
	k := minuteKey{minute.Unix(), priority}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.rows[k]
	if s == nil {
		n := len(store.MinuteBoundsMS) + 1
		s = &store.MinuteStat{Minute: minute, Pool: m.pool, Stream: m.stream, Priority: priority, Wait: make([]int32, n), Run: make([]int32, n)}
		m.rows[k] = s
	}
	if ok {
		s.Succeeded++
	} else {
		s.Failed++
	}
	s.Wait[store.MinuteBucket(wait)]++
	s.Run[store.MinuteBucket(run)]++
}

// snapshot copies every minute held: the current one with its totals so far, and the ended ones
// not yet written.
func (m *minuteStats) snapshot() []store.MinuteStat {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.MinuteStat, 0, len(m.rows))
	for _, s := range m.rows {
		c := *s
		c.Wait, c.Run = append([]int32(nil), s.Wait...), append([]int32(nil), s.Run...)
		out = append(out, c)
	}
	return out
}

// written forgets the minutes that ended before now once a snapshot taken at now is stored:
// their totals are final there.
func (m *minuteStats) written(now time.Time) {
	current := now.Truncate(time.Minute).Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.rows {
		if k.minute < current {
			delete(m.rows, k)
		}
	}
}
