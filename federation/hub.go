package federation

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/events"
)

// HubConfig configures an instance's federation server.
type HubConfig struct {
	// Listen is the host:port where peers' leafnode connections arrive (port 0: a free port).
	// Empty: none arrive; this instance only connects out.
	Listen string
	// TLS, when set, is required of every leafnode connection that arrives.
	TLS *tls.Config
	// AnyPortIfTaken: when Listen's port is taken, listen on a free port instead (and advertise it).
	AnyPortIfTaken bool
	// Advertise is the leafnode URL peers are told to connect to (nats:// or tls://), when it
	// differs from Listen's (a listener on 0.0.0.0, behind NAT or a proxy). Default: from Listen.
	Advertise string
	// PeerTLS verifies the listeners of peers whose leafnode URL is tls:// (nil: the system's roots).
	PeerTLS *tls.Config
	// Logger receives the server's warnings and errors.
	Logger *zerolog.Logger
}

// Hub is an instance's federation server: an in-process NATS server of its own, apart from the
// server that carries tasks, so that a peer never reaches a task subject, a stream or a credential.
// It holds one account per peer, and only two parties share an account: this instance's connection
// for that peer and the peer's leafnode. A peer that this instance accepted connects in with its
// leafnode key (Identity.LeafKey: derived from its instance key, used for nothing else, since a
// leafnode login signs whatever bytes the other server sends); to a peer that accepted this
// instance, the hub connects out. Links are added and removed while the server runs (a
// configuration reload), and removing one closes its connections at once.
type Hub struct {
	self *Self
	cfg  HubConfig
	log  zerolog.Logger

	mu        sync.Mutex
	ns        *server.Server
	links     map[uuid.UUID]*link
	leafURL   string
	leafHost  string
	leafPort  int
	adminPass string
	leafSeed  string
}

type link struct {
	peer     uuid.UUID
	account  string
	user     string
	password string
	inbound  string   // the peer's nkeys user key, when it connects to us
	outbound *url.URL // the peer's leafnode URL, when we connect to it
	nc       *nats.Conn
}

// StartHub starts the federation server of self.
func StartHub(self *Self, cfg HubConfig) (*Hub, error) {
	h := &Hub{self: self, cfg: cfg, links: map[uuid.UUID]*link{}, log: zerolog.Nop()}
	if cfg.Logger != nil {
		h.log = cfg.Logger.With().Str("component", "federation").Logger()
	}
	h.adminPass = randomHex(24)
	seed, err := self.leafSeed()
	if err != nil {
		return nil, fmt.Errorf("federation: the instance key: %w", err)
	}
	h.leafSeed = seed
	if cfg.Advertise != "" {
		if _, err := ParseLeafURL(cfg.Advertise); err != nil {
			return nil, err
		}
	}
	host, port, choose := "", 0, false
	if cfg.Listen != "" {
		var portText string
		if host, portText, err = net.SplitHostPort(cfg.Listen); err != nil {
			return nil, fmt.Errorf("federation listen address %q: %w", cfg.Listen, err)
		}
		if port, err = strconv.Atoi(portText); err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("federation listen address %q: the port is not 0 to 65535", cfg.Listen)
		}
		choose = port == 0 || cfg.AnyPortIfTaken
	}
	for attempt := 0; ; attempt++ {
		if cfg.Listen != "" {
			if port == 0 || attempt > 0 {
				// The server's "random port" cannot be advertised: find a free one now. Another
				// process may take it first; then the next attempt takes another.
				if port, err = freePort(host); err != nil {
					return nil, fmt.Errorf("federation listen address %q: %w", cfg.Listen, err)
				}
			}
			h.setListener(host, port)
		}
		ns, err := server.NewServer(h.options())
		if err != nil {
			return nil, fmt.Errorf("federation server: %w", err)
		}
		ns.SetLoggerV2(events.NATSLogger(h.log), false, false, false)
		go ns.Start()
		if ns.ReadyForConnections(5 * time.Second) {
			h.ns = ns
			return h, nil
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		if !choose || attempt == 4 {
			return nil, fmt.Errorf("the federation server did not start: cannot listen on %s (taken?)", net.JoinHostPort(host, strconv.Itoa(port)))
		}
		h.log.Warn().Str("addr", net.JoinHostPort(host, strconv.Itoa(port))).Msg("the federation listener's address is taken; trying a free port")
	}
}

