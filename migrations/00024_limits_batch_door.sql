-- A workspace's cap on running tasks is counted by the claim itself, in the engine's group-commit
-- batch: every claim, capped or not, takes one path (the batch, RunBatch), and a batch's claims of
-- capped workspaces lock those workspaces' limits rows first. The batch door (00011) therefore
-- admits workspace_limits rows of the batch's workspaces too — to read and lock, not to write:
-- WITH CHECK stays the one-workspace door, so no row of the table is inserted or changed through
-- the batch door.

-- +goose Up
ALTER POLICY workspace_isolation ON workspace_limits
    USING (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]))
    WITH CHECK (workspace_id = mosaic_current_workspace());

-- +goose Down
ALTER POLICY workspace_isolation ON workspace_limits
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());
