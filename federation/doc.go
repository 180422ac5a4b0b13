// Package federation is the start of Mosaic's federation: instances that query and command each
// other in place. Built so far: an instance's identity (an nkeys server key pair, its seed stored
// only as Transit ciphertext) and the signed message envelope every federation message travels
// in (timestamp, nonce, Ed25519 signature; the receiver refuses forgeries, replays and stale
// messages). Connections, grants, the leafnode transport and federated reads are not built yet:
// see docs/federation.md.
package federation
