package store

import (
	"fmt"
	"strings"
)

// SQL of the task aggregate: tasks, task_events, dead_letters, unrouted_messages and outbox.
const (
	taskColumns = `workspace_id, id, kind, priority, status, args, credentials, metadata, max_attempts,
		timeout_ms, run_at, idempotency_key, attempt, generation, fence, worker, lease_until, progress,
		progress_message, checkpoint, checkpoint_seq, result, last_error, cancel_requested_at,
		created_at, updated_at, started_at, finished_at`

	insertTaskSQL = `INSERT INTO tasks (workspace_id, id, kind, priority, status, args, credentials, metadata,
			max_attempts, timeout_ms, run_at, idempotency_key, generation)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, ''), $13)
		ON CONFLICT DO NOTHING`

	// publishedInRow is when a publish writes no task_events row: the task is queued, to run at
	// once. Its "published" transition is the row's creation (created_at, status queued, no
	// attempt), which TaskEvents reads from the row when no audit row records one (a scheduled
	// task's does: its row, once due, no longer says it was scheduled). With trailInRow, a task
	// that runs once and succeeds writes no audit row at all.
	publishedInRow = `(i.status = 'queued')`

	// insertTasksSQL publishes many tasks in one statement: the rows (skipping ids or idempotency
	// keys that exist), the "published" events of those scheduled (a queued task's is read from
	// its row: publishedInRow) and, for the rows inserted whose message is not on the stream yet
	// (subject not empty), their outbox messages. A row whose message JetStream has accepted
	// already (empty subject) may have been inserted by the delivery that ran it before this
	// statement: it still gets its publisher, from a statement of its own (fillPublishers). Each
	// inserted row comes back with its outbox row, or with -1 when it has none.
	insertTasksSQL = `WITH input AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::smallint[], $5::text[], $6::jsonb[],
				$7::jsonb[], $8::jsonb[], $9::int[], $10::bigint[], $11::timestamptz[], $12::text[], $13::int[],
				$14::text[], $15::text[], $16::jsonb[], $17::bytea[], $19::uuid[], $20::timestamptz[], $21::bigint[])
			AS u(workspace_id, id, kind, priority, status, args, credentials, metadata, max_attempts, timeout_ms,
				run_at, idempotency_key, generation, msg_id, subject, headers, payload, published_by, created_at, msg_seq)
		), ins AS (
			INSERT INTO tasks (workspace_id, id, kind, priority, status, args, credentials, metadata, max_attempts,
				timeout_ms, run_at, idempotency_key, generation, published_by, created_at, updated_at, msg_seq)
			SELECT workspace_id, id, kind, priority, status, args,
				ARRAY(SELECT jsonb_array_elements_text(credentials)), metadata, max_attempts, timeout_ms, run_at,
				NULLIF(idempotency_key, ''), generation, published_by, COALESCE(created_at, now()), now(), NULLIF(msg_seq, 0)
			FROM input
			ON CONFLICT DO NOTHING
			RETURNING workspace_id, id, status
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, at, type, status)
			SELECT i.workspace_id, i.id, COALESCE(i.created_at, now()), 'published', i.status
			FROM input i JOIN ins USING (workspace_id, id) WHERE NOT ` + publishedInRow + `
		), ob AS (
			INSERT INTO outbox (workspace_id, msg_id, subject, headers, payload, publish_after)
			SELECT i.workspace_id, i.msg_id, i.subject, i.headers, i.payload, now() + $18 * interval '1 millisecond'
			FROM input i JOIN ins USING (workspace_id, id) WHERE i.subject <> ''
			RETURNING id, msg_id
		)
		SELECT ins.id, COALESCE(ob.id, -1) FROM ins JOIN input i USING (workspace_id, id) LEFT JOIN ob USING (msg_id)`

	fillPublisherSQL = `UPDATE tasks SET published_by = $3 WHERE workspace_id = $1 AND id = $2 AND published_by IS NULL`

	findTaskSQL = `SELECT id, status FROM tasks WHERE workspace_id = $1 AND (id = $2 OR idempotency_key = NULLIF($3, ''))
		ORDER BY id = $2 DESC LIMIT 1`

	insertTaskEventSQL = `INSERT INTO task_events (workspace_id, task_id, type, status, attempt, fence, worker, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

	checkpointSQL = `UPDATE tasks SET checkpoint = $4, checkpoint_seq = checkpoint_seq + 1,
			lease_until = now() + $5 * interval '1 millisecond', progress = $6, progress_message = NULLIF($7, ''),
			updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND fence = $3 AND status = 'running'
		RETURNING checkpoint_seq, cancel_requested_at IS NOT NULL`

	renewLeasesSQL = `UPDATE tasks t SET lease_until = now() + $3 * interval '1 millisecond',
			progress = u.progress, progress_message = NULLIF(u.message, ''), updated_at = now()
		FROM unnest($2::uuid[], $4::bigint[], $5::real[], $6::text[]) AS u(id, fence, progress, message)
		WHERE t.workspace_id = $1 AND t.id = u.id AND t.fence = u.fence AND ` + stillRunning + `
		RETURNING t.id, t.cancel_requested_at IS NOT NULL`

	// finishTaskSQL ends a delivery: a terminal status, or a retry. Fenced.
	finishTaskSQL = `UPDATE tasks SET status = $4, result = $5, last_error = NULLIF($6, ''),
			max_attempts = max_attempts + $7, lease_until = NULL, worker = CASE WHEN $4 = 'succeeded' THEN worker END,
			updated_at = now(),
			finished_at = CASE WHEN $4 IN ('succeeded', 'dead', 'cancelled') THEN now() END,
			progress = CASE WHEN $4 = 'succeeded' THEN 1 ELSE progress END,
			run_at = COALESCE($8, run_at)
		WHERE workspace_id = $1 AND id = $2 AND fence = $3 AND status = 'running'
		RETURNING attempt`

	// settleTaskSQL ends a task that is not running (cancelled before it ran, exhausted after a
	// lost worker, invalid): any status but a terminal one.
	settleTaskSQL = `UPDATE tasks SET status = $3, last_error = NULLIF($4, ''), lease_until = NULL, worker = NULL,
			updated_at = now(), finished_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status NOT IN ('succeeded', 'dead', 'cancelled')
		RETURNING attempt, fence`

	scheduleTaskSQL = `INSERT INTO tasks (workspace_id, id, kind, priority, status, args, credentials, metadata,
			max_attempts, timeout_ms, run_at, idempotency_key, generation)
		VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12)
		ON CONFLICT (workspace_id, id) DO UPDATE SET status = 'scheduled', run_at = EXCLUDED.run_at, updated_at = now()
		WHERE tasks.status IN ('queued', 'scheduled')
		RETURNING status`

	requestCancelSQL = `WITH cur AS (
			SELECT status FROM tasks WHERE workspace_id = $1 AND id = $2 FOR UPDATE
		)
		UPDATE tasks t SET
			status = CASE WHEN cur.status = 'running' THEN 'running' ELSE 'cancelled' END,
			cancel_requested_at = COALESCE(t.cancel_requested_at, now()),
			finished_at = CASE WHEN cur.status = 'running' THEN NULL ELSE now() END,
			lease_until = CASE WHEN cur.status = 'running' THEN t.lease_until END,
			updated_at = now()
		FROM cur
		WHERE t.workspace_id = $1 AND t.id = $2 AND cur.status NOT IN ('succeeded', 'dead', 'cancelled')
		RETURNING t.status, t.kind, t.attempt, t.fence, CASE WHEN cur.status = 'queued' THEN t.msg_seq END`

	selectTaskSQL = `SELECT ` + taskColumns + ` FROM tasks WHERE workspace_id = $1 AND id = $2`

	// findTasksSQL finds tasks by id ($2) or idempotency key ($3): a lookup in the primary key and
	// the key's unique index, not a filter on a list's scan.
	findTasksSQL = `SELECT ` + taskColumns + ` FROM tasks WHERE workspace_id = $1 AND (id = $2 OR idempotency_key = $3)
		ORDER BY created_at DESC, id DESC`

	// selectTaskEventsSQL reads a task's transitions. A row with started_at is a short attempt's
	// (claimed and ended in one write): it holds two transitions, "running" at started_at and its
	// end. Ids are the rows' doubled, plus one for the row's own transition: unique, and in the
	// order the transitions were recorded. A publish that wrote no row (publishedInRow) is read
	// from the task's row, first, with id 0. A success whose end wrote no row (trailInRow) is read
	// from the task's row — its end, and its "running" transition if no row holds that either —
	// after every recorded one.
	selectTaskEventsSQL = `SELECT id, task_id, at, type, status, attempt, fence, worker, detail FROM (
			SELECT 0 AS id, t.id AS task_id, t.created_at AS at, 'published' AS type, 'queued' AS status, 0 AS attempt,
				0::bigint AS fence, '' AS worker, NULL::jsonb AS detail
			FROM tasks t WHERE t.workspace_id = $1 AND t.id = $2 AND NOT EXISTS (SELECT 1 FROM task_events e
				WHERE e.workspace_id = $1 AND e.task_id = $2 AND e.type = 'published')
			UNION ALL
			SELECT id * 2 + 1, task_id, at, type, COALESCE(status, ''), attempt, fence, COALESCE(worker, ''), detail
			FROM task_events WHERE workspace_id = $1 AND task_id = $2
			UNION ALL
			SELECT id * 2, task_id, started_at, 'running', 'running', attempt, fence, COALESCE(worker, ''), NULL
			FROM task_events WHERE workspace_id = $1 AND task_id = $2 AND started_at IS NOT NULL
			UNION ALL
			SELECT r.last * 2 + n, t.id, CASE n WHEN 2 THEN t.started_at ELSE t.finished_at END,
				CASE n WHEN 2 THEN 'running' ELSE 'succeeded' END, CASE n WHEN 2 THEN 'running' ELSE 'succeeded' END,
				t.attempt, t.fence, COALESCE(t.worker, ''), NULL
			FROM tasks t
			CROSS JOIN LATERAL (SELECT COALESCE(max(id), 0) AS last FROM task_events
				WHERE workspace_id = $1 AND task_id = $2) r
			CROSS JOIN LATERAL (VALUES (2), (3)) AS v(n)
			WHERE t.workspace_id = $1 AND t.id = $2 AND t.status = 'succeeded'
			  AND NOT EXISTS (SELECT 1 FROM task_events e WHERE e.workspace_id = $1 AND e.task_id = $2
				AND e.fence = t.fence AND e.type = 'succeeded')
			  AND (n = 3 OR t.started_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM task_events e
				WHERE e.workspace_id = $1 AND e.task_id = $2 AND e.fence = t.fence
				  AND (e.type = 'running' OR e.started_at IS NOT NULL)))
		) e ORDER BY at, id`

	// lockSucceededSQL locks a succeeded task's row before a replay and reads what its
	// task.succeeded event was built from, and whether it ended within $3 milliseconds.
	lockSucceededSQL = `SELECT kind, attempt, fence, finished_at > now() - $3 * interval '1 millisecond'
		FROM tasks WHERE workspace_id = $1 AND id = $2 AND status = 'succeeded' FOR UPDATE`

	// keepTrailSQL writes out a success that left its trail in the task's row (trailInRow), as
	// one audit row (with started_at when no row holds its "running" transition), before a replay
	// uses the row again. It locks the row: of two replays at once, the second finds it queued.
	keepTrailSQL = `INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker, started_at)
		SELECT t.workspace_id, t.id, t.finished_at, 'succeeded', 'succeeded', t.attempt, t.fence, t.worker,
			CASE WHEN NOT EXISTS (SELECT 1 FROM task_events e WHERE e.workspace_id = $1 AND e.task_id = $2
				AND e.fence = t.fence AND (e.type = 'running' OR e.started_at IS NOT NULL)) THEN t.started_at END
		FROM (SELECT * FROM tasks WHERE workspace_id = $1 AND id = $2 AND status = 'succeeded' FOR UPDATE) t
		WHERE NOT EXISTS (SELECT 1 FROM task_events e WHERE e.workspace_id = $1 AND e.task_id = $2
			AND e.fence = t.fence AND e.type = 'succeeded')`

	prepareReplaySQL = `UPDATE tasks SET generation = generation + 1, status = 'queued', attempt = 0,
			last_error = NULL, result = NULL, finished_at = NULL, cancel_requested_at = NULL,
			lease_until = NULL, worker = NULL, progress = 0, progress_message = NULL, updated_at = now(),
			checkpoint = CASE WHEN $3 THEN NULL ELSE checkpoint END,
			checkpoint_seq = CASE WHEN $3 THEN 0 ELSE checkpoint_seq END
		WHERE workspace_id = $1 AND id = $2 AND status IN ('dead', 'cancelled', 'succeeded')
		RETURNING ` + taskColumns

	insertDeadLetterSQL = `INSERT INTO dead_letters (workspace_id, id, task_id, kind, reason, error, subject, headers,
			payload, attempt, stream_seq)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7, $8, $9, $10, $11)`

	deadLetterColumns = `workspace_id, id, task_id, COALESCE(kind, '') AS kind, reason, error, subject, headers, payload,
		attempt, stream_seq, created_at, replayed_at, replay_count, discarded_at, COALESCE(discarded_by, '') AS discarded_by`

	// listDeadLettersSQL: $3 reason and $5 kind filter when not empty; $6 is a DeadLetterFilter
	// state.
	listDeadLettersSQL = `SELECT ` + deadLetterColumns + ` FROM dead_letters
		WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id < $2) AND ($3 = '' OR reason = $3)
		  AND ($5 = '' OR kind = $5)
		  AND CASE $6::text
			WHEN 'all' THEN true
			WHEN 'pending' THEN replayed_at IS NULL AND discarded_at IS NULL
			WHEN 'replayed' THEN replayed_at IS NOT NULL
			WHEN 'discarded' THEN discarded_at IS NOT NULL
			ELSE discarded_at IS NULL END
		ORDER BY id DESC LIMIT $4`

	discardDeadLetterSQL = `UPDATE dead_letters SET discarded_at = now(), discarded_by = NULLIF($3, '')
		WHERE workspace_id = $1 AND id = $2 RETURNING ` + deadLetterColumns

	selectDeadLetterSQL = `SELECT ` + deadLetterColumns + ` FROM dead_letters WHERE workspace_id = $1 AND id = $2`

	lockDeadLetterSQL = `SELECT ` + deadLetterColumns + ` FROM dead_letters WHERE workspace_id = $1 AND id = $2 FOR UPDATE`

	markReplayedSQL = `UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1
		WHERE workspace_id = $1 AND id = $2`

	// markTaskDeadLettersReplayedSQL: a task retried from its own page settles the dead letters
	// that waited for a replay of it.
	markTaskDeadLettersReplayedSQL = `UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1
		WHERE workspace_id = $1 AND task_id = $2 AND replayed_at IS NULL`

	selectTaskStatusSQL = `SELECT status FROM tasks WHERE workspace_id = $1 AND id = $2`

	runTaskNowSQL = `UPDATE tasks SET status = 'queued', run_at = now(), updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'scheduled' RETURNING ` + taskColumns

	deleteTaskSQL = `DELETE FROM tasks WHERE workspace_id = $1 AND id = $2 AND status IN ('succeeded', 'dead', 'cancelled')`

	deleteTaskEventsSQL = `DELETE FROM task_events WHERE workspace_id = $1 AND task_id = $2`

	countDeadLettersSQL = `SELECT count(*) FROM dead_letters WHERE workspace_id = $1 AND replayed_at IS NULL AND discarded_at IS NULL`

	insertUnroutedSQL = `INSERT INTO unrouted_messages (id, reason, error, subject, headers, payload, stream_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`

	listUnroutedSQL = `SELECT id, reason, error, subject, headers, payload, stream_seq, created_at
		FROM unrouted_messages ORDER BY id DESC LIMIT $1`

	insertOutboxSQL = `INSERT INTO outbox (workspace_id, msg_id, subject, headers, payload) VALUES ($1, $2, $3, $4, $5)`

	// claimOutboxSQL takes the due rows of the workspaces $1 (outbox ids are unique across them).
	claimOutboxSQL = `SELECT workspace_id, id, msg_id, subject, headers, payload FROM outbox
		WHERE workspace_id = ANY ($1) AND publish_after <= now() ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`

	// deleteOutboxSQL and failOutboxSQL take rows as (workspace, id) pairs: a drain serves up to
	// 256 workspaces, and "workspace_id = ANY ($1) AND id = ANY ($2)" probed the primary key for
	// every pair of the two lists (measured: over a thousand buffers per delete).
	deleteOutboxSQL = `DELETE FROM outbox o USING unnest($1::uuid[], $2::bigint[]) AS d(ws, id)
		WHERE o.workspace_id = d.ws AND o.id = d.id`

	failOutboxSQL = `UPDATE outbox o SET attempts = o.attempts + 1, last_error = $3
		FROM unnest($1::uuid[], $2::bigint[]) AS d(ws, id) WHERE o.workspace_id = d.ws AND o.id = d.id`
)

// taskFilterSQL is the rest of a list's filters, with parameters from $first: whether internal
// kinds are shown ("credentials." and "knowledge.", the namespaces events routes to their own
// streams: the system's own tasks; a list for one kind shows it whatever it is, kind being that
// parameter), created at or after, created before, and JSON the args contain (a filter on the
// scan: no index holds args).
func taskFilterSQL(first int, kind string) string {
	p := func(i int) string { return fmt.Sprintf("$%d", first+i) }
	return `AND (` + p(0) + `::bool OR ` + kind + ` <> '' OR NOT (kind LIKE '` + internalKinds[0] + `%' OR kind LIKE '` + internalKinds[1] + `%'))
		  AND (` + p(1) + `::timestamptz IS NULL OR created_at >= ` + p(1) + `)
		  AND (` + p(2) + `::timestamptz IS NULL OR created_at < ` + p(2) + `)
		  AND (` + p(3) + `::jsonb IS NULL OR args @> ` + p(3) + `)`
}

// internalKinds are the namespaces of the system's own tasks (events.CredentialsNamespace and
// events.KnowledgeNamespace, which store cannot import; TestInternalKindsAreEventsNamespaces).
var internalKinds = [2]string{"credentials.", "knowledge."}

// InternalKinds are the kind namespaces a task list leaves out unless asked (TaskFilter.Internal).
func InternalKinds() []string { return []string{internalKinds[0], internalKinds[1]} }

// listTasksSQL pages newest first ([1]: oldest first); the cursor is the last task of the
// previous page ($2) with its creation time ($10). $3/$4 filter when not empty: one of them is
// (listAllTasksSQL lists without either); $6… are taskFilterSQL's.
var listTasksSQL = [2]string{listTasksOrdered(false), listTasksOrdered(true)}

// sortKey names a list order other than creation (SortUpdated, …) and its direction.
type sortKey struct {
	sort   string
	oldest bool
}

// listTasksSortedSQL are listTasksSQL's orders other than creation. No index serves them (each
// would add an entry at every task write, on the hot path): they read the tasks the filters
// leave (by status or kind through their index when given) and sort them: the cost grows with
// the tasks a workspace keeps (its retention). The cursor is the last task of the previous page
// ($2) with its key as that page showed it ($10, and $11 its priority for the priority order).
var listTasksSortedSQL = func() map[sortKey]string {
	keys := map[string][]string{
		SortUpdated:  {"updated_at", "id"},
		SortFinished: {"finished_at", "id"},
		SortPriority: {"priority", "created_at", "id"},
	}
	out := map[sortKey]string{}
	for sort, cols := range keys {
		for _, oldest := range []bool{false, true} {
			// Time keys: newest first by default. Priority: most urgent (1) first, oldest first,
			// by default; the other direction reverses it.
			asc := oldest
			if sort == SortPriority {
				asc = !oldest
			}
			dir, after := " DESC", "<"
			if asc {
				dir, after = "", ">"
			}
			var order []string
			for _, c := range cols {
				order = append(order, c+dir)
			}
			cursor := "$10::timestamptz, $2" // the cursor task's key as the previous page showed it
			if sort == SortPriority {
				cursor = "$11::smallint, $10::timestamptz, $2"
			}
			finished := ""
			if sort == SortFinished {
				finished = "AND finished_at IS NOT NULL"
			}
			out[sortKey{sort, oldest}] = `SELECT ` + taskColumns + ` FROM tasks
		WHERE workspace_id = $1 ` + finished + `
		  AND ($2::uuid IS NULL OR (` + strings.Join(cols, ", ") + `) ` + after + ` (` + cursor + `))
		  AND ($3 = '' OR status = $3) AND ($4 = '' OR kind = $4) ` + taskFilterSQL(6, "$4") + `
		ORDER BY ` + strings.Join(order, ", ") + ` LIMIT $5`
		}
	}
	return out
}()

// listAllTasksSQL is listTasksSQL without a status or kind: no index orders a workspace's tasks by
// creation alone (a claim or an end would have to update it too), so each status's first come
// from tasks_by_status, and a merge of those (already sorted) gives the page. $3 is its size, $8 the
// cursor task's creation time; $4…
// are taskFilterSQL's.
var listAllTasksSQL = [2]string{listAllTasksOrdered(false), listAllTasksOrdered(true)}

// taskOrder is a list's ORDER BY and its cursor's comparison: newest first, or oldest first.
func taskOrder(oldest bool) (orderBy, after string) {
	if oldest {
		return `ORDER BY created_at, id`, `>`
	}
	return `ORDER BY created_at DESC, id DESC`, `<`
}

func listTasksOrdered(oldest bool) string {
	orderBy, after := taskOrder(oldest)
	return `SELECT ` + taskColumns + ` FROM tasks
		WHERE workspace_id = $1
		  AND ($2::uuid IS NULL OR (created_at, id) ` + after + ` ($10::timestamptz, $2))
		  AND ($3 = '' OR status = $3) AND ($4 = '' OR kind = $4) ` + taskFilterSQL(6, "$4") + `
		` + orderBy + ` LIMIT $5`
}

func listAllTasksOrdered(oldest bool) string {
	orderBy, after := taskOrder(oldest)
	var b strings.Builder
	b.WriteString(`SELECT ` + taskColumns + ` FROM (`)
	for i, st := range TaskStatuses() {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		b.WriteString(`(SELECT ` + taskColumns + ` FROM tasks WHERE workspace_id = $1 AND status = '` + string(st) + `'
			AND ($2::uuid IS NULL OR (created_at, id) ` + after + ` ($8::timestamptz, $2))
			` + taskFilterSQL(4, "''") + `
			` + orderBy + ` LIMIT $3)`)
	}
	b.WriteString(`) t ` + orderBy + ` LIMIT $3`)
	return b.String()
}
