-- Tasks, their audit trail, dead letters and the transactional outbox.
--
-- A task row is keyed by (workspace_id, id). `fence` is the fencing token of the delivery that
-- holds the task: (generation << 32) | JetStream delivery count. A claim succeeds only with a larger
-- token; every later write of that delivery says WHERE fence = its token, so a stale worker's write
-- touches no row. `attempt` counts claims (handler runs).

-- +goose Up
CREATE TABLE tasks (
    workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                  uuid NOT NULL,
    kind                text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 128),
    priority            smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'scheduled', 'running', 'retrying', 'succeeded', 'dead', 'cancelled')),
    args                jsonb NOT NULL DEFAULT '{}',
    credentials         text[] NOT NULL DEFAULT '{}',
    metadata            jsonb NOT NULL DEFAULT '{}',
    max_attempts        int NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
    timeout_ms          bigint NOT NULL DEFAULT 0 CHECK (timeout_ms >= 0),
    run_at              timestamptz,
    idempotency_key     text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    attempt             int NOT NULL DEFAULT 0,
    generation          int NOT NULL DEFAULT 0,
    fence               bigint NOT NULL DEFAULT 0,
    msg_seq             bigint,
    worker              text,
    lease_until         timestamptz,
    progress            real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    progress_message    text,
    checkpoint          jsonb,
    checkpoint_seq      bigint NOT NULL DEFAULT 0,
    result              jsonb,
    last_error          text,
    cancel_requested_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_by_created ON tasks (workspace_id, created_at, id);
CREATE INDEX tasks_by_status ON tasks (workspace_id, status, created_at, id);
CREATE INDEX tasks_by_kind ON tasks (workspace_id, kind, created_at, id);
CREATE INDEX tasks_running ON tasks (workspace_id, lease_until) WHERE status = 'running';

-- Every state transition of a task, in order.
CREATE TABLE task_events (
    workspace_id uuid NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    task_id      uuid NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    type         text NOT NULL CHECK (char_length(type) BETWEEN 1 AND 64),
    status       text,
    attempt      int NOT NULL DEFAULT 0,
    fence        bigint NOT NULL DEFAULT 0,
    worker       text,
    detail       jsonb,
    PRIMARY KEY (workspace_id, id)
);
-- No foreign key to tasks: it would cost a lookup and a row lock per event on the hottest path
-- (a third of a claim's time here). Events are written only with their task's own transitions, in
-- the same transaction, and are removed with their workspace.
CREATE INDEX task_events_by_task ON task_events (workspace_id, task_id, id);

-- Messages that ended without success, with the reason and the original message, replayable.
CREATE TABLE dead_letters (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    task_id      uuid,
    kind         text,
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 64),
    error        text NOT NULL,
    subject      text NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    payload      bytea NOT NULL,
    attempt      int NOT NULL DEFAULT 0,
    stream_seq   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    replay_count int NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX dead_letters_by_task ON dead_letters (workspace_id, task_id);

-- Messages whose subject names no workspace that exists. They belong to no tenant: only the
-- operator (admin token) sees them.
CREATE TABLE unrouted_messages (
    id         uuid PRIMARY KEY,
    reason     text NOT NULL,
    error      text NOT NULL,
    subject    text NOT NULL,
    headers    jsonb NOT NULL DEFAULT '{}',
    payload    bytea NOT NULL,
    stream_seq bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Messages to publish once the transaction that wrote them commits (task messages of PublishTx,
-- domain events). The relay publishes with Nats-Msg-Id = msg_id and deletes the row.
CREATE TABLE outbox (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    msg_id       text NOT NULL,
    subject      text NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- The relay leaves a row alone until then: a publisher that sends the message itself after its
    -- commit (Client.Publish) gives itself a head start, and the relay is the safety net.
    publish_after timestamptz NOT NULL DEFAULT now(),
    attempts     int NOT NULL DEFAULT 0,
    last_error   text,
    PRIMARY KEY (workspace_id, id)
);

-- +goose StatementBegin
CREATE FUNCTION mosaic_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A row its publisher sends itself (publish_after ahead) needs no relay now; the relay's sweep
    -- finds it if the publisher could not.
    IF NEW.publish_after <= now() THEN
        PERFORM pg_notify('mosaic_outbox', NEW.workspace_id::text);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION mosaic_outbox_notify();

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON tasks
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE task_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_events FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON task_events
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON dead_letters
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_isolation ON outbox
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
DROP TABLE outbox;
DROP FUNCTION mosaic_outbox_notify();
DROP TABLE unrouted_messages;
DROP TABLE dead_letters;
DROP TABLE task_events;
DROP TABLE tasks;
