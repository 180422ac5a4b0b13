-- The relay asks, at every notification, for a workspace's rows that are due (publish_after <= now()),
-- oldest first. By the primary key it walked every row of the workspace: under a steady publish
-- rate that is the thousands of rows still inside their publisher's head start, and the dead rows
-- of those already deleted, each time. An index on the due time lets it read only the due ones.

-- +goose Up
CREATE INDEX outbox_due ON outbox (workspace_id, publish_after);

-- +goose Down
DROP INDEX outbox_due;
