package api

import (
	"net/http"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Named operator keys: each acts as the admin token under its own name, so that an action is
// audited by who took it ("operator:<name>") and one person's access is revoked alone. They are
// created, listed and revoked with the admin token itself: an operator key cannot make another.

// CreateOperatorKeyRequest (mosaictype.CreateOperatorKeyRequest) names the operator a key is for.
type CreateOperatorKeyRequest = mosaictype.CreateOperatorKeyRequest

// CreatedOperatorKey (mosaictype.CreatedOperatorKey) is a new key, shown this once.
type CreatedOperatorKey = mosaictype.CreatedOperatorKey

// adminTokenItself refuses an operator key where only the admin token may act.
func adminTokenItself(r *Request) *Error {
	if r.Caller.Operator != "" {
		return errorf(CodeForbidden, "operator keys are created, listed and revoked with the admin token itself, not with an operator key")
	}
	return nil
}

func (s *Server) createOperatorKey(w http.ResponseWriter, r *Request) *Error {
	if e := adminTokenItself(r); e != nil {
		return e
	}
	var req CreateOperatorKeyRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if err := store.ValidateOperatorName(req.Name); err != nil {
		return errorf(CodeInvalidArgument, "name: %v", err)
	}
	k, key, err := s.cfg.DB.CreateOperatorKey(r.Context(), req.Name, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("operator", k.Name).Str("key_id", k.ID.String()).Str("by", r.Caller.Name()).Msg("operator key created")
	writeJSON(w, http.StatusCreated, CreatedOperatorKey{OperatorKey: k, Key: key})
	return nil
}

func (s *Server) listOperatorKeys(w http.ResponseWriter, r *Request) *Error {
	if e := adminTokenItself(r); e != nil {
		return e
	}
	keys, err := s.cfg.DB.ListOperatorKeys(r.Context())
	if err != nil {
		return errorOf(err)
	}
	if keys == nil {
		keys = []store.OperatorKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"operator_keys": keys})
	return nil
}

func (s *Server) revokeOperatorKey(w http.ResponseWriter, r *Request) *Error {
	if e := adminTokenItself(r); e != nil {
		return e
	}
	k, err := s.cfg.DB.RevokeOperatorKey(r.Context(), r.PathValue("key"), r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("operator", k.Name).Str("key_id", k.ID.String()).Str("by", r.Caller.Name()).Msg("operator key revoked")
	writeJSON(w, http.StatusOK, k)
	return nil
}
