package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// Errors of asking a peer.
var (
	ErrNotLinked   = errors.New("federation: the peer is not connected (not accepted yet, or disconnected)")
	ErrUnreachable = errors.New("federation: the peer does not answer: its link is down")
	ErrTimeout     = errors.New("federation: the peer did not answer in time")
)

// ask sends a signed request to an accepted peer and returns its verified result.
func (n *Node) ask(ctx context.Context, p Peer, typ string, req Request) (_ json.RawMessage, err error) {
	start := time.Now()
	defer func() {
		status, _ := answerStatus(err)
		n.observe("asked", req.Op, status, start)
	}()
	nc := n.cfg.Hub.Conn(p.ID)
	if nc == nil {
		return nil, ErrNotLinked
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	env := &Envelope{Type: typ, To: p.ID, Body: body}
	if err := n.cfg.Self.Sign(env, time.Now()); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(env)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
	}
	m, err := nc.RequestWithContext(ctx, Subject(p.ID), data)
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrConnectionClosed):
		return nil, ErrUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, ErrTimeout
	case err != nil:
		return nil, err
	}
	var r Envelope
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Signature == "" {
		// An unsigned refusal (the peer could not read or verify the request, or was busy) says
		// what went wrong, but anybody on the path could have sent it: it is not the peer's
		// answer, and nothing is decided on it.
		var rep Reply
		if json.Unmarshal(m.Data, &rep) == nil && rep.Error != nil {
			return nil, fmt.Errorf("%w: an unsigned refusal: %s", ErrUnsigned, rep.Error.Error())
		}
		return nil, fmt.Errorf("%w: the answer is not a signed message", ErrUnsigned)
	}
	if err := n.checkReply(&r, p, env); err != nil {
		return nil, err
	}
	var rep Reply
	if err := json.Unmarshal(r.Body, &rep); err != nil {
		return nil, fmt.Errorf("%w: the answer's body: %v", ErrMalformed, err)
	}
	if rep.Error != nil {
		return nil, rep.Error
	}
	return rep.Result, nil
}

// Ask sends one request to a peer (by id or name) and decodes its result into out.
func (n *Node) Ask(ctx context.Context, peer string, req Request, out any) error {
	_, err := n.askPeer(ctx, peer, req, out)
	return err
}

// askPeer is Ask, returning the peer asked.
func (n *Node) askPeer(ctx context.Context, peer string, req Request, out any) (Peer, error) {
	p, err := findPeer(ctx, n.cfg.DB, peer)
	if err != nil {
		return p, err
	}
	if p.Status != StatusAccepted {
		return p, fmt.Errorf("%w (%s is %s)", ErrNotLinked, p.Name, p.Status)
	}
	o, ok := Ops[req.Op]
	if !ok {
		return p, fmt.Errorf("%w: %q is not an operation", ErrInvalid, req.Op)
	}
	res, err := n.ask(ctx, p, o.typ, req)
	if err != nil || out == nil {
		return p, err
	}
	return p, json.Unmarshal(res, out)
}

// PeerResult (mosaictype.PeerResult) is how one peer answered a fanned-out request.
type PeerResult = mosaictype.PeerResult

// peerAnswer is a peer's answer to a fanned-out request: how it answered, and its verified
// result when ok.
type peerAnswer struct {
	PeerResult
	result json.RawMessage
}

// Peer answer statuses.
const (
	AnswerOK          = "ok"
	AnswerRefused     = "refused"
	AnswerUnreachable = "unreachable"
	AnswerTimeout     = "timeout"
	AnswerError       = "error"
)

