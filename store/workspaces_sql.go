package store

// SQL of the workspace aggregate: workspaces, users, members, API keys and limits.
const (
	insertWorkspaceSQL = `INSERT INTO workspaces (id, name) VALUES ($1, $2) RETURNING created_at`
	insertUserSQL      = `INSERT INTO users (id, name, email) VALUES ($1, $2, NULLIF($3, ''))`
	insertMemberSQL    = `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)`
	insertAPIKeySQL    = `INSERT INTO api_keys (workspace_id, id, user_id, name, key_hash, role, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`

	selectWorkspaceSQL       = `SELECT id, name, created_at FROM workspaces WHERE id = $1`
	selectWorkspaceByNameSQL = `SELECT id, name, created_at FROM workspaces WHERE lower(name) = lower($1)`
	selectWorkspacesSQL      = `SELECT id, name, created_at FROM workspaces ORDER BY created_at, id`
	selectWorkspaceIDSQL     = `SELECT id FROM workspaces ORDER BY id`

	// Touching last_used_at at most once a minute keeps authentication to one write a minute per key.
	authenticateKeySQL = `WITH k AS (
			SELECT id, user_id, role, last_used_at FROM api_keys
			WHERE workspace_id = $1 AND key_hash = $2 AND revoked_at IS NULL
			  AND (expires_at IS NULL OR expires_at > now())
		), touch AS (
			UPDATE api_keys a SET last_used_at = now() FROM k
			WHERE a.workspace_id = $1 AND a.id = k.id
			  AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
		)
		SELECT id, user_id, role FROM k`

	revokeAPIKeySQL = `UPDATE api_keys SET revoked_at = now() WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL`

	selectLimitsSQL = `SELECT max_concurrency, paused_at FROM workspace_limits WHERE workspace_id = $1`
	// selectManyLimitsSQL reads the limits of the workspaces in the batch door's list.
	selectManyLimitsSQL = `SELECT workspace_id, max_concurrency, paused_at FROM workspace_limits
		WHERE workspace_id = ANY ($1::uuid[])`
	upsertLimitsSQL = `INSERT INTO workspace_limits (workspace_id, max_concurrency) VALUES ($1, $2)
		ON CONFLICT (workspace_id) DO UPDATE SET max_concurrency = EXCLUDED.max_concurrency, updated_at = now()`
)
