// Package credentials is the vault of Mosaic's credentials: a value is encrypted with the
// credentials key (OpenBao Transit, or the local keyring), bound to "<workspace>:<credential id>",
// before it reaches PostgreSQL, and opened only for a task that declared it, at the moment it runs
// (agents' Job.Credential); elsewhere only a masked form is ever shown. Rotation is an agent of its
// own (agents/credrotate).
package credentials