// fanOut asks every accepted peer at once, each within the node's timeout; a slow or absent peer
// is reported in its result, never failing the others.
func (n *Node) fanOut(ctx context.Context, req Request) ([]peerAnswer, error) {
	all, err := peers(ctx, n.cfg.DB)
	if err != nil {
		return nil, err
	}
	o := Ops[req.Op]
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := []peerAnswer{}
	for _, p := range all {
		if p.Status != StatusAccepted {
			continue
		}
		wg.Add(1)
		go func(p Peer) {
			defer wg.Done()
			start := time.Now()
			pctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
			defer cancel()
			res, err := n.ask(pctx, p, o.typ, req)
			r := peerAnswer{PeerResult{Instance: p.Name, TookMS: time.Since(start).Milliseconds()}, res}
			r.Status, r.Error = answerStatus(err)
			if r.Status == AnswerTimeout {
				r.Error = fmt.Sprintf("no answer within %s", n.cfg.Timeout)
			}
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out, nil
}

// LabelledHit (mosaictype.LabelledHit) is a search hit with the instance and workspace it is from.
type LabelledHit = mosaictype.LabelledHit

// FederatedSearch (mosaictype.FederatedSearch) is a search of this instance and its peers, merged.
type FederatedSearch = mosaictype.FederatedSearch

// Search fans a knowledge search out to the peers and merges their hits with this instance's
// (local, from workspace ws), taking the sources' best hits in turn, up to limit.
func (n *Node) Search(ctx context.Context, ws string, local []store.Hit, p SearchParams) (FederatedSearch, error) {
	answers, err := n.fanOut(ctx, Request{Op: "knowledge.search", Params: mustJSON(p)})
	if err != nil {
		return FederatedSearch{}, err
	}
	self := n.cfg.Self.Name
	sources := [][]LabelledHit{make([]LabelledHit, 0, len(local))}
	for _, h := range local {
		sources[0] = append(sources[0], LabelledHit{Instance: self, Workspace: ws, Hit: h})
	}
	out := FederatedSearch{Results: []LabelledHit{}, Instances: []PeerResult{{Instance: self, Status: AnswerOK}}}
	for i, a := range answers {
		if a.Status == AnswerOK {
			var hits []RemoteHit
			if err := json.Unmarshal(a.result, &hits); err != nil {
				answers[i].Status, answers[i].Error = AnswerError, "its answer is not a list of hits"
			} else {
				src := make([]LabelledHit, 0, len(hits))
				for _, h := range hits {
					src = append(src, LabelledHit{Instance: a.Instance, Workspace: h.Workspace, Hit: h.Hit})
				}
				sources = append(sources, src)
			}
		}
		out.Partial = out.Partial || answers[i].Status != AnswerOK
		out.Instances = append(out.Instances, answers[i].PeerResult)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	for rank := 0; len(out.Results) < limit; rank++ {
		took := false
		for _, src := range sources {
			if rank < len(src) && len(out.Results) < limit {
				out.Results, took = append(out.Results, src[rank]), true
			}
		}
		if !took {
			break
		}
	}
	return out, nil
}

// LabelledTask (mosaictype.LabelledTask) is a task with the instance it is from.
type LabelledTask = mosaictype.LabelledTask

// FederatedTasks (mosaictype.FederatedTasks) is a task list of this instance and its peers, newest
// first.
type FederatedTasks = mosaictype.FederatedTasks

// Tasks fans a task list out to the peers and merges it with this instance's (local, from
// workspace ws), newest first, up to limit.
func (n *Node) Tasks(ctx context.Context, ws string, local []store.Task, p TaskParams) (FederatedTasks, error) {
	answers, err := n.fanOut(ctx, Request{Op: "tasks.list", Params: mustJSON(p)})
	if err != nil {
		return FederatedTasks{}, err
	}
	self := n.cfg.Self.Name
	out := FederatedTasks{Tasks: []LabelledTask{}, Instances: []PeerResult{{Instance: self, Status: AnswerOK}}}
	for _, t := range local {
		out.Tasks = append(out.Tasks, LabelledTask{Instance: self, RemoteTask: remoteTask(ws, t)})
	}
	for i, a := range answers {
		if a.Status == AnswerOK {
			var ts []RemoteTask
			if err := json.Unmarshal(a.result, &ts); err != nil {
				answers[i].Status, answers[i].Error = AnswerError, "its answer is not a list of tasks"
			}
			for _, t := range ts {
				out.Tasks = append(out.Tasks, LabelledTask{Instance: a.Instance, RemoteTask: t})
			}
		}
		out.Partial = out.Partial || answers[i].Status != AnswerOK
		out.Instances = append(out.Instances, answers[i].PeerResult)
	}
	sort.SliceStable(out.Tasks, func(i, j int) bool { return out.Tasks[i].CreatedAt.After(out.Tasks[j].CreatedAt) })
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	if len(out.Tasks) > limit {
		out.Tasks = out.Tasks[:limit]
	}
	return out, nil
}

// Publish publishes a task on a peer (by id or name), in the peer's workspace ws ("" when the
// peer grants the kind in one workspace only).
func (n *Node) Publish(ctx context.Context, peer, ws string, p PublishParams) (Published, error) {
	var out Published
	pr, err := n.askPeer(ctx, peer, Request{Op: "tasks.publish", Workspace: ws, Params: mustJSON(p)}, &out)
	out.Instance = pr.Name
	return out, err
}

// Entry reads an entry of a peer (knowledge.read), in the peer's workspace ws ("" when the peer
// grants it in one workspace only).
func (n *Node) Entry(ctx context.Context, peer, ws, slug string) (RemoteEntry, error) {
	var out RemoteEntry
	return out, n.Ask(ctx, peer, Request{Op: "knowledge.get", Workspace: ws, Params: mustJSON(EntryParams{Slug: slug})}, &out)
}

// Task reads a task of a peer (tasks.read), looked for in every workspace granting it.
func (n *Node) Task(ctx context.Context, peer string, id uuid.UUID) (RemoteTask, error) {
	var out RemoteTask
	return out, n.Ask(ctx, peer, Request{Op: "tasks.get", Params: mustJSON(TaskParams{ID: id})}, &out)
}
