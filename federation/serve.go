package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/strictjson"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Request is the body of a QUERY or COMMAND.
type Request struct {
	// Op is the operation (see Ops).
	Op string `json:"op"`
	// Workspace names a workspace the answering instance granted; empty: every granted workspace
	// (reads), or the only one granted (knowledge.get, tasks.get, tasks.publish).
	Workspace string          `json:"workspace,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
}

// Reply is the body of an answer: a result or an error.
type Reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *RemoteError    `json:"error,omitempty"`
}

// RemoteError is a peer's refusal or failure.
type RemoteError struct {
	// Code: refused (outside the grant), invalid (a bad request), unauthenticated (signature,
	// replay, staleness), unavailable (the peer failed).
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *RemoteError) Error() string { return e.Code + ": " + e.Message }

// Error codes of RemoteError.
const (
	CodeRefused         = "refused"
	CodeInvalid         = "invalid"
	CodeUnauthenticated = "unauthenticated"
	CodeUnavailable     = "unavailable"
)

// op is an operation peers may ask: its message type and the capability it needs.
type op struct {
	typ        string
	capability string
}

// Ops are the operations of the protocol. Nothing about credentials is among them.
var Ops = map[string]op{
	"grants":           {TypeQuery, ""}, // what this instance grants the asker: no capability needed
	"knowledge.search": {TypeQuery, CapKnowledgeSearch},
	"knowledge.get":    {TypeQuery, CapKnowledgeRead},
	"tasks.list":       {TypeQuery, CapTasksRead},
	"tasks.get":        {TypeQuery, CapTasksRead},
	"tasks.publish":    {TypeCommand, CapTasksPublish},
	"events.subscribe": {TypeQuery, CapEventsSubscribe},
	// Renewing and ending a subscription need no capability: a forwarding subscription checks
	// its grant by itself, every few seconds.
	"events.renew":       {TypeQuery, ""},
	"events.unsubscribe": {TypeQuery, ""},
}

func refused(format string, a ...any) *RemoteError {
	return &RemoteError{Code: CodeRefused, Message: fmt.Sprintf(format, a...)}
}

func invalidRequest(format string, a ...any) *RemoteError {
	return &RemoteError{Code: CodeInvalid, Message: fmt.Sprintf(format, a...)}
}

// receive handles one message of a peer's link.
func (n *Node) receive(peer uuid.UUID, m *nats.Msg) {
	select {
	case n.sem <- struct{}{}:
	default:
		n.respond(m, nil, nil, &RemoteError{Code: CodeUnavailable, Message: "too many requests at once; try again"})
		return
	}
	go func() {
		defer func() { <-n.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start, op, outcome := time.Now(), "other", "ok"
		defer func() { n.observe("served", op, outcome, start) }()
		fail := func(env *Envelope, e *RemoteError) {
			outcome = e.Code
			n.respond(m, env, nil, e)
		}
		var env Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			fail(nil, invalidRequest("not a federation message: %v", err))
			return
		}
		// Until the request verifies, a refusal is unsigned: this instance signs nothing over
		// fields it has not verified (its type, sender and nonce would be the asker's choice).
		p, err := peerByID(ctx, n.cfg.DB, peer)
		if err != nil || p.Status != StatusAccepted || env.From != peer {
			// The link's peer is gone (disconnected) or the message claims another sender.
			fail(nil, &RemoteError{Code: CodeUnauthenticated, Message: "not an accepted peer of this instance"})
			return
		}
		if err := n.verify.Verify(&env, p.PublicKey, n.cfg.Self.ID, time.Now()); err != nil {
			n.log.Warn().Err(err).Str("peer", p.Name).Str("type", env.Type).Msg("refused a peer's message")
			fail(nil, &RemoteError{Code: CodeUnauthenticated, Message: err.Error()})
			return
		}
		switch env.Type {
		case TypeDisconnect:
			op = "disconnect"
			n.respond(m, &env, json.RawMessage(`{}`), nil)
			if nc := n.cfg.Hub.Conn(peer); nc != nil {
				_ = nc.FlushTimeout(time.Second) // the reply leaves before the link closes
			}
			n.severed(p)
		case TypeQuery, TypeCommand:
			var req Request
			if err := strictjson.Decode(env.Body, &req); err != nil {
				fail(&env, invalidRequest("request body: %v", err))
				return
			}
			op = req.Op
			result, rerr := n.serve(ctx, p, env.Type, req)
			if rerr != nil {
				outcome = rerr.Code
				n.log.Info().Str("peer", p.Name).Str("op", req.Op).Str("code", rerr.Code).Msg("refused a peer's request")
			}
			n.respond(m, &env, result, rerr)
		default:
			fail(&env, invalidRequest("%s is not taken on a link", env.Type))
		}
	}()
}

// respond signs and sends the answer to a request (an unsigned refusal when the request could
// not even be read).
func (n *Node) respond(m *nats.Msg, req *Envelope, result any, rerr *RemoteError) {
	if m.Reply == "" {
		return
	}
	rep := Reply{Error: rerr}
	if rerr == nil {
		b, err := json.Marshal(result)
		if err != nil {
			rep = Reply{Error: &RemoteError{Code: CodeUnavailable, Message: err.Error()}}
		} else {
			rep.Result = b
		}
	}
	body, err := json.Marshal(rep)
	if err != nil {
		n.log.Error().Err(err).Msg("encode a reply")
		return
	}
	if req == nil || req.From == uuid.Nil {
		_ = m.Respond(body)
		return
	}
	r, err := n.reply(req, body)
	if err != nil {
		n.log.Error().Err(err).Msg("sign a reply")
		return
	}
	b, _ := json.Marshal(r)
	if len(b) > MaxMessageSize {
		r, _ = n.reply(req, mustJSON(Reply{Error: &RemoteError{Code: CodeUnavailable, Message: "the answer is too large: ask for fewer results"}}))
		b, _ = json.Marshal(r)
	}
	_ = m.Respond(b)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// serve answers a verified request of an accepted peer within what this instance grants it.
func (n *Node) serve(ctx context.Context, p Peer, typ string, req Request) (any, *RemoteError) {
	// Refused by capability, however it is worded: no operation reads, lists or uses a credential.
	if strings.Contains(strings.ToLower(req.Op), "credential") || strings.Contains(strings.ToLower(req.Op), "secret") {
		return nil, refused("%v", ErrCredentials)
	}
	o, ok := Ops[req.Op]
	if !ok {
		return nil, refused("%q is not an operation of the federation protocol", req.Op)
	}
	if o.typ != typ {
		return nil, invalidRequest("%s is asked with a %s", req.Op, o.typ)
	}
	if n.beforeServe != nil {
		n.beforeServe(req.Op)
	}
	now := time.Now()
	if req.Op == "grants" {
		var live []Grant
		for _, g := range p.Grants {
			if now.Before(g.ExpiresAt) {
				g.GrantedBy = "" // who granted is this instance's business
				live = append(live, g)
			}
		}
		if live == nil {
			live = []Grant{}
		}
		return live, nil
	}
	if req.Op == "events.renew" || req.Op == "events.unsubscribe" {
		return n.serveLease(p, req.Op, req.Params)
	}
	var kind string
	var pub publishParams
	if req.Op == "tasks.publish" {
		if err := strictjson.Decode(req.Params, &pub); err != nil {
			return nil, invalidRequest("params: %v", err)
		}
		kind = pub.Kind
	}
	var targets []Grant
	for _, g := range p.Grants {
		if Allows(g, o.capability, kind, now) && (req.Workspace == "" || strings.EqualFold(req.Workspace, g.Workspace)) {
			targets = append(targets, g)
		}
	}
	switch {
	case len(targets) == 0 && req.Workspace != "":
		// The same answer whether the workspace exists or not: a peer learns nothing beyond its grants.
		return nil, refused("no grant of %s in workspace %q", grantName(o.capability, kind), req.Workspace)
	case len(targets) == 0:
		return nil, refused("this instance grants you no %s", grantName(o.capability, kind))
	case len(targets) > 1 && (req.Op == "knowledge.get" || req.Op == "tasks.publish"):
		return nil, invalidRequest("%d workspaces grant %s: name one", len(targets), grantName(o.capability, kind))
	}
	switch req.Op {
	case "knowledge.search":
		return n.serveSearch(ctx, targets, req.Params)
	case "knowledge.get":
		return n.serveEntry(ctx, targets[0], req.Params)
	case "tasks.list":
		return n.serveTasks(ctx, targets, req.Params)
	case "tasks.get":
		return n.serveTask(ctx, targets, req.Params)
	case "events.subscribe":
		return n.serveSubscribe(p, targets, req.Params)
	default:
		return n.servePublish(ctx, p, targets[0], pub)
	}
}

func grantName(capability, kind string) string {
	if kind != "" {
		return capability + ":" + kind
	}
	return capability
}

// SearchParams are the parameters of knowledge.search.
type SearchParams struct {
	Query         string     `json:"query"`
	Mode          string     `json:"mode,omitempty"`
	Limit         int        `json:"limit,omitempty"`
	Tag           string     `json:"tag,omitempty"`
	Status        string     `json:"status,omitempty"`
	UpdatedAfter  *time.Time `json:"updated_after,omitempty"`
	UpdatedBefore *time.Time `json:"updated_before,omitempty"`
}

// RemoteHit is a search hit with the workspace it is from.
type RemoteHit struct {
	Workspace string `json:"workspace"`
	store.Hit
}

func (n *Node) serveSearch(ctx context.Context, targets []Grant, raw json.RawMessage) (any, *RemoteError) {
	var sp SearchParams
	if err := strictjson.Decode(raw, &sp); err != nil {
		return nil, invalidRequest("params: %v", err)
	}
	out := []RemoteHit{}
	for _, g := range targets {
		// No user: PRIVATE entries stay with their authors.
		res, err := n.cfg.Knowledge.Search(ctx, g.WorkspaceID, uuid.Nil, knowledge.SearchRequest{Query: sp.Query, Mode: sp.Mode, Limit: sp.Limit,
			Filter: store.SearchFilter{Tag: sp.Tag, Status: sp.Status, UpdatedAfter: sp.UpdatedAfter, UpdatedBefore: sp.UpdatedBefore}})
		if err != nil {
			return nil, serviceError(err)
		}
		for _, h := range res.Results {
			out = append(out, RemoteHit{Workspace: g.Workspace, Hit: h})
		}
	}
	return out, nil
}

// EntryParams are the parameters of knowledge.get.
type EntryParams struct {
	Slug string `json:"slug"`
}

// RemoteEntry (mosaictype.RemoteEntry) is an entry as a peer sees it (no member ids).
type RemoteEntry = mosaictype.RemoteEntry

func (n *Node) serveEntry(ctx context.Context, g Grant, raw json.RawMessage) (any, *RemoteError) {
	var ep EntryParams
	if err := strictjson.Decode(raw, &ep); err != nil {
		return nil, invalidRequest("params: %v", err)
	}
	e, err := n.cfg.DB.GetEntry(ctx, g.WorkspaceID, uuid.Nil, ep.Slug)
	if err != nil {
		return nil, serviceError(err)
	}
	return RemoteEntry{Workspace: g.Workspace, Slug: e.Slug, Title: e.Title, Body: e.Body, Status: e.Status,
		Tags: e.Tags, Version: e.Version, UpdatedAt: e.UpdatedAt}, nil
}

// TaskParams are the parameters of tasks.list and tasks.get.
type TaskParams struct {
	ID     uuid.UUID    `json:"id,omitempty"`
	Status store.Status `json:"status,omitempty"`
	Kind   string       `json:"kind,omitempty"`
	Limit  int          `json:"limit,omitempty"`
}

// RemoteTask (mosaictype.RemoteTask) is a task as a peer sees it: no credential names, no worker
// internals.
type RemoteTask = mosaictype.RemoteTask

func remoteTask(ws string, t store.Task) RemoteTask {
	return RemoteTask{Workspace: ws, ID: t.ID, Kind: t.Kind, Status: t.Status, Priority: t.Priority, Attempt: t.Attempt,
		Progress: t.Progress, Result: t.Result, LastError: t.LastError, CreatedAt: t.CreatedAt, FinishedAt: t.FinishedAt}
}

func (n *Node) serveTasks(ctx context.Context, targets []Grant, raw json.RawMessage) (any, *RemoteError) {
	var tp TaskParams
	if err := strictjson.Decode(raw, &tp); err != nil {
		return nil, invalidRequest("params: %v", err)
	}
	if tp.Status != "" && !store.ValidStatus(store.Status(tp.Status)) {
		return nil, invalidRequest("status %q is not a task status", tp.Status)
	}
	if tp.Limit <= 0 || tp.Limit > 200 {
		tp.Limit = 50
	}
	out := []RemoteTask{}
	for _, g := range targets {
		ts, _, err := n.cfg.DB.ListTasks(ctx, g.WorkspaceID, store.TaskFilter{Status: tp.Status, Kind: tp.Kind, Limit: tp.Limit})
		if err != nil {
			return nil, serviceError(err)
		}
		for _, t := range ts {
			if !credentialsWork(t.Kind) {
				out = append(out, remoteTask(g.Workspace, t))
			}
		}
	}
	return out, nil
}

func (n *Node) serveTask(ctx context.Context, targets []Grant, raw json.RawMessage) (any, *RemoteError) {
	var tp TaskParams
	if err := strictjson.Decode(raw, &tp); err != nil {
		return nil, invalidRequest("params: %v", err)
	}
	for _, g := range targets {
		t, err := n.cfg.DB.GetTask(ctx, g.WorkspaceID, tp.ID)
		if err == nil && !credentialsWork(t.Kind) {
			return remoteTask(g.Workspace, t), nil
		}
		if err == nil {
			break // rotation work: as if it were not there
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, serviceError(err)
		}
	}
	return nil, invalidRequest("task %s not found in the workspaces granted to you", tp.ID)
}

// publishParams are the parameters of tasks.publish. Credentials is here only to be refused.
type publishParams struct {
	Kind           string          `json:"kind"`
	Args           json.RawMessage `json:"args,omitempty"`
	Priority       int             `json:"priority,omitempty"`
	MaxAttempts    int             `json:"max_attempts,omitempty"`
	Timeout        string          `json:"timeout,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Credentials    []string        `json:"credentials,omitempty"`
}