// setListener sets where the leafnode listener is, and the URL peers are told.
func (h *Hub) setListener(host string, port int) {
	h.leafHost, h.leafPort = host, port
	scheme := "nats"
	if h.cfg.TLS != nil {
		scheme = "tls"
	}
	h.leafURL = scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
	if h.cfg.Advertise != "" {
		h.leafURL = h.cfg.Advertise
	}
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LeafURL is where peers connect their leafnode ("" when none may).
func (h *Hub) LeafURL() string { return h.leafURL }

// options builds the server's options from the links: built afresh each time, since a reload
// compares old and new options.
func (h *Hub) options() *server.Options {
	o := &server.Options{
		ServerName: "mosaic-federation-" + h.self.ID.String()[:8],
		DontListen: true, // no client port: only this process's in-process connections
		NoSigs:     true,
		NoLog:      false,
		MaxPayload: MaxMessageSize,
		// A hub user, always present, so that authentication is always required: a leafnode
		// without a known key is refused rather than put in the global account.
		Users: []*server.User{{Username: "hub", Password: h.adminPass}},
	}
	o.LeafNode.TLSConfig = h.cfg.TLS
	o.LeafNode.ReconnectInterval = time.Second
	o.LeafNode.Host, o.LeafNode.Port = h.leafHost, h.leafPort
	for _, l := range h.links {
		acc := server.NewAccount(l.account)
		o.Accounts = append(o.Accounts, acc)
		o.Users = append(o.Users, &server.User{Username: l.user, Password: l.password, Account: acc})
		if l.inbound != "" {
			o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: l.inbound, Account: acc,
				AllowedConnectionTypes: map[string]struct{}{"LEAFNODE": {}}})
		}
		if l.outbound != nil {
			o.LeafNode.Remotes = append(o.LeafNode.Remotes, &server.RemoteLeafOpts{
				LocalAccount: l.account,
				URLs:         []*url.URL{l.outbound},
				Nkey:         h.leafSeed,
				TLS:          l.outbound.Scheme == "tls",
				TLSConfig:    h.cfg.PeerTLS,
			})
		}
	}
	return o
}

// ErrLinked is returned by Link for a peer that already has a link.
var ErrLinked = errors.New("federation: the peer is linked already")

// Link adds the link to a peer and returns this instance's connection in the peer's account.
// inboundKey is the peer's leafnode key (Identity.LeafKey) when the peer connects to us;
// outboundURL the peer's leafnode URL when we connect to it (one of the two, or both).
func (h *Hub) Link(peer uuid.UUID, inboundKey, outboundURL string) (*nats.Conn, error) {
	l := &link{peer: peer, account: "peer-" + peer.String(), user: "local-" + peer.String(), password: randomHex(24)}
	if inboundKey != "" {
		if !nkeys.IsValidPublicUserKey(inboundKey) {
			return nil, fmt.Errorf("%w: leafnode key %q is not an nkeys user key", ErrMalformed, inboundKey)
		}
		l.inbound = inboundKey
	}
	if outboundURL != "" {
		u, err := ParseLeafURL(outboundURL)
		if err != nil {
			return nil, err
		}
		l.outbound = u
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.links[peer]; ok {
		return nil, ErrLinked
	}
	h.links[peer] = l
	if err := h.ns.ReloadOptions(h.options()); err != nil {
		delete(h.links, peer)
		return nil, fmt.Errorf("federation: link %s: %w", peer, err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(h.ns), nats.UserInfo(l.user, l.password),
		nats.Name("mosaic-federation"), nats.MaxReconnects(-1), nats.CustomInboxPrefix("_INBOX."+h.self.ID.String()))
	if err != nil {
		delete(h.links, peer)
		_ = h.ns.ReloadOptions(h.options())
		return nil, fmt.Errorf("federation: connect for %s: %w", peer, err)
	}
	l.nc = nc
	return nc, nil
}

// Unlink removes the link to a peer: its account, key and leafnode go, and every connection of
// the link is closed. Unlinking a peer without a link does nothing.
func (h *Hub) Unlink(peer uuid.UUID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.links[peer]
	if !ok {
		return nil
	}
	delete(h.links, peer)
	if l.nc != nil {
		l.nc.Close()
	}
	reloadErr := h.ns.ReloadOptions(h.options())
	// A reload does not close a leafnode whose key it removed: close it here (even if the reload
	// failed: the link is gone from this side).
	for _, id := range h.leafs(peer) {
		_ = h.ns.DisconnectClientByID(id)
	}
	if reloadErr != nil {
		return fmt.Errorf("federation: unlink %s: %w", peer, reloadErr)
	}
	return nil
}

// leafs are the ids of the leafnode connections in a peer's account.
func (h *Hub) leafs(peer uuid.UUID) []uint64 {
	lz, err := h.ns.Leafz(nil)
	if err != nil {
		return nil
	}
	var ids []uint64
	for _, l := range lz.Leafs {
		if l.Account == "peer-"+peer.String() {
			ids = append(ids, l.ID)
		}
	}
	return ids
}

// Conn is this instance's connection in a linked peer's account (nil without a link).
func (h *Hub) Conn(peer uuid.UUID) *nats.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.links[peer]; ok {
		return l.nc
	}
	return nil
}

// Connected tells whether the leafnode of a peer's link is up (either direction).
func (h *Hub) Connected(peer uuid.UUID) bool {
	return len(h.leafs(peer)) > 0
}

// Close closes every link and stops the server.
func (h *Hub) Close() {
	h.mu.Lock()
	for _, l := range h.links {
		if l.nc != nil {
			l.nc.Close()
		}
	}
	h.mu.Unlock()
	h.ns.Shutdown()
	h.ns.WaitForShutdown()
}

// ParseLeafURL checks a peer's leafnode URL: nats:// or tls://, a host and a port.
func ParseLeafURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" || u.Port() == "" || u.User != nil {
		return nil, fmt.Errorf("%w: leafnode URL %q is not nats://host:port or tls://host:port", ErrMalformed, s)
	}
	return u, nil
}

// MaxMessageSize bounds a federation message (a search's page of results fits with room).
const MaxMessageSize = 1 << 20

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
