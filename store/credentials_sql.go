package store

// SQL of the credential aggregate: user_credentials and credential_access_log.
const (
	credentialColumns = `workspace_id, id, owner_id, name, provider, type, scope, masked_value, expires_at,
		last_used_at, rotated_at, rotation_policy, metadata, version, created_by, created_at, updated_at, deleted_at,
		encrypted_value, previous_value IS NOT NULL AS has_previous, pending_value IS NOT NULL AS rotation_staged`

	insertCredentialSQL = `INSERT INTO user_credentials (workspace_id, id, owner_id, name, provider, type, scope,
			encrypted_value, masked_value, expires_at, rotation_policy, metadata, created_by)
		VALUES (@workspace_id, @id, @owner_id, @name, @provider, @type, @scope,
			@encrypted_value, @masked_value, @expires_at, NULLIF(@rotation_policy, ''), @metadata, @created_by)
		RETURNING ` + credentialColumns

	listCredentialsSQL = `SELECT ` + credentialColumns + ` FROM user_credentials
		WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY name, scope`

	selectCredentialSQL = `SELECT ` + credentialColumns + ` FROM user_credentials
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL`

	// resolveCredentialSQL finds what a task's name means: the publisher's own USER credential first
	// (RLS shows only those of the user in mosaic.user_id), then the workspace's, then SYSTEM.
	resolveCredentialSQL = `SELECT ` + credentialColumns + ` FROM user_credentials
		WHERE workspace_id = $1 AND name = $2 AND deleted_at IS NULL
		ORDER BY CASE scope WHEN 'USER' THEN 0 WHEN 'WORKSPACE' THEN 1 ELSE 2 END LIMIT 1`

	// updateCredentialSQL changes a credential's description and, when @ciphertext (a new
	// ciphertext) is set, its value too, as a rotation does: the provider and metadata may change
	// only with it (the credential_value_binding trigger).
	updateCredentialSQL = `UPDATE user_credentials SET
			provider = COALESCE(@provider, provider), metadata = COALESCE(@metadata, metadata),
			rotation_policy = CASE WHEN @rotation_policy::text IS NULL THEN rotation_policy ELSE NULLIF(@rotation_policy, '') END,
			expires_at = CASE WHEN @set_expiry THEN @expires_at ELSE expires_at END, updated_at = now(),
			previous_value = CASE WHEN @ciphertext::text IS NULL THEN previous_value ELSE encrypted_value END,
			encrypted_value = COALESCE(@ciphertext, encrypted_value), masked_value = COALESCE(@masked_value, masked_value),
			pending_value = CASE WHEN @ciphertext::text IS NULL THEN pending_value END,
			version = CASE WHEN @ciphertext::text IS NULL THEN version ELSE version + 1 END,
			rotated_at = CASE WHEN @ciphertext::text IS NULL THEN rotated_at ELSE now() END
		WHERE workspace_id = @workspace_id AND id = @id AND deleted_at IS NULL
		RETURNING ` + credentialColumns

	// selectForRotationSQL reads a credential and its ciphertexts in one snapshot: the value a
	// rotation presents is always one stored with the provider and metadata it presents it to.
	selectForRotationSQL = `SELECT ` + credentialColumns + `, encrypted_value AS current_value, previous_value, pending_value
		FROM user_credentials
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL`

	// rotateCredentialSQL promotes a new value: the current one becomes previous.
	rotateCredentialSQL = `UPDATE user_credentials SET previous_value = encrypted_value, encrypted_value = $3,
			masked_value = $4, pending_value = NULL, version = version + 1, rotated_at = now(), updated_at = now(),
			expires_at = CASE WHEN $5 THEN $6 ELSE expires_at END
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL
		RETURNING ` + credentialColumns

	stagePendingSQL = `UPDATE user_credentials SET pending_value = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL AND version = $4`

	discardPendingSQL = `UPDATE user_credentials SET pending_value = NULL, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND version = $3`

	// promotePendingSQL makes a staged value current, once (a repeated call finds nothing pending).
	promotePendingSQL = `UPDATE user_credentials SET previous_value = encrypted_value, encrypted_value = pending_value,
			masked_value = $3, pending_value = NULL, version = version + 1, rotated_at = now(), updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL AND pending_value IS NOT NULL AND version = $4
		RETURNING ` + credentialColumns

	selectCiphertextsSQL = `SELECT encrypted_value AS current_value, previous_value, pending_value FROM user_credentials
		WHERE workspace_id = $1 AND id = $2`

	deleteCredentialSQL = `UPDATE user_credentials SET deleted_at = now(), updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING name`

	touchCredentialSQL = `UPDATE user_credentials SET last_used_at = now() WHERE workspace_id = $1 AND id = $2`

	insertAccessSQL = `INSERT INTO credential_access_log (workspace_id, credential_id, name, action, task_id, attempt,
			agent, user_id, purpose)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, NULLIF($9, ''))`

	listAccessSQL = `SELECT id, credential_id, name, action, task_id, attempt, COALESCE(agent, '') AS agent, user_id,
			COALESCE(purpose, '') AS purpose, at
		FROM credential_access_log l
		WHERE workspace_id = $1 AND ($2::uuid IS NULL OR credential_id = $2) AND ($3::bigint IS NULL OR id < $3)
		  AND EXISTS (SELECT 1 FROM user_credentials c WHERE c.workspace_id = l.workspace_id AND c.id = l.credential_id)
		ORDER BY id DESC LIMIT $4`

	// ciphertextPageSQL walks a workspace's ciphertexts (the visible ones) for the rewrap job.
	ciphertextPageSQL = `SELECT id, encrypted_value AS current_value, previous_value, pending_value FROM user_credentials
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`

	// replaceCiphertextsSQL swaps ciphertexts only if they are still the ones read (a rotation in
	// between wins).
	replaceCiphertextsSQL = `UPDATE user_credentials SET encrypted_value = $4, previous_value = $6, pending_value = $8
		WHERE workspace_id = $1 AND id = $2 AND encrypted_value = $3
		  AND previous_value IS NOT DISTINCT FROM $5 AND pending_value IS NOT DISTINCT FROM $7
		RETURNING name`

	// setUserSQL makes the transaction's user (the door's setting) the given one.
	setUserSQL = `SELECT set_config('mosaic.user_id', $1, true)`

	memberIDsSQL = `SELECT user_id FROM workspace_members WHERE workspace_id = $1 ORDER BY user_id`

	selectTaskPublisherSQL = `SELECT published_by, fence, status FROM tasks WHERE workspace_id = $1 AND id = $2`

	policiesSQL = `SELECT id, name, rotation_policy, COALESCE(rotated_at, created_at), owner_id, version, pending_value IS NOT NULL
		FROM user_credentials
		WHERE workspace_id = $1 AND deleted_at IS NULL AND rotation_policy IS NOT NULL`

	// markExpiringSQL marks, once, the credentials that expire before $2 (not yet expired) and
	// returns them; markExpiredSQL the same for those expired.
	markExpiringSQL = `UPDATE user_credentials SET expiring_notified_at = now()
		WHERE workspace_id = $1 AND deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at < $2
		  AND expires_at > now() AND expiring_notified_at IS NULL
		RETURNING id, name, expires_at, owner_id`

	markExpiredSQL = `UPDATE user_credentials SET expired_notified_at = now()
		WHERE workspace_id = $1 AND deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= now()
		  AND expired_notified_at IS NULL
		RETURNING id, name, expires_at, owner_id`
)
