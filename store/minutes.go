package store

import (
	"context"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MinuteBoundsMS are the upper bounds, in milliseconds, of the buckets in which a MinuteStat
// counts queue waits and run times; a last bucket counts what is longer.
var MinuteBoundsMS = []int32{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000}

// MinuteKeep is how long agent_minutes keeps a minute.
const MinuteKeep = time.Hour

// MinuteStat is what handler runs of one pool and priority did in one minute.
type MinuteStat struct {
	Minute    time.Time
	Pool      string
	Stream    string
	Priority  int
	Succeeded int
	Failed    int
	// Wait and Run count queue waits and run times per bucket: len(MinuteBoundsMS)+1 each.
	Wait, Run []int32
}

// MinuteBucket is the bucket of MinuteBoundsMS that d falls in.
func MinuteBucket(d time.Duration) int {
	ms := d.Milliseconds()
	for i, b := range MinuteBoundsMS {
		if ms <= int64(b) {
			return i
		}
	}
	return len(MinuteBoundsMS)
}

// Add adds o's counts to s (the same minute, pool and priority, or a sum over them).
func (s *MinuteStat) Add(o MinuteStat) {
	s.Succeeded += o.Succeeded
	s.Failed += o.Failed
	s.Wait, s.Run = addBuckets(s.Wait, o.Wait), addBuckets(s.Run, o.Run)
}

func addBuckets(a, b []int32) []int32 {
	if len(a) < len(b) {
		a = append(a, make([]int32, len(b)-len(a))...)
	}
	for i, v := range b {
		a[i] += v
	}
	return a
}

// Percentile is the upper bound (ms) of the bucket in which the q-quantile (0 < q ≤ 1) of counts
// falls, or -1 with no count; the last bucket (longer than every bound) answers its lower bound.
func Percentile(counts []int32, q float64) int32 {
	var total int64
	for _, c := range counts {
		total += int64(c)
	}
	if total == 0 {
		return -1
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i, c := range counts {
		seen += int64(c)
		if seen >= rank {
			return MinuteBoundsMS[min(i, len(MinuteBoundsMS)-1)]
		}
	}
	return MinuteBoundsMS[len(MinuteBoundsMS)-1]
}

// WriteAgentMinutes records an agent's minutes: each row replaces what the agent wrote for that
// minute, pool and priority before. (The cleaner forgets those older than MinuteKeep.)
func (db *DB) WriteAgentMinutes(ctx context.Context, agent uuid.UUID, stats []MinuteStat) error {
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, s := range stats {
			b.Queue(`INSERT INTO agent_minutes (agent_id, minute, pool, stream, priority, succeeded, failed, wait_ms, run_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (agent_id, minute, pool, stream, priority) DO UPDATE SET succeeded = $6, failed = $7, wait_ms = $8, run_ms = $9`,
				agent, s.Minute, s.Pool, s.Stream, s.Priority, s.Succeeded, s.Failed, s.Wait, s.Run)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// ForgetOldMinutes deletes every agent's minutes older than MinuteKeep (the cleaner's pass).
func (db *DB) ForgetOldMinutes(ctx context.Context) error {
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM agent_minutes WHERE minute < now() - $1 * interval '1 second'`, int64(MinuteKeep/time.Second))
		return err
	})
}

// FleetMinutes sums every agent's minutes since since, per minute, pool, stream and priority,
// oldest first.
func (db *DB) FleetMinutes(ctx context.Context, since time.Time) ([]MinuteStat, error) {
	var out []MinuteStat
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT minute, pool, stream, priority, succeeded, failed, wait_ms, run_ms FROM agent_minutes
			WHERE minute >= $1 ORDER BY minute, pool, stream, priority`, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s MinuteStat
			if err := rows.Scan(&s.Minute, &s.Pool, &s.Stream, &s.Priority, &s.Succeeded, &s.Failed, &s.Wait, &s.Run); err != nil {
				return err
			}
			if n := len(out); n > 0 && out[n-1].Minute.Equal(s.Minute) && out[n-1].Pool == s.Pool && out[n-1].Stream == s.Stream && out[n-1].Priority == s.Priority {
				out[n-1].Add(s)
				continue
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}
