package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/internal/strictjson"
	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// NodeConfig configures an instance's part in federation.
type NodeConfig struct {
	Self *Self
	Hub  *Hub
	DB   *store.DB
	// Knowledge and Tasks answer peers, through the granted workspace's RLS door.
	Knowledge *knowledge.Service
	Tasks     *agents.Client
	// Events is the connection to the task server, whose task events a peer granted
	// events.subscribe receives; nil: no events are forwarded.
	Events *nats.Conn
	// HTTPURL is this instance's API, sent to a peer in CONNECT (the peer asks it for status).
	HTTPURL string
	// Timeout bounds one request to one peer. Default 5s.
	Timeout time.Duration
	// PollInterval is how often a pending request to connect is checked. Default 2s.
	PollInterval time.Duration
	Logger       *zerolog.Logger
	// Observe, when set, sees every request served to a peer (direction "served") and asked of
	// one ("asked"): its operation ("other" when unknown) and outcome (a RemoteError code or
	// ok for served; ok, refused, unreachable, timeout, error for asked).
	Observe func(direction, op, outcome string, d time.Duration)
}

// Node is this instance in federation: it keeps its links to accepted peers, answers their
// requests within what it grants them, and asks them on behalf of this instance's users.
type Node struct {
	cfg    NodeConfig
	log    zerolog.Logger
	verify Verifier
	// strangers verifies CONNECTs, which anybody may send (signed by the key they carry): a cache
	// of its own, smaller, so that a flood of them neither grows memory without bound nor fills
	// (or burns nonces in) the cache the linked peers' messages go through.
	strangers Verifier
	http      *http.Client
	sem       chan struct{} // bounds the requests served at once

	mu       sync.Mutex
	closed   bool
	forwards map[string]*forward // the event subscriptions this instance serves, by peer/id
	stop     chan struct{}
	wg       sync.WaitGroup

	// beforeServe, when set (tests), runs before a peer's request is served.
	beforeServe func(op string)
}

// StartNode links the accepted peers and starts answering them.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	if cfg.Self == nil || cfg.Hub == nil || cfg.DB == nil {
		return nil, errors.New("federation: NodeConfig needs Self, Hub and DB")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	n := &Node{cfg: cfg, log: zerolog.Nop(), http: &http.Client{Timeout: 10 * time.Second}, strangers: Verifier{Max: 10_000},
		sem: make(chan struct{}, 32), stop: make(chan struct{}), forwards: map[string]*forward{}}
	if cfg.Logger != nil {
		n.log = cfg.Logger.With().Str("component", "federation").Logger()
	}
	all, err := peers(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		if p.Status == StatusAccepted {
			// One peer that cannot be linked (a stored URL gone bad) does not keep the others down.
			if err := n.link(p); err != nil {
				n.log.Error().Err(err).Str("peer", p.Name).Msg("link an accepted peer")
			}
		}
	}
	n.wg.Add(1)
	go n.poll()
	return n, nil
}

// Close stops answering peers (the hub is closed by its owner).
func (n *Node) Close() {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.stop)
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// Identity is this instance's public identity, with where peers connect.
func (n *Node) Identity() Identity {
	id := n.cfg.Self.Identity
	id.LeafURL = n.cfg.Hub.LeafURL()
	signed, err := n.cfg.Self.SignIdentity(id)
	if err != nil {
		n.log.Error().Err(err).Msg("sign the identity")
		return id // unsigned: a peer refuses it rather than trust it
	}
	return signed
}

// observe reports one request to NodeConfig.Observe.
func (n *Node) observe(direction, op, outcome string, start time.Time) {
	if n.cfg.Observe == nil {
		return
	}
	if _, known := Ops[op]; !known && op != "disconnect" {
		op = "other"
	}
	n.cfg.Observe(direction, op, outcome, time.Since(start))
}

// Subject is where requests to an instance arrive, in the account the two instances share.
func Subject(instance uuid.UUID) string { return "mosaic.fed." + instance.String() }

