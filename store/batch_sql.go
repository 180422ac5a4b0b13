package store

// stillRunning is the fenced writes' check that their task still runs — status = 'running' —
// in a form from which the planner cannot prove the tasks_running partial index's predicate.
// Behind the batch door these statements run on generic plans, made once per connection on
// the statistics of that moment; made when few tasks ran, the index looked like a handful of
// entries and the update read it whole (a hash join) at every call, though it holds an entry
// for every claim since the last vacuum: 3 084 blocks a call of ~17 ends instead of ~220, a
// checkpoint run in three at half its rate (docs/benchmarks.md, tenth session). Without the
// index the plan looks each task up by its primary key, whatever the statistics say
// (TestRunningTaskWritesLookUpEachTask).
const stillRunning = `t.status = (SELECT 'running')`

// SQL of the batched (group commit) writes: the writes of many deliveries, of any number of
// workspaces, one statement per kind of write. Every row carries its workspace ($1, one per row)
// and every statement matches rows on (workspace_id, id); the transaction's door lists the
// batch's workspaces (mosaic.workspace_ids), and RLS admits those and no other.
var (
	// claimRule is when a delivery may take a task's row: its fencing token is newer, the task is
	// of its generation or an earlier one, not finished, not being cancelled, with attempts left;
	// and a message that is not the task's own (canonical: the one Mosaic published, or its
	// schedule's) takes only a row that a delivery has held before: an unclaimed row Mosaic
	// published is a twin's, and Mosaic's own message will run it. PeekResult.Claim applies the
	// same rule in Go (TestClaimRuleMatchesSQL holds the two together).
	claimRule = `t.fence < i.fence AND t.generation <= i.generation
			  AND t.status IN ('queued', 'scheduled', 'retrying', 'running')
			  AND t.cancel_requested_at IS NULL AND t.attempt < t.max_attempts
			  AND (i.canonical OR t.fence > 0)`

	// trailInRow is when an end writes no task_events row: the task succeeded and the end has no
	// detail to record. Its row holds the transition (status, fence, attempt, worker, finished_at;
	// started_at for the "running" transition of a short attempt, claimed and ended in one write),
	// and TaskEvents reads it from there (selectTaskEventsSQL) until a replay writes it out
	// (keepTrailSQL) before the row is used again. The commonest end costs no audit row: a heap
	// row and two index entries less per task (BenchmarkClaimAndEnd: about a sixth of
	// PostgreSQL's time per task).
	trailInRow = `(i.status = 'succeeded' AND i.detail IS NULL)`

	// claimedRow is claimRule inside an insert's ON CONFLICT clause, whose own row is t there:
	// the input row that proposed it is looked up.
	claimedRow = `EXISTS (SELECT 1 FROM input i WHERE i.ws = t.workspace_id AND i.id = t.id AND ` + claimRule + `)`

	// keyFree: no other task holds the input row's idempotency key. The insert's ON CONFLICT names
	// the primary key (to take a row that is there); a key held by another task would fail the
	// statement instead, so such a row is not inserted (classified: Duplicate). Against a task
	// inserting the same key at the same moment the statement fails, and its retry classifies it.
	keyFree = `(i.idempotency_key = '' OR NOT EXISTS (SELECT 1 FROM tasks x
			WHERE x.workspace_id = i.ws AND x.idempotency_key = i.idempotency_key AND x.id <> i.id))`

	// notUpdated: the claim statement's update (upd) did not take the input row's task. A claim
	// sent with its creation columns is tried as an update first (its row is there in the common
	// case: the publisher wrote it while the message travelled), and inserted only when the
	// update took nothing — no row yet, or a row the claim rule refused, which the insert's ON
	// CONFLICT then refuses again. Measured in the pool's claim-and-end of new tasks (bench
	// -pgstats): 33–37 µs of PostgreSQL per task through the insert's ON CONFLICT, 21–28 through
	// the update.
	notUpdated = `NOT EXISTS (SELECT 1 FROM upd u WHERE u.workspace_id = i.ws AND u.id = i.id)`

	// claimManySQL claims many tasks, each optionally with its first checkpoint (state not null):
	// a delivery that ran before claiming claims with its first write. Every row is first updated
	// under claimRule (a row the delivery's peek found is sent without columns, kind NULL, and
	// only updated); one the update did not take is inserted from the columns sent with it (a raw
	// message, or a new task whose publisher has not committed its row yet), or, when the row is
	// there after all, updated under the same rule by the insert's ON CONFLICT: a publisher that
	// JetStream accepted first may still be writing it, and the insert waits for that commit and
	// then takes the row, where a plain update would not have seen it and a second round (read the
	// row, claim again) was needed. (workspace, id) pairs are unique per call and the insert skips
	// the rows the update took (notUpdated), so no row is taken by both branches.
	claimManySQL = claimSQL(`input AS (`+claimInput+`)`, "")

	// claimCappedSQL is claimManySQL for the claims of workspaces with a cap on running tasks,
	// whose workspace_limits rows the batch has locked (lockLimitsSQL) before it. A claim whose
	// task runs now (a live lease: a redelivery, or a stale message) or has ended passes: it takes
	// no new slot, whether it wins (its task's slot) or loses. The others, the ones that would
	// start a task, are admitted in id order up to the cap less every task running there now; the
	// rest come back as at capacity.
	claimCappedSQL = claimSQL(`sent AS (`+claimInput+`), room AS (
			SELECT l.workspace_id AS ws, l.max_concurrency - (SELECT count(*) FROM tasks x
				WHERE x.workspace_id = l.workspace_id AND x.status = 'running' AND x.lease_until > now()) AS free
			FROM workspace_limits l WHERE l.workspace_id IN (SELECT ws FROM sent) AND l.max_concurrency > 0
		), known AS (
			SELECT s, COALESCE(x.status = 'running' AND x.lease_until > now() OR x.status IN ('succeeded', 'dead', 'cancelled'),
				false) AS passes
			FROM sent s LEFT JOIN LATERAL (SELECT status, lease_until FROM tasks x
				WHERE x.workspace_id = s.ws AND x.id = s.id OFFSET 0) x ON true
		), ranked AS (
			SELECT k.s, k.passes, row_number() OVER (PARTITION BY (k.s).ws, k.passes ORDER BY (k.s).id) AS n FROM known k
		), input AS (
			SELECT (r.s).* FROM ranked r LEFT JOIN room ON room.ws = (r.s).ws
			WHERE room.ws IS NULL OR r.passes OR r.n <= room.free
		)`, ` UNION ALL SELECT s.ws, s.id, 0, 0, NULL, 0, 0, true FROM sent s
			WHERE NOT EXISTS (SELECT 1 FROM input i WHERE i.ws = s.ws AND i.id = s.id)`)

	// lockLimitsSQL locks the limits rows of the workspaces of a batch's capped claims, in one
	// order, before the batch takes any task row: the claims of a capped workspace take turns.
	lockLimitsSQL = `SELECT workspace_id FROM workspace_limits WHERE workspace_id = ANY ($1::uuid[])
		ORDER BY workspace_id FOR UPDATE`
)

