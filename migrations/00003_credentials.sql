-- Credentials: only Transit (or keyring) ciphertexts, never a plaintext; every access audited.
--
-- USER-scope credentials are visible to their owner only: the policy compares owner_id with the
-- transaction's mosaic.user_id (set by store.InWorkspaceAs). WORKSPACE and SYSTEM credentials are
-- visible in their workspace. A ciphertext is bound to "<workspace>:<credential id>" by a derived
-- key, so copying it to another row or workspace makes it undecryptable.

-- +goose Up
CREATE FUNCTION mosaic_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('mosaic.user_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION mosaic_current_user() TO mosaic_app;

-- Who published a task (API key's user): the worker opens the publisher's USER credentials.
ALTER TABLE tasks ADD COLUMN published_by uuid;

CREATE TABLE user_credentials (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    owner_id        uuid,
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 128),
    provider        text NOT NULL DEFAULT '' CHECK (char_length(provider) <= 64),
    type            text NOT NULL CHECK (type IN ('API_KEY', 'OAUTH_TOKEN', 'ACCESS_TOKEN', 'SECRET', 'PASSWORD', 'CUSTOM')),
    scope           text NOT NULL CHECK (scope IN ('WORKSPACE', 'USER', 'SYSTEM')),
    -- Ciphertexts only ("<prefix>:v<N>:<base64>"): the CHECK refuses anything else.
    encrypted_value text NOT NULL CHECK (encrypted_value ~ '^[a-z][a-z0-9-]*:v[0-9]+:[A-Za-z0-9+/=]+$'),
    previous_value  text CHECK (previous_value ~ '^[a-z][a-z0-9-]*:v[0-9]+:[A-Za-z0-9+/=]+$'),
    pending_value   text CHECK (pending_value ~ '^[a-z][a-z0-9-]*:v[0-9]+:[A-Za-z0-9+/=]+$'),
    masked_value    text NOT NULL CHECK (char_length(masked_value) <= 64),
    expires_at      timestamptz,
    last_used_at    timestamptz,
    rotated_at      timestamptz,
    rotation_policy text,
    -- When the expiry events went out (once each).
    expiring_notified_at timestamptz,
    expired_notified_at  timestamptz,
    metadata        jsonb NOT NULL DEFAULT '{}',
    version         int NOT NULL DEFAULT 1,
    created_by      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT user_scope_has_owner CHECK (scope <> 'USER' OR owner_id IS NOT NULL)
);
CREATE UNIQUE INDEX user_credentials_name ON user_credentials
    (workspace_id, name, COALESCE(owner_id, '00000000-0000-0000-0000-000000000000'::uuid)) WHERE deleted_at IS NULL;

CREATE TABLE credential_access_log (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    credential_id uuid NOT NULL,
    name          text NOT NULL,
    action        text NOT NULL CHECK (action IN ('decrypt', 'create', 'rotate', 'update', 'delete', 'rewrap')),
    task_id       uuid,
    attempt       int,
    agent         text,
    user_id       uuid,
    purpose       text,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX credential_access_log_by_credential ON credential_access_log (workspace_id, credential_id, id);

ALTER TABLE user_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON user_credentials
    USING (workspace_id = mosaic_current_workspace() AND (scope <> 'USER' OR owner_id = mosaic_current_user()))
    WITH CHECK (workspace_id = mosaic_current_workspace() AND (scope <> 'USER' OR owner_id = mosaic_current_user()));

ALTER TABLE credential_access_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_access_log FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON credential_access_log
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
DROP TABLE credential_access_log;
DROP TABLE user_credentials;
ALTER TABLE tasks DROP COLUMN published_by;
DROP FUNCTION mosaic_current_user();