// link opens the link of an accepted peer and starts answering it.
func (n *Node) link(p Peer) error {
	inbound, outbound := "", ""
	if p.Direction == "incoming" {
		inbound = p.LeafKey
	} else {
		outbound = p.LeafURL
	}
	nc, err := n.cfg.Hub.Link(p.ID, inbound, outbound)
	if errors.Is(err, ErrLinked) {
		return nil
	}
	if err != nil {
		return err
	}
	peer := p.ID
	// One process per instance holds the links (docs/federation.md): two processes linking out to
	// the same peer make its leafnode flap ("Duplicate Remote LeafNode Connection"), so the queue
	// group below (harmless with the one process) does not make several serving processes work.
	if _, err := nc.QueueSubscribe(Subject(n.cfg.Self.ID), "mosaic-federation", func(m *nats.Msg) { n.receive(peer, m) }); err != nil {
		_ = n.cfg.Hub.Unlink(p.ID)
		return err
	}
	return nc.Flush()
}

// Peers lists the peers this instance knows, with what it grants them and whether their link is up.
func (n *Node) Peers(ctx context.Context) ([]Peer, error) {
	all, err := peers(ctx, n.cfg.DB)
	for i := range all {
		all[i].Connected = n.cfg.Hub.Connected(all[i].ID)
	}
	if all == nil {
		all = []Peer{}
	}
	return all, err
}

// Peer finds a peer by id or name.
func (n *Node) Peer(ctx context.Context, ref string) (Peer, error) {
	p, err := findPeer(ctx, n.cfg.DB, ref)
	if err == nil {
		p.Connected = n.cfg.Hub.Connected(p.ID)
	}
	return p, err
}

// ConnectBody is the body of CONNECT: who asks, and where its API answers.
type ConnectBody struct {
	Identity Identity `json:"identity"`
	HTTPURL  string   `json:"http_url"`
	// LeafProof is the leafnode key's signature that it belongs to the identity's instance key
	// (Self.ProveLeafKey): nobody registers another instance's leafnode key as theirs.
	LeafProof string `json:"leaf_proof"`
}

// statusBody answers a status query.
type statusBody struct {
	Status string `json:"status"`
}

