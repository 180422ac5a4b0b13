package api

import (
	"context"
	"net/http"

	"github.com/mosaicstack/mosaic/federation"
)

// mountFederation serves this instance's public identity to peers (no authentication: it holds
// only the id, name, public key and capabilities).
func (s *Server) mountFederation(id federation.Identity) {
	s.mux.HandleFunc("GET /federation/identity", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, id)
	})
}

// FederationIdentity reads the server's public federation identity.
func (c *Client) FederationIdentity(ctx context.Context) (federation.Identity, error) {
	var id federation.Identity
	return id, c.Do(ctx, http.MethodGet, "/federation/identity", nil, &id)
}
