-- Agents: every worker process registers itself, heartbeats, and shows its in-flight tasks. Not
-- tenant data (a process serves every workspace), so no workspace_id and no RLS: only the admin
-- token reads it through the API. The supervisor (one leader among the processes, elected by a
-- PostgreSQL advisory lock) marks agents lost after missed heartbeats and requeues their tasks.

-- +goose Up
CREATE TABLE agents (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    host               text NOT NULL,
    pid                int NOT NULL,
    version            text NOT NULL,
    pools              text[] NOT NULL DEFAULT '{}',
    kinds              text[] NOT NULL DEFAULT '{}',
    concurrency        int NOT NULL DEFAULT 0,
    state              text NOT NULL DEFAULT 'spawning'
                       CHECK (state IN ('spawning', 'running', 'draining', 'lost', 'stopped')),
    heartbeat_interval_ms int NOT NULL CHECK (heartbeat_interval_ms > 0),
    in_flight          int NOT NULL DEFAULT 0,
    tasks              jsonb NOT NULL DEFAULT '[]',
    drain_requested_at timestamptz,
    started_at         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at       timestamptz NOT NULL DEFAULT now(),
    ended_at           timestamptz
);
CREATE INDEX agents_live ON agents (heartbeat_at) WHERE state IN ('spawning', 'running', 'draining');
CREATE INDEX agents_by_started ON agents (started_at DESC);

CREATE TABLE agent_events (
    id       bigserial PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    type     text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX agent_events_by_agent ON agent_events (agent_id, id);

-- Operators pause a workspace (its messages wait, unclaimed, and come back with backoff) or a pool
-- (its JetStream consumers are paused; a pool that starts while paused starts paused).
ALTER TABLE workspace_limits ADD COLUMN paused_at timestamptz;

CREATE TABLE pool_pauses (
    pool         text PRIMARY KEY,
    paused_until timestamptz NOT NULL,
    paused_by    text NOT NULL,
    paused_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE pool_pauses;
ALTER TABLE workspace_limits DROP COLUMN paused_at;
DROP TABLE agent_events;
DROP TABLE agents;
