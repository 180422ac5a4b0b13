package store

// SQL of the batched (group commit) writes: many deliveries of one workspace per statement.
const (
	// claimManySQL is claimTaskSQL for many tasks of one workspace ($1). Ids are unique per call.
	claimManySQL = `WITH input AS (
			SELECT * FROM unnest($2::uuid[], $3::text[], $4::smallint[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
				$8::int[], $9::bigint[], $10::timestamptz[], $11::text[], $12::int[], $13::bigint[], $14::bigint[])
			AS u(id, kind, priority, args, credentials, metadata, max_attempts, timeout_ms, run_at,
				idempotency_key, generation, fence, msg_seq)
		), claimed AS (
			INSERT INTO tasks AS t (workspace_id, id, kind, priority, args, credentials, metadata, max_attempts,
				timeout_ms, run_at, idempotency_key, status, attempt, generation, fence, msg_seq, worker,
				lease_until, started_at)
			SELECT $1, id, kind, priority, args, ARRAY(SELECT jsonb_array_elements_text(credentials)), metadata,
				max_attempts, timeout_ms, run_at, NULLIF(idempotency_key, ''), 'running', 1, generation, fence,
				msg_seq, $15, now() + $16 * interval '1 millisecond', now()
			FROM input
			ON CONFLICT (workspace_id, id) DO UPDATE SET
				status = 'running', attempt = t.attempt + 1, generation = EXCLUDED.generation,
				fence = EXCLUDED.fence, msg_seq = EXCLUDED.msg_seq, worker = EXCLUDED.worker,
				lease_until = EXCLUDED.lease_until, started_at = now(), updated_at = now()
			WHERE t.fence < EXCLUDED.fence AND t.generation <= EXCLUDED.generation
			  AND t.status IN ('queued', 'scheduled', 'retrying', 'running')
			  AND t.cancel_requested_at IS NULL AND t.attempt < t.max_attempts
			RETURNING t.id, t.attempt, t.max_attempts, t.checkpoint, t.checkpoint_seq, t.timeout_ms, t.fence
		), ev AS (
			INSERT INTO task_events (workspace_id, task_id, type, status, attempt, fence, worker)
			SELECT $1, id, 'running', 'running', attempt, fence, $15 FROM claimed
		)
		SELECT id, attempt, max_attempts, checkpoint, checkpoint_seq, timeout_ms FROM claimed`

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
			INSERT INTO outbox (workspace_id, msg_id, subject, payload)
			SELECT $1, i.msg_id, i.subject, i.payload FROM u JOIN input i USING (id) WHERE i.subject <> ''
		)
		SELECT id, attempt FROM u`

	classifyManySQL = `SELECT id, status, fence, msg_seq, attempt, max_attempts, generation,
			cancel_requested_at IS NOT NULL, COALESCE(last_error, '')
		FROM tasks WHERE workspace_id = $1 AND id = ANY ($2)`
)
