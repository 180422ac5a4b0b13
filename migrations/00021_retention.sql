-- Retention: how long a finished task (with its audit trail) and a dead letter an operator has
-- dealt with are kept before the cleaner deletes them. A column left NULL takes the process's
-- default (`--retain-*`, docs/operations.md); 0 keeps rows of that class for good. A dead task is
-- kept for as long as a dead letter of it waits (neither replayed nor discarded), whatever its
-- retention says; waiting dead letters are never deleted.
--
-- The cleaner finds doomed tasks by tasks_by_status ((workspace_id, status, created_at, id)): a
-- task finishes after it was created, so one that finished before the cutoff was created before
-- it too, and the scan stops at the first task created after the cutoff.

-- +goose Up
CREATE TABLE workspace_retention (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    succeeded_seconds    bigint CHECK (succeeded_seconds >= 0),
    cancelled_seconds    bigint CHECK (cancelled_seconds >= 0),
    dead_seconds         bigint CHECK (dead_seconds >= 0),
    dead_letters_seconds bigint CHECK (dead_letters_seconds >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE workspace_retention ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_retention FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON workspace_retention
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
DROP TABLE workspace_retention;
