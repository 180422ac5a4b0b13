package store

// SQL of the schedule aggregate: schedules and their last runs (migration 00022).
const (
	// scheduleColumns are a Schedule's, by name: published_by NULL reads as uuid.Nil.
	scheduleColumns = `workspace_id, id, name, kind, args, priority, credentials, COALESCE(cron, '') AS cron, time_zone,
		COALESCE(every_ms, 0) * interval '1 millisecond' AS every, overlap, missed, paused_at, next_run_at, last_run_at,
		last_task_id, runs, skipped, published_by, created_by, created_at, updated_at,
		COALESCE((SELECT t.status FROM tasks t WHERE t.workspace_id = schedules.workspace_id AND t.id = schedules.last_task_id),
			'') AS last_task_status`

	insertScheduleSQL = `INSERT INTO schedules (workspace_id, id, name, kind, args, priority, credentials, cron, time_zone,
		every_ms, overlap, missed, paused_at, next_run_at, published_by, created_by)
		VALUES (@workspace_id, @id, @name, @kind, @args, @priority, @credentials, NULLIF(@cron, ''), @time_zone,
			NULLIF(@every_ms, 0), @overlap, @missed, @paused_at, @next_run_at, @published_by, @created_by)
		RETURNING ` + scheduleColumns

	// A schedule is named by its id or its name.
	selectScheduleSQL = `SELECT ` + scheduleColumns + ` FROM schedules
		WHERE workspace_id = $1 AND (name = $2 OR id::text = $2)`
	listSchedulesSQL  = `SELECT ` + scheduleColumns + ` FROM schedules WHERE workspace_id = $1 ORDER BY name`
	deleteScheduleSQL = `DELETE FROM schedules WHERE workspace_id = $1 AND (name = $2 OR id::text = $2)`
	// Pausing keeps next_run_at; resuming sets it to the next due time after now ($4), so that the
	// runs due while paused are not run.
	pauseScheduleSQL = `UPDATE schedules SET paused_at = CASE WHEN $3 THEN COALESCE(paused_at, now()) END,
		next_run_at = CASE WHEN $3 OR paused_at IS NULL THEN next_run_at ELSE $4 END, updated_at = now()
		WHERE workspace_id = $1 AND (name = $2 OR id::text = $2)
		RETURNING ` + scheduleColumns

	// dueSchedulesSQL finds schedules due at $1 among the batch door's workspaces.
	dueSchedulesSQL = `SELECT workspace_id, id FROM schedules WHERE next_run_at <= $1 AND paused_at IS NULL
		ORDER BY next_run_at LIMIT $2`
	// lockDueScheduleSQL takes a due schedule for firing, unless another process holds it.
	lockDueScheduleSQL = `SELECT ` + scheduleColumns + ` FROM schedules
		WHERE workspace_id = $1 AND id = $2 AND next_run_at <= $3 AND paused_at IS NULL FOR UPDATE SKIP LOCKED`
	insertRunSQL     = `INSERT INTO schedule_runs (workspace_id, schedule_id, due_at, task_id, skipped) VALUES ($1, $2, $3, $4, NULLIF($5, ''))`
	scheduleFiredSQL = `UPDATE schedules SET next_run_at = $3, last_run_at = COALESCE($4, last_run_at),
		last_task_id = COALESCE($5, last_task_id), runs = runs + $6, skipped = skipped + $7, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`
	// trimRunsSQL keeps a schedule's last keepRuns runs.
	trimRunsSQL = `DELETE FROM schedule_runs WHERE workspace_id = $1 AND schedule_id = $2 AND due_at <= (
		SELECT due_at FROM schedule_runs WHERE workspace_id = $1 AND schedule_id = $2 ORDER BY due_at DESC OFFSET $3 LIMIT 1)`
	// scheduleRunsSQL lists a schedule's last runs, newest first, with their task's status ("" when
	// none was published; NULL when retention deleted the task).
	scheduleRunsSQL = `SELECT r.due_at, r.fired_at, r.task_id, COALESCE(r.skipped, ''), t.status
		FROM schedule_runs r LEFT JOIN tasks t ON t.workspace_id = r.workspace_id AND t.id = r.task_id
		WHERE r.workspace_id = $1 AND r.schedule_id = $2 ORDER BY r.due_at DESC LIMIT $3`
)
