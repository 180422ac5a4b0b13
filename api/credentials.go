package api

import (
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// PutCredentialRequest (mosaictype.PutCredentialRequest) is the body of POST
// /v1/workspaces/{ws}/credentials. The value is encrypted before it is stored and never returned.
type PutCredentialRequest = mosaictype.PutCredentialRequest

// UpdateCredentialRequest (mosaictype.UpdateCredentialRequest) is the body of PATCH
// …/credentials/{id}; absent fields stay. Provider and Metadata say where a rotation sends the
// value: changing either needs Value too (the value is bound to them; 400 otherwise).
type UpdateCredentialRequest = mosaictype.UpdateCredentialRequest

// RotateCredentialRequest (mosaictype.RotateCredentialRequest) is the body of POST
// …/credentials/{id}/rotate: a new value now, or the rotation agent (staged rotation at the
// credential's provider).
type RotateCredentialRequest = mosaictype.RotateCredentialRequest

func (s *Server) mountCredentials(r *Router) {
	r.Handle("POST /v1/workspaces/{ws}/credentials", store.RoleMember, s.putCredential)
	r.Handle("GET /v1/workspaces/{ws}/credentials", store.RoleGuest, s.listCredentials)
	r.Handle("GET /v1/workspaces/{ws}/credentials/audit", store.RoleMember, s.credentialAudit)
	r.Handle("GET /v1/workspaces/{ws}/credentials/{id}", store.RoleGuest, s.getCredential)
	r.Handle("PATCH /v1/workspaces/{ws}/credentials/{id}", store.RoleMember, s.updateCredential)
	r.Handle("POST /v1/workspaces/{ws}/credentials/{id}/rotate", store.RoleMember, s.rotateCredential)
	r.Handle("DELETE /v1/workspaces/{ws}/credentials/{id}", store.RoleMember, s.deleteCredential)
	if s.cfg.Tasks != nil {
		r.Handle("POST /v1/workspaces/{ws}/keys/{key}/rotate", AdminOnly, s.rotateKey)
	}
}

// mayManage says whether the caller may change a credential of this scope: their own USER ones
// (RLS shows them no other), WORKSPACE ones as ADMIN or OWNER, SYSTEM ones with the admin token.
func mayManage(c Caller, scope string) *Error {
	switch {
	case scope == store.ScopeSystem && !c.Admin:
		return errorf(CodeForbidden, "SYSTEM credentials are the operator's (admin token)")
	case scope == store.ScopeWorkspace && !c.Admin && !c.Principal.Role.AtLeast(store.RoleAdmin):
		return errorf(CodeForbidden, "WORKSPACE credentials need ADMIN or OWNER")
	}
	return nil
}

func (s *Server) putCredential(w http.ResponseWriter, r *Request) *Error {
	var req PutCredentialRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if req.Scope == "" {
		req.Scope = store.ScopeUser
	}
	if e := mayManage(r.Caller, req.Scope); e != nil {
		return e
	}
	if req.Value == "" {
		return errorf(CodeInvalidArgument, "value is empty")
	}
	c, err := s.cfg.Credentials.Put(r.Context(), r.Workspace, r.Caller.Principal.UserID, credentials.Spec{
		Name: req.Name, Provider: req.Provider, Type: req.Type, Scope: req.Scope, Value: crypto.NewSecret([]byte(req.Value)),
		ExpiresAt: req.ExpiresAt, RotationPolicy: req.RotationPolicy, Metadata: req.Metadata,
	})
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) listCredentials(w http.ResponseWriter, r *Request) *Error {
	list, err := s.cfg.DB.ListCredentials(r.Context(), r.Workspace, r.Caller.Principal.UserID)
	if err != nil {
		return errorOf(err)
	}
	if list == nil {
		list = []store.Credential{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": list})
	return nil
}

func (s *Server) getCredential(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	c, err := s.cfg.DB.GetCredential(r.Context(), r.Workspace, r.Caller.Principal.UserID, id)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// loadForChange reads a credential the caller may see, and checks they may change it.
func (s *Server) loadForChange(r *Request) (store.Credential, *Error) {
	id, e := pathID(r, "id")
	if e != nil {
		return store.Credential{}, e
	}
	c, err := s.cfg.DB.GetCredential(r.Context(), r.Workspace, r.Caller.Principal.UserID, id)
	if err != nil {
		return store.Credential{}, errorOf(err)
	}
	return c, mayManage(r.Caller, c.Scope)
}

func (s *Server) updateCredential(w http.ResponseWriter, r *Request) *Error {
	c, e := s.loadForChange(r)
	if e != nil {
		return e
	}
	var req UpdateCredentialRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if req.RotationPolicy != nil && *req.RotationPolicy != "" {
		if _, err := credentials.ParseRotationPolicy(*req.RotationPolicy); err != nil {
			return errorf(CodeInvalidArgument, "%v", err)
		}
	}
	u := store.CredentialUpdate{Provider: req.Provider, Metadata: req.Metadata, RotationPolicy: req.RotationPolicy}
	if req.ExpiresAt != nil || req.ClearExpiry {
		u.SetExpiry, u.ExpiresAt = true, req.ExpiresAt
	}
	var value crypto.Secret
	if req.Value != "" {
		value = crypto.NewSecret([]byte(req.Value))
	}
	updated, err := s.cfg.Credentials.Update(r.Context(), r.Workspace, r.Caller.Principal.UserID, c.ID, u, value)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
}

func (s *Server) rotateCredential(w http.ResponseWriter, r *Request) *Error {
	c, e := s.loadForChange(r)
	if e != nil {
		return e
	}
	var req RotateCredentialRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	switch {
	case req.Agent && req.Value != "":
		return errorf(CodeInvalidArgument, "give a value or ask the agent, not both")
	case req.Agent:
		if s.cfg.Tasks == nil {
			return errorf(CodeUnavailable, "no rotation agent here")
		}
		res, err := s.cfg.Tasks.Publish(r.Context(), agents.TaskSpec{WorkspaceID: r.Workspace, Kind: credrotate.KindRotateSecret,
			Args: credrotate.RotateSecretArgs{CredentialID: c.ID}, PublishedBy: r.Caller.Principal.UserID,
			IdempotencyKey: "rotate:" + c.ID.String() + ":v" + strconv.Itoa(c.Version)})
		if err != nil {
			return errorOf(err)
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"credential_id": c.ID, "task_id": res.ID})
		return nil
	case req.Value == "":
		return errorf(CodeInvalidArgument, "give the new value, or {\"agent\": true}")
	}
	updated, err := s.cfg.Credentials.Rotate(r.Context(), r.Workspace, r.Caller.Principal.UserID, c.ID, crypto.NewSecret([]byte(req.Value)),
		req.ExpiresAt, store.Access{UserID: nilID(r.Caller.Principal.UserID)})
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
}

func (s *Server) deleteCredential(w http.ResponseWriter, r *Request) *Error {
	c, e := s.loadForChange(r)
	if e != nil {
		return e
	}
	if err := s.cfg.DB.DeleteCredential(r.Context(), r.Workspace, r.Caller.Principal.UserID, c.ID); err != nil {
		return errorOf(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) credentialAudit(w http.ResponseWriter, r *Request) *Error {
	q := r.URL.Query()
	var f store.AccessFilter
	if v := q.Get("credential"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return errorf(CodeInvalidArgument, "credential %q is not a UUID", v)
		}
		f.Credential = id
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return errorf(CodeInvalidArgument, "cursor %q is not valid", v)
		}
		f.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return errorf(CodeInvalidArgument, "limit must be 1…500")
		}
		f.Limit = n
	}
	list, err := s.cfg.DB.ListAccess(r.Context(), r.Workspace, r.Caller.Principal.UserID, f)
	if err != nil {
		return errorOf(err)
	}
	if list == nil {
		list = []store.Access{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"access": list})
	return nil
}

func nilID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// RotateKeyRequest (mosaictype.RotateKeyRequest) starts a Transit key rotation.
type RotateKeyRequest = mosaictype.RotateKeyRequest

// rotateKey queues credentials.rewrap: rotate the key, rewrap every ciphertext in every workspace,
// raise min_decryption_version. The job is recorded in the path's workspace (the operator's
// choice); its work spans all of them, which is why only the admin token may start it.
func (s *Server) rotateKey(w http.ResponseWriter, r *Request) *Error {
	var req RotateKeyRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	args := credrotate.RotateKeyArgs{Key: r.PathValue("key"), BatchSize: req.BatchSize}
	if err := args.Validate(); err != nil {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	res, err := s.cfg.Tasks.Publish(r.Context(), agents.TaskSpec{WorkspaceID: r.Workspace, Kind: credrotate.KindRotateKey, Args: args})
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"key": args.Key, "task_id": res.ID})
	return nil
}
