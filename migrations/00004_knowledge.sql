-- The knowledge base: entries (markdown, a unique slug per workspace), every edit a version,
-- [[links]] between entries, tags, and what search needs (a weighted tsvector and an embedding).
--
-- PRIVATE entries are their author's alone: the entries policy compares author_id with
-- mosaic.user_id, as user_credentials does. The tables hanging off an entry (versions, links,
-- tags, embeddings) are confined to the workspace, and every read of them goes through a visible
-- entry. search_doc, links and the embedding are derived data that the knowledge agent writes
-- (indexed_version says which version they describe).

-- +goose Up
CREATE TABLE knowledge_entries (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    slug            text NOT NULL CHECK (octet_length(slug) BETWEEN 1 AND 128 AND slug !~ '[[:space:]/[:upper:]]' AND slug !~ '^-|-$'),
    title           text NOT NULL CHECK (char_length(btrim(title)) BETWEEN 1 AND 300),
    body            text NOT NULL CHECK (octet_length(body) <= 1048576),
    status          text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')),
    visibility      text NOT NULL DEFAULT 'WORKSPACE' CHECK (visibility IN ('WORKSPACE', 'PRIVATE')),
    author_id       uuid,
    updated_by      uuid,
    version         int NOT NULL DEFAULT 1 CHECK (version >= 1),
    search_doc      tsvector,
    indexed_version int NOT NULL DEFAULT 0,
    indexed_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, slug),
    CHECK (visibility = 'WORKSPACE' OR author_id IS NOT NULL)
);
CREATE INDEX knowledge_entries_search ON knowledge_entries USING gin (search_doc);
CREATE INDEX knowledge_entries_by_update ON knowledge_entries (workspace_id, updated_at DESC, id);

-- Every entry's slug, whatever its visibility: the indexer resolves links through it, so a link
-- resolves the same whoever indexes it. Readers never see it: they reach targets through entries.
CREATE TABLE knowledge_slugs (
    workspace_id uuid NOT NULL,
    slug         text NOT NULL,
    entry_id     uuid NOT NULL,
    PRIMARY KEY (workspace_id, slug),
    FOREIGN KEY (workspace_id, entry_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE knowledge_versions (
    workspace_id uuid NOT NULL,
    entry_id     uuid NOT NULL,
    version      int NOT NULL CHECK (version >= 1),
    title        text NOT NULL,
    body         text NOT NULL,
    status       text NOT NULL,
    author_id    uuid,
    message      text CHECK (char_length(message) <= 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, entry_id, version),
    FOREIGN KEY (workspace_id, entry_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE
);

-- target_id is the resolved target; NULL while the link dangles. No foreign key: deleting a target
-- turns its incoming links dangling (store.DeleteEntry), which a PostgreSQL 13 FK cannot express.
CREATE TABLE knowledge_links (
    workspace_id uuid NOT NULL,
    source_id    uuid NOT NULL,
    position     int NOT NULL,
    target_slug  text NOT NULL,
    target_id    uuid,
    label        text,
    PRIMARY KEY (workspace_id, source_id, position),
    FOREIGN KEY (workspace_id, source_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX knowledge_links_by_target_slug ON knowledge_links (workspace_id, target_slug);
CREATE INDEX knowledge_links_by_target ON knowledge_links (workspace_id, target_id);

CREATE TABLE knowledge_tags (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (octet_length(btrim(name)) BETWEEN 1 AND 64),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, name)
);

CREATE TABLE knowledge_entry_tags (
    workspace_id uuid NOT NULL,
    entry_id     uuid NOT NULL,
    tag_id       uuid NOT NULL,
    position     int NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, entry_id, tag_id),
    FOREIGN KEY (workspace_id, entry_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, tag_id) REFERENCES knowledge_tags (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX knowledge_entry_tags_by_tag ON knowledge_entry_tags (workspace_id, tag_id);

-- vec: little-endian float32s, unit length (embed.Encode). With pgvector installed, the column
-- `embedding vector` is added beside it and semantic search orders by it in PostgreSQL.
CREATE TABLE knowledge_embeddings (
    workspace_id uuid NOT NULL,
    entry_id     uuid NOT NULL,
    model        text NOT NULL,
    dims         int NOT NULL CHECK (dims BETWEEN 1 AND 4096),
    vec          bytea NOT NULL,
    content_hash bytea NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, entry_id),
    FOREIGN KEY (workspace_id, entry_id) REFERENCES knowledge_entries (workspace_id, id) ON DELETE CASCADE
);

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
            ALTER TABLE knowledge_embeddings ADD COLUMN embedding vector;
        EXCEPTION WHEN others THEN
            RAISE NOTICE 'pgvector is available but could not be enabled (%); semantic search ranks in Mosaic', SQLERRM;
        END;
    END IF;
END
$$;
-- +goose StatementEnd

ALTER TABLE knowledge_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_entries
    USING (workspace_id = mosaic_current_workspace() AND (visibility = 'WORKSPACE' OR author_id = mosaic_current_user()))
    WITH CHECK (workspace_id = mosaic_current_workspace() AND (visibility = 'WORKSPACE' OR author_id = mosaic_current_user()));

ALTER TABLE knowledge_slugs ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_slugs FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_slugs
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE knowledge_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_versions
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE knowledge_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_links FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_links
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE knowledge_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_tags FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_tags
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE knowledge_entry_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_entry_tags FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_entry_tags
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE knowledge_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_embeddings FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON knowledge_embeddings
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
DROP TABLE knowledge_embeddings;
DROP TABLE knowledge_entry_tags;
DROP TABLE knowledge_tags;
DROP TABLE knowledge_links;
DROP TABLE knowledge_versions;
DROP TABLE knowledge_slugs;
DROP TABLE knowledge_entries;
