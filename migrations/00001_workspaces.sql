-- Workspaces, people, membership and API keys: the tenancy that every later table hangs off.
--
-- Tenant tables carry workspace_id and are guarded by row-level security: ENABLE + FORCE (so the
-- owner is held to the policy too) and one policy that compares workspace_id with the transaction's
-- mosaic.workspace_id setting. No setting means no rows and no writes. NULLIF matters: once a
-- pooled session has had the setting, current_setting returns '' rather than NULL.
--
-- The runtime role mosaic_app (created by `store.Bootstrap`, as roles are cluster-wide) gets
-- DML on every table through default privileges; it owns nothing and cannot bypass RLS.

-- +goose Up
CREATE FUNCTION mosaic_current_workspace() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('mosaic.workspace_id', true), '')::uuid $$;

ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO mosaic_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO mosaic_app;
GRANT USAGE ON SCHEMA public TO mosaic_app;
GRANT EXECUTE ON FUNCTION mosaic_current_workspace() TO mosaic_app;

-- The registry of workspaces. Not tenant data: system work walks it to enter each workspace.
CREATE TABLE workspaces (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workspaces_name_key ON workspaces (lower(name));

-- People, across workspaces.
CREATE TABLE users (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 128),
    email      text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspace_members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'GUEST')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);

-- API keys: only a SHA-256 of the key is kept. A key's text names its workspace, so a request can
-- be authenticated inside that workspace's RLS door.
CREATE TABLE api_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    user_id      uuid NOT NULL,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 128),
    key_hash     bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    role         text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'GUEST')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (workspace_id, key_hash);

-- Per-workspace limits, enforced by every worker process.
CREATE TABLE workspace_limits (
    workspace_id    uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    max_concurrency int CHECK (max_concurrency >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE workspace_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_members FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON workspace_members
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON api_keys
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE workspace_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON workspace_limits
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
DROP TABLE workspace_limits;
DROP TABLE api_keys;
DROP TABLE workspace_members;
DROP TABLE users;
DROP TABLE workspaces;
REVOKE USAGE ON SCHEMA public FROM mosaic_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM mosaic_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM mosaic_app;
DROP FUNCTION mosaic_current_workspace();
