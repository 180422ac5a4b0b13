package mosaictype

import (
	"time"

	"github.com/google/uuid"
)

// Credential is a stored credential as the API shows it: never its value, nor a ciphertext of it.
type Credential struct {
	WorkspaceID    uuid.UUID         `json:"workspace_id" db:"workspace_id"`
	ID             uuid.UUID         `json:"id" db:"id"`
	OwnerID        *uuid.UUID        `json:"owner_id" db:"owner_id"`
	Name           string            `json:"name" db:"name"`
	Provider       string            `json:"provider" db:"provider"`
	Type           string            `json:"type" db:"type"`
	Scope          string            `json:"scope" db:"scope"`
	MaskedValue    string            `json:"masked_value" db:"masked_value"`
	ExpiresAt      *time.Time        `json:"expires_at" db:"expires_at"`
	LastUsedAt     *time.Time        `json:"last_used_at" db:"last_used_at"`
	RotatedAt      *time.Time        `json:"rotated_at" db:"rotated_at"`
	RotationPolicy *string           `json:"rotation_policy" db:"rotation_policy"`
	Metadata       map[string]string `json:"metadata" db:"metadata"`
	Version        int               `json:"version" db:"version"`
	CreatedBy      *uuid.UUID        `json:"created_by" db:"created_by"`
	CreatedAt      time.Time         `json:"created_at" db:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at" db:"updated_at"`
	DeletedAt      *time.Time        `json:"deleted_at,omitempty" db:"deleted_at"`
	HasPrevious    bool              `json:"has_previous" db:"has_previous"`
	RotationStaged bool              `json:"rotation_staged" db:"rotation_staged"`
}

// Access is one entry of the credential access log.
type Access struct {
	ID           int64      `json:"id" db:"id"`
	CredentialID uuid.UUID  `json:"credential_id" db:"credential_id"`
	Name         string     `json:"name" db:"name"`
	Action       string     `json:"action" db:"action"`
	TaskID       *uuid.UUID `json:"task_id" db:"task_id"`
	Attempt      *int       `json:"attempt" db:"attempt"`
	Agent        string     `json:"agent,omitempty" db:"agent"`
	UserID       *uuid.UUID `json:"user_id" db:"user_id"`
	Purpose      string     `json:"purpose,omitempty" db:"purpose"`
	At           time.Time  `json:"at" db:"at"`
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
