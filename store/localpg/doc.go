// Package localpg runs a throwaway PostgreSQL cluster with the machine's own PostgreSQL server
// binaries, for `mosaic dev` and for the tests when no MOSAIC_DATABASE_URL is configured.
//
// The cluster lives in a directory of its own (Config.Dir): the data directory under data/, the
// server's log in postgres.log and the generated superuser password in superuser.password (0600).
// It listens on 127.0.0.1 only, on a free port unless one is given, with scram-sha-256
// authentication and no Unix socket. initdb and postgres refuse to run as root, so when the
// process runs as root the server runs as an unprivileged user (postgres if it exists, else nobody).
//
// The server is a child process that receives SIGINT (fast shutdown) when its parent dies, so a
// killed `mosaic dev` does not leave it behind; should one still be running on the same directory
// (or have left a stale postmaster.pid), Start stops it or clears the pid file before starting anew.
package localpg
