package store

const (
	entryColumns = `e.workspace_id, e.id, e.slug, e.title, e.body, e.status, e.visibility, e.author_id, e.updated_by,
		e.version, e.indexed_version, e.indexed_at, e.created_at, e.updated_at,
		COALESCE((SELECT array_agg(t.name ORDER BY et.position, t.name) FROM knowledge_entry_tags et
		          JOIN knowledge_tags t ON t.workspace_id = et.workspace_id AND t.id = et.tag_id
		          WHERE et.workspace_id = e.workspace_id AND et.entry_id = e.id), '{}')`

	insertEntrySQL = `
		INSERT INTO knowledge_entries (workspace_id, id, slug, title, body, status, visibility, author_id, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`

	insertSlugSQL = `INSERT INTO knowledge_slugs (workspace_id, slug, entry_id) VALUES ($1, $2, $3)`

	insertEntryVersionSQL = `
		INSERT INTO knowledge_versions (workspace_id, entry_id, version, title, body, status, author_id, message)
		SELECT workspace_id, id, version, title, body, status, $3, $4 FROM knowledge_entries
		WHERE workspace_id = $1 AND id = $2`

	getEntrySQL = `SELECT ` + entryColumns + ` FROM knowledge_entries e WHERE e.workspace_id = $1 AND e.slug = $2`

	getEntryByIDSQL = `SELECT ` + entryColumns + ` FROM knowledge_entries e WHERE e.workspace_id = $1 AND e.id = $2`

	lockEntrySQL = `SELECT ` + entryColumns + ` FROM knowledge_entries e WHERE e.workspace_id = $1 AND e.slug = $2 FOR UPDATE`

	updateEntrySQL = `
		UPDATE knowledge_entries SET title = $3, body = $4, status = $5, visibility = $6, updated_by = $7,
			version = version + 1, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`

	upsertTagSQL = `
		INSERT INTO knowledge_tags (workspace_id, id, name) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, name) DO UPDATE SET name = EXCLUDED.name
		RETURNING id`

	clearEntryTagsSQL = `DELETE FROM knowledge_entry_tags WHERE workspace_id = $1 AND entry_id = $2`

	insertEntryTagSQL = `
		INSERT INTO knowledge_entry_tags (workspace_id, entry_id, tag_id, position) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`

	// Deleting an entry turns the links to it dangling.
	danglingSQL = `UPDATE knowledge_links SET target_id = NULL WHERE workspace_id = $1 AND target_id = $2`

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
			search_doc = setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'B'),
			indexed_version = version, indexed_at = now()
		WHERE workspace_id = $1 AND id = $2 AND version = $3`

	clearLinksSQL = `DELETE FROM knowledge_links WHERE workspace_id = $1 AND source_id = $2`

	insertLinkSQL = `
		INSERT INTO knowledge_links (workspace_id, source_id, position, target_slug, target_id, label)
		VALUES ($1, $2, $3, $4, (SELECT entry_id FROM knowledge_slugs WHERE workspace_id = $1 AND slug = $4), NULLIF($5, ''))`

	// Links written before this entry existed (or was visible to their indexer) now resolve.
	resolveDanglingSQL = `
		UPDATE knowledge_links SET target_id = $2
		WHERE workspace_id = $1 AND target_slug = $3 AND target_id IS DISTINCT FROM $2`

	upsertEmbeddingSQL = `
		INSERT INTO knowledge_embeddings (workspace_id, entry_id, model, dims, vec, content_hash, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, now())
		ON CONFLICT (workspace_id, entry_id) DO UPDATE SET model = EXCLUDED.model, dims = EXCLUDED.dims,
			vec = EXCLUDED.vec, content_hash = EXCLUDED.content_hash, updated_at = now()`

	indexSourcesSQL = `SELECT ` + entryColumns + `, m.model, m.content_hash
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
