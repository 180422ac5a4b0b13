package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/federation"
)

// federationFlags are `mosaic dev`'s federation settings.
type federationFlags struct {
	enabled      bool
	instanceName string
	listen       string
	advertise    string
	cert, key    string
	ca           string
	timeout      time.Duration
}

const defaultFederationListen = "127.0.0.1:7422"

func (f *federationFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	host, _ := os.Hostname()
	fl.BoolVar(&f.enabled, "federation", true, "take part in federation (off: no identity is opened, no peer served; e.g. for all but one API replica)")
	fl.StringVar(&f.instanceName, "instance-name", host, "this instance's name for federation peers (kept from the first start)")
	fl.StringVar(&f.listen, "federation-listen", defaultFederationListen, "host:port where accepted peers connect their NATS leafnode (empty: none; this instance only connects out)")
	fl.StringVar(&f.advertise, "federation-advertise", "", "the leafnode URL peers are told to connect to (nats://host:port or tls://host:port) when the listener's is not theirs, e.g. on 0.0.0.0")
	fl.StringVar(&f.cert, "federation-cert", "", "TLS certificate of the federation listener (with --federation-key; peers then connect with tls://)")
	fl.StringVar(&f.key, "federation-key", "", "TLS key of the federation listener")
	fl.StringVar(&f.ca, "federation-ca", "", "CA file that verifies peers' tls:// listeners (default: the system's roots)")
	fl.DurationVar(&f.timeout, "federation-timeout", 5*time.Second, "how long a federated request waits for each peer")
}

func (f *federationFlags) validate() error {
	var errs []error
	if f.listen != "" {
		if _, _, err := net.SplitHostPort(f.listen); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", setting("federation-listen"), f.listen))
		}
	}
	if f.advertise != "" {
		if _, err := federation.ParseLeafURL(f.advertise); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", setting("federation-advertise"), err))
		}
		if f.listen == "" {
			errs = append(errs, fmt.Errorf("%s needs %s", setting("federation-advertise"), setting("federation-listen")))
		}
	}
	if (f.cert == "") != (f.key == "") {
		errs = append(errs, fmt.Errorf("%s and %s go together", setting("federation-cert"), setting("federation-key")))
	}
	if f.timeout < 100*time.Millisecond || f.timeout > time.Minute {
		errs = append(errs, fmt.Errorf("%s: %s is not between 100ms and 1m", setting("federation-timeout"), f.timeout))
	}
	if n := len(f.instanceName); n == 0 || n > 64 {
		errs = append(errs, fmt.Errorf("%s: the name must be 1 to 64 bytes", setting("instance-name")))
	}
	return errors.Join(errs...)
}

// fedRuntime is the federation part of a running `mosaic dev`.
type fedRuntime struct {
	hub  *federation.Hub
	node *federation.Node
}

// nodeOrNil is the node, nil when federation is off.
func (r *fedRuntime) nodeOrNil() *federation.Node {
	if r == nil {
		return nil
	}
	return r.node
}

func (r *fedRuntime) close() {
	if r == nil {
		return
	}
	r.node.Close()
	r.hub.Close()
}

// start opens the instance's identity (creating it on the first start), its federation server
// and its node.
func (f *federationFlags) start(ctx context.Context, cmd *cobra.Command, st *stack, cipher crypto.Cipher, tasks *agents.Client,
	kb *knowledge.Service, serverURL string, observe func(direction, op, outcome string, d time.Duration), log zerolog.Logger) (*fedRuntime, error) {
	if !f.enabled {
		return nil, nil
	}
	self, err := federation.LoadOrCreate(ctx, st.db, cipher, f.instanceName)
	if err != nil {
		return nil, fmt.Errorf("federation identity: %w", err)
	}
	// The default port may be taken (another instance on this machine): then a free one, logged.
	cfg := federation.HubConfig{Listen: f.listen, Advertise: f.advertise, Logger: &log,
		AnyPortIfTaken: !cmd.Flags().Changed("federation-listen")}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", setting("federation-cert"), err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", setting("federation-ca"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", setting("federation-ca"), f.ca)
		}
		cfg.PeerTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	hub, err := federation.StartHub(self, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting("federation-listen"), err)
	}
	node, err := federation.StartNode(ctx, federation.NodeConfig{Self: self, Hub: hub, DB: st.db, Knowledge: kb, Tasks: tasks, Events: st.nc,
		HTTPURL: serverURL, Timeout: f.timeout, Logger: &log, Observe: observe})
	if err != nil {
		hub.Close()
		return nil, err
	}
	log.Info().Str("instance", self.Name).Str("key", self.PublicKey).Str("leafnode", hub.LeafURL()).Msg("federation ready")
	return &fedRuntime{hub: hub, node: node}, nil
}

func newFederationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "federation", Short: "Connect this instance with others: peers, grants, disconnect (admin token)"}
	cmd.AddCommand(fedIdentityCmd(), fedConnectCmd(), fedListCmd(), fedAcceptCmd(), fedRejectCmd(), fedGrantCmd(), fedRevokeCmd(), fedDisconnectCmd())
	return cmd
}

func fedIdentityCmd() *cobra.Command {
	f := &clientFlags{}
	c := &cobra.Command{
		Use:   "identity",
		Short: "This instance's public identity: id, name, public key (nkeys, Ed25519), leafnode URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			c, err := client.New(f.serverURL(), "")
			if err != nil {
				return err
			}
			id, err := c.FederationIdentity(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(id)
			}
			printIdentity(id)
			return nil
		},
	}
	f.register(c, false)
	return c
}

func printIdentity(id federation.Identity) {
	fmt.Printf("id            %s\nname          %s\npublic key    %s\nleafnode      %s\ncapabilities  %s\n",
		id.ID, id.Name, id.PublicKey, orDash(id.LeafURL), strings.Join(id.Capabilities, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// adminCommand builds a federation subcommand that calls the server with the admin token.
func adminCommand(use, short string, args cobra.PositionalArgs, run func(ctx context.Context, c *client.Client, f *clientFlags, args []string) error) (*cobra.Command, *clientFlags) {
	f := &clientFlags{}
	c := &cobra.Command{
		Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.adminClient()
			if err != nil {
				return err
			}
			return run(cmd.Context(), c, f, args)
		},
	}
	f.register(c, false)
	return c, f
}

func fedConnectCmd() *cobra.Command {
	var expect string
	c, _ := adminCommand("connect URL", "Ask the instance whose API is at URL to connect; its admin accepts or rejects",
		cobra.ExactArgs(1), func(ctx context.Context, c *client.Client, f *clientFlags, args []string) error {
			p, err := c.ConnectPeer(ctx, args[0], expect)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(p)
			}
			fmt.Printf("asked %s (%s) to connect: %s\n", p.Name, p.ID, p.Status)
			if expect == "" {
				fmt.Printf("its public key is %s\ncheck it with the peer's admin (mosaic federation identity on their side); it decides with mosaic federation accept|reject\n", p.PublicKey)
			} else {
				fmt.Printf("its public key is the expected one; its admin decides with mosaic federation accept|reject\n")
			}
			return nil
		})
	c.Flags().StringVar(&expect, "expect-key", "", "the peer's public key as its admin gave it (mosaic federation identity there): any other is refused")
	return c
}

func fedListCmd() *cobra.Command {
	c, _ := adminCommand("list", "The peers of this instance: status, link, and what each is granted here",
		cobra.NoArgs, func(ctx context.Context, c *client.Client, f *clientFlags, _ []string) error {
			l, err := c.Peers(ctx)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printList(l.Peers, "", "instance", l.Instance)
			}
			fmt.Printf("this instance: %s  %s  leafnode %s\n\n", l.Instance.Name, l.Instance.PublicKey, orDash(l.Instance.LeafURL))
			if len(l.Peers) == 0 {
				fmt.Println("no peers (mosaic federation connect URL)")
				return nil
			}
			tb := newTable(os.Stdout, "PEER\tDIRECTION\tSTATUS\tLINK\tPUBLIC KEY\tGRANTED HERE\tGRANTED BY IT")
			for _, p := range l.Peers {
				link, offered := "down", "-"
				if p.Connected {
					link = "up"
				}
				if p.Status == federation.StatusAccepted && p.Connected {
					if gs, err := c.OfferedBy(ctx, p.ID.String()); err == nil {
						offered = grantsText(gs)
					} else {
						offered = "(" + err.Error() + ")"
					}
				}
				tb.row(p.Name, p.Direction, p.Status, link, p.PublicKey, grantsText(p.Grants), offered)
			}
			return tb.flush()
		})
	return c
}

func grantsText(gs []federation.Grant) string {
	if len(gs) == 0 {
		return "-"
	}
	var parts []string
	for _, g := range gs {
		caps := make([]string, 0, len(g.Capabilities))
		for _, c := range g.Capabilities {
			if c == federation.CapTasksPublish {
				c += ":" + strings.Join(g.TaskKinds, ",")
			}
			caps = append(caps, c)
		}
		parts = append(parts, fmt.Sprintf("%s: %s (until %s)", g.Workspace, strings.Join(caps, " "), g.ExpiresAt.Format("2006-01-02")))
	}
	return strings.Join(parts, "; ")
}

// grantFlags are the flags of one grant.
type grantFlags struct {
	workspace string
	caps      []string
	expires   string
}

