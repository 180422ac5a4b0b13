#!/usr/bin/env bash
# init.sh: prepare PostgreSQL for Mosaic, once, as the superuser. The postgres image runs it from
# /docker-entrypoint-initdb.d when its data volume is empty; on a managed server, an administrator
# runs the same statements (docs/operations.md, "PostgreSQL roles"). It creates
#
#   mosaic_app      the runtime role: NOLOGIN, not superuser, no BYPASSRLS, owns nothing. The
#                   migrations grant it DML on every table; row-level security holds it.
#   mosaic_owner    owns the database and the schema, runs the migrations (MOSAIC_DATABASE_URL).
#                   Not superuser, no BYPASSRLS, no CREATEROLE: FORCE ROW LEVEL SECURITY holds it
#                   too. A member of mosaic_app (Mosaic checks this at start, and would otherwise
#                   try to create the role and the grant itself).
#   mosaic_runtime  the running system's login (MOSAIC_RUNTIME_DATABASE_URL): a member of
#                   mosaic_app and nothing else, so the pool never holds the owner's powers.
#   mosaic          the database, owned by mosaic_owner; only these roles may connect.
#
# and enables pgvector in it when the server has the extension (an image such as
# pgvector/pgvector:pg17): semantic search then orders in PostgreSQL.
#
# Environment: MOSAIC_OWNER_PASSWORD and MOSAIC_RUNTIME_PASSWORD (deploy/secrets/postgres.env);
# POSTGRES_USER (the superuser, default postgres); PGHOST/PGPORT as psql takes them.
set -euo pipefail

: "${MOSAIC_OWNER_PASSWORD:?set MOSAIC_OWNER_PASSWORD (deploy/secrets/postgres.env)}"
: "${MOSAIC_RUNTIME_PASSWORD:?set MOSAIC_RUNTIME_PASSWORD (deploy/secrets/postgres.env)}"
superuser="${POSTGRES_USER:-postgres}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$superuser" --dbname postgres \
  --set owner_password="$MOSAIC_OWNER_PASSWORD" --set runtime_password="$MOSAIC_RUNTIME_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_app') AS create_app,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_owner') AS create_owner,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_runtime') AS create_runtime,
       NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'mosaic') AS create_db
\gset
\if :create_app
CREATE ROLE mosaic_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
\endif
\if :create_owner
CREATE ROLE mosaic_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
\endif
\if :create_runtime
CREATE ROLE mosaic_runtime LOGIN INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
\endif
ALTER ROLE mosaic_owner PASSWORD :'owner_password';
ALTER ROLE mosaic_runtime PASSWORD :'runtime_password';
GRANT mosaic_app TO mosaic_owner;
GRANT mosaic_app TO mosaic_runtime;
\if :create_db
CREATE DATABASE mosaic OWNER mosaic_owner;
\endif
REVOKE ALL ON DATABASE mosaic FROM PUBLIC;
GRANT CONNECT ON DATABASE mosaic TO mosaic_app;

\connect mosaic
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    CREATE EXTENSION IF NOT EXISTS vector;
  END IF;
END $$;
SQL
echo "init.sh: roles mosaic_app, mosaic_owner, mosaic_runtime and database mosaic are ready" >&2
