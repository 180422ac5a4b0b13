package mosaictype

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Workspace is a tenant.
type Workspace struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateWorkspaceRequest is the body of POST /v1/workspaces.
type CreateWorkspaceRequest struct {
	Name       string `json:"name"`
	OwnerName  string `json:"owner_name,omitempty"`
	OwnerEmail string `json:"owner_email,omitempty"`
}

// CreatedWorkspace is the answer: the workspace and its owner's API key, shown this once.
type CreatedWorkspace struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	APIKey    string    `json:"api_key"`
	CreatedAt time.Time `json:"created_at"`
}

// Limits is the body of PUT /v1/workspaces/{ws}/limits and the answer of GET.
type Limits struct {
	// MaxConcurrency caps the tasks of the workspace running at once across all workers (0: none).
	MaxConcurrency int `json:"max_concurrency"`
	// Paused: workers run none of its tasks (POST …/pause and …/resume set it; a PUT of the limits
	// does not).
	Paused bool `json:"paused,omitempty"`
}

// RetentionSettings say how long each class of finished work is kept: a Go duration ("24h",
// "90m"), "0s" to keep it for good. In a workspace's own settings an absent class takes the
// process's default (docs/operations.md, "Retention").
type RetentionSettings struct {
	// Succeeded tasks, from when they finished, with their audit trail.
	Succeeded string `json:"succeeded,omitempty"`
	// Cancelled tasks.
	Cancelled string `json:"cancelled,omitempty"`
	// Dead tasks; one whose dead letter waits stays regardless.
	Dead string `json:"dead,omitempty"`
	// DeadLetters replayed or discarded, from then; waiting ones are never deleted.
	DeadLetters string `json:"dead_letters,omitempty"`
}

// String is the settings on one line ("succeeded 24h0m0s, cancelled default, …").
func (rs RetentionSettings) String() string {
	or := func(s string) string {
		if s == "" {
			return "default"
		}
		return s
	}
	return fmt.Sprintf("succeeded %s, cancelled %s, dead %s, dead letters %s", or(rs.Succeeded), or(rs.Cancelled), or(rs.Dead), or(rs.DeadLetters))
}

// Retention is the answer of GET and PUT /v1/workspaces/{ws}/retention.
type Retention struct {
	// Workspace is the workspace's own settings (the body of the PUT).
	Workspace RetentionSettings `json:"workspace"`
	// Effective is what holds: its settings over the defaults of this server's process.
	Effective RetentionSettings `json:"effective"`
}

// CreateAPIKeyRequest is the body of POST /v1/workspaces/{ws}/api-keys: a key for a new member.
type CreateAPIKeyRequest struct {
	Name string `json:"name"`
	// Role of the new member: ADMIN, MEMBER or GUEST (OWNER only by an owner).
	Role string `json:"role"`
	// ExpiresIn is a Go duration ("720h"); empty: no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// CreatedAPIKey is the answer, with the key shown this once.
type CreatedAPIKey struct {
	ID     uuid.UUID `json:"id"`
	UserID uuid.UUID `json:"user_id"`
	Role   string    `json:"role"`
	APIKey string    `json:"api_key"`
}
