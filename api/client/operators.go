package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// CreateOperatorKey issues a named operator key (admin token); the key is in the result, once.
func (c *Client) CreateOperatorKey(ctx context.Context, name string) (mosaictype.CreatedOperatorKey, error) {
	var out mosaictype.CreatedOperatorKey
	return out, c.Do(ctx, http.MethodPost, "/v1/operator-keys", mosaictype.CreateOperatorKeyRequest{Name: name}, &out)
}

// ListOperatorKeys lists the operator keys, revoked ones included (admin token).
func (c *Client) ListOperatorKeys(ctx context.Context) ([]mosaictype.OperatorKey, error) {
	var out struct {
		Keys []mosaictype.OperatorKey `json:"operator_keys"`
	}
	return out.Keys, c.Do(ctx, http.MethodGet, "/v1/operator-keys", nil, &out)
}

// RevokeOperatorKey revokes the operator key of a name or an id (admin token).
func (c *Client) RevokeOperatorKey(ctx context.Context, ref string) (mosaictype.OperatorKey, error) {
	var out mosaictype.OperatorKey
	return out, c.Do(ctx, http.MethodDelete, "/v1/operator-keys/"+url.PathEscape(ref), nil, &out)
}

// Overview reads the overview (admin token).
func (c *Client) Overview(ctx context.Context) (mosaictype.Overview, error) {
	var out mosaictype.Overview
	return out, c.Do(ctx, http.MethodGet, "/v1/overview", nil, &out)
}

// Consumers reads the consumer report (admin token).
func (c *Client) Consumers(ctx context.Context) (mosaictype.ConsumerReport, error) {
	var out mosaictype.ConsumerReport
	return out, c.Do(ctx, http.MethodGet, "/v1/consumers", nil, &out)
}

// Minutes reads what the worker processes measured per minute over the last n minutes (1…60;
// admin token).
func (c *Client) Minutes(ctx context.Context, n int) (mosaictype.Minutes, error) {
	var out mosaictype.Minutes
	return out, c.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/stats/minutes?minutes=%d", n), nil, &out)
}
