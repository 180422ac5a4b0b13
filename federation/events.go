package federation

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/strictjson"
)

// A peer granted events.subscribe receives the task events of the granted workspaces as signed
// EVENT messages, for as long as it renews its subscription (a lease) and the grant holds.
const (
	// EventLease is how long a subscription lives without a renewal.
	EventLease = 30 * time.Second
	// eventRenew is how often a subscriber renews.
	eventRenew = 10 * time.Second
	// grantCheck is how often a forwarding subscription checks that its grant still holds.
	grantCheck = 2 * time.Second
	// maxSubscriptions bounds the subscriptions of one peer.
	maxSubscriptions = 8
)

// SubscriptionParams are the parameters of events.subscribe, events.renew and events.unsubscribe.
type SubscriptionParams struct {
	ID uuid.UUID `json:"id"`
}

// Subscribed answers events.subscribe.
type Subscribed struct {
	ID           uuid.UUID `json:"id"`
	Workspaces   []string  `json:"workspaces"`
	LeaseSeconds int       `json:"lease_seconds"`
}

// EventBody is the body of an EVENT: one task event of a granted workspace.
type EventBody struct {
	Subscription uuid.UUID          `json:"subscription"`
	Workspace    string             `json:"workspace"`
	Event        events.DomainEvent `json:"event"`
}

// eventType is what a task event's type looks like (task.succeeded): a peer's is checked, since
// it becomes a line of the event stream.
var eventType = regexp.MustCompile(`^task\.[a-z][a-z0-9_]{0,31}$`)

// RemoteEvent is a peer's task event, labelled with its instance and workspace.
type RemoteEvent struct {
	Instance  string `json:"instance"`
	Workspace string `json:"workspace"`
	events.DomainEvent
}

// forward is a subscription this instance serves: the task events of workspaces, to a peer.
type forward struct {
	peer   uuid.UUID
	cancel context.CancelFunc
	mu     sync.Mutex
	until  time.Time
}

func (f *forward) renew(now time.Time) {
	f.mu.Lock()
	f.until = now.Add(EventLease)
	f.mu.Unlock()
}

func (f *forward) expired(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return now.After(f.until)
}

// serveSubscribe starts forwarding the task events of the granted workspaces to the peer.
func (n *Node) serveSubscribe(p Peer, targets []Grant, raw json.RawMessage) (any, *RemoteError) {
	var sp SubscriptionParams
	if err := strictjson.Decode(raw, &sp); err != nil || sp.ID == uuid.Nil {
		return nil, invalidRequest("params: an id (a UUID) names the subscription")
	}
	if n.cfg.Events == nil {
		return nil, &RemoteError{Code: CodeUnavailable, Message: "this instance forwards no events"}
	}
	nc := n.cfg.Hub.Conn(p.ID)
	if nc == nil {
		return nil, &RemoteError{Code: CodeUnavailable, Message: "no link"}
	}
	key := p.ID.String() + "/" + sp.ID.String()
	n.mu.Lock()
	count := 0
	for _, f := range n.forwards {
		if f.peer == p.ID {
			count++
		}
	}
	if _, dup := n.forwards[key]; dup || count >= maxSubscriptions {
		n.mu.Unlock()
		return nil, invalidRequest("subscription %s exists, or %d are open already", sp.ID, maxSubscriptions)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &forward{peer: p.ID, cancel: cancel}
	f.renew(time.Now())
	n.forwards[key] = f
	n.mu.Unlock()

	var subs []*nats.Subscription
	stop := func() {
		cancel()
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		n.mu.Lock()
		delete(n.forwards, key)
		n.mu.Unlock()
	}
	to := Subject(p.ID) + ".events." + sp.ID.String()
	names := make([]string, 0, len(targets))
	wsIDs := make([]uuid.UUID, 0, len(targets))
	for _, g := range targets {
		ws := g.Workspace
		s, err := n.cfg.Events.Subscribe(events.EventSubject(g.WorkspaceID, "task.>"), func(m *nats.Msg) {
			var ev events.DomainEvent
			if json.Unmarshal(m.Data, &ev) != nil || credentialsWork(ev.Kind) {
				return // rotation work is credentials business: never forwarded
			}
			body, _ := json.Marshal(EventBody{Subscription: sp.ID, Workspace: ws, Event: ev})
			env := &Envelope{Type: TypeEvent, To: p.ID, Body: body}
			if n.cfg.Self.Sign(env, time.Now()) == nil {
				data, _ := json.Marshal(env)
				_ = nc.Publish(to, data)
			}
		})
		if err != nil {
			stop()
			return nil, &RemoteError{Code: CodeUnavailable, Message: "subscribe to the task events"}
		}
		subs = append(subs, s)
		names, wsIDs = append(names, ws), append(wsIDs, g.WorkspaceID)
	}
	// Until the lease runs out, the subscriber leaves, or the grant goes (revoked, expired or the
	// peer disconnected): checked every grantCheck.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer stop()
		t := time.NewTicker(grantCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.stop:
				return
			case now := <-t.C:
				if f.expired(now) || !n.stillGranted(p.ID, wsIDs, now) {
					return
				}
			}
		}
	}()
	return Subscribed{ID: sp.ID, Workspaces: names, LeaseSeconds: int(EventLease / time.Second)}, nil
}