// PublishParams (mosaictype.PublishParams) are the parameters of tasks.publish.
type PublishParams = mosaictype.PublishParams

// Published (mosaictype.Published) answers tasks.publish.
type Published = mosaictype.Published

func (n *Node) servePublish(ctx context.Context, p Peer, g Grant, pp publishParams) (any, *RemoteError) {
	if len(pp.Credentials) > 0 {
		return nil, refused("%v", ErrCredentials)
	}
	if credentialsWork(pp.Kind) || events.StreamFor(pp.Kind) == events.KnowledgeStream {
		return nil, refused("%s jobs are this instance's own agents' work: no peer publishes them", pp.Kind)
	}
	// A peer's idempotency keys live in a space of their own: a key cannot reach, and so reveal,
	// a task this instance published itself (a rotation's, say).
	key := pp.IdempotencyKey
	if key != "" {
		key = "federation:" + p.ID.String() + ":" + key
	}
	spec := agents.TaskSpec{WorkspaceID: g.WorkspaceID, Kind: pp.Kind, Priority: pp.Priority, MaxAttempts: pp.MaxAttempts,
		IdempotencyKey: key, Metadata: map[string]string{"federation.peer": p.Name}}
	if len(pp.Args) > 0 {
		spec.Args = pp.Args
	}
	if pp.Timeout != "" {
		d, err := time.ParseDuration(pp.Timeout)
		if err != nil || d < 0 {
			return nil, invalidRequest("timeout %q is not a duration", pp.Timeout)
		}
		spec.Timeout = d
	}
	res, err := n.cfg.Tasks.Publish(ctx, spec)
	if err != nil {
		return nil, serviceError(err)
	}
	return Published{Workspace: g.Workspace, ID: res.ID, Status: res.Status, Duplicate: res.Duplicate}, nil
}

// credentialsWork tells whether a task kind is credentials business (rotation, rewrap): such
// tasks are never listed, shown or published to a peer.
func credentialsWork(kind string) bool { return events.StreamFor(kind) == events.CredentialsStream }

// serviceError turns a local service's error into what the peer is told: validation errors in
// full, anything else as a failure without detail.
func serviceError(err error) *RemoteError {
	switch {
	case errors.Is(err, knowledge.ErrInvalid), errors.Is(err, store.ErrEmptyQuery),
		errors.Is(err, agents.ErrInvalidSpec), errors.Is(err, agents.ErrInvalidArgs), errors.Is(err, agents.ErrUnknownKind):
		return invalidRequest("%v", err)
	case errors.Is(err, store.ErrNotFound):
		return invalidRequest("not found")
	default:
		return &RemoteError{Code: CodeUnavailable, Message: "the instance could not answer (see its log)"}
	}
}
