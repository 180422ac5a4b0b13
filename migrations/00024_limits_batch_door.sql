-- A workspace's cap on running tasks is counted by the claim itself (store.RunBatch, the one
-- claim path): a capped claim locks its workspace's limits row and counts its running tasks
-- behind the batch door (00011). The door therefore lets the engine read and lock the
-- workspace_limits rows of its list of workspaces — and nothing more: the one-workspace policy
-- stays as it was, and two policies of their own admit the batch's workspaces for SELECT and for
-- the row lock of SELECT … FOR UPDATE (an UPDATE policy whose WITH CHECK admits no new row). An
-- INSERT, UPDATE or DELETE through the batch door finds no policy that lets it change a row.

-- +goose Up
CREATE POLICY batch_read ON workspace_limits FOR SELECT
    USING (workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]));
CREATE POLICY batch_lock ON workspace_limits FOR UPDATE
    USING (workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]))
    WITH CHECK (false);

-- +goose Down
DROP POLICY batch_lock ON workspace_limits;
DROP POLICY batch_read ON workspace_limits;
