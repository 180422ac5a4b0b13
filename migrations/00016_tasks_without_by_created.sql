-- One index less for every task row written. tasks_by_created ((workspace_id, created_at, id))
-- served one query, the unfiltered task list, and cost an index entry at each insert and at each
-- claim and end (which are not HOT: they change status). That list now reads tasks_by_status
-- once per status, newest first, and merges them (store.ListTasks): seven short index scans
-- instead of one. BenchmarkClaimAndEnd: PostgreSQL's CPU per task about a tenth lower.

-- +goose Up
DROP INDEX tasks_by_created;

-- +goose Down
CREATE INDEX tasks_by_created ON tasks (workspace_id, created_at, id);
