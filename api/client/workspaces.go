package client

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// CreateWorkspace creates a workspace (admin token).
func (c *Client) CreateWorkspace(ctx context.Context, req mosaictype.CreateWorkspaceRequest) (mosaictype.CreatedWorkspace, error) {
	var out mosaictype.CreatedWorkspace
	return out, c.Do(ctx, http.MethodPost, "/v1/workspaces", req, &out)
}

// ListWorkspaces lists every workspace (admin token).
func (c *Client) ListWorkspaces(ctx context.Context) ([]mosaictype.Workspace, error) {
	var out struct {
		Workspaces []mosaictype.Workspace `json:"workspaces"`
	}
	return out.Workspaces, c.Do(ctx, http.MethodGet, "/v1/workspaces", nil, &out)
}

// SetLimits sets a workspace's limits (admin token).
func (c *Client) SetLimits(ctx context.Context, ws uuid.UUID, l mosaictype.Limits) error {
	return c.Do(ctx, http.MethodPut, "/v1/workspaces/"+ws.String()+"/limits", l, nil)
}

// Retention reads a workspace's retention: its own settings and what holds.
func (c *Client) Retention(ctx context.Context, ws uuid.UUID) (mosaictype.Retention, error) {
	var out mosaictype.Retention
	return out, c.Do(ctx, http.MethodGet, "/v1/workspaces/"+ws.String()+"/retention", nil, &out)
}

// SetRetention replaces a workspace's retention settings (admin token); an absent class takes the
// default.
func (c *Client) SetRetention(ctx context.Context, ws uuid.UUID, rs mosaictype.RetentionSettings) (mosaictype.Retention, error) {
	var out mosaictype.Retention
	return out, c.Do(ctx, http.MethodPut, "/v1/workspaces/"+ws.String()+"/retention", rs, &out)
}
