package store

// SQL of the operator's views: counts over a workspace's tasks and dead letters, one statement
// each, for the walks of GET /v1/overview and GET /v1/consumers.
const (
	// countTasksSQL counts a workspace's tasks by status, and those that ended dead in the last
	// hour (the status index serves the grouping).
	countTasksSQL = `SELECT status, count(*),
			count(*) FILTER (WHERE status = 'dead' AND finished_at > now() - interval '1 hour')
		FROM tasks WHERE workspace_id = $1 GROUP BY status`

	// countTasksOfWorkspacesSQL is countTasksSQL for the workspaces of the batch door, in one
	// statement: one snapshot of them all.
	countTasksOfWorkspacesSQL = `SELECT workspace_id, status, count(*),
			count(*) FILTER (WHERE status = 'dead' AND finished_at > now() - interval '1 hour')
		FROM tasks WHERE workspace_id = ANY ($1) GROUP BY workspace_id, status`

	// countDeadLettersBySubjectSQL counts the dead letters not yet replayed by the subject of
	// their message and their reason.
	countDeadLettersBySubjectSQL = `SELECT subject, reason, count(*) FROM dead_letters
		WHERE workspace_id = $1 AND replayed_at IS NULL GROUP BY subject, reason`
)
