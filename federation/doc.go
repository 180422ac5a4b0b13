// Package federation links Mosaic instances so that they query and command each other in place,
// within what each grants the other. An instance has an identity (an nkeys server key pair, its
// seed stored only as Transit ciphertext); every federation message travels in a signed envelope
// (timestamp, nonce, Ed25519 signature: the receiver refuses forgeries, replays and stale
// messages). Instances connect over NATS leafnodes (Hub: one account per peer) after a CONNECT
// that the other side's admin accepts with grants (per workspace: capabilities and task kinds,
// never credentials) and may later revoke (DISCONNECT); a Node serves a peer's asks through the
// workspace's RLS door and fans its own asks out to its peers, merging their answers. Identity,
// peers and grants are stored through package store. See docs/federation.md.
package federation
