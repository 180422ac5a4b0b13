package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/store"
)

// Client calls a Mosaic server's HTTP API.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient returns a client for the server at baseURL (http or https) that authenticates with
// token (an API key or the admin token).
func NewClient(baseURL, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", baseURL)
	}
	return &Client{base: u, token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON answer into out (nil to
// discard it). A non-2xx answer is returned as an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(u.Path, "/") + p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach the Mosaic server at %s (is `mosaic dev` running? --server / MOSAIC_SERVER): %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var env struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(raw, &env) == nil && env.Error != nil {
			env.Error.Status = resp.StatusCode
			return env.Error
		}
		return &Error{Status: resp.StatusCode, Code: "http_" + fmt.Sprint(resp.StatusCode), Message: strings.TrimSpace(string(raw))}
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// CreateWorkspace creates a workspace (admin token).
func (c *Client) CreateWorkspace(ctx context.Context, req CreateWorkspaceRequest) (CreatedWorkspace, error) {
	var out CreatedWorkspace
	return out, c.Do(ctx, http.MethodPost, "/v1/workspaces", req, &out)
}

// ListWorkspaces lists every workspace (admin token).
func (c *Client) ListWorkspaces(ctx context.Context) ([]store.Workspace, error) {
	var out struct {
		Workspaces []store.Workspace `json:"workspaces"`
	}
	return out.Workspaces, c.Do(ctx, http.MethodGet, "/v1/workspaces", nil, &out)
}

// SetLimits sets a workspace's limits (admin token).
func (c *Client) SetLimits(ctx context.Context, ws uuid.UUID, l Limits) error {
	return c.Do(ctx, http.MethodPut, "/v1/workspaces/"+ws.String()+"/limits", l, nil)
}

// Ready asks /readyz; it returns nil when the server is ready.
func (c *Client) Ready(ctx context.Context) error {
	var out map[string]any
	err := c.Do(ctx, http.MethodGet, "/readyz", nil, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusServiceUnavailable {
		return fmt.Errorf("not ready: %s", e.Message)
	}
	return err
}
