package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// maxPeerBody bounds what an unauthenticated peer may post (a CONNECT or a status query).
const maxPeerBody = 64 << 10

// mountFederation serves the peer-facing routes (the identity, CONNECT and status: signed, not
// authenticated) and the admin's (peers, grants, disconnect).
func (s *Server) mountFederation(r *Router) {
	n := s.cfg.Federation
	s.mux.HandleFunc("GET /federation/identity", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.Identity())
	})
	s.mux.HandleFunc("POST /federation/connect", func(w http.ResponseWriter, hr *http.Request) {
		var env federation.Envelope
		if e := (&Request{Request: hr}).DecodeUpTo(&env, maxPeerBody); e != nil {
			writeError(w, e)
			return
		}
		// Counted when it is a signed CONNECT: what follows verifies a signature and writes.
		source := clientAddress(hr)
		if env.Type == federation.TypeConnect && env.Signature != "" && !s.connects.allow(source) {
			writeError(w, errorf(CodeRateLimited, "too many requests to connect from %s; try again in a minute", source))
			return
		}
		p, err := n.HandleConnect(hr.Context(), &env, source)
		if err != nil {
			s.fail(w, "POST /federation/connect", errorOf(err))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": p.Status})
	})
	s.mux.HandleFunc("POST /federation/status", func(w http.ResponseWriter, hr *http.Request) {
		var env federation.Envelope
		if e := (&Request{Request: hr}).DecodeUpTo(&env, maxPeerBody); e != nil {
			writeError(w, e)
			return
		}
		reply, err := n.HandleStatus(hr.Context(), &env)
		if err != nil {
			s.fail(w, "POST /federation/status", errorOf(err))
			return
		}
		writeJSON(w, http.StatusOK, reply)
	})
	r.Handle("GET /v1/federation/peers", AdminOnly, s.listPeers)
	r.Handle("POST /v1/federation/peers", AdminOnly, s.connectPeer)
	r.Handle("GET /v1/federation/peers/{peer}", AdminOnly, s.getPeer)
	r.Handle("POST /v1/federation/peers/{peer}/accept", AdminOnly, s.acceptPeer)
	r.Handle("POST /v1/federation/peers/{peer}/reject", AdminOnly, s.rejectPeer)
	r.Handle("PUT /v1/federation/peers/{peer}/grants", AdminOnly, s.grantPeer)
	r.Handle("DELETE /v1/federation/peers/{peer}/grants/{workspace}", AdminOnly, s.revokePeer)
	r.Handle("GET /v1/federation/peers/{peer}/offered", AdminOnly, s.offeredByPeer)
	r.Handle("DELETE /v1/federation/peers/{peer}", AdminOnly, s.disconnectPeer)
	if s.cfg.Tasks != nil {
		r.Handle("POST /v1/workspaces/{ws}/federation/tasks", store.RoleMember, s.publishToPeer)
	}
	r.Handle("GET /v1/workspaces/{ws}/federation/tasks/{id}", store.RoleGuest, s.peerTask)
	r.Handle("GET /v1/workspaces/{ws}/federation/entries/{slug}", store.RoleGuest, s.peerEntry)
}

func (s *Server) listPeers(w http.ResponseWriter, r *Request) *Error {
	ps, err := s.cfg.Federation.Peers(r.Context())
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"instance": s.cfg.Federation.Identity(), "peers": ps})
	return nil
}

// ConnectRequest (mosaictype.ConnectRequest) is the body of POST /v1/federation/peers.
type ConnectRequest = mosaictype.ConnectRequest

func (s *Server) connectPeer(w http.ResponseWriter, r *Request) *Error {
	var req ConnectRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	p, err := s.cfg.Federation.Connect(r.Context(), req.URL, req.PublicKey)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusAccepted, p)
	return nil
}

func (s *Server) getPeer(w http.ResponseWriter, r *Request) *Error {
	p, err := s.cfg.Federation.Peer(r.Context(), r.PathValue("peer"))
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// AcceptRequest (mosaictype.AcceptRequest) is the body of POST /v1/federation/peers/{peer}/accept.
type AcceptRequest = mosaictype.AcceptRequest

func (s *Server) acceptPeer(w http.ResponseWriter, r *Request) *Error {
	var req AcceptRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	p, err := s.cfg.Federation.Accept(r.Context(), r.PathValue("peer"), req.Grants, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) rejectPeer(w http.ResponseWriter, r *Request) *Error {
	if err := s.cfg.Federation.Reject(r.Context(), r.PathValue("peer")); err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "rejected"})
	return nil
}

