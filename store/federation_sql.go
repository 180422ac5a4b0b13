package store

// SQL of the federation aggregate: this instance's identity, the peers it knows (and the requests
// to connect it holds) and what it grants them. Not tenant data: the instance's own registry, read
// and written through the system door.
const (
	selectFederationIdentitySQL = `SELECT id, name, public_key, seed_ciphertext, created_at FROM federation_identity`
	insertFederationIdentitySQL = `INSERT INTO federation_identity (id, name, public_key, seed_ciphertext)
		VALUES ($1, $2, $3, $4) RETURNING created_at`

	federationPeerColumns = `id, name, public_key, leaf_key, http_url, coalesce(leaf_url, '') AS leaf_url, direction,
		status, coalesce(source, '') AS source, created_at, decided_at`

	selectFederationPeersSQL       = `SELECT ` + federationPeerColumns + ` FROM federation_peers ORDER BY created_at`
	selectFederationPeersWithIDSQL = `SELECT ` + federationPeerColumns + ` FROM federation_peers WHERE id = $1
		ORDER BY created_at LIMIT $2`

	// The lookups put the linked peer first: an id or a name is its own when there is one
	// (federation_peers_linked_id, federation_peers_name: unique among linked peers only).
	findFederationPeersOrder     = ` ORDER BY status IN ('requested', 'accepted') DESC, created_at LIMIT $2`
	findFederationPeersByIDSQL   = `SELECT ` + federationPeerColumns + ` FROM federation_peers WHERE id = $1` + findFederationPeersOrder
	findFederationPeersByKeySQL  = `SELECT ` + federationPeerColumns + ` FROM federation_peers WHERE starts_with(public_key, $1)` + findFederationPeersOrder
	findFederationPeersByNameSQL = `SELECT ` + federationPeerColumns + ` FROM federation_peers WHERE lower(name) = lower($1)` + findFederationPeersOrder
	selectFederationGrantsSQL    = `SELECT g.workspace, w.name, g.capabilities, g.task_kinds, g.expires_at, g.granted_by, g.granted_at
		FROM federation_grants g JOIN workspaces w ON w.id = g.workspace WHERE g.peer_id = $1 ORDER BY w.name`

	insertFederationPeerSQL = `INSERT INTO federation_peers (id, name, public_key, leaf_key, http_url, leaf_url, direction, status, source)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, nullif($9, ''))`

	// The queue of incoming requests to connect: counted, trimmed and added to under one lock.
	lockFederationRequestsSQL   = `SELECT pg_advisory_xact_lock(hashtext('mosaic federation pending'))`
	expireFederationRequestsSQL = `DELETE FROM federation_peers WHERE status IN ('pending', 'rejected') AND direction = 'incoming'
		AND created_at < now() - $1::bigint * interval '1 millisecond'`
	countFederationRequestsSQL = `SELECT count(*), count(*) FILTER (WHERE source = $1) FROM federation_peers WHERE status = 'pending'`
	// The oldest request of the source holding the most (more than one) gives way.
	evictFederationRequestSQL = `DELETE FROM federation_peers WHERE id = (
			SELECT id FROM federation_peers WHERE status = 'pending' AND source = (
				SELECT source FROM federation_peers WHERE status = 'pending' AND source IS NOT NULL
				GROUP BY source HAVING count(*) > 1 ORDER BY count(*) DESC, min(created_at) LIMIT 1)
			ORDER BY created_at LIMIT 1)`

	setFederationPeerStatusSQL = `UPDATE federation_peers SET status = $3, decided_at = now() WHERE public_key = $1 AND status = $2
		RETURNING id`
	deleteFederationPeerSQL   = `DELETE FROM federation_peers WHERE public_key = $1 RETURNING id, status`
	deleteFederationGrantsSQL = `DELETE FROM federation_grants WHERE peer_id = $1`

	upsertFederationGrantSQL = `INSERT INTO federation_grants (peer_id, workspace, capabilities, task_kinds, expires_at, granted_by)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (peer_id, workspace) DO UPDATE SET capabilities = $3, task_kinds = $4, expires_at = $5, granted_by = $6, granted_at = now()`
	deleteFederationGrantSQL = `DELETE FROM federation_grants WHERE peer_id = $1 AND workspace = $2`
)
