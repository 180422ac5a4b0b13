-- Periodic tasks. A schedule publishes an ordinary task of its kind, args, priority and
-- credentials at each due time of its cron expression (in its time zone) or interval. Firing a
-- due run is one transaction of the workspace: it locks the schedule's row (SKIP LOCKED: another
-- process firing it is left alone), inserts the task (and its outbox message), records the run
-- and moves next_run_at on. Whatever the number of processes, restarts or NATS leader changes, a
-- due time gives one task or none: the row lock serialises the firings and the commit makes the
-- task and the schedule's move one fact. JetStream's own message schedules are not used: the
-- overlap policy needs the previous run's task status, which lives here.
--
-- Schedulers find due schedules of many workspaces at once through the engine's batch door
-- (migration 00011), by schedules_due.

-- +goose Up
CREATE TABLE schedules (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    name          text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    kind          text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 128),
    args          jsonb NOT NULL DEFAULT '{}',
    priority      smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    credentials   text[] NOT NULL DEFAULT '{}',
    cron          text CHECK (char_length(cron) BETWEEN 1 AND 200),
    time_zone     text NOT NULL DEFAULT 'UTC' CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    every_ms      bigint CHECK (every_ms >= 1000),
    overlap       text NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow', 'skip')),
    missed        text NOT NULL DEFAULT 'run_once' CHECK (missed IN ('run_once', 'skip')),
    paused_at     timestamptz,
    next_run_at   timestamptz NOT NULL,
    last_run_at   timestamptz,
    last_task_id  uuid,
    runs          bigint NOT NULL DEFAULT 0,
    skipped       bigint NOT NULL DEFAULT 0,
    published_by  uuid,
    created_by    text NOT NULL CHECK (char_length(created_by) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CHECK ((cron IS NULL) <> (every_ms IS NULL))
);
CREATE UNIQUE INDEX schedules_name ON schedules (workspace_id, name);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused_at IS NULL;
ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON schedules
    USING (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]))
    WITH CHECK (workspace_id = mosaic_current_workspace());

-- The last runs of each schedule (the firing keeps 100): a task, or why none was published.
CREATE TABLE schedule_runs (
    workspace_id uuid NOT NULL,
    schedule_id  uuid NOT NULL,
    due_at       timestamptz NOT NULL,
    fired_at     timestamptz NOT NULL DEFAULT now(),
    task_id      uuid,
    skipped      text CHECK (char_length(skipped) BETWEEN 1 AND 1000),
    PRIMARY KEY (workspace_id, schedule_id, due_at),
    FOREIGN KEY (workspace_id, schedule_id) REFERENCES schedules (workspace_id, id) ON DELETE CASCADE,
    CHECK ((task_id IS NULL) <> (skipped IS NULL))
);
ALTER TABLE schedule_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON schedule_runs
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
DROP TABLE schedule_runs;
DROP TABLE schedules;
