-- One audit row per short attempt. A delivery that claims and ends its task in one write (its
-- handler wrote nothing before returning) recorded two task_events rows, "running" and its end;
-- it now records one, the end, with the time the attempt started: the "running" transition is
-- read back from it (store.TaskEvents), so no transition is lost, and the hot path writes one
-- row and two index entries less per task.
--
-- And one index on task_events instead of two: rows are read by task only, so the key leads with
-- the task ((workspace_id, task_id, id)) and the separate by-task index goes; each audit row adds
-- one index entry, not two.

-- +goose Up
ALTER TABLE task_events ADD COLUMN started_at timestamptz;
ALTER TABLE task_events DROP CONSTRAINT task_events_pkey;
ALTER TABLE task_events ADD PRIMARY KEY (workspace_id, task_id, id);
DROP INDEX task_events_by_task;

-- +goose Down
INSERT INTO task_events (workspace_id, task_id, at, type, status, attempt, fence, worker)
    SELECT workspace_id, task_id, started_at, 'running', 'running', attempt, fence, worker
    FROM task_events WHERE started_at IS NOT NULL;
ALTER TABLE task_events DROP COLUMN started_at;
CREATE INDEX task_events_by_task ON task_events (workspace_id, task_id, id);
ALTER TABLE task_events DROP CONSTRAINT task_events_pkey;
ALTER TABLE task_events ADD PRIMARY KEY (workspace_id, id);
