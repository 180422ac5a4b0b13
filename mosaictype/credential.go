package mosaictype

import (
	"time"

	"github.com/google/uuid"
)

// Credential is a stored credential as the API shows it: never its value, nor a ciphertext of it.
type Credential struct {
	WorkspaceID    uuid.UUID         `json:"workspace_id"`
	ID             uuid.UUID         `json:"id"`
	OwnerID        *uuid.UUID        `json:"owner_id"`
	Name           string            `json:"name"`
	Provider       string            `json:"provider"`
	Type           string            `json:"type"`
	Scope          string            `json:"scope"`
	MaskedValue    string            `json:"masked_value"`
	ExpiresAt      *time.Time        `json:"expires_at"`
	LastUsedAt     *time.Time        `json:"last_used_at"`
	RotatedAt      *time.Time        `json:"rotated_at"`
	RotationPolicy *string           `json:"rotation_policy"`
	Metadata       map[string]string `json:"metadata"`
	Version        int               `json:"version"`
	CreatedBy      *uuid.UUID        `json:"created_by"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	DeletedAt      *time.Time        `json:"deleted_at,omitempty"`
	HasPrevious    bool              `json:"has_previous"`
	RotationStaged bool              `json:"rotation_staged"`
}

// Access is one entry of the credential access log.
type Access struct {
	ID           int64      `json:"id"`
	CredentialID uuid.UUID  `json:"credential_id"`
	Name         string     `json:"name"`
	Action       string     `json:"action"`
	TaskID       *uuid.UUID `json:"task_id"`
	Attempt      *int       `json:"attempt"`
	Agent        string     `json:"agent,omitempty"`
	UserID       *uuid.UUID `json:"user_id"`
	Purpose      string     `json:"purpose,omitempty"`
	At           time.Time  `json:"at"`
}

// PutCredentialRequest is the body of POST /v1/workspaces/{ws}/credentials. The value is encrypted
// before it is stored and never returned.
type PutCredentialRequest struct {
	Name     string `json:"name"`
	Provider string `json:"provider,omitempty"`
	// Type: API_KEY, OAUTH_TOKEN, ACCESS_TOKEN, SECRET (default), PASSWORD or CUSTOM.
	Type string `json:"type,omitempty"`
	// Scope: USER (default: the caller's own), WORKSPACE (ADMIN or OWNER) or SYSTEM (admin token).
	Scope          string            `json:"scope,omitempty"`
	Value          string            `json:"value"`
	ExpiresAt      *time.Time        `json:"expires_at,omitempty"`
	RotationPolicy string            `json:"rotation_policy,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// UpdateCredentialRequest is the body of PATCH …/credentials/{id}; absent fields stay. Provider
// and Metadata say where a rotation sends the value: changing either needs Value too (the value
// is bound to them; 400 otherwise).
type UpdateCredentialRequest struct {
	Provider       *string           `json:"provider,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Value          string            `json:"value,omitempty"`           // a new value (optional)
	RotationPolicy *string           `json:"rotation_policy,omitempty"` // "" removes it
	ExpiresAt      *time.Time        `json:"expires_at,omitempty"`
	ClearExpiry    bool              `json:"clear_expiry,omitempty"`
}

// RotateCredentialRequest is the body of POST …/credentials/{id}/rotate: a new value now, or the
// rotation agent (staged rotation at the credential's provider).
type RotateCredentialRequest struct {
	Value     string     `json:"value,omitempty"`
	Agent     bool       `json:"agent,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// RotateKeyRequest starts a Transit key rotation.
type RotateKeyRequest struct {
	// BatchSize of each rewrap round (default 100, at most 1000).
	BatchSize int `json:"batch_size,omitempty"`
}
