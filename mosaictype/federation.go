package mosaictype

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Identity is what a Mosaic instance shows its peers (federation).
type Identity struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	PublicKey string    `json:"public_key"` // nkeys server public key ("N…"): Ed25519, signs messages
	// LeafKey is the nkeys user key ("U…") the instance's leafnode logs in with: derived from the
	// instance key, and a key of its own, since a leafnode login signs whatever the other server
	// sends (a signature by PublicKey must never be had that way).
	LeafKey      string    `json:"leaf_key"`
	Capabilities []string  `json:"capabilities"`
	CreatedAt    time.Time `json:"created_at"`
	// LeafURL is where peers this instance accepted connect their leafnode (empty: none can).
	LeafURL string `json:"leaf_url,omitempty"`
	// Signature, by PublicKey, over every other field (federation.Self.SignIdentity): whoever
	// checks the key (connect --expect-key) knows the leafnode URL and key came with it,
	// unrewritten.
	Signature string `json:"sig,omitempty"`
}

// Peer is another Mosaic instance this instance knows (federation): its public identity and what is granted to it.
type Peer struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	PublicKey string    `json:"public_key"`
	LeafKey   string    `json:"leaf_key"`
	HTTPURL   string    `json:"http_url"`
	LeafURL   string    `json:"leaf_url,omitempty"`
	Direction string    `json:"direction"` // outgoing: this instance asked; incoming: the peer did
	Status    string    `json:"status"`
	// Source is the address an incoming request to connect was posted from.
	Source    string     `json:"source,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	// Connected: the leafnode between the two instances is up.
	Connected bool `json:"connected"`
	// Grants are what this instance grants the peer.
	Grants []Grant `json:"grants"`
}

// Grant is what a peer may do in one workspace of this instance, until ExpiresAt.
type Grant struct {
	WorkspaceID  uuid.UUID `json:"workspace_id"`
	Workspace    string    `json:"workspace"`
	Capabilities []string  `json:"capabilities"`
	// TaskKinds the peer may publish (with tasks.publish); "*" is every kind a peer may publish.
	TaskKinds []string  `json:"task_kinds,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	GrantedBy string    `json:"granted_by"`
	GrantedAt time.Time `json:"granted_at"`
}

// GrantRequest is a grant as an admin writes it.
type GrantRequest struct {
	// Workspace: a workspace of this instance, by name or id.
	Workspace string `json:"workspace"`
	// Capabilities: search, read, tasks.read, events.subscribe and
	// tasks.publish:<kind>[,<kind>…] (or tasks.publish:*).
	Capabilities []string `json:"capabilities"`
	// ExpiresIn: a Go duration, default 720h (30 days), at most 8760h.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// Disconnected says how a disconnect went.
type Disconnected struct {
	Peer string `json:"peer"`
	// Notified: the peer received the DISCONNECT and forgot this instance too.
	Notified bool   `json:"notified"`
	Error    string `json:"error,omitempty"`
}

// PublishParams are the parameters of tasks.publish.
type PublishParams struct {
	Kind           string          `json:"kind"`
	Args           json.RawMessage `json:"args,omitempty"`
	Priority       int             `json:"priority,omitempty"`
	MaxAttempts    int             `json:"max_attempts,omitempty"`
	Timeout        string          `json:"timeout,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// Published answers tasks.publish.
type Published struct {
	Instance  string    `json:"instance,omitempty"`
	Workspace string    `json:"workspace"`
	ID        uuid.UUID `json:"id"`
	Status    Status    `json:"status"`
	Duplicate bool      `json:"duplicate"`
}

// RemoteTask is a task as a peer sees it: no credential names, no worker internals.
type RemoteTask struct {
	Workspace  string          `json:"workspace"`
	ID         uuid.UUID       `json:"id"`
	Kind       string          `json:"kind"`
	Status     Status          `json:"status"`
	Priority   int             `json:"priority"`
	Attempt    int             `json:"attempt"`
	Progress   float32         `json:"progress"`
	Result     json.RawMessage `json:"result,omitempty"`
	LastError  *string         `json:"last_error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// RemoteEntry is an entry as a peer sees it (no member ids).
type RemoteEntry struct {
	Workspace string    `json:"workspace"`
	Slug      string    `json:"slug"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Status    string    `json:"status"`
	Tags      []string  `json:"tags"`
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// FederatedSearch is a search of this instance and its peers, merged.
type FederatedSearch struct {
	Results []LabelledHit `json:"results"`
	// Instances says how each instance answered (this one first).
	Instances []PeerResult `json:"instances"`
	// Partial: at least one peer did not answer (down, slow, or refused).
	Partial bool `json:"partial"`
}

// LabelledHit is a search hit with the instance and workspace it is from.
type LabelledHit struct {
	Instance  string `json:"instance"`
	Workspace string `json:"workspace"`
	Hit
}

// FederatedTasks is a task list of this instance and its peers, newest first.
type FederatedTasks struct {
	Tasks     []LabelledTask `json:"tasks"`
	Instances []PeerResult   `json:"instances"`
	Partial   bool           `json:"partial"`
}

// LabelledTask is a task with the instance it is from.
type LabelledTask struct {
	Instance string `json:"instance"`
	RemoteTask
}

// PeerResult is how one peer answered a fanned-out request.
type PeerResult struct {
	Instance string `json:"instance"`
	// Status: ok, refused, unreachable, timeout, error.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	TookMS int64  `json:"took_ms"`
}

// Envelope is a federation message, as peers post it to /federation/…: every one is signed by its
// sender's instance key and carries a timestamp and a nonce, so that the receiver can refuse
// forgeries, replays and stale messages.
type Envelope struct {
	Type      string          `json:"type"`
	From      uuid.UUID       `json:"from"` // the sender's instance id
	To        uuid.UUID       `json:"to"`   // the receiver's instance id
	Timestamp time.Time       `json:"ts"`
	Nonce     string          `json:"nonce"`
	Body      json.RawMessage `json:"body,omitempty"`
	// Re is, in a reply, the nonce of the request it answers: a reply cannot be replayed to
	// another request.
	Re string `json:"re,omitempty"`
	// Signature is base64url Ed25519 over every other field (federation.Self.Sign).
	Signature string `json:"sig,omitempty"`
}

// PeerList answers GET /v1/federation/peers.
type PeerList struct {
	Instance Identity `json:"instance"`
	Peers    []Peer   `json:"peers"`
}

// ConnectRequest is the body of POST /v1/federation/peers.
type ConnectRequest struct {
	// URL of the other instance's API.
	URL string `json:"url"`
	// PublicKey, when given, is the other instance's key as its admin gave it: another is refused.
	PublicKey string `json:"public_key,omitempty"`
}

// AcceptRequest is the body of POST /v1/federation/peers/{peer}/accept.
type AcceptRequest struct {
	Grants []GrantRequest `json:"grants"`
}

// PeerPublishRequest is the body of POST /v1/workspaces/{ws}/federation/tasks: a task for a peer.
type PeerPublishRequest struct {
	// Instance is the peer, by name or id.
	Instance string `json:"instance"`
	// Workspace is the peer's workspace; empty when the peer grants the kind in one only.
	Workspace string `json:"workspace,omitempty"`
	PublishParams
}
