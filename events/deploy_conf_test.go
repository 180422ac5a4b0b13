package events_test

// Checks of the production NATS configuration in deploy/nats, with the nats-server of go.mod:
// the file parses as documented, three nodes of it form a JetStream cluster that takes Mosaic's
// topology at R3, and a workspace's raw-NATS publisher (deploy/nats/publishers.example.conf)
// publishes its own tasks and nothing else. docs/operations.md states the same rules.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/events"
)

const (
	deployNATSDir = "../deploy/nats"
	// The workspace of deploy/nats/publishers.example.conf.
	exampleWS = "01a2226a-57f6-791f-8b63-585890e3a89f"
	otherWS   = "01a2226a-57f6-791f-8b63-000000000002"
	// The password-hash placeholder of the example, replaced here by a variable.
	examplePasswordPlaceholder = `"$2a$11$REPLACE.WITH.THE.HASH.FROM.nats.server.passwd.PLACEHOLDER"`
)

// setDeployNATSEnv sets the variables nats.conf reads from deploy/secrets/nats.env.example (the
// template operators copy), so that the template's formats are what is checked.
func setDeployNATSEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../deploy/secrets/nats.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("nats.env.example: %q is not KEY=VALUE", line)
		}
		env[k] = v
		t.Setenv(k, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	return env
}

