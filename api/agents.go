package api

import (
	"net/http"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

func (s *Server) mountAgents(r *Router) {
	r.Handle("GET /v1/agents", AdminOnly, s.listAgents)
	r.Handle("GET /v1/agents/{id}", AdminOnly, s.getAgent)
	r.Handle("POST /v1/agents/{id}/drain", AdminOnly, s.drainAgent)
}

// AgentList (mosaictype.AgentList) is the agent registry: live agents and those that ended in the
// last hour.
type AgentList = mosaictype.AgentList

func (s *Server) listAgents(w http.ResponseWriter, r *Request) *Error {
	list, err := s.cfg.DB.ListAgents(r.Context(), time.Hour)
	if err != nil {
		return errorOf(err)
	}
	if list == nil {
		list = []store.Agent{}
	}
	writeJSON(w, http.StatusOK, AgentList{Agents: list})
	return nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "agent id")
	if e != nil {
		return e
	}
	list, err := s.cfg.DB.ListAgents(r.Context(), 24*time.Hour)
	if err != nil {
		return errorOf(err)
	}
	for _, a := range list {
		if a.ID == id {
			evs, err := s.cfg.DB.AgentEvents(r.Context(), id)
			if err != nil {
				return errorOf(err)
			}
			writeJSON(w, http.StatusOK, map[string]any{"agent": a, "events": evs})
			return nil
		}
	}
	return errorf(CodeNotFound, "agent %s: not found (agents are kept for a day after they end)", id)
}

func (s *Server) drainAgent(w http.ResponseWriter, r *Request) *Error {
	id, e := pathID(r, "agent id")
	if e != nil {
		return e
	}
	a, err := s.cfg.DB.RequestDrain(r.Context(), id, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusAccepted, a)
	return nil
}

func (s *Server) mountPauses(r *Router) {
	r.Handle("GET /v1/pools", AdminOnly, s.listPoolPauses)
	r.Handle("POST /v1/pools/{pool}/pause", AdminOnly, s.pausePool)
	r.Handle("POST /v1/pools/{pool}/resume", AdminOnly, s.resumePool)
	r.Handle("POST /v1/workspaces/{ws}/pause", AdminOnly, s.pauseWorkspace)
	r.Handle("POST /v1/workspaces/{ws}/resume", AdminOnly, s.resumeWorkspace)
}

// PauseRequest (mosaictype.PauseRequest) pauses a pool for a while (empty: until it is resumed).
type PauseRequest = mosaictype.PauseRequest

// PoolPauseResponse (mosaictype.PoolPauseResponse) says which consumers were paused or resumed.
type PoolPauseResponse = mosaictype.PoolPauseResponse

func (s *Server) listPoolPauses(w http.ResponseWriter, r *Request) *Error {
	list, err := s.cfg.DB.PoolPauses(r.Context())
	if err != nil {
		return errorOf(err)
	}
	if list == nil {
		list = []store.PoolPause{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"paused": list})
	return nil
}

func poolParam(r *Request) (string, *Error) {
	pool := r.PathValue("pool")
	if err := events.ValidateKind(pool); err != nil || len(pool) > 32 {
		return "", errorf(CodeInvalidArgument, "pool %q: a short lower-case name", pool)
	}
	return pool, nil
}

func (s *Server) pausePool(w http.ResponseWriter, r *Request) *Error {
	pool, e := poolParam(r)
	if e != nil {
		return e
	}
	var req PauseRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	until := time.Now().Add(10 * 365 * 24 * time.Hour) // until resumed
	if req.For != "" {
		d, err := time.ParseDuration(req.For)
		if err != nil || d <= 0 {
			return errorf(CodeInvalidArgument, "for: %q is not a positive duration (30m, 2h)", req.For)
		}
		until = time.Now().Add(d)
	}
	names, err := agents.PausePool(r.Context(), s.cfg.DB, s.cfg.JS, pool, until, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, PoolPauseResponse{Pool: pool, PausedUntil: &until, Consumers: names})
	return nil
}

func (s *Server) resumePool(w http.ResponseWriter, r *Request) *Error {
	pool, e := poolParam(r)
	if e != nil {
		return e
	}
	names, err := agents.ResumePool(r.Context(), s.cfg.DB, s.cfg.JS, pool)
	if err != nil {
		return errorOf(err)
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, PoolPauseResponse{Pool: pool, Consumers: names})
	return nil
}

func (s *Server) pauseWorkspace(w http.ResponseWriter, r *Request) *Error {
	return s.setWorkspacePaused(w, r, true)
}

func (s *Server) resumeWorkspace(w http.ResponseWriter, r *Request) *Error {
	return s.setWorkspacePaused(w, r, false)
}

func (s *Server) setWorkspacePaused(w http.ResponseWriter, r *Request, paused bool) *Error {
	if err := s.cfg.DB.SetWorkspacePaused(r.Context(), r.Workspace, paused); err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspace_id": r.Workspace, "paused": paused})
	return nil
}
