package store

// SQL of the batched (group commit) writes: many deliveries of one workspace per statement.
var (
	// claimManySQL claims many tasks of one workspace ($1), each optionally with its first
	// checkpoint (state not null): a delivery that ran before claiming claims with its first write.
	// Existing rows are taken under the claim rule (PeekResult.Claim applies the same); missing ones
	// (raw messages) are inserted. A message that is not the task's own (canonical: the one Mosaic
	// published) may not take a row that Mosaic published and no delivery has claimed yet: that
	// one is a twin, and Mosaic's own message will run the task. Ids are unique per call.
	claimManySQL = `WITH input AS (
			SELECT * FROM unnest($2::uuid[], $3::text[], $4::smallint[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
				$8::int[], $9::bigint[], $10::timestamptz[], $11::text[], $12::int[], $13::bigint[], $14::bigint[],
				$17::timestamptz[], $18::jsonb[], $19::real[], $20::text[], $21::bool[])
			AS u(id, kind, priority, args, credentials, metadata, max_attempts, timeout_ms, run_at,
				idempotency_key, generation, fence, msg_seq, started_at, state, progress, message, canonical)
		), upd AS (
			UPDATE tasks t SET status = 'running', attempt = t.attempt + 1, generation = i.generation,
				fence = i.fence, msg_seq = i.msg_seq, worker = $15,
				lease_until = now() + $16 * interval '1 millisecond', started_at = COALESCE(i.started_at, now()),
				updated_at = now(), checkpoint = COALESCE(i.state, t.checkpoint),
				checkpoint_seq = t.checkpoint_seq + CASE WHEN i.state IS NULL THEN 0 ELSE 1 END,
				progress = CASE WHEN i.state IS NULL THEN t.progress ELSE COALESCE(i.progress, 0) END,
				progress_message = CASE WHEN i.state IS NULL THEN t.progress_message ELSE NULLIF(i.message, '') END
			FROM input i
			WHERE t.workspace_id = $1 AND t.id = i.id AND t.fence < i.fence AND t.generation <= i.generation
			  AND t.status IN ('queued', 'scheduled', 'retrying', 'running')
			  AND t.cancel_requested_at IS NULL AND t.attempt < t.max_attempts
			  AND (i.canonical OR t.fence > 0)
			RETURNING t.id, t.attempt, t.max_attempts, t.checkpoint, t.checkpoint_seq, t.timeout_ms, t.fence, t.started_at
		), ins AS (
			INSERT INTO tasks (workspace_id, id, kind, priority, args, credentials, metadata, max_attempts,
				timeout_ms, run_at, idempotency_key, status, attempt, generation, fence, msg_seq, worker,
				lease_until, started_at, checkpoint, checkpoint_seq, progress, progress_message)
			SELECT $1, i.id, i.kind, i.priority, i.args, ARRAY(SELECT jsonb_array_elements_text(i.credentials)),
				i.metadata, i.max_attempts, i.timeout_ms, i.run_at, NULLIF(i.idempotency_key, ''), 'running', 1,
				i.generation, i.fence, i.msg_seq, $15, now() + $16 * interval '1 millisecond',
				COALESCE(i.started_at, now()), i.state, CASE WHEN i.state IS NULL THEN 0 ELSE 1 END,
				COALESCE(i.progress, 0), NULLIF(i.message, '')
			FROM input i
			ON CONFLICT DO NOTHING
			RETURNING id, attempt, max_attempts, checkpoint, checkpoint_seq, timeout_ms, fence, started_at
		), claimed AS (
			SELECT * FROM upd UNION ALL SELECT * FROM ins
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker)
			SELECT $1, id, started_at, 'running', 'running', attempt, fence, $15 FROM claimed
		)
		SELECT id, attempt, max_attempts, checkpoint, checkpoint_seq, timeout_ms FROM claimed`

	// peekManySQL reads what a delivery needs to decide, without writing, whether it may run its
	// task (PeekResult.Claim) and where to resume: one primary-key lookup per id. Not "id = ANY
	// ($2)", nor a join with the ids: a generic plan guesses a hundred ids per array and, while the
	// statistics call the workspace small (a new installation, a new workspace), prefers one pass
	// over the workspace (a hash join, or one descent of any index on workspace_id with a filter on
	// id), which becomes a scan of the whole workspace at every call once it has grown (measured:
	// over a thousand buffers per one-task peek). The lateral subquery (OFFSET 0: not flattened)
	// is planned for one id, and reads only the columns it returns.
	peekManySQL = `SELECT ids.id, t.* FROM unnest($2::uuid[]) AS ids(id) CROSS JOIN LATERAL (
			SELECT status, fence, msg_seq, attempt, max_attempts, generation, cancel_requested_at IS NOT NULL,
				COALESCE(last_error, ''), checkpoint, checkpoint_seq, timeout_ms
			FROM tasks x WHERE x.workspace_id = $1 AND x.id = ids.id OFFSET 0) t`

	workspaceExistsSQL = `SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)`

	// claimFinishManySQL ends deliveries that ran without claiming (their handlers wrote nothing
	// before returning): claim and end in one write, with both transitions and the outbox message.
	// Existing rows are taken under the claim rule; missing ones (raw messages) are inserted.
	claimFinishManySQL = `WITH input AS (
			SELECT * FROM unnest($2::uuid[], $3::text[], $4::smallint[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
				$8::int[], $9::bigint[], $10::timestamptz[], $11::text[], $12::int[], $13::bigint[], $14::bigint[],
				$16::timestamptz[], $17::text[], $18::jsonb[], $19::text[], $20::int[], $21::timestamptz[],
				$22::jsonb[], $23::text[], $24::text[], $25::bytea[])
			AS u(id, kind, priority, args, credentials, metadata, max_attempts, timeout_ms, run_at,
				idempotency_key, generation, fence, msg_seq, started_at, status, result, error, extra_attempts,
				next_run_at, detail, msg_id, subject, payload)
		), upd AS (
			UPDATE tasks t SET status = i.status, attempt = t.attempt + 1, generation = i.generation,
				fence = i.fence, msg_seq = i.msg_seq, worker = NULL, lease_until = NULL, started_at = i.started_at,
				result = i.result, last_error = NULLIF(i.error, ''), max_attempts = t.max_attempts + i.extra_attempts,
				run_at = COALESCE(i.next_run_at, t.run_at), updated_at = now(),
				finished_at = CASE WHEN i.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
				progress = CASE WHEN i.status = 'succeeded' THEN 1 ELSE t.progress END
			FROM input i
			WHERE t.workspace_id = $1 AND t.id = i.id AND t.fence < i.fence AND t.generation <= i.generation
			  AND t.status IN ('queued', 'scheduled', 'retrying', 'running')
			  AND t.cancel_requested_at IS NULL AND t.attempt < t.max_attempts
			RETURNING t.id, t.attempt
		), ins AS (
			INSERT INTO tasks (workspace_id, id, kind, priority, args, credentials, metadata, max_attempts,
				timeout_ms, run_at, idempotency_key, status, attempt, generation, fence, msg_seq, started_at,
				result, last_error, finished_at, progress)
			SELECT $1, i.id, i.kind, i.priority, i.args, ARRAY(SELECT jsonb_array_elements_text(i.credentials)),
				i.metadata, i.max_attempts + i.extra_attempts, i.timeout_ms, COALESCE(i.next_run_at, i.run_at),
				NULLIF(i.idempotency_key, ''), i.status, 1, i.generation, i.fence, i.msg_seq, i.started_at, i.result,
				NULLIF(i.error, ''), CASE WHEN i.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
				CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END
			FROM input i
			ON CONFLICT DO NOTHING
			RETURNING id, attempt
		), done AS (
			SELECT id, attempt FROM upd UNION ALL SELECT id, attempt FROM ins
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker, detail)
			SELECT $1, id, at, type, type, attempt, fence, $15, detail FROM (
				SELECT d.id, i.started_at AS at, 'running' AS type, d.attempt, i.fence, NULL::jsonb AS detail, 0 AS ord
				FROM done d JOIN input i USING (id)
				UNION ALL
				SELECT d.id, now(), i.status, d.attempt, i.fence, i.detail, 1 FROM done d JOIN input i USING (id)
			) e ORDER BY id, ord
		), ob AS (
			` + bundleOutbox("done") + `
		)
		SELECT id, attempt FROM done`

	checkpointManySQL = `UPDATE tasks t SET checkpoint = u.state, checkpoint_seq = t.checkpoint_seq + 1,
			lease_until = now() + $7 * interval '1 millisecond', progress = u.progress,
			progress_message = NULLIF(u.message, ''), updated_at = now()
		FROM unnest($2::uuid[], $3::bigint[], $4::jsonb[], $5::real[], $6::text[]) AS u(id, fence, state, progress, message)
		WHERE t.workspace_id = $1 AND t.id = u.id AND t.fence = u.fence AND t.status = 'running'
		RETURNING t.id, t.checkpoint_seq, t.cancel_requested_at IS NOT NULL`

	// finishManySQL is finishTaskSQL for many deliveries of one workspace, with their events and
	// their outbox messages (one per delivery, empty subject for none).
	finishManySQL = `WITH input AS (
			SELECT * FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::jsonb[], $6::text[], $7::int[],
				$8::timestamptz[], $9::jsonb[], $10::text[], $11::text[], $12::bytea[])
			AS u(id, fence, status, result, error, extra_attempts, run_at, detail, msg_id, subject, payload)
		), u AS (
			UPDATE tasks t SET status = i.status, result = i.result, last_error = NULLIF(i.error, ''),
				max_attempts = t.max_attempts + i.extra_attempts, lease_until = NULL, worker = NULL, updated_at = now(),
				finished_at = CASE WHEN i.status IN ('succeeded', 'dead', 'cancelled') THEN now() END,
				progress = CASE WHEN i.status = 'succeeded' THEN 1 ELSE t.progress END,
				run_at = COALESCE(i.run_at, t.run_at)
			FROM input i
			WHERE t.workspace_id = $1 AND t.id = i.id AND t.fence = i.fence AND t.status = 'running'
			RETURNING t.id, t.attempt
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, type, status, attempt, fence, worker, detail)
			SELECT $1, u.id, i.status, i.status, u.attempt, i.fence, $13, i.detail FROM u JOIN input i USING (id)
		), ob AS (
			` + bundleOutbox("u") + `
		)
		SELECT id, attempt FROM u`

	classifyManySQL = `SELECT ids.id, t.* FROM unnest($2::uuid[]) AS ids(id) CROSS JOIN LATERAL (
			SELECT status, fence, msg_seq, attempt, max_attempts, generation, cancel_requested_at IS NOT NULL,
				COALESCE(last_error, '')
			FROM tasks x WHERE x.workspace_id = $1 AND x.id = ids.id OFFSET 0) t`
)

// bundleOutbox queues the outbox messages of a batch's deliveries (those of the rows in the CTE
// named done) as one outbox row: a bundle, whose empty subject says that its payload is a JSON
// array of {msg_id, subject, data}. One row, one NOTIFY and one delete per batch instead of per
// task; the relay publishes each message with its own Nats-Msg-Id.
func bundleOutbox(done string) string {
	return `INSERT INTO outbox (workspace_id, msg_id, subject, payload)
			SELECT $1, 'bundle:' || gen_random_uuid(), '',
				convert_to(jsonb_agg(jsonb_build_object('msg_id', i.msg_id, 'subject', i.subject,
					'data', convert_from(i.payload, 'UTF8')))::text, 'UTF8')
			FROM ` + done + ` d JOIN input i USING (id) WHERE i.subject <> ''
			HAVING count(*) > 0`
}
