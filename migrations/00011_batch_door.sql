-- The engine's batch door. A group-commit transaction writes the claims, checkpoints and ends of
-- deliveries of many workspaces; through the one-workspace door that is one statement per kind of
-- write and workspace, so that a batch spread over a thousand workspaces costs a thousand
-- statements (measured: half the throughput of the same tasks in one workspace). The batch door
-- lists the batch's workspaces in mosaic.workspace_ids, transaction-local like the workspace
-- setting, and the engine's tables (tasks, task_events, outbox) admit rows of those workspaces
-- and no other; each statement still matches every row on its own (workspace_id, id). Without
-- the setting the policies are what they were: the current workspace, and nothing without one.
-- The list is read once per statement (a subquery, planned as an InitPlan), not parsed again for
-- every row the statement touches.

-- +goose Up
CREATE FUNCTION mosaic_batch_workspaces() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT string_to_array(NULLIF(current_setting('mosaic.workspace_ids', true), ''), ',')::uuid[] $$;
GRANT EXECUTE ON FUNCTION mosaic_batch_workspaces() TO mosaic_app;

ALTER POLICY workspace_isolation ON tasks
    USING (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]))
    WITH CHECK (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]));
ALTER POLICY workspace_isolation ON task_events
    USING (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]))
    WITH CHECK (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]));
ALTER POLICY workspace_isolation ON outbox
    USING (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]))
    WITH CHECK (workspace_id = mosaic_current_workspace() OR workspace_id = ANY ((SELECT mosaic_batch_workspaces())::uuid[]));

-- +goose Down
ALTER POLICY workspace_isolation ON tasks
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());
ALTER POLICY workspace_isolation ON task_events
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());
ALTER POLICY workspace_isolation ON outbox
    USING (workspace_id = mosaic_current_workspace()) WITH CHECK (workspace_id = mosaic_current_workspace());
DROP FUNCTION mosaic_batch_workspaces();
