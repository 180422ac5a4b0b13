-- Named operator keys: each acts as the admin token under a name of its own, so that an
-- operator's actions are audited by who took them ("operator:<name>") and one person's access is
-- revoked alone. Created and revoked with the admin token; only the SHA-256 of a key is stored.
-- Like the workspace registry, the table belongs to no workspace: the API reads it outside any
-- workspace's door (store.DB.AsSystem).

-- +goose Up
CREATE TABLE operator_keys (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    key_hash   bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL CHECK (char_length(created_by) BETWEEN 1 AND 200),
    revoked_at timestamptz,
    revoked_by text CHECK (char_length(revoked_by) BETWEEN 1 AND 200)
);
-- One key per operator at a time: a name in the audit trail is one person's.
CREATE UNIQUE INDEX operator_keys_active_name ON operator_keys (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE operator_keys;
