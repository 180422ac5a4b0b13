package store

const (
	entryColumns = `e.workspace_id, e.id, e.slug, e.title, e.body, e.status, e.visibility, e.author_id, e.updated_by,
		e.version, e.indexed_version, e.indexed_at, e.created_at, e.updated_at, e.aliases, e.metadata::text, COALESCE(e.file_name, ''),
		COALESCE((SELECT array_agg(t.name ORDER BY et.position, t.name) FROM knowledge_entry_tags et
		          JOIN knowledge_tags t ON t.workspace_id = et.workspace_id AND t.id = et.tag_id
		          WHERE et.workspace_id = e.workspace_id AND et.entry_id = e.id), '{}')`

	insertEntrySQL = `
		INSERT INTO knowledge_entries (workspace_id, id, slug, title, body, status, visibility, author_id, updated_by,
			aliases, metadata, file_name, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10::text::json, NULLIF($11, ''), COALESCE($12, now()), now())`

	// The slug is a name from the start: links by slug resolve before the entry's index job runs.
	insertSlugSQL = `INSERT INTO knowledge_names (workspace_id, name, rank, entry_id) VALUES ($1, $2, 0, $3)`

	insertEntryVersionSQL = `
		INSERT INTO knowledge_versions (workspace_id, entry_id, version, title, body, status, author_id, message)
		SELECT workspace_id, id, version, title, body, status, $3, $4 FROM knowledge_entries
		WHERE workspace_id = $1 AND id = $2`

	getEntrySQL = `SELECT ` + entryColumns + ` FROM knowledge_entries e WHERE e.workspace_id = $1 AND e.slug = $2`

	getEntryByIDSQL = `SELECT ` + entryColumns + ` FROM knowledge_entries e WHERE e.workspace_id = $1 AND e.id = $2`

	lockEntrySQL = `SELECT ` + entryColumns + ` FROM knowledge_entries e WHERE e.workspace_id = $1 AND e.slug = $2 FOR UPDATE`

	updateEntrySQL = `
		UPDATE knowledge_entries SET title = $3, body = $4, status = $5, visibility = $6, updated_by = $7,
			aliases = $8, metadata = $9::text::json, file_name = NULLIF($10, ''), version = version + 1, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`

	upsertTagSQL = `
		INSERT INTO knowledge_tags (workspace_id, id, name) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, name) DO UPDATE SET name = EXCLUDED.name
		RETURNING id`

	clearEntryTagsSQL = `DELETE FROM knowledge_entry_tags WHERE workspace_id = $1 AND entry_id = $2`

	insertEntryTagSQL = `
		INSERT INTO knowledge_entry_tags (workspace_id, entry_id, tag_id, position) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`

	// bestName + a name + bestNameEnd is the entry a link's target names: the name's lowest
	// rank, then the lowest entry id.
	bestName    = `(SELECT n.entry_id FROM knowledge_names n WHERE n.workspace_id = $1 AND n.name = `
	bestNameEnd = ` ORDER BY n.rank, n.entry_id LIMIT 1)`

	// Links go where their names lead now: run after an entry's names changed (its index job)
	// or it was deleted (its names went with it), for the links that pointed at it and those
	// that name one of its names. One index scan each (a join, one scan with OR, or an array of
	// names let a plan read every link of the workspace; a custom plan per call cost more than
	// the update).
	reresolveByTargetSQL = `
		UPDATE knowledge_links l SET target_id = ` + bestName + `l.target_slug` + bestNameEnd + `
		WHERE l.workspace_id = $1 AND l.target_id = $2
		  AND l.target_id IS DISTINCT FROM ` + bestName + `l.target_slug` + bestNameEnd

	reresolveByNameSQL = `
		UPDATE knowledge_links l SET target_id = ` + bestName + `l.target_slug` + bestNameEnd + `
		WHERE l.workspace_id = $1 AND l.target_slug = $2
		  AND l.target_id IS DISTINCT FROM ` + bestName + `l.target_slug` + bestNameEnd

	// An entry's names become exactly $3 (with ranks $4): only what changed is written, so that
	// re-indexing an unchanged entry writes no name. It returns how many names went (a
	// data-modifying WITH runs whether or not the query reads it).
	setNamesSQL = `
		WITH new (name, rank) AS (SELECT * FROM unnest($3::text[], $4::smallint[])),
		gone AS (
			DELETE FROM knowledge_names n WHERE n.workspace_id = $1 AND n.entry_id = $2
			  AND NOT EXISTS (SELECT 1 FROM new WHERE new.name = n.name AND new.rank = n.rank)
			RETURNING 1),
		added AS (
			INSERT INTO knowledge_names (workspace_id, name, rank, entry_id) SELECT $1, name, rank, $2 FROM new
			ON CONFLICT DO NOTHING)
		SELECT count(*) FROM gone`

	// One workspace's index writes take turns (released at commit).
	lockIndexWritesSQL = `SELECT pg_advisory_xact_lock(hashtextextended('mosaic.knowledge.index:' || $1::text, 0))`

	deleteEntrySQL = `DELETE FROM knowledge_entries WHERE workspace_id = $1 AND id = $2`

	listVersionsSQL = `
		SELECT v.version, v.title, v.status, v.author_id, COALESCE(v.message, ''), v.created_at, octet_length(v.body)
		FROM knowledge_versions v WHERE v.workspace_id = $1 AND v.entry_id = $2 ORDER BY v.version DESC`

	getVersionSQL = `
		SELECT v.version, v.title, v.body, v.status, v.author_id, COALESCE(v.message, ''), v.created_at
		FROM knowledge_versions v WHERE v.workspace_id = $1 AND v.entry_id = $2 AND v.version = $3`

	// The links of an entry, resolved only where the target is visible to the reader.
	outLinksSQL = `
		SELECT l.target_slug, t.id, COALESCE(t.title, ''), COALESCE(l.label, '')
		FROM knowledge_links l LEFT JOIN knowledge_entries t ON t.workspace_id = l.workspace_id AND t.id = l.target_id
		WHERE l.workspace_id = $1 AND l.source_id = $2 ORDER BY l.position`

	backlinksSQL = `
		SELECT DISTINCT s.slug, s.title, s.id FROM knowledge_links l
		JOIN knowledge_entries s ON s.workspace_id = l.workspace_id AND s.id = l.source_id
		WHERE l.workspace_id = $1 AND l.target_id = $2 ORDER BY s.slug`

	listTagsSQL = `
		SELECT t.name, count(e.id) FROM knowledge_tags t
		LEFT JOIN knowledge_entry_tags et ON et.workspace_id = t.workspace_id AND et.tag_id = t.id
		LEFT JOIN knowledge_entries e ON e.workspace_id = et.workspace_id AND e.id = et.entry_id
		WHERE t.workspace_id = $1 GROUP BY t.name HAVING count(e.id) > 0 ORDER BY t.name`

	// The indexer's write: the search document, and the mark of what it describes; only while the
	// entry is still at the version that was read.
	indexEntrySQL = `
		UPDATE knowledge_entries SET
			search_doc = setweight(to_tsvector('english', title || ' ' || array_to_string(aliases, ' ')), 'A') || setweight(to_tsvector('english', body), 'B'),
			indexed_version = version, indexed_at = now()
		WHERE workspace_id = $1 AND id = $2 AND version = $3`

	clearLinksSQL = `DELETE FROM knowledge_links WHERE workspace_id = $1 AND source_id = $2`

	insertLinkSQL = `
		INSERT INTO knowledge_links (workspace_id, source_id, position, target_slug, target_id, label)
		VALUES ($1, $2, $3, $4, ` + bestName + `$4` + bestNameEnd + `, NULLIF($5, ''))`

	upsertEmbeddingSQL = `
		INSERT INTO knowledge_embeddings (workspace_id, entry_id, model, dims, vec, content_hash, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, now())
		ON CONFLICT (workspace_id, entry_id) DO UPDATE SET model = EXCLUDED.model, dims = EXCLUDED.dims,
			vec = EXCLUDED.vec, content_hash = EXCLUDED.content_hash, updated_at = now()`

	indexSourcesSQL = `SELECT ` + entryColumns + `, m.model, m.content_hash,
		ARRAY(SELECT n.name FROM knowledge_names n WHERE n.workspace_id = e.workspace_id AND n.entry_id = e.id ORDER BY n.name COLLATE "C", n.rank),
		ARRAY(SELECT n.rank FROM knowledge_names n WHERE n.workspace_id = e.workspace_id AND n.entry_id = e.id ORDER BY n.name COLLATE "C", n.rank)
		FROM knowledge_entries e LEFT JOIN knowledge_embeddings m ON m.workspace_id = e.workspace_id AND m.entry_id = e.id
		WHERE e.workspace_id = $1 AND e.id = ANY($2)`

	resolvedCountSQL = `SELECT count(*) FROM knowledge_links WHERE workspace_id = $1 AND source_id = $2 AND target_id IS NOT NULL`

	hasPgvectorSQL = `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'knowledge_embeddings' AND column_name = 'embedding')`

	setPgvectorSQL = `UPDATE knowledge_embeddings SET embedding = $3::text::vector WHERE workspace_id = $1 AND entry_id = $2`

	emptyQuerySQL = `SELECT numnode(websearch_to_tsquery('english', $1)) = 0`

	// Entries by author for the re-index walk: NULL author first, then each member's.
	entryIDsByAuthorSQL = `
		SELECT id FROM knowledge_entries WHERE workspace_id = $1 AND author_id IS NOT DISTINCT FROM $2 AND id > $3
		ORDER BY id LIMIT $4`

	graphNodesSQL = `SELECT e.id, e.slug, e.title, e.status, e.updated_at FROM knowledge_entries e WHERE e.workspace_id = $1`

	graphLinksSQL = `SELECT source_id, target_id, COALESCE(label, '') FROM knowledge_links WHERE workspace_id = $1`
)