// Connect asks the instance whose API is at peerURL to connect: it reads the peer's identity,
// records it (requested) and sends it a signed CONNECT, which the peer's admin accepts or rejects.
// expectKey, when given, is the peer's public key as its admin gave it: an identity with another
// key (someone between the two, or the wrong URL) is refused.
func (n *Node) Connect(ctx context.Context, peerURL, expectKey string) (Peer, error) {
	base, err := checkHTTPURL(peerURL)
	if err != nil {
		return Peer{}, err
	}
	peerAPI, err := n.peerAPI(base)
	if err != nil {
		return Peer{}, err
	}
	id, err := peerAPI.FederationIdentity(ctx)
	if err != nil {
		return Peer{}, fmt.Errorf("the peer's identity at %s: %w", base, peerError(err))
	}
	switch {
	case id.ID == n.cfg.Self.ID:
		return Peer{}, fmt.Errorf("%w: %s is this instance", ErrInvalid, base)
	case id.LeafURL == "":
		return Peer{}, fmt.Errorf("%w: %s takes no leafnode connections (started without a federation listener)", ErrInvalid, base)
	}
	if err := checkIdentity(id); err != nil {
		return Peer{}, err
	}
	// Signed by the key it presents: checking that key (expectKey) covers where the link goes.
	if err := VerifyIdentity(id); err != nil {
		return Peer{}, fmt.Errorf("the identity at %s: %w", base, err)
	}
	if expectKey != "" && expectKey != id.PublicKey {
		return Peer{}, fmt.Errorf("%w: %s presents the key %s, not the expected %s", ErrInvalid, base, id.PublicKey, expectKey)
	}
	if _, err := ParseLeafURL(id.LeafURL); err != nil {
		return Peer{}, err
	}
	p := Peer{ID: id.ID, Name: id.Name, PublicKey: id.PublicKey, LeafKey: id.LeafKey, HTTPURL: base, LeafURL: id.LeafURL,
		Direction: "outgoing", Status: StatusRequested, CreatedAt: time.Now().UTC(), Grants: []Grant{}}
	known, err := requestsByID(ctx, n.cfg.DB, p.ID)
	if err != nil {
		return Peer{}, err
	}
	for _, old := range known {
		switch {
		case store.PeerLinked(old.Status) || old.PublicKey == p.PublicKey && old.Status != StatusRejected:
			return Peer{}, fmt.Errorf("%w: %s is a peer already (%s)", ErrConflict, old.Name, old.Status)
		case old.PublicKey == p.PublicKey: // asking again after a refusal
			if _, err := n.cfg.DB.DeleteFederationPeer(ctx, old.PublicKey); err != nil {
				return Peer{}, err
			}
		}
		// A request under the same id with another key is a stranger's: it keeps nothing out.
	}
	if err := insertPeer(ctx, n.cfg.DB, p); err != nil {
		return Peer{}, err
	}
	proof, err := n.cfg.Self.ProveLeafKey()
	if err != nil {
		return Peer{}, err
	}
	body, err := json.Marshal(ConnectBody{Identity: n.cfg.Self.Identity, HTTPURL: n.cfg.HTTPURL, LeafProof: proof})
	if err != nil {
		return Peer{}, err
	}
	env := &Envelope{Type: TypeConnect, To: p.ID, Body: body}
	if err := n.cfg.Self.Sign(env, time.Now()); err != nil {
		return Peer{}, err
	}
	if err := peerAPI.FederationConnect(ctx, env); err != nil {
		_, _ = n.cfg.DB.DeleteFederationPeer(ctx, p.PublicKey)
		return Peer{}, fmt.Errorf("CONNECT to %s: %w", base, peerError(err))
	}
	n.log.Info().Str("peer", p.Name).Str("key", p.PublicKey).Msg("asked to connect; the peer's admin decides")
	return p, nil
}

// MaxPending bounds the requests to connect that wait for this instance's admin; PendingExpiry is
// how long one waits before it is forgotten (unsigned-in callers can post them).
const (
	MaxPending    = 100
	PendingExpiry = 7 * 24 * time.Hour
	// MaxPendingPerSource bounds the requests one address may have waiting.
	MaxPendingPerSource = 3
)