// stillGranted tells whether the peer is still accepted with events.subscribe in every workspace.
func (n *Node) stillGranted(peer uuid.UUID, wss []uuid.UUID, now time.Time) bool {
	ctx, cancel := context.WithTimeout(context.Background(), grantCheck)
	defer cancel()
	p, err := peerByID(ctx, n.cfg.DB, peer)
	if err != nil || p.Status != StatusAccepted {
		return false
	}
	for _, ws := range wss {
		if !slices.ContainsFunc(p.Grants, func(g Grant) bool { return g.WorkspaceID == ws && Allows(g, CapEventsSubscribe, "", now) }) {
			return false
		}
	}
	return true
}

// serveLease renews or ends one of the peer's subscriptions.
func (n *Node) serveLease(p Peer, op string, raw json.RawMessage) (any, *RemoteError) {
	var sp SubscriptionParams
	if err := strictjson.Decode(raw, &sp); err != nil {
		return nil, invalidRequest("params: %v", err)
	}
	n.mu.Lock()
	f, ok := n.forwards[p.ID.String()+"/"+sp.ID.String()]
	n.mu.Unlock()
	if !ok {
		return nil, invalidRequest("no subscription %s (it ended)", sp.ID)
	}
	if op == "events.unsubscribe" {
		f.cancel()
	} else {
		f.renew(time.Now())
	}
	return struct{}{}, nil
}

// Events subscribes to the task events of every accepted peer (within what each grants) until ctx
// ends, and says how each peer answered. The channel is not closed (a message being handled as
// ctx ends could otherwise send on it closed): the caller stops reading when ctx ends.
func (n *Node) Events(ctx context.Context) (<-chan RemoteEvent, []PeerResult, error) {
	all, err := peers(ctx, n.cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	out := make(chan RemoteEvent, 256)
	var results []PeerResult
	for _, p := range all {
		if p.Status != StatusAccepted {
			continue
		}
		r := PeerResult{Instance: p.Name, Status: AnswerOK}
		if err := n.subscribePeer(ctx, p, out); err != nil {
			r.Status, r.Error = answerStatus(err)
		}
		results = append(results, r)
	}
	return out, results, nil
}

// subscribePeer subscribes to one peer's events and keeps the subscription renewed until ctx ends.
func (n *Node) subscribePeer(ctx context.Context, p Peer, out chan<- RemoteEvent) error {
	nc := n.cfg.Hub.Conn(p.ID)
	if nc == nil {
		return ErrNotLinked
	}
	id := uuid.New()
	sub, err := nc.Subscribe(Subject(n.cfg.Self.ID)+".events."+id.String(), func(m *nats.Msg) {
		var env Envelope
		var body EventBody
		if json.Unmarshal(m.Data, &env) != nil || env.Type != TypeEvent || env.From != p.ID ||
			n.verify.Verify(&env, p.PublicKey, n.cfg.Self.ID, time.Now()) != nil ||
			json.Unmarshal(env.Body, &body) != nil || body.Subscription != id || !eventType.MatchString(body.Event.Type) {
			n.log.Warn().Str("peer", p.Name).Msg("dropped an event that does not verify")
			return
		}
		select {
		case out <- RemoteEvent{Instance: p.Name, Workspace: body.Workspace, DomainEvent: body.Event}:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return err
	}
	params := mustJSON(SubscriptionParams{ID: id})
	actx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	_, err = n.ask(actx, p, TypeQuery, Request{Op: "events.subscribe", Params: params})
	cancel()
	if err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	go func() {
		defer func() { _ = sub.Unsubscribe() }()
		t := time.NewTicker(eventRenew)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				uctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, _ = n.ask(uctx, p, TypeQuery, Request{Op: "events.unsubscribe", Params: params})
				cancel()
				return
			case <-t.C:
				rctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
				_, err := n.ask(rctx, p, TypeQuery, Request{Op: "events.renew", Params: params})
				cancel()
				var re *RemoteError
				if errors.As(err, &re) { // refused or ended there: the grant went
					n.log.Info().Str("peer", p.Name).Str("reason", re.Message).Msg("the peer ended an event subscription")
					return
				}
			}
		}
	}()
	return nil
}

// answerStatus classifies an error of asking a peer.
func answerStatus(err error) (status, msg string) {
	var re *RemoteError
	switch {
	case err == nil:
		return AnswerOK, ""
	case errors.As(err, &re) && re.Code == CodeRefused:
		return AnswerRefused, re.Message
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrNotLinked):
		return AnswerUnreachable, err.Error()
	case errors.Is(err, ErrTimeout):
		return AnswerTimeout, err.Error()
	default:
		return AnswerError, err.Error()
	}
}
