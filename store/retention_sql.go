package store

// SQL of retention: a workspace's settings and the cleaner's deletes (migration 00021).
const (
	selectRetentionSQL = `SELECT succeeded_seconds, cancelled_seconds, dead_seconds, dead_letters_seconds
		FROM workspace_retention WHERE workspace_id = $1`
	upsertRetentionSQL = `INSERT INTO workspace_retention
		(workspace_id, succeeded_seconds, cancelled_seconds, dead_seconds, dead_letters_seconds) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (workspace_id) DO UPDATE SET succeeded_seconds = $2, cancelled_seconds = $3, dead_seconds = $4,
			dead_letters_seconds = $5, updated_at = now()`
	deleteRetentionSQL = `DELETE FROM workspace_retention WHERE workspace_id = $1`

	// deleteFinishedTasksSQL deletes up to $4 tasks of status $2 that finished before $3, oldest
	// first, with their audit trail: tasks_by_status in created_at order, which stops at the first
	// task created after the cutoff. A dead task stays while a dead letter of it waits. Rows a
	// transaction holds (a retry asked for this moment) are skipped, not waited for.
	deleteFinishedTasksSQL = `WITH doomed AS (
		SELECT t.id FROM tasks t
		WHERE t.workspace_id = $1 AND t.status = $2 AND t.created_at < $3 AND t.finished_at < $3
			AND ($2 <> 'dead' OR NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.workspace_id = $1 AND d.task_id = t.id
				AND d.replayed_at IS NULL AND d.discarded_at IS NULL))
		ORDER BY t.created_at LIMIT $4
		FOR UPDATE SKIP LOCKED
	), gone AS (
		DELETE FROM tasks t USING doomed WHERE t.workspace_id = $1 AND t.id = doomed.id AND t.status = $2 RETURNING t.id
	), trail AS (
		DELETE FROM task_events e USING gone WHERE e.workspace_id = $1 AND e.task_id = gone.id RETURNING 1
	)
	SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM trail)`

	// deleteResolvedDeadLettersSQL deletes up to $3 dead letters replayed or discarded before $2.
	// Waiting ones (neither) are never deleted.
	deleteResolvedDeadLettersSQL = `WITH doomed AS (
		SELECT id FROM dead_letters
		WHERE workspace_id = $1 AND GREATEST(replayed_at, discarded_at) < $2
		LIMIT $3 FOR UPDATE SKIP LOCKED
	)
	DELETE FROM dead_letters d USING doomed WHERE d.workspace_id = $1 AND d.id = doomed.id`
)