func (s *Server) grantPeer(w http.ResponseWriter, r *Request) *Error {
	var req federation.GrantRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	p, err := s.cfg.Federation.Grant(r.Context(), r.PathValue("peer"), req, r.Caller.Name())
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) revokePeer(w http.ResponseWriter, r *Request) *Error {
	p, err := s.cfg.Federation.Revoke(r.Context(), r.PathValue("peer"), r.PathValue("workspace"))
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// offeredByPeer asks a peer what it grants this instance.
func (s *Server) offeredByPeer(w http.ResponseWriter, r *Request) *Error {
	var gs []federation.Grant
	if err := s.cfg.Federation.Ask(r.Context(), r.PathValue("peer"), federation.Request{Op: "grants"}, &gs); err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": gs})
	return nil
}

func (s *Server) disconnectPeer(w http.ResponseWriter, r *Request) *Error {
	d, err := s.cfg.Federation.Disconnect(r.Context(), r.PathValue("peer"))
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// PeerPublishRequest (mosaictype.PeerPublishRequest) is the body of POST
// /v1/workspaces/{ws}/federation/tasks: a task for a peer.
type PeerPublishRequest = mosaictype.PeerPublishRequest

func (s *Server) publishToPeer(w http.ResponseWriter, r *Request) *Error {
	var req PeerPublishRequest
	if e := r.Decode(&req); e != nil {
		return e
	}
	if req.Instance == "" {
		return errorf(CodeInvalidArgument, "instance: name the peer to publish on")
	}
	res, err := s.cfg.Federation.Publish(r.Context(), req.Instance, req.Workspace, req.PublishParams)
	if err != nil {
		return errorOf(err)
	}
	s.log.Info().Str("caller", r.Caller.Name()).Str("peer", res.Instance).Str("kind", req.Kind).Str("task", res.ID.String()).Msg("published on a peer")
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// instanceParam reads ?instance= (the peer, by name or id).
func instanceParam(r *Request) (string, *Error) {
	inst := r.URL.Query().Get("instance")
	if inst == "" {
		return "", errorf(CodeInvalidArgument, "instance: name the peer to ask (?instance=NAME)")
	}
	return inst, nil
}

// peerTask answers GET …/federation/tasks/{id}?instance=NAME: a task of a peer (tasks.read).
func (s *Server) peerTask(w http.ResponseWriter, r *Request) *Error {
	inst, e := instanceParam(r)
	if e != nil {
		return e
	}
	id, e := pathID(r, "id")
	if e != nil {
		return e
	}
	t, err := s.cfg.Federation.Task(r.Context(), inst, id)
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// peerEntry answers GET …/federation/entries/{slug}?instance=NAME[&workspace=W]: an entry of a
// peer (knowledge.read).
func (s *Server) peerEntry(w http.ResponseWriter, r *Request) *Error {
	inst, e := instanceParam(r)
	if e != nil {
		return e
	}
	entry, err := s.cfg.Federation.Entry(r.Context(), inst, r.URL.Query().Get("workspace"), r.PathValue("slug"))
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, entry)
	return nil
}

// federatedSearch answers GET …/knowledge/search?federated=true: this workspace's hits and the
// peers', merged and labelled.
func (s *Server) federatedSearch(w http.ResponseWriter, r *Request, req knowledge.SearchRequest, local knowledge.SearchResult) *Error {
	ws, err := s.cfg.DB.GetWorkspace(r.Context(), r.Workspace)
	if err != nil {
		return errorOf(err)
	}
	res, err := s.cfg.Federation.Search(r.Context(), ws.Name, local.Results, federation.SearchParams{Query: req.Query, Mode: req.Mode,
		Limit: req.Limit, Tag: req.Filter.Tag, Status: req.Filter.Status, UpdatedAfter: req.Filter.UpdatedAfter, UpdatedBefore: req.Filter.UpdatedBefore})
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// federatedTasks answers GET …/tasks?federated=true.
func (s *Server) federatedTasks(w http.ResponseWriter, r *Request, f store.TaskFilter, local []store.Task) *Error {
	ws, err := s.cfg.DB.GetWorkspace(r.Context(), r.Workspace)
	if err != nil {
		return errorOf(err)
	}
	res, err := s.cfg.Federation.Tasks(r.Context(), ws.Name, local, federation.TaskParams{Status: f.Status, Kind: f.Kind, Limit: f.Limit})
	if err != nil {
		return errorOf(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// federated reads ?federated=: true asks the peers too.
func federated(r *Request) (bool, *Error) {
	v := r.URL.Query().Get("federated")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(CodeInvalidArgument, "federated %q is not true or false", v)
	}
	return b, nil
}

// PeerList (mosaictype.PeerList) answers GET /v1/federation/peers.
type PeerList = mosaictype.PeerList

// clientAddress is the address a peer-facing request came from: the connection's, not a header
// the caller sets (behind a proxy, every request is the proxy's, and the bounds apply to it).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// connectLimiter rate-limits the unauthenticated POST /federation/connect per client address
// (golang.org/x/time/rate): a few a minute is all a real instance needs.
type connectLimiter struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

const (
	connectsPerMinute = 6
	connectBurst      = 3
	// connectSources bounds the addresses remembered; past it the table starts again (each
	// address gets a fresh burst then: a bound on memory, not a weakening worth more state).
	connectSources = 10_000
)

func (l *connectLimiter) allow(source string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limiters == nil || len(l.limiters) >= connectSources {
		l.limiters = map[string]*rate.Limiter{}
	}
	lim := l.limiters[source]
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(time.Minute/connectsPerMinute), connectBurst)
		l.limiters[source] = lim
	}
	return lim.Allow()
}
