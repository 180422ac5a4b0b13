-- What each worker process measured, per minute, pool and priority: handler runs that succeeded
-- and failed, and how long tasks waited in their stream and ran (counts per bucket of
-- store.MinuteBoundsMS). Written by the agent's heartbeat (the current minute overwritten with its
-- totals so far), summed over agents by the API for the console's last-hour charts, and kept an
-- hour. Like agents, not tenant data: no workspace_id, read with the admin token only.

-- +goose Up
CREATE TABLE agent_minutes (
    agent_id  uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    minute    timestamptz NOT NULL,
    pool      text NOT NULL,
    stream    text NOT NULL,
    priority  smallint NOT NULL CHECK (priority BETWEEN 1 AND 10),
    succeeded int NOT NULL CHECK (succeeded >= 0),
    failed    int NOT NULL CHECK (failed >= 0),
    wait_ms   int[] NOT NULL,
    run_ms    int[] NOT NULL,
    PRIMARY KEY (agent_id, minute, pool, stream, priority)
);
CREATE INDEX agent_minutes_by_minute ON agent_minutes (minute);

-- +goose Down
DROP TABLE agent_minutes;