// HandleConnect records a peer's CONNECT, posted from source (the client's address), for this
// instance's admin to decide. The message is signed by the key it carries: the admin checks that
// key with the peer's admin before accepting, and accepts the request by that key (Accept).
func (n *Node) HandleConnect(ctx context.Context, env *Envelope, source string) (Peer, error) {
	if env.Type != TypeConnect {
		return Peer{}, fmt.Errorf("%w: not a CONNECT", ErrMalformed)
	}
	var body ConnectBody
	if err := strictjson.Decode(env.Body, &body); err != nil {
		return Peer{}, fmt.Errorf("%w: CONNECT body: %v", ErrMalformed, err)
	}
	if body.Identity.ID != env.From {
		return Peer{}, fmt.Errorf("%w: the CONNECT's sender is not the identity it carries", ErrMalformed)
	}
	if err := checkIdentity(body.Identity); err != nil {
		return Peer{}, err
	}
	base, err := checkHTTPURL(body.HTTPURL)
	if err != nil {
		return Peer{}, err
	}
	if err := n.strangers.Verify(env, body.Identity.PublicKey, n.cfg.Self.ID, time.Now()); err != nil {
		return Peer{}, err
	}
	if err := VerifyLeafProof(body.Identity, body.LeafProof); err != nil {
		return Peer{}, err
	}
	// The request is known by its key. The same key asking again is the same request (or, after a
	// rejection, a new one); a linked peer's id is its own; a request under an id or name that
	// another request carries waits beside it, and the admin accepts one by its key.
	known, err := requestsByID(ctx, n.cfg.DB, env.From)
	if err != nil {
		return Peer{}, err
	}
	if old, err := findPeer(ctx, n.cfg.DB, body.Identity.PublicKey); err == nil {
		known = append(known, old)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Peer{}, err
	}
	for _, old := range known {
		sameKey := old.PublicKey == body.Identity.PublicKey
		switch {
		case sameKey && (old.ID != body.Identity.ID || old.LeafKey != body.Identity.LeafKey || old.Direction != "incoming"):
			return Peer{}, fmt.Errorf("%w: this key is known here under another id or direction", ErrConflict)
		case sameKey && old.Status != StatusRejected:
			return old, nil // asked again: the same request
		case sameKey: // asking again after a rejection
			if _, err := n.cfg.DB.DeleteFederationPeer(ctx, old.PublicKey); err != nil {
				return Peer{}, err
			}
		case store.PeerLinked(old.Status):
			return Peer{}, fmt.Errorf("%w: instance %s is a peer here with another key", ErrConflict, old.ID)
		}
	}
	p := Peer{ID: body.Identity.ID, Name: body.Identity.Name, PublicKey: body.Identity.PublicKey, LeafKey: body.Identity.LeafKey, HTTPURL: base,
		Direction: "incoming", Status: StatusPending, Source: source, CreatedAt: time.Now().UTC(), Grants: []Grant{}}
	if err := insertPending(ctx, n.cfg.DB, p); err != nil {
		return Peer{}, err
	}
	n.log.Info().Str("peer", p.Name).Str("key", p.PublicKey).Msg("a peer asks to connect: accept or reject it (mosaic federation list)")
	return p, nil
}

// HandleStatus answers a requesting peer's signed status query (store.ErrNotFound: no request
// from it is known here — rejected or never made).
func (n *Node) HandleStatus(ctx context.Context, env *Envelope) (*Envelope, error) {
	known, err := requestsByID(ctx, n.cfg.DB, env.From)
	switch {
	case err != nil:
		return nil, err
	case len(known) == 0:
		return nil, store.ErrNotFound
	case env.Type != TypeQuery:
		return nil, fmt.Errorf("%w: a status query is a QUERY", ErrMalformed)
	}
	// Several requests may carry the sender's id: the one whose key signed the query is its.
	err = store.ErrNotFound
	for _, p := range known {
		if err = n.verify.Verify(env, p.PublicKey, n.cfg.Self.ID, time.Now()); errors.Is(err, ErrBadSignature) {
			continue
		}
		if err != nil {
			return nil, err
		}
		body, _ := json.Marshal(statusBody{Status: p.Status})
		return n.reply(env, body)
	}
	return nil, err
}

func (n *Node) reply(req *Envelope, body []byte) (*Envelope, error) {
	r := &Envelope{Type: TypeReply, To: req.From, Body: body, Re: req.Nonce}
	return r, n.cfg.Self.Sign(r, time.Now())
}

// Accept accepts a pending peer, with its first grants: the peer's leafnode may connect from now on.
func (n *Node) Accept(ctx context.Context, ref string, gs []GrantRequest, by string) (Peer, error) {
	p, err := findPeer(ctx, n.cfg.DB, ref)
	if err != nil {
		return Peer{}, err
	}
	if p.Status != StatusPending {
		return Peer{}, fmt.Errorf("%w: %s is %s, not pending", ErrConflict, p.Name, p.Status)
	}
	if !isKeyRef(ref) {
		// Anybody may post a CONNECT with any name and id: only the key, checked with the peer's
		// admin, says who asks.
		return Peer{}, fmt.Errorf("%w: accept a request by its key (at least its first %d characters, as mosaic federation list shows: %s), not by name or id: anyone can ask under any name",
			ErrInvalid, MinKeyRef, p.PublicKey[:MinKeyRef])
	}
	now := time.Now()
	grants := make([]store.FederationGrant, 0, len(gs))
	for _, r := range gs {
		g, err := newGrant(ctx, n.cfg.DB, r, by, now)
		if err != nil {
			return Peer{}, err
		}
		grants = append(grants, g)
	}
	err = n.cfg.DB.AcceptFederationPeer(ctx, p.PublicKey, grants)
	if errors.Is(err, store.ErrNotFound) {
		return Peer{}, fmt.Errorf("%w: %s was decided meanwhile", ErrConflict, p.Name)
	}
	if err != nil {
		// Another request with this id or name was accepted: this one cannot be that peer too.
		return Peer{}, knownAlready(err)
	}
	p, err = peerByID(ctx, n.cfg.DB, p.ID)
	if err != nil {
		return Peer{}, err
	}
	if err := n.link(p); err != nil {
		return Peer{}, err
	}
	n.log.Info().Str("peer", p.Name).Str("by", by).Int("grants", len(p.Grants)).Msg("peer accepted")
	return p, nil
}