func TestDeployNATSConfParses(t *testing.T) {
	env := setDeployNATSEnv(t)
	opts, err := server.ProcessConfigFile(filepath.Join(deployNATSDir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "nats-1" {
		t.Errorf("server_name %q; want it from NATS_SERVER_NAME", opts.ServerName)
	}
	if !opts.JetStream || opts.StoreDir != "/data/jetstream" {
		t.Errorf("jetstream %v, store_dir %q; want enabled on /data/jetstream", opts.JetStream, opts.StoreDir)
	}
	if !opts.SyncAlways {
		t.Error("sync_interval is not always: JetStream would acknowledge writes it has not fsynced")
	}
	if opts.MaxPayload != events.MaxMessageSize {
		t.Errorf("max_payload %d; want %d (events.MaxMessageSize)", opts.MaxPayload, events.MaxMessageSize)
	}
	if opts.Cluster.Name != "mosaic" || opts.Cluster.Port != 6222 {
		t.Errorf("cluster %q on %d; want mosaic on 6222", opts.Cluster.Name, opts.Cluster.Port)
	}
	if opts.Cluster.Username != "route" || opts.Cluster.Password != env["NATS_ROUTE_PASSWORD"] {
		t.Errorf("cluster authorization %q/%q; want route and NATS_ROUTE_PASSWORD", opts.Cluster.Username, opts.Cluster.Password)
	}
	if len(opts.Routes) != 3 {
		t.Fatalf("%d routes from NATS_ROUTES; want 3", len(opts.Routes))
	}
	for i, r := range opts.Routes {
		pass, _ := r.User.Password()
		if want := fmt.Sprintf("nats-%d:6222", i+1); r.Host != want || r.User.Username() != "route" || pass != env["NATS_ROUTE_PASSWORD"] {
			t.Errorf("route %d: %s@%s; want route:NATS_ROUTE_PASSWORD@%s", i, r.User.Username(), r.Host, want)
		}
	}
	if opts.SystemAccount != "SYS" {
		t.Errorf("system_account %q; want SYS", opts.SystemAccount)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	if len(users) != 2 {
		t.Errorf("users %v; want sys and mosaic only (publishers.conf ships without publishers)", keys(users))
	}
	if u := users["mosaic"]; u == nil || u.Account == nil || u.Account.Name != "MOSAIC" || u.Password != env["MOSAIC_NATS_PASSWORD"] || u.Permissions != nil {
		t.Errorf("user mosaic: %+v; want MOSAIC_NATS_PASSWORD, account MOSAIC, no restriction", u)
	}
	if u := users["sys"]; u == nil || u.Account == nil || u.Account.Name != "SYS" {
		t.Errorf("user sys: %+v; want account SYS", u)
	}
}

// TestDeployNATSClusterAndPublisher starts three nodes from nats.conf (with the example publisher
// account included), on loopback ports and temporary stores: the only settings changed.
func TestDeployNATSClusterAndPublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	env := setDeployNATSEnv(t)
	dir := t.TempDir()
	conf, err := os.ReadFile(filepath.Join(deployNATSDir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(deployNATSDir, "publishers.example.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(example), examplePasswordPlaceholder) {
		t.Fatalf("publishers.example.conf has no password placeholder %s", examplePasswordPlaceholder)
	}
	const pubPassword = "publisher-secret"
	t.Setenv("TEST_PUBLISHER_PASSWORD", pubPassword)
	publishers := strings.Replace(string(example), examplePasswordPlaceholder, "$TEST_PUBLISHER_PASSWORD", 1)
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "publishers.conf"), []byte(publishers), 0o600); err != nil {
		t.Fatal(err)
	}

	// The publisher's permissions, as parsed.
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var pub *server.User
	for _, u := range opts.Users {
		if u.Username == "pub-"+exampleWS {
			pub = u
		}
	}
	if pub == nil || pub.Account == nil || pub.Account.Name != "WS-"+exampleWS || pub.Permissions == nil ||
		pub.Permissions.Publish == nil || pub.Permissions.Subscribe == nil {
		t.Fatalf("publisher user: %+v; want account WS-%s with permissions", pub, exampleWS)
	}
	if got := pub.Permissions.Publish.Allow; len(got) != 1 || got[0] != "mosaic.tasks.*."+exampleWS+".>" || len(pub.Permissions.Publish.Deny) != 0 {
		t.Errorf("publisher may publish %v (deny %v); want mosaic.tasks.*.%s.> only", got, pub.Permissions.Publish.Deny, exampleWS)
	}
	if got := pub.Permissions.Subscribe.Allow; len(got) != 1 || got[0] != "_INBOX.>" {
		t.Errorf("publisher may subscribe %v; want _INBOX.> only", got)
	}

	// Three nodes.
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://route:%s@127.0.0.1:%d", env["NATS_ROUTE_PASSWORD"], p))
	}
	var servers []*server.Server
	for i := range 3 {
		o, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
		if err != nil {
			t.Fatal(err)
		}
		o.ServerName = fmt.Sprintf("nats-%d", i+1)
		o.Host, o.Port = "127.0.0.1", -1
		o.HTTPHost, o.HTTPPort = "", 0
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", ports[i]
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		o.StoreDir = t.TempDir()
		o.NoSigs, o.NoLog = true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		// Generous: under the load of the other packages' tests (make test runs them at once), a
		// node once took over 10 s here.
		if !s.ReadyForConnections(45 * time.Second) {
			t.Fatalf("node %d did not start", i+1)
		}
		servers = append(servers, s)
	}
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	url := strings.Join(urls, ",")

	// Mosaic's processes: the MOSAIC account, full JetStream; the topology at R3.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var nc *nats.Conn
	var js jetstream.JetStream
	for {
		nc, js, err = events.Connect(ctx, events.ConnConfig{URL: url, User: "mosaic", Password: env["MOSAIC_NATS_PASSWORD"]})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("JetStream cluster not ready: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	defer nc.Close()
	for {
		_, err = events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{Replicas: 3}))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("topology at R3: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, name := range []string{events.TasksStream, events.CredentialsStream, events.KnowledgeStream, events.EventsStream, events.AdvisoriesStream} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info := st.CachedInfo()
		if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Name != "mosaic" {
			t.Errorf("%s: replicas %d, cluster %+v; want 3 in cluster mosaic", name, info.Config.Replicas, info.Cluster)
		}
	}

	assertPublisherConfined(t, ctx, url, "pub-"+exampleWS, pubPassword, exampleWS, nc, js)
}

// assertPublisherConfined checks a workspace's raw-NATS publisher (user, password) on the server
// at url, where Mosaic's own connection is nc/js with the topology applied and TASKS empty: it may
// publish its workspace's tasks, which land in TASKS, and nothing else; it cannot reach the
// JetStream API, subscribe to Mosaic's subjects, or see the inbox traffic of Mosaic's side.
func assertPublisherConfined(t *testing.T, ctx context.Context, url, user, password, ws string, nc *nats.Conn, js jetstream.JetStream) {
	t.Helper()
	// The publisher, with its inbox watched, and every asynchronous error it is sent.
	var mu sync.Mutex
	var asyncErrs []string
	pc, err := nats.Connect(url, nats.UserInfo(user, password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			asyncErrs = append(asyncErrs, err.Error())
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	inbox, err := pc.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	pjs, err := jetstream.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	envelope := []byte(`{"workspace_id":"` + ws + `","kind":"demo.echo","args":{"secret-of":"` + ws + `"}}`)
	own := "mosaic.tasks.p5." + ws + ".demo.echo"
	ack, err := pjs.Publish(ctx, own, envelope, jetstream.WithMsgID("t-1"))
	if err != nil {
		t.Fatalf("the publisher's own task: %v", err)
	}
	if ack.Stream != events.TasksStream {
		t.Errorf("acknowledged by %q; want %s", ack.Stream, events.TasksStream)
	}
	// A higher band and a kind over several tokens are its own too.
	if _, err := pjs.Publish(ctx, "mosaic.tasks.p1."+ws+".demo.steps", envelope); err != nil {
		t.Errorf("band p1, kind demo.steps: %v", err)
	}

	// Everything else is refused.
	for _, subject := range []string{
		"mosaic.tasks.p5." + otherWS + ".demo.echo",
		"mosaic.credentials." + ws + ".rotate",
		"mosaic.knowledge." + ws + ".index",
		"mosaic.events." + ws + ".task.succeeded",
		"mosaic.schedules.tasks." + ws + ".x",
		"mosaic.control.tasks.cancel." + ws + ".x",
	} {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := pjs.Publish(pctx, subject, envelope)
		pcancel()
		if err == nil {
			t.Errorf("publish to %s was acknowledged; want refused", subject)
		}
	}
	if _, err := pc.Request("$JS.API.INFO", nil, time.Second); err == nil {
		t.Error("the publisher reached the JetStream API")
	}
	if _, err := pc.SubscribeSync("mosaic.>"); err != nil {
		t.Fatal(err)
	}
	if err := pc.Flush(); err != nil {
		t.Fatal(err)
	}

	// Only the two own tasks are in the stream.
	tasks, err := js.Stream(ctx, events.TasksStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := tasks.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 || len(info.State.Subjects) != 2 || info.State.Subjects[own] != 1 {
		t.Errorf("TASKS holds %d messages on %v; want the publisher's two", info.State.Msgs, info.State.Subjects)
	}

	// A worker pulls the task: the delivery goes to the worker's inbox, which the publisher, in
	// another account, does not see although it listens on _INBOX.>.
	cons, err := js.CreateOrUpdateConsumer(ctx, events.TasksStream, jetstream.ConsumerConfig{Durable: "deploy-test", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		_ = m.Ack()
	}
	if n != 2 {
		t.Errorf("the worker pulled %d messages; want 2", n)
	}
	if err := nc.Publish("_INBOX.mosaic-side", []byte("not for publishers")); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	time.Sleep(500 * time.Millisecond)
	for {
		m, err := inbox.NextMsg(10 * time.Millisecond)
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if errors.Is(err, nats.ErrNoResponders) {
			continue // a status message, not data
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m.Data), "secret-of") || strings.Contains(string(m.Data), "not for publishers") {
			t.Errorf("the publisher saw the MOSAIC account's inbox traffic on %s: %s", m.Subject, m.Data)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(asyncErrs, "\n")
	if !strings.Contains(joined, `Permissions Violation for Subscription to "mosaic.>"`) {
		t.Errorf("subscribing to mosaic.> was not refused; the publisher's errors:\n%s", joined)
	}
	if !strings.Contains(joined, `Permissions Violation for Publish to "mosaic.tasks.p5.`+otherWS) {
		t.Errorf("publishing another workspace's task was not refused as a permission; the publisher's errors:\n%s", joined)
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
