package eventstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mosaicstack/mosaic/events"
)

// Cluster is a JetStream cluster of embedded nats-servers on loopback, for tests: each node has
// its file store in a temporary directory and fixed client and route ports, so a stopped node can
// be started again as itself (same name, store and ports) and rejoin.
type Cluster struct {
	t     testing.TB
	name  string
	mu    sync.Mutex
	nodes []*ClusterNode
}

// ClusterNode is one node of a Cluster; Server is nil while it is stopped.
type ClusterNode struct {
	Name       string
	StoreDir   string
	ClientPort int
	RoutePort  int
	Server     *server.Server
}

// RunCluster starts n clustered JetStream servers (named n1…nN, cluster "mosaic-test") and
// waits until they have a JetStream meta leader. Every node is shut down at cleanup.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, name: "mosaic-test"}
	ports := freePorts(t, 2*n)
	for i := range n {
		c.nodes = append(c.nodes, &ClusterNode{
			Name:       fmt.Sprintf("n%d", i+1),
			StoreDir:   t.TempDir(),
			ClientPort: ports[2*i],
			RoutePort:  ports[2*i+1],
		})
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	for i := range c.nodes {
		c.Start(i)
	}
	c.WaitMetaLeader(30 * time.Second)
	return c
}

// Node returns node i (0-based).
func (c *Cluster) Node(i int) *ClusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Index returns the index of the node named name, or -1.
func (c *Cluster) Index(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, nd := range c.nodes {
		if nd.Name == name {
			return i
		}
	}
	return -1
}

// ClientURLs is every node's client URL, comma-separated (running or not: the ports are fixed).
func (c *Cluster) ClientURLs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var urls []string
	for _, nd := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", nd.ClientPort))
	}
	return strings.Join(urls, ",")
}

// Start starts node i (again): same name, store directory and ports.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	c.mu.Lock()
	nd := c.nodes[i]
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.RoutePort))
	}
	c.mu.Unlock()
	if nd.Server != nil {
		c.t.Fatalf("eventstest: node %s is already running", nd.Name)
	}
	opts := &server.Options{
		ServerName: nd.Name,
		Host:       "127.0.0.1",
		Port:       nd.ClientPort,
		JetStream:  true,
		StoreDir:   nd.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: events.MaxMessageSize,
		Cluster: server.ClusterOpts{
			Name: c.name,
			Host: "127.0.0.1",
			Port: nd.RoutePort,
		},
		Routes: server.RoutesFromStr(strings.Join(routes, ",")),
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		c.t.Fatalf("eventstest: node %s: %v", nd.Name, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		c.t.Fatalf("eventstest: node %s did not start within 15s", nd.Name)
	}
	c.mu.Lock()
	nd.Server = ns
	c.mu.Unlock()
}

// Stop shuts node i down and waits for it; a stopped node is left alone.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	nd := c.nodes[i]
	ns := nd.Server
	nd.Server = nil
	c.mu.Unlock()
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// WaitMetaLeader waits until a running node is the JetStream meta leader.
func (c *Cluster) WaitMetaLeader(within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		c.mu.Lock()
		for _, nd := range c.nodes {
			if nd.Server != nil && nd.Server.JetStreamIsLeader() {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			c.t.Fatalf("eventstest: no JetStream meta leader after %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("eventstest: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
