package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Agent states (the agent FSM of the Mosaic design).
const (
	AgentSpawning = "spawning"
	AgentRunning  = "running"
	AgentDraining = "draining"
	AgentLost     = "lost"
	AgentStopped  = "stopped"
)

// Agent (mosaictype.Agent) is a worker process as it last reported itself.
type Agent = mosaictype.Agent

const agentColumns = `id, name, host, pid, version, pools, kinds, concurrency, state,
	heartbeat_interval_ms * interval '1 millisecond' AS heartbeat_interval, in_flight, tasks, drain_requested_at,
	started_at, heartbeat_at, ended_at`

// RegisterAgent records a starting process.
func (db *DB) RegisterAgent(ctx context.Context, a Agent) error {
	if a.Pools == nil {
		a.Pools = []string{}
	}
	if a.Kinds == nil {
		a.Kinds = []string{}
	}
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO agents (id, name, host, pid, version, pools, kinds, concurrency, state, heartbeat_interval_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'spawning', $9)`,
			a.ID, a.Name, a.Host, a.PID, a.Version, a.Pools, a.Kinds, a.Concurrency, a.HeartbeatInterval.Milliseconds()); err != nil {
			return err
		}
		return insertAgentEvent(ctx, tx, a.ID, "spawned", nil)
	})
}

// Heartbeat records that the agent is alive in state with its in-flight tasks, and answers whether
// an operator asked it to drain. An agent marked lost meanwhile stays lost (ErrNotFound): a
// process that was presumed dead must not come back as if nothing happened.
func (db *DB) Heartbeat(ctx context.Context, id uuid.UUID, state string, inFlight int, tasks any) (drain bool, err error) {
	b, err := json.Marshal(tasks)
	if err != nil {
		return false, err
	}
	err = db.AsSystem(ctx, func(tx pgx.Tx) error {
		var prev string
		var drainAt *time.Time
		err := tx.QueryRow(ctx, `UPDATE agents SET state = $2, in_flight = $3, tasks = $4, heartbeat_at = now(),
				ended_at = CASE WHEN $2 = 'stopped' THEN now() END
			WHERE id = $1 AND state <> 'lost'
			RETURNING (SELECT a.state FROM agents a WHERE a.id = $1), drain_requested_at`, id, state, inFlight, b).Scan(&prev, &drainAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("agent %s: marked lost: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		drain = drainAt != nil
		if prev != state {
			return insertAgentEvent(ctx, tx, id, state, nil)
		}
		return nil
	})
	return drain, err
}

// RequestDrain asks a live agent to stop taking work and finish what it runs.
func (db *DB) RequestDrain(ctx context.Context, id uuid.UUID, by string) (Agent, error) {
	var a Agent
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var err error
		a, err = queryRow[Agent](ctx, tx, `UPDATE agents SET drain_requested_at = COALESCE(drain_requested_at, now())
			WHERE id = $1 AND state IN ('spawning', 'running', 'draining') RETURNING `+agentColumns, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("agent %s: no such live agent: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return insertAgentEvent(ctx, tx, id, "drain_requested", map[string]any{"by": by})
	})
	return a, err
}

// ListAgents lists the live agents and those that ended within the last since.
func (db *DB) ListAgents(ctx context.Context, since time.Duration) ([]Agent, error) {
	var out []Agent
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[Agent](ctx, tx, `SELECT `+agentColumns+` FROM agents
			WHERE state IN ('spawning', 'running', 'draining') OR COALESCE(ended_at, heartbeat_at) > now() - $1::interval
			ORDER BY started_at DESC LIMIT 500`, since)
		return err
	})
	return out, err
}

// CountAgents counts the agents by state (live ones, and those ended in the last hour).
func (db *DB) CountAgents(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT state, count(*) FROM agents
			WHERE state IN ('spawning', 'running', 'draining') OR COALESCE(ended_at, heartbeat_at) > now() - interval '1 hour'
			GROUP BY state`)
		if err != nil {
			return err
		}
		var state string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error { out[state] = n; return nil })
		return err
	})
	return out, err
}