// claimInput is the claims' unnest arrays as rows.
const claimInput = `SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::smallint[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
				$8::int[], $9::bigint[], $10::timestamptz[], $11::text[], $12::int[], $13::bigint[], $14::bigint[],
				$15::bool[], $18::timestamptz[], $19::jsonb[], $20::real[], $21::text[])
			AS u(ws, id, kind, priority, args, credentials, metadata, max_attempts, timeout_ms, run_at,
				idempotency_key, generation, fence, msg_seq, canonical, started_at, state, progress, message)`

// claimSQL is the claim statement over the claims of the CTEs inputs (which end with one named
// input); each claimed row comes back with at_capacity false, and after them the rows of more,
// if any (the capped form's claims that were not admitted).
func claimSQL(inputs, more string) string {
	return `WITH ` + inputs + `, upd AS (
			UPDATE tasks t SET status = 'running', attempt = t.attempt + 1, generation = i.generation,
				fence = i.fence, msg_seq = i.msg_seq, worker = $16,
				lease_until = now() + $17 * interval '1 millisecond', started_at = COALESCE(i.started_at, now()),
				updated_at = now(), checkpoint = COALESCE(i.state, t.checkpoint),
				checkpoint_seq = t.checkpoint_seq + CASE WHEN i.state IS NULL THEN 0 ELSE 1 END,
				progress = CASE WHEN i.state IS NULL THEN t.progress ELSE COALESCE(i.progress, 0) END,
				progress_message = CASE WHEN i.state IS NULL THEN t.progress_message ELSE NULLIF(i.message, '') END
			FROM input i
			WHERE t.workspace_id = i.ws AND t.id = i.id AND ` + claimRule + `
			RETURNING t.workspace_id, t.id, t.attempt, t.max_attempts, t.checkpoint, t.checkpoint_seq, t.timeout_ms,
				t.fence, t.started_at
		), ins AS (
			INSERT INTO tasks AS t (workspace_id, id, kind, priority, args, credentials, metadata, max_attempts,
				timeout_ms, run_at, idempotency_key, status, attempt, generation, fence, msg_seq, worker,
				lease_until, started_at, created_at, checkpoint, checkpoint_seq, progress, progress_message)
			SELECT i.ws, i.id, i.kind, i.priority, i.args, ARRAY(SELECT jsonb_array_elements_text(i.credentials)),
				i.metadata, i.max_attempts, i.timeout_ms, i.run_at, NULLIF(i.idempotency_key, ''), 'running', 1,
				i.generation, i.fence, i.msg_seq, $16, now() + $17 * interval '1 millisecond',
				COALESCE(i.started_at, now()), LEAST(now(), i.started_at), i.state, CASE WHEN i.state IS NULL THEN 0 ELSE 1 END,
				COALESCE(i.progress, 0), NULLIF(i.message, '')
			FROM input i WHERE i.kind IS NOT NULL AND ` + notUpdated + ` AND ` + keyFree + `
			ON CONFLICT (workspace_id, id) DO UPDATE SET status = 'running', attempt = t.attempt + 1,
				generation = excluded.generation, fence = excluded.fence, msg_seq = excluded.msg_seq, worker = $16,
				lease_until = excluded.lease_until, started_at = excluded.started_at, updated_at = now(),
				checkpoint = COALESCE(excluded.checkpoint, t.checkpoint), checkpoint_seq = t.checkpoint_seq + excluded.checkpoint_seq,
				progress = CASE WHEN excluded.checkpoint IS NULL THEN t.progress ELSE excluded.progress END,
				progress_message = CASE WHEN excluded.checkpoint IS NULL THEN t.progress_message ELSE excluded.progress_message END
			WHERE ` + claimedRow + `
			RETURNING t.workspace_id, t.id, t.attempt, t.max_attempts, t.checkpoint, t.checkpoint_seq, t.timeout_ms,
				t.fence, t.started_at
		), claimed AS (
			SELECT * FROM upd UNION ALL SELECT * FROM ins
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker)
			SELECT workspace_id, id, started_at, 'running', 'running', attempt, fence, $16 FROM claimed
		)
		SELECT workspace_id, id, attempt, max_attempts, checkpoint, checkpoint_seq, timeout_ms, false FROM claimed` + more
}

