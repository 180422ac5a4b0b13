// Package credrotate is the credential rotation agent: jobs on the CREDENTIALS stream that rotate
// secrets at their providers and rotate Transit keys, and a scheduler that turns rotation policies
// and expiries into jobs and events.
//
// credentials.rotate rotates one credential in stages, like AWS Secrets Manager: create a pending
// value (stored encrypted beside the current one), set it at the provider, test it, then promote it
// (current becomes previous). Every step is checkpointed, so a crash at any step resumes where it
// stopped; a failed test sets the old value back at the provider and leaves the credential as it
// was. Providers: random (application secrets), postgres (a role's own password, changed by the
// role itself and tested by logging in), http (a configured endpoint sets and tests the value).
//
// credentials.rewrap rotates a Transit key, rewraps every ciphertext below the new version in
// checkpointed batches across all workspaces (each through the RLS door, as each member for USER
// credentials), then raises the key's min_decryption_version.
package credrotate
