package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// PutCredential stores a credential.
func (c *Client) PutCredential(ctx context.Context, ws uuid.UUID, req mosaictype.PutCredentialRequest) (mosaictype.Credential, error) {
	var out mosaictype.Credential
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/credentials"), req, &out)
}

// ListCredentials lists the credentials the caller may see.
func (c *Client) ListCredentials(ctx context.Context, ws uuid.UUID) ([]mosaictype.Credential, error) {
	var out struct {
		Credentials []mosaictype.Credential `json:"credentials"`
	}
	return out.Credentials, c.Do(ctx, http.MethodGet, wsPath(ws, "/credentials"), nil, &out)
}

// GetCredential reads a credential (masked).
func (c *Client) GetCredential(ctx context.Context, ws, id uuid.UUID) (mosaictype.Credential, error) {
	var out mosaictype.Credential
	return out, c.Do(ctx, http.MethodGet, wsPath(ws, "/credentials/"+id.String()), nil, &out)
}

// UpdateCredential changes a credential's description.
func (c *Client) UpdateCredential(ctx context.Context, ws, id uuid.UUID, req mosaictype.UpdateCredentialRequest) (mosaictype.Credential, error) {
	var out mosaictype.Credential
	return out, c.Do(ctx, http.MethodPatch, wsPath(ws, "/credentials/"+id.String()), req, &out)
}

// RotateCredential sets a new value, or (req.Agent) asks the rotation agent: then the answer
// holds the task id.
func (c *Client) RotateCredential(ctx context.Context, ws, id uuid.UUID, req mosaictype.RotateCredentialRequest) (map[string]any, error) {
	var out map[string]any
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/credentials/"+id.String()+"/rotate"), req, &out)
}

// DeleteCredential soft-deletes a credential.
func (c *Client) DeleteCredential(ctx context.Context, ws, id uuid.UUID) error {
	return c.Do(ctx, http.MethodDelete, wsPath(ws, "/credentials/"+id.String()), nil, nil)
}

// CredentialAudit lists the credential access log (one credential when id is not uuid.Nil).
func (c *Client) CredentialAudit(ctx context.Context, ws, id uuid.UUID, limit int) ([]mosaictype.Access, error) {
	q := url.Values{}
	if id != uuid.Nil {
		q.Set("credential", id.String())
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var out struct {
		Access []mosaictype.Access `json:"access"`
	}
	return out.Access, c.Do(ctx, http.MethodGet, wsPath(ws, "/credentials/audit?"+q.Encode()), nil, &out)
}

// RotateKey queues the rotation of a Transit key and the rewrap of every ciphertext (admin token).
func (c *Client) RotateKey(ctx context.Context, ws uuid.UUID, key string, req mosaictype.RotateKeyRequest) (map[string]any, error) {
	var out map[string]any
	return out, c.Do(ctx, http.MethodPost, wsPath(ws, "/keys/"+url.PathEscape(key)+"/rotate"), req, &out)
}