// Reject refuses a pending peer and forgets it.
func (n *Node) Reject(ctx context.Context, ref string) error {
	p, err := findPeer(ctx, n.cfg.DB, ref)
	if err != nil {
		return err
	}
	if p.Status != StatusPending {
		return fmt.Errorf("%w: %s is %s, not pending (disconnect an accepted peer)", ErrConflict, p.Name, p.Status)
	}
	// Kept as rejected (until PendingExpiry) rather than forgotten: the asker learns it from a
	// reply signed by this instance, never from an unsigned "not found" anyone could send.
	return setStatus(ctx, n.cfg.DB, p.PublicKey, StatusPending, StatusRejected)
}

// Grant sets what an accepted peer may do in one workspace (replacing that workspace's grant).
func (n *Node) Grant(ctx context.Context, ref string, g GrantRequest, by string) (Peer, error) {
	p, err := findPeer(ctx, n.cfg.DB, ref)
	if err != nil {
		return Peer{}, err
	}
	if p.Status != StatusAccepted {
		return Peer{}, fmt.Errorf("%w: %s is %s: grants go to accepted peers", ErrConflict, p.Name, p.Status)
	}
	grant, err := newGrant(ctx, n.cfg.DB, g, by, time.Now())
	if err != nil {
		return Peer{}, err
	}
	if err := n.cfg.DB.PutFederationGrant(ctx, p.ID, grant); err != nil {
		return Peer{}, err
	}
	return n.Peer(ctx, p.ID.String())
}

// Revoke removes a peer's grant in one workspace, at once.
func (n *Node) Revoke(ctx context.Context, ref, workspace string) (Peer, error) {
	p, err := findPeer(ctx, n.cfg.DB, ref)
	if err != nil {
		return Peer{}, err
	}
	ws, err := workspaceRef(ctx, n.cfg.DB, workspace)
	if err != nil {
		return Peer{}, err
	}
	err = n.cfg.DB.DeleteFederationGrant(ctx, p.ID, ws)
	if errors.Is(err, store.ErrNotFound) {
		return Peer{}, fmt.Errorf("%w: %s has no grant in %q", store.ErrNotFound, p.Name, workspace)
	}
	if err != nil {
		return Peer{}, err
	}
	return n.Peer(ctx, p.ID.String())
}

// Disconnected (mosaictype.Disconnected) says how a disconnect went.
type Disconnected = mosaictype.Disconnected

// Disconnect severs a peer: it is told (when it can be reached), then its grants, its identity and
// its link are gone at once. Whatever the peer answered before was never stored.
func (n *Node) Disconnect(ctx context.Context, ref string) (Disconnected, error) {
	p, err := findPeer(ctx, n.cfg.DB, ref)
	if err != nil {
		return Disconnected{}, err
	}
	out := Disconnected{Peer: p.Name}
	if p.Status == StatusAccepted {
		// Revoke first: from here no request of the peer is served, whether the notice arrives or not.
		if _, err := n.cfg.DB.DeleteFederationPeer(ctx, p.PublicKey); err != nil {
			return out, err
		}
		tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := n.ask(tctx, p, TypeDisconnect, Request{Op: "disconnect"})
		cancel()
		out.Notified = err == nil
		if err != nil {
			out.Error = err.Error()
		}
	} else if _, err := n.cfg.DB.DeleteFederationPeer(ctx, p.PublicKey); err != nil {
		return out, err
	}
	if !store.PeerLinked(p.Status) {
		return out, nil // a request to connect has no link (another with its id may)
	}
	if err := n.cfg.Hub.Unlink(p.ID); err != nil {
		return out, err
	}
	n.log.Info().Str("peer", p.Name).Bool("notified", out.Notified).Msg("peer disconnected")
	return out, nil
}

