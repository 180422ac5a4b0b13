-- The supervisor's stranded-task sweep reads, every 30 s in every workspace, the tasks waiting for
-- a message, by how long they have waited unchanged: an index of those rows only.

-- +goose Up
CREATE INDEX tasks_waiting ON tasks (workspace_id, updated_at) WHERE status IN ('queued', 'scheduled', 'retrying');

-- +goose Down
DROP INDEX tasks_waiting;