var (
	// peekManySQL reads what a delivery needs to decide, without writing, whether it may run its
	// task (PeekResult.Claim) and where to resume, and whether its workspace exists: one
	// primary-key lookup per task. Not "id = ANY ($2)", nor a join with the ids: a generic plan
	// guesses a hundred ids per array and, while the statistics call a workspace small (a new
	// installation, a new workspace), prefers one pass over the workspace (a hash join, or one
	// descent of any index on workspace_id with a filter on id), which becomes a scan of the whole
	// workspace at every call once it has grown (measured: over a thousand buffers per one-task
	// peek). The lateral subqueries (OFFSET 0: not flattened) are planned for one task each, and
	// read only the columns they return.
	peekManySQL = `SELECT ids.ws, ids.id, w.found IS NOT NULL, t.*
		FROM unnest($1::uuid[], $2::uuid[]) AS ids(ws, id)
		LEFT JOIN LATERAL (SELECT true AS found FROM workspaces w WHERE w.id = ids.ws OFFSET 0) w ON true
		LEFT JOIN LATERAL (
			SELECT status, fence, msg_seq, attempt, max_attempts, generation, cancel_requested_at IS NOT NULL,
				COALESCE(last_error, ''), checkpoint, checkpoint_seq, timeout_ms
			FROM tasks x WHERE x.workspace_id = ids.ws AND x.id = ids.id OFFSET 0) t ON true`

	// claimFinishManySQL ends deliveries that ran without claiming (their handlers wrote nothing
	// before returning): claim and end in one write, with the outbox message and one audit row
	// for both transitions (the end, with the attempt's started_at: TaskEvents reads the
	// "running" transition back from it) — none when the task succeeded without a detail: its
	// trail is in its row (trailInRow).
	// Rows are taken as in claimManySQL: updated; else inserted, or taken by the insert's ON
	// CONFLICT.
	claimFinishManySQL = `WITH input AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::smallint[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
				$8::int[], $9::bigint[], $10::timestamptz[], $11::text[], $12::int[], $13::bigint[], $14::bigint[],
				$15::bool[], $17::timestamptz[], $18::text[], $19::jsonb[], $20::text[], $21::int[], $22::timestamptz[],
				$23::jsonb[], $24::text[], $25::text[], $26::bytea[])
			AS u(ws, id, kind, priority, args, credentials, metadata, max_attempts, timeout_ms, run_at,
				idempotency_key, generation, fence, msg_seq, canonical, started_at, status, result, error, extra_attempts,
				next_run_at, detail, msg_id, subject, payload)
		), upd AS (
			UPDATE tasks t SET status = i.status, attempt = t.attempt + 1, generation = i.generation,
				fence = i.fence, msg_seq = i.msg_seq, worker = CASE WHEN i.status = 'succeeded' THEN $16 END,
				lease_until = NULL, started_at = i.started_at,
				result = i.result, last_error = NULLIF(i.error, ''), max_attempts = t.max_attempts + i.extra_attempts,
				run_at = COALESCE(i.next_run_at, t.run_at), updated_at = now(),
				finished_at = CASE WHEN i.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
				progress = CASE WHEN i.status = 'succeeded' THEN 1 ELSE t.progress END
			FROM input i
			WHERE t.workspace_id = i.ws AND t.id = i.id AND ` + claimRule + `
			RETURNING t.workspace_id, t.id, t.attempt
		), ins AS (
			INSERT INTO tasks AS t (workspace_id, id, kind, priority, args, credentials, metadata, max_attempts,
				timeout_ms, run_at, idempotency_key, status, attempt, generation, fence, msg_seq, worker, started_at,
				created_at, result, last_error, finished_at, progress)
			SELECT i.ws, i.id, i.kind, i.priority, i.args, ARRAY(SELECT jsonb_array_elements_text(i.credentials)),
				i.metadata, i.max_attempts + i.extra_attempts, i.timeout_ms, COALESCE(i.next_run_at, i.run_at),
				NULLIF(i.idempotency_key, ''), i.status, 1, i.generation, i.fence, i.msg_seq,
				CASE WHEN i.status = 'succeeded' THEN $16 END, i.started_at, LEAST(now(), i.started_at), i.result,
				NULLIF(i.error, ''), CASE WHEN i.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
				CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END
			FROM input i WHERE i.kind IS NOT NULL AND ` + notUpdated + ` AND ` + keyFree + `
			ON CONFLICT (workspace_id, id) DO UPDATE SET status = excluded.status, attempt = t.attempt + 1,
				generation = excluded.generation, fence = excluded.fence, msg_seq = excluded.msg_seq, worker = excluded.worker,
				lease_until = NULL, started_at = excluded.started_at, result = excluded.result,
				last_error = excluded.last_error, updated_at = now(), finished_at = excluded.finished_at,
				max_attempts = t.max_attempts + (SELECT i.extra_attempts FROM input i WHERE i.ws = t.workspace_id AND i.id = t.id),
				run_at = COALESCE((SELECT i.next_run_at FROM input i WHERE i.ws = t.workspace_id AND i.id = t.id), t.run_at),
				progress = CASE WHEN excluded.status = 'succeeded' THEN 1 ELSE t.progress END
			WHERE ` + claimedRow + `
			RETURNING t.workspace_id, t.id, t.attempt
		), done AS (
			SELECT workspace_id AS ws, id, attempt FROM upd UNION ALL SELECT workspace_id, id, attempt FROM ins
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker, detail, started_at)
			SELECT d.ws, d.id, now(), i.status, i.status, d.attempt, i.fence, $16, i.detail, i.started_at
			FROM done d JOIN input i USING (ws, id) WHERE NOT ` + trailInRow + `
		), ob AS (
			` + bundleOutbox("done") + `
		)
		SELECT ws, id, attempt FROM done`

	checkpointManySQL = `UPDATE tasks t SET checkpoint = u.state, checkpoint_seq = t.checkpoint_seq + 1,
			lease_until = now() + $7 * interval '1 millisecond', progress = u.progress,
			progress_message = NULLIF(u.message, ''), updated_at = now()
		FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::jsonb[], $5::real[], $6::text[])
			AS u(ws, id, fence, state, progress, message)
		WHERE t.workspace_id = u.ws AND t.id = u.id AND t.fence = u.fence AND ` + stillRunning + `
		RETURNING t.workspace_id, t.id, t.checkpoint_seq, t.cancel_requested_at IS NOT NULL`

	// finishManySQL is finishTaskSQL for many deliveries, with their events and their outbox
	// messages (one per delivery, empty subject for none).
	finishManySQL = `WITH input AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::jsonb[], $6::text[], $7::int[],
				$8::timestamptz[], $9::jsonb[], $10::text[], $11::text[], $12::bytea[])
			AS u(ws, id, fence, status, result, error, extra_attempts, run_at, detail, msg_id, subject, payload)
		), u AS (
			UPDATE tasks t SET status = i.status, result = i.result, last_error = NULLIF(i.error, ''),
				max_attempts = t.max_attempts + i.extra_attempts, lease_until = NULL,
				worker = CASE WHEN i.status = 'succeeded' THEN t.worker END, updated_at = now(),
				finished_at = CASE WHEN i.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
				progress = CASE WHEN i.status = 'succeeded' THEN 1 ELSE t.progress END,
				run_at = COALESCE(i.run_at, t.run_at)
			FROM input i
			WHERE t.workspace_id = i.ws AND t.id = i.id AND t.fence = i.fence AND ` + stillRunning + `
			RETURNING t.workspace_id AS ws, t.id, t.attempt
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, type, status, attempt, fence, worker, detail)
			SELECT u.ws, u.id, i.status, i.status, u.attempt, i.fence, $13, i.detail FROM u JOIN input i USING (ws, id)
			WHERE NOT ` + trailInRow + `
		), ob AS (
			` + bundleOutbox("u") + `
		)
		SELECT ws, id, attempt FROM u`

	classifyManySQL = `SELECT ids.id, t.* FROM unnest($2::uuid[]) AS ids(id) CROSS JOIN LATERAL (
			SELECT status, fence, msg_seq, attempt, max_attempts, generation, cancel_requested_at IS NOT NULL,
				COALESCE(last_error, '')
			FROM tasks x WHERE x.workspace_id = $1 AND x.id = ids.id OFFSET 0) t`
)

// bundleOutbox queues the outbox messages of a batch's deliveries (those of the rows in the CTE
// named done, which has ws and id) as one outbox row per workspace: a bundle, whose empty subject
// says that its payload is a JSON array of {msg_id, subject, data}. One row, one NOTIFY and one
// delete per workspace and batch instead of per task; the relay publishes each message with its
// own Nats-Msg-Id.
func bundleOutbox(done string) string {
	return `INSERT INTO outbox (workspace_id, msg_id, subject, payload)
			SELECT d.ws, 'bundle:' || gen_random_uuid(), '',
				convert_to(jsonb_agg(jsonb_build_object('msg_id', i.msg_id, 'subject', i.subject,
					'data', convert_from(i.payload, 'UTF8')))::text, 'UTF8')
			FROM ` + done + ` d JOIN input i USING (ws, id) WHERE i.subject <> ''
			GROUP BY d.ws`
}
