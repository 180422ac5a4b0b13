// Package store is Mosaic's PostgreSQL layer: the connection pool, the migrations, and one file
// (with its SQL) per aggregate.
//
// Tenancy is enforced by PostgreSQL, not by WHERE clauses: every tenant table has row-level
// security ENABLEd and FORCEd with a policy on the transaction-local setting mosaic.workspace_id.
// There is one door: DB.InWorkspace(ctx, workspaceID, fn) begins a transaction, switches to the
// runtime role (mosaic_app: not superuser, owns nothing, no BYPASSRLS) and sets the workspace,
// both transaction-local so that they are safe under PgBouncer transaction pooling, then runs fn.
// Work that spans workspaces walks the registry (ListWorkspaceIDs) and enters each workspace
// through the same door; DB.AsSystem runs as the runtime role with no workspace, which sees only
// the registry tables.
package store