// severed handles a peer's DISCONNECT: forget it and close its link.
func (n *Node) severed(p Peer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.cfg.DB.DeleteFederationPeer(ctx, p.PublicKey); err != nil {
		n.log.Error().Err(err).Str("peer", p.Name).Msg("forget a peer that disconnected")
	}
	if err := n.cfg.Hub.Unlink(p.ID); err != nil {
		n.log.Error().Err(err).Str("peer", p.Name).Msg("close the link of a peer that disconnected")
	}
	n.log.Info().Str("peer", p.Name).Msg("the peer disconnected: its grants and identity are gone")
}

// poll asks the peers this instance asked to connect whether their admin decided.
func (n *Node) poll() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.PollInterval+10*time.Second)
		n.checkRequests(ctx)
		cancel()
	}
}

// checkRequests asks each requested peer for its decision; an acceptance opens the link.
func (n *Node) checkRequests(ctx context.Context) {
	all, err := peers(ctx, n.cfg.DB)
	if err != nil {
		n.log.Warn().Err(err).Msg("list peers")
		return
	}
	for _, p := range all {
		if p.Status == StatusAccepted && n.cfg.Hub.Conn(p.ID) == nil {
			// Accepted, but its link failed to open (at accept or at start): try again.
			if err := n.link(p); err != nil {
				n.log.Warn().Err(err).Str("peer", p.Name).Msg("link an accepted peer")
			}
			continue
		}
		if p.Status != StatusRequested {
			continue
		}
		status, err := n.askStatus(ctx, p)
		switch {
		case err == nil && status == StatusRejected:
			// Signed by the peer: its admin rejected the request.
			if err := setStatus(ctx, n.cfg.DB, p.PublicKey, StatusRequested, StatusRejected); err == nil {
				n.log.Warn().Str("peer", p.Name).Msg("the peer rejected the request to connect")
			}
		case errors.Is(err, store.ErrNotFound) && time.Since(p.CreatedAt) > PendingExpiry:
			// Unknown there past the time a request waits: it expired (a "not found" is unsigned,
			// so before that it decides nothing).
			if err := setStatus(ctx, n.cfg.DB, p.PublicKey, StatusRequested, StatusRejected); err == nil {
				n.log.Warn().Str("peer", p.Name).Msg("the request to connect expired unanswered")
			}
		case err != nil:
			n.log.Debug().Err(err).Str("peer", p.Name).Msg("ask a peer for its decision")
		case status == StatusAccepted:
			if err := setStatus(ctx, n.cfg.DB, p.PublicKey, StatusRequested, StatusAccepted); err != nil {
				continue
			}
			p.Status = StatusAccepted
			if err := n.link(p); err != nil {
				n.log.Error().Err(err).Str("peer", p.Name).Msg("link an accepting peer")
				continue
			}
			if _, err := peerByID(ctx, n.cfg.DB, p.ID); errors.Is(err, store.ErrNotFound) {
				_ = n.cfg.Hub.Unlink(p.ID) // disconnected meanwhile
				continue
			}
			n.log.Info().Str("peer", p.Name).Msg("the peer accepted: linked")
		}
	}
}

// CheckRequests asks now, rather than at the next poll, whether requested peers decided.
func (n *Node) CheckRequests(ctx context.Context) { n.checkRequests(ctx) }

