package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// CreateWorkspaceRequest (mosaictype.CreateWorkspaceRequest) is the body of POST /v1/workspaces.
type CreateWorkspaceRequest = mosaictype.CreateWorkspaceRequest

// CreatedWorkspace (mosaictype.CreatedWorkspace) is the answer: the workspace and its owner's API
// key, shown this once.
type CreatedWorkspace = mosaictype.CreatedWorkspace

func (s *Server) createWorkspace(w http.ResponseWriter, r *Request) *Error {
	var req CreateWorkspaceRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if err := store.ValidateWorkspaceName(req.Name); err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	if len(req.OwnerName) > 128 {
		return errorf(CodeInvalidArgument, "owner_name is longer than 128 bytes")
	}
	created, err := s.cfg.DB.CreateWorkspace(r.Context(), store.NewWorkspace{Name: req.Name, OwnerName: req.OwnerName, OwnerEmail: req.OwnerEmail})
	if err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("workspace_id", created.ID.String()).Str("name", created.Name).Msg("workspace created")
	writeJSON(w, http.StatusCreated, CreatedWorkspace{ID: created.ID, Name: created.Name, APIKey: created.APIKey, CreatedAt: created.CreatedAt})
	return nil
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *Request) *Error {
	list, err := s.cfg.DB.ListWorkspaces(r.Context())
	if err != nil {
		return errorOf(err)
	}
	if list == nil {
		list = []store.Workspace{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": list})
	return nil
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *Request) *Error {
	ws, err := s.cfg.DB.GetWorkspace(r.Context(), r.Workspace)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(CodeNotFound, "workspace %s not found", r.Workspace)
	} else if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// Limits (mosaictype.Limits) is the body of PUT /v1/workspaces/{ws}/limits and the answer of GET.
type Limits = mosaictype.Limits

func (s *Server) putLimits(w http.ResponseWriter, r *Request) *Error {
	var req Limits
	if e := r.Decode(&req); e != nil {
		return e
	}
	if req.MaxConcurrency < 0 || req.MaxConcurrency > 100000 {
		return errorf(CodeInvalidArgument, "max_concurrency must be between 0 (no cap) and 100000")
	}
	if req.Paused {
		return errorf(CodeInvalidArgument, "paused: pause and resume a workspace with POST /v1/workspaces/{ws}/pause and …/resume")
	}
	if err := s.cfg.DB.SetMaxConcurrency(r.Context(), r.Workspace, req.MaxConcurrency); err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}

func (s *Server) getLimits(w http.ResponseWriter, r *Request) *Error {
	n, paused, err := s.cfg.DB.WorkspaceLimits(r.Context(), r.Workspace)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, Limits{MaxConcurrency: n, Paused: paused})
	return nil
}

// CreateAPIKeyRequest (mosaictype.CreateAPIKeyRequest) is the body of POST
// /v1/workspaces/{ws}/api-keys: a key for a new member.
type CreateAPIKeyRequest = mosaictype.CreateAPIKeyRequest

// CreatedAPIKey (mosaictype.CreatedAPIKey) is the answer, with the key shown this once.
type CreatedAPIKey = mosaictype.CreatedAPIKey

func (s *Server) createAPIKey(w http.ResponseWriter, r *Request) *Error {
	var req CreateAPIKeyRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	role := store.Role(req.Role)
	if !role.Valid() {
		return errorf(CodeInvalidArgument, "role %q is not OWNER, ADMIN, MEMBER or GUEST", req.Role)
	}
	if role == store.RoleOwner && !r.Caller.Admin && r.Caller.Principal.Role != store.RoleOwner {
		return errorf(CodeForbidden, "only an owner may create an owner")
	}
	if req.Name == "" || len(req.Name) > 128 {
		return errorf(CodeInvalidArgument, "name must be 1 to 128 bytes")
	}
	var expires time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return errorf(CodeInvalidArgument, "expires_in %q is not a positive duration", req.ExpiresIn)
		}
		expires = time.Now().Add(d)
	}
	userID, err := s.cfg.DB.AddMember(r.Context(), r.Workspace, req.Name, role)
	if err != nil {
		return errorOf(err)
	}
	key, id, err := s.cfg.DB.CreateAPIKey(r.Context(), r.Workspace, userID, req.Name, role, expires)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusCreated, CreatedAPIKey{ID: id, UserID: userID, Role: string(role), APIKey: key})
	return nil
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "key id")
	if e != nil {
		return e
	}
	mayRevokeOwner := r.Caller.Admin || r.Caller.Principal.Role == store.RoleOwner
	if err := s.cfg.DB.RevokeAPIKey(r.Context(), r.Workspace, id, mayRevokeOwner); errors.Is(err, store.ErrNotFound) {
		return errorf(CodeNotFound, "API key %s not found", id)
	} else if err != nil {
		return errorOf(err)
	}
	s.keys.forget(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
