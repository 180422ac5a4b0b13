-- Links that resolve the way wikis do, and front matter kept whole.
--
-- knowledge_names holds every name a [[link]] may use for an entry, slugified (case and accents
-- folded, as wikilink.Slugify does), with its rank: 0 the slug, 1 the file name it was imported
-- from, 2 the title, 3 an alias. A link goes to the entry whose name matches with the lowest rank
-- (ties: the lowest entry id). Like knowledge_slugs before it, it holds every entry's names
-- whatever its visibility, so that a link resolves the same whoever indexes it; readers never
-- see it: they reach targets through entries. The slug is written with the entry; the others by
-- the entry's index job, which also re-resolves the links that named the entry's old or new names.
-- Entries written before this migration get their title and alias names at their next index job
-- (`mosaic knowledge reindex`).
--
-- aliases and metadata come from front matter: metadata holds every key Mosaic does not map to a
-- field, as a JSON object in the order of the file (json, not jsonb, keeps that order), so that
-- export writes them back. file_name is the name (without .md) of the file an entry was imported
-- from.
--
-- The built-in embedder is now named for what it is: lexical-hash-v1 (it was offline-hash-v1; the
-- vectors are the same).

-- +goose Up
ALTER TABLE knowledge_entries
    ADD COLUMN aliases text[] NOT NULL DEFAULT '{}',
    ADD COLUMN metadata json NOT NULL DEFAULT '{}' CHECK (json_typeof(metadata) = 'object' AND octet_length(metadata::text) <= 65536),
    ADD COLUMN file_name text CHECK (char_length(file_name) BETWEEN 1 AND 255);

CREATE TABLE knowledge_names (
    workspace_id uuid NOT NULL,
    name         text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 128),
    rank         smallint NOT NULL CHECK (rank BETWEEN 0 AND 3),
    entry_id     uuid NOT NULL,
    PRIMARY KEY (workspace_id, name, rank, entry_id),
    FOREIGN KEY (workspace_id, entry_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX knowledge_names_by_entry ON knowledge_names (workspace_id, entry_id);

-- The owner copies across every workspace: row-level security is lifted for these statements
-- (FORCE makes it apply to the owner too) and put back.
ALTER TABLE knowledge_slugs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE knowledge_embeddings NO FORCE ROW LEVEL SECURITY;
INSERT INTO knowledge_names (workspace_id, name, rank, entry_id) SELECT workspace_id, slug, 0, entry_id FROM knowledge_slugs;
UPDATE knowledge_embeddings SET model = 'lexical-hash-v1/' || split_part(model, '/', 2) WHERE model LIKE 'offline-hash-v1/%';
ALTER TABLE knowledge_embeddings FORCE ROW LEVEL SECURITY;
DROP TABLE knowledge_slugs;

ALTER TABLE knowledge_names ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_names FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_names
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
CREATE TABLE knowledge_slugs (
    workspace_id uuid NOT NULL,
    slug         text NOT NULL,
    entry_id     uuid NOT NULL,
    PRIMARY KEY (workspace_id, slug),
    FOREIGN KEY (workspace_id, entry_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE
);
ALTER TABLE knowledge_names NO FORCE ROW LEVEL SECURITY;
ALTER TABLE knowledge_embeddings NO FORCE ROW LEVEL SECURITY;
INSERT INTO knowledge_slugs (workspace_id, slug, entry_id) SELECT workspace_id, name, entry_id FROM knowledge_names WHERE rank = 0;
UPDATE knowledge_embeddings SET model = 'offline-hash-v1/' || split_part(model, '/', 2) WHERE model LIKE 'lexical-hash-v1/%';
ALTER TABLE knowledge_embeddings FORCE ROW LEVEL SECURITY;
DROP TABLE knowledge_names;
ALTER TABLE knowledge_slugs ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_slugs FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_slugs
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());
ALTER TABLE knowledge_entries DROP COLUMN file_name, DROP COLUMN metadata, DROP COLUMN aliases;