func (n *Node) askStatus(ctx context.Context, p Peer) (string, error) {
	env := &Envelope{Type: TypeQuery, To: p.ID, Body: json.RawMessage(`{"op":"status"}`)}
	if err := n.cfg.Self.Sign(env, time.Now()); err != nil {
		return "", err
	}
	peerAPI, err := n.peerAPI(p.HTTPURL)
	if err != nil {
		return "", err
	}
	r, err := peerAPI.FederationStatus(ctx, env)
	if err != nil {
		return "", peerError(err)
	}
	if err := n.checkReply(&r, p, env); err != nil {
		return "", err
	}
	var b statusBody
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return "", fmt.Errorf("%w: status answer: %v", ErrMalformed, err)
	}
	return b.Status, nil
}

// checkReply verifies a reply to req from p.
func (n *Node) checkReply(r *Envelope, p Peer, req *Envelope) error {
	if r.From != p.ID {
		return fmt.Errorf("%w: the reply is not from the peer asked", ErrBadSignature)
	}
	return n.verify.VerifyReply(r, req.Nonce, p.PublicKey, n.cfg.Self.ID, time.Now())
}

// peerAPI is a client of a peer instance's API at base: an instance this one does not trust, so
// its answers are read up to MaxMessageSize and each call has this node's timeout.
func (n *Node) peerAPI(base string) (*client.Client, error) {
	return client.NewWith(base, "", client.Options{HTTP: n.http, MaxAnswer: MaxMessageSize})
}

// ErrPeerAPI: another instance's API refused a request, or could not be reached over HTTP.
var ErrPeerAPI = errors.New("federation: the peer's API")

// peerError is what a peer API's refusal means here. Its "not found" (a Mosaic API's, not a
// proxy's) is store.ErrNotFound. Any other answer, and a failure to reach it, is ErrPeerAPI with
// the status and the first of its message, printable: a peer is not trusted to choose this
// instance's answer or to write into its logs.
func peerError(err error) error {
	var (
		e  *mosaictype.Error
		ue *url.Error
	)
	switch {
	case errors.As(err, &e) && e.Status == http.StatusNotFound && e.Code == mosaictype.CodeNotFound:
		return store.ErrNotFound
	case errors.As(err, &e):
		return fmt.Errorf("%w answered HTTP %d: %s", ErrPeerAPI, e.Status, printable(e.Message, 200))
	case errors.As(err, &ue):
		return fmt.Errorf("%w does not answer: %s", ErrPeerAPI, printable(ue.Err.Error(), 200))
	}
	return err
}

// printable is s cut to max characters, its control characters (newlines, escapes) as spaces.
func printable(s string, max int) string {
	r := []rune(s)
	if len(r) > max {
		r = append(r[:max], '…')
	}
	for i, c := range r {
		if unicode.IsControl(c) {
			r[i] = ' '
		}
	}
	return string(r)
}

// checkHTTPURL checks an instance's API URL and returns it without a trailing slash.
func checkHTTPURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || len(s) > 512 {
		return "", fmt.Errorf("%w: %q is not an instance's API URL (http(s)://host:port)", ErrInvalid, s)
	}
	return u.String(), nil
}

// checkIdentity checks a peer's identity as it presents it.
func checkIdentity(id Identity) error {
	if id.ID == uuid.Nil {
		return fmt.Errorf("%w: the peer's identity has no id", ErrMalformed)
	}
	if id.Name == "" || len(id.Name) > 64 || strings.IndexFunc(id.Name, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: the peer's name must be 1 to 64 bytes without control characters", ErrMalformed)
	}
	if !nkeys.IsValidPublicServerKey(id.PublicKey) {
		return fmt.Errorf("%w: the peer's public key is not an nkeys server key", ErrMalformed)
	}
	if !nkeys.IsValidPublicUserKey(id.LeafKey) {
		return fmt.Errorf("%w: the peer's leafnode key is not an nkeys user key", ErrMalformed)
	}
	return nil
}
