package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// FederationIdentity reads the server's public federation identity.
func (c *Client) FederationIdentity(ctx context.Context) (mosaictype.Identity, error) {
	var id mosaictype.Identity
	return id, c.Do(ctx, http.MethodGet, "/federation/identity", nil, &id)
}

// FederationConnect delivers a signed CONNECT to the instance (another instance's request to
// link with it; no token: the envelope's signature is the proof).
func (c *Client) FederationConnect(ctx context.Context, env *mosaictype.Envelope) error {
	return c.Do(ctx, http.MethodPost, "/federation/connect", env, nil)
}

// FederationStatus asks the instance, with a signed query, how it stands with the asker; the
// answer is its signed reply.
func (c *Client) FederationStatus(ctx context.Context, env *mosaictype.Envelope) (mosaictype.Envelope, error) {
	var out mosaictype.Envelope
	return out, c.Do(ctx, http.MethodPost, "/federation/status", env, &out)
}

// Peers lists this instance's peers (admin token).
func (c *Client) Peers(ctx context.Context) (mosaictype.PeerList, error) {
	var out mosaictype.PeerList
	return out, c.Do(ctx, http.MethodGet, "/v1/federation/peers", nil, &out)
}

// ConnectPeer asks the instance at peerURL to connect (admin token).
func (c *Client) ConnectPeer(ctx context.Context, peerURL, expectKey string) (mosaictype.Peer, error) {
	var out mosaictype.Peer
	return out, c.Do(ctx, http.MethodPost, "/v1/federation/peers", mosaictype.ConnectRequest{URL: peerURL, PublicKey: expectKey}, &out)
}

// AcceptPeer accepts a pending peer with grants (admin token).
func (c *Client) AcceptPeer(ctx context.Context, peer string, grants []mosaictype.GrantRequest) (mosaictype.Peer, error) {
	var out mosaictype.Peer
	return out, c.Do(ctx, http.MethodPost, "/v1/federation/peers/"+url.PathEscape(peer)+"/accept", mosaictype.AcceptRequest{Grants: grants}, &out)
}

// RejectPeer rejects a pending peer (admin token).
func (c *Client) RejectPeer(ctx context.Context, peer string) error {
	return c.Do(ctx, http.MethodPost, "/v1/federation/peers/"+url.PathEscape(peer)+"/reject", struct{}{}, nil)
}

// GrantPeer sets a peer's grant in one workspace (admin token).
func (c *Client) GrantPeer(ctx context.Context, peer string, g mosaictype.GrantRequest) (mosaictype.Peer, error) {
	var out mosaictype.Peer
	return out, c.Do(ctx, http.MethodPut, "/v1/federation/peers/"+url.PathEscape(peer)+"/grants", g, &out)
}

// RevokePeer removes a peer's grant in one workspace (admin token).
func (c *Client) RevokePeer(ctx context.Context, peer, workspace string) (mosaictype.Peer, error) {
	var out mosaictype.Peer
	return out, c.Do(ctx, http.MethodDelete, "/v1/federation/peers/"+url.PathEscape(peer)+"/grants/"+url.PathEscape(workspace), nil, &out)
}

// OfferedBy asks a peer what it grants this instance (admin token).
func (c *Client) OfferedBy(ctx context.Context, peer string) ([]mosaictype.Grant, error) {
	var out struct {
		Grants []mosaictype.Grant `json:"grants"`
	}
	return out.Grants, c.Do(ctx, http.MethodGet, "/v1/federation/peers/"+url.PathEscape(peer)+"/offered", nil, &out)
}

// DisconnectPeer severs a peer (admin token).
func (c *Client) DisconnectPeer(ctx context.Context, peer string) (mosaictype.Disconnected, error) {
	var out mosaictype.Disconnected
	return out, c.Do(ctx, http.MethodDelete, "/v1/federation/peers/"+url.PathEscape(peer), nil, &out)
}

// PublishToPeer publishes a task on a peer, from workspace ws of this instance.
func (c *Client) PublishToPeer(ctx context.Context, ws string, req mosaictype.PeerPublishRequest) (mosaictype.Published, error) {
	var out mosaictype.Published
	return out, c.Do(ctx, http.MethodPost, "/v1/workspaces/"+url.PathEscape(ws)+"/federation/tasks", req, &out)
}

// FederatedSearch searches workspace ws and the peers.
func (c *Client) FederatedSearch(ctx context.Context, ws string, q url.Values) (mosaictype.FederatedSearch, error) {
	q.Set("federated", "true")
	var out mosaictype.FederatedSearch
	return out, c.Do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(ws)+"/knowledge/search?"+q.Encode(), nil, &out)
}

// FederatedTasks lists the tasks of workspace ws and the peers'.
func (c *Client) FederatedTasks(ctx context.Context, ws string, q url.Values) (mosaictype.FederatedTasks, error) {
	q.Set("federated", "true")
	var out mosaictype.FederatedTasks
	return out, c.Do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(ws)+"/tasks?"+q.Encode(), nil, &out)
}

// PeerTask reads a task of a peer, from workspace ws of this instance.
func (c *Client) PeerTask(ctx context.Context, ws, instance string, id uuid.UUID) (mosaictype.RemoteTask, error) {
	var out mosaictype.RemoteTask
	q := url.Values{"instance": {instance}}
	return out, c.Do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(ws)+"/federation/tasks/"+id.String()+"?"+q.Encode(), nil, &out)
}

// PeerEntry reads an entry of a peer (in its workspace peerWS, "" for the only one granting it).
func (c *Client) PeerEntry(ctx context.Context, ws, instance, peerWS, slug string) (mosaictype.RemoteEntry, error) {
	var out mosaictype.RemoteEntry
	q := url.Values{"instance": {instance}}
	if peerWS != "" {
		q.Set("workspace", peerWS)
	}
	return out, c.Do(ctx, http.MethodGet, "/v1/workspaces/"+url.PathEscape(ws)+"/federation/entries/"+url.PathEscape(slug)+"?"+q.Encode(), nil, &out)
}
