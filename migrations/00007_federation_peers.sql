-- Federation: the peers this instance knows and what it grants them. Nothing a peer answers is
-- stored: these rows are the peer's public identity (needed to verify its signatures) and this
-- instance's own grants, and a disconnect deletes both.

-- +goose Up
CREATE TABLE federation_peers (
    id         uuid PRIMARY KEY, -- the peer's instance id
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    public_key text NOT NULL UNIQUE CHECK (public_key ~ '^N[A-Z2-7]{55}$'),
    -- The key its leafnode logs in with (derived from its instance key; signs nothing else).
    leaf_key   text NOT NULL UNIQUE CHECK (leaf_key ~ '^U[A-Z2-7]{55}$'),
    http_url   text NOT NULL CHECK (char_length(http_url) <= 512),
    -- Where this instance connects its leafnode: set on the side that asked to connect.
    leaf_url   text CHECK (char_length(leaf_url) <= 512),
    -- outgoing: this instance asked; incoming: the peer asked, this instance decides.
    direction  text NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    status     text NOT NULL CHECK (status IN ('requested', 'pending', 'accepted', 'rejected')),
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);
CREATE UNIQUE INDEX federation_peers_name ON federation_peers (lower(name));

-- What a peer may do here: per workspace, capabilities (credentials are not among them, ever) and
-- the task kinds it may publish, until an expiry. Not tenant data: the instance's own registry of
-- what it grants (as workspaces is), read and written by system work for the instance's admin;
-- hence the column is "workspace", not "workspace_id", the mark of a tenant table under RLS.
CREATE TABLE federation_grants (
    peer_id      uuid NOT NULL REFERENCES federation_peers (id) ON DELETE CASCADE,
    workspace    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    capabilities text[] NOT NULL CHECK (cardinality(capabilities) > 0 AND capabilities <@
        ARRAY['knowledge.search', 'knowledge.read', 'tasks.publish', 'tasks.read', 'events.subscribe']),
    task_kinds   text[] NOT NULL DEFAULT '{}',
    expires_at   timestamptz NOT NULL,
    granted_by   text NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (peer_id, workspace)
);

-- +goose Down
DROP TABLE federation_grants;
DROP TABLE federation_peers;
