package client

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Agents lists the agent registry (admin token).
func (c *Client) Agents(ctx context.Context) ([]mosaictype.Agent, error) {
	var out mosaictype.AgentList
	return out.Agents, c.Do(ctx, http.MethodGet, "/v1/agents", nil, &out)
}

// AgentEvents reads an agent and its recorded transitions (admin token).
func (c *Client) AgentEvents(ctx context.Context, id uuid.UUID) (mosaictype.Agent, []mosaictype.AgentEvent, error) {
	var out struct {
		Agent  mosaictype.Agent        `json:"agent"`
		Events []mosaictype.AgentEvent `json:"events"`
	}
	err := c.Do(ctx, http.MethodGet, "/v1/agents/"+id.String(), nil, &out)
	return out.Agent, out.Events, err
}

// DrainAgent asks a live agent to drain (admin token).
func (c *Client) DrainAgent(ctx context.Context, id uuid.UUID) (mosaictype.Agent, error) {
	var a mosaictype.Agent
	return a, c.Do(ctx, http.MethodPost, "/v1/agents/"+id.String()+"/drain", nil, &a)
}

// PausePool pauses a pool's consumers (for 0: until resumed). Admin token.
func (c *Client) PausePool(ctx context.Context, pool string, d time.Duration) (mosaictype.PoolPauseResponse, error) {
	req := mosaictype.PauseRequest{}
	if d > 0 {
		req.For = d.String()
	}
	var out mosaictype.PoolPauseResponse
	return out, c.Do(ctx, http.MethodPost, "/v1/pools/"+pool+"/pause", req, &out)
}

// ResumePool resumes a pool's consumers. Admin token.
func (c *Client) ResumePool(ctx context.Context, pool string) (mosaictype.PoolPauseResponse, error) {
	var out mosaictype.PoolPauseResponse
	return out, c.Do(ctx, http.MethodPost, "/v1/pools/"+pool+"/resume", nil, &out)
}

// PoolPauses lists the paused pools. Admin token.
func (c *Client) PoolPauses(ctx context.Context) ([]mosaictype.PoolPause, error) {
	var out struct {
		Paused []mosaictype.PoolPause `json:"paused"`
	}
	return out.Paused, c.Do(ctx, http.MethodGet, "/v1/pools", nil, &out)
}

// SetWorkspacePaused pauses or resumes a workspace. Admin token.
func (c *Client) SetWorkspacePaused(ctx context.Context, ws uuid.UUID, paused bool) error {
	verb := "/resume"
	if paused {
		verb = "/pause"
	}
	return c.Do(ctx, http.MethodPost, wsPath(ws, verb), nil, nil)
}