func (g *grantFlags) register(c *cobra.Command, required bool) {
	c.Flags().StringVar(&g.workspace, "workspace", "", "the workspace of this instance the grant is for (name or id)")
	c.Flags().StringArrayVar(&g.caps, "grant", nil, "a capability: knowledge.search, knowledge.read, tasks.read, events.subscribe, tasks.publish:<kind>[,<kind>…] (repeat)")
	c.Flags().StringVar(&g.expires, "expires", "720h", "how long the grant lasts (at most 8760h)")
	if required {
		_ = c.MarkFlagRequired("workspace")
		_ = c.MarkFlagRequired("grant")
	}
}

func (g *grantFlags) request() (federation.GrantRequest, error) {
	r := federation.GrantRequest{Workspace: g.workspace, Capabilities: g.caps, ExpiresIn: g.expires}
	if _, _, err := federation.ParseCapabilities(r.Capabilities); err != nil {
		return r, err
	}
	return r, nil
}

func printPeer(f *clientFlags, p federation.Peer, verb string) error {
	if f.output == "json" {
		return printJSON(p)
	}
	fmt.Printf("%s %s (%s): %s\ngranted here: %s\n", verb, p.Name, p.ID, p.Status, grantsText(p.Grants))
	return nil
}

func fedAcceptCmd() *cobra.Command {
	g := &grantFlags{}
	c, _ := adminCommand("accept KEY", "Accept a request to connect, named by its key (at least its first 12 characters), granting capabilities in a workspace",
		cobra.ExactArgs(1), func(ctx context.Context, c *client.Client, f *clientFlags, args []string) error {
			var grants []federation.GrantRequest
			if g.workspace != "" || len(g.caps) > 0 {
				r, err := g.request()
				if err != nil {
					return err
				}
				grants = append(grants, r)
			}
			p, err := c.AcceptPeer(ctx, args[0], grants)
			if err != nil {
				return err
			}
			return printPeer(f, p, "accepted")
		})
	g.register(c, false)
	return c
}

func fedRejectCmd() *cobra.Command {
	c, _ := adminCommand("reject PEER", "Reject a peer's request to connect (it is forgotten)",
		cobra.ExactArgs(1), func(ctx context.Context, c *client.Client, _ *clientFlags, args []string) error {
			if err := c.RejectPeer(ctx, args[0]); err != nil {
				return err
			}
			fmt.Printf("rejected %s\n", args[0])
			return nil
		})
	return c
}

func fedGrantCmd() *cobra.Command {
	g := &grantFlags{}
	c, _ := adminCommand("grant PEER", "Set what an accepted peer may do in a workspace of this instance (replaces that workspace's grant)",
		cobra.ExactArgs(1), func(ctx context.Context, c *client.Client, f *clientFlags, args []string) error {
			r, err := g.request()
			if err != nil {
				return err
			}
			p, err := c.GrantPeer(ctx, args[0], r)
			if err != nil {
				return err
			}
			return printPeer(f, p, "granted")
		})
	g.register(c, true)
	return c
}

func fedRevokeCmd() *cobra.Command {
	var ws string
	c, _ := adminCommand("revoke PEER", "Remove a peer's grant in a workspace, at once",
		cobra.ExactArgs(1), func(ctx context.Context, c *client.Client, f *clientFlags, args []string) error {
			p, err := c.RevokePeer(ctx, args[0], ws)
			if err != nil {
				return err
			}
			return printPeer(f, p, "revoked; now")
		})
	c.Flags().StringVar(&ws, "workspace", "", "the workspace whose grant goes")
	_ = c.MarkFlagRequired("workspace")
	return c
}

func fedDisconnectCmd() *cobra.Command {
	c, _ := adminCommand("disconnect PEER", "Sever a peer: its grants and identity go at once, and it is told to forget this instance",
		cobra.ExactArgs(1), func(ctx context.Context, c *client.Client, f *clientFlags, args []string) error {
			d, err := c.DisconnectPeer(ctx, args[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(d)
			}
			if d.Notified {
				fmt.Printf("disconnected %s; it was told and forgot this instance too\n", d.Peer)
			} else {
				fmt.Printf("disconnected %s; it could not be told (%s): its requests are refused here all the same\n", d.Peer, orDash(d.Error))
			}
			return nil
		})
	return c
}

// printInstances prints how each instance answered a federated read.
func printInstances(rs []federation.PeerResult, partial bool) {
	var parts []string
	for _, r := range rs {
		s := r.Instance + " " + r.Status
		if r.Error != "" {
			s += " (" + r.Error + ")"
		}
		parts = append(parts, s)
	}
	fmt.Printf("instances: %s\n", strings.Join(parts, "; "))
	if partial {
		fmt.Println("partial answer: not every peer answered")
	}
}