// MarkLostAgents marks lost every live agent whose last heartbeat is older than missed of its
// own intervals, records it, and returns them.
func (db *DB) MarkLostAgents(ctx context.Context, missed int) ([]Agent, error) {
	var out []Agent
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = queryRows[Agent](ctx, tx, `UPDATE agents SET state = 'lost', ended_at = now()
			WHERE state IN ('spawning', 'running', 'draining')
			  AND heartbeat_at < now() - make_interval(secs => $1 * heartbeat_interval_ms / 1000.0)
			RETURNING `+agentColumns, missed); err != nil {
			return err
		}
		for _, a := range out {
			if err := insertAgentEvent(ctx, tx, a.ID, AgentLost, map[string]any{"last_heartbeat": a.HeartbeatAt, "missed": missed}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// AgentEvent (mosaictype.AgentEvent) is a recorded transition of an agent.
type AgentEvent = mosaictype.AgentEvent

// AgentEvents lists an agent's recorded transitions, oldest first.
func (db *DB) AgentEvents(ctx context.Context, id uuid.UUID) ([]AgentEvent, error) {
	var out []AgentEvent
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT at, type, detail FROM agent_events WHERE agent_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentEvent, error) {
			var e AgentEvent
			err := r.Scan(&e.At, &e.Type, &e.Detail)
			return e, err
		})
		return err
	})
	return out, err
}

func insertAgentEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, typ string, detail any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO agent_events (agent_id, type, detail) VALUES ($1, $2, $3)`, id, typ, detail)
	return err
}

// RequeueWorkerTasks gives the running tasks of a lost worker to the others at once, rather than
// after their messages' ack wait: each becomes a new generation (attempt and checkpoint kept) whose
// message message builds; the old message, when it comes back, is an older generation and is
// acked unrun. It returns the tasks requeued in the workspace.
func (db *DB) RequeueWorkerTasks(ctx context.Context, ws uuid.UUID, worker string, message func(Task) OutboxMessage) ([]Task, error) {
	var out []Task
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		out, err = queryRows[Task](ctx, tx, `UPDATE tasks SET generation = generation + 1, status = 'retrying', worker = NULL,
				lease_until = NULL, updated_at = now(), last_error = $3
			WHERE workspace_id = $1 AND worker = $2 AND status = 'running'
			RETURNING `+taskColumns, ws, worker, "worker "+worker+" lost: requeued by the supervisor")
		if err != nil {
			return err
		}
		for _, t := range out {
			if err := InsertTaskEvent(ctx, tx, ws, t.ID, "requeued", StatusRetrying, t.Attempt, t.Fence, "",
				map[string]any{"lost_worker": worker, "generation": t.Generation}); err != nil {
				return err
			}
			if err := InsertOutbox(ctx, tx, message(t)); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// strandedWhere picks the tasks waiting for a message ($2: for how many milliseconds, unchanged)
// whose message of their current generation is not still in the outbox, waiting for the relay.
const strandedWhere = `status IN ('queued', 'scheduled', 'retrying')
	AND updated_at < now() - $2::bigint * interval '1 millisecond'
	AND (run_at IS NULL OR run_at < now() - $2::bigint * interval '1 millisecond')
	AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.workspace_id = tasks.workspace_id
		AND o.msg_id IN (tasks.workspace_id::text || ':' || tasks.id::text || ':' || tasks.generation::text,
		                 'schedule:' || tasks.workspace_id::text || ':' || tasks.id::text || ':' || tasks.generation::text))`

// Busy names the addresses of a workspace whose stream holds messages: a task of such a priority
// and kind may be waiting for one of them (Priority 0: any priority, for the job streams).
type Busy struct {
	Priorities []int32
	Kinds      []string
}

// StrandedTasks lists up to limit tasks of a workspace that have waited for their message,
// unchanged, for longer than olderThan (queued, scheduled past their time, or retrying), whose
// message is not waiting in the outbox, and whose priority and kind are not busy: the tasks whose
// message may be gone (a PostgreSQL restored alone from before its messages were consumed).
func (db *DB) StrandedTasks(ctx context.Context, ws uuid.UUID, olderThan time.Duration, busy Busy, limit int) ([]Task, error) {
	var out []Task
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+taskColumns+` FROM tasks WHERE workspace_id = $1 AND `+strandedWhere+`
			AND NOT EXISTS (SELECT 1 FROM unnest($4::int[], $5::text[]) AS busy (p, k)
				WHERE busy.k = tasks.kind AND (busy.p = 0 OR busy.p = tasks.priority))
			ORDER BY updated_at LIMIT $3`, ws, olderThan.Milliseconds(), limit, busy.Priorities, busy.Kinds)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[Task])
		return err
	})
	return out, err
}

// errStillThere rolls RequeueStranded back: the task's message turned out to be there.
var errStillThere = errors.New("store: the message is there")

// RequeueStranded gives a stranded task a new message: a new generation, queued now (attempt and
// checkpoint kept), with an event saying why. The task's row is updated (and locked) only if it is
// still stranded; then gone is asked, with the row locked, whether its message is truly absent
// (false: nothing changes). It reports whether the task was requeued. A message of the old
// generation that turns up after all is acked unrun.
func (db *DB) RequeueStranded(ctx context.Context, ws, id uuid.UUID, olderThan time.Duration, gone func(Task) (bool, error),
	message func(Task) OutboxMessage) (bool, error) {
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		t, err := queryRow[Task](ctx, tx, `UPDATE tasks SET generation = generation + 1, status = 'queued', run_at = NULL,
				updated_at = now()
			WHERE workspace_id = $1 AND `+strandedWhere+` AND id = $3
			RETURNING `+taskColumns, ws, olderThan.Milliseconds(), id)
		if errors.Is(err, pgx.ErrNoRows) {
			return errStillThere
		}
		if err != nil {
			return err
		}
		if ok, err := gone(t); err != nil {
			return err
		} else if !ok {
			return errStillThere
		}
		if err := InsertTaskEvent(ctx, tx, ws, t.ID, "requeued", StatusQueued, t.Attempt, t.Fence, "",
			map[string]any{"stranded": true, "generation": t.Generation}); err != nil {
			return err
		}
		return InsertOutbox(ctx, tx, message(t))
	})
	if errors.Is(err, errStillThere) {
		return false, nil
	}
	return err == nil, err
}

// Leadership is held while its session holds a PostgreSQL advisory lock: when the process dies,
// its connection closes and the lock is free for the next candidate.

// TryLead tries to take the advisory lock named by key on a connection of its own. It returns
// nil (and no error) when another session holds it. The lock needs no privilege.
func (db *DB) TryLead(ctx context.Context, key int64) (*Leader, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		conn.Release()
		return nil, err
	}
	return &Leader{conn: conn, key: key}, nil
}

// Leader is a held leadership.
type Leader struct {
	conn interface {
		Ping(ctx context.Context) error
		Release()
		Hijack() *pgx.Conn
	}
	key int64
}

// Alive checks that the session holding the lock still answers.
func (l *Leader) Alive(ctx context.Context) bool { return l.conn.Ping(ctx) == nil }

// Resign gives the lock up (closing the session, which releases it whatever state it is in).
func (l *Leader) Resign() {
	c := l.conn.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// PoolPause (mosaictype.PoolPause) is an operator's pause of a pool.
type PoolPause = mosaictype.PoolPause

// SetPoolPause records a pool paused until until.
func (db *DB) SetPoolPause(ctx context.Context, pool string, until time.Time, by string) error {
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO pool_pauses (pool, paused_until, paused_by) VALUES ($1, $2, $3)
			ON CONFLICT (pool) DO UPDATE SET paused_until = EXCLUDED.paused_until, paused_by = EXCLUDED.paused_by, paused_at = now()`,
			pool, until, by)
		return err
	})
}

// ClearPoolPause forgets a pool's pause.
func (db *DB) ClearPoolPause(ctx context.Context, pool string) error {
	return db.AsSystem(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM pool_pauses WHERE pool = $1`, pool)
		return err
	})
}

// PoolPauses lists the pools paused now.
func (db *DB) PoolPauses(ctx context.Context) ([]PoolPause, error) {
	var out []PoolPause
	err := db.AsSystem(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT pool, paused_until, paused_by, paused_at FROM pool_pauses WHERE paused_until > now() ORDER BY pool`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PoolPause, error) {
			var p PoolPause
			err := r.Scan(&p.Pool, &p.PausedUntil, &p.PausedBy, &p.PausedAt)
			return p, err
		})
		return err
	})
	return out, err
}
