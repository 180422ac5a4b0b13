package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
	"github.com/mosaicstack/mosaic/store/localpg"
)

// Two full instances — two `mosaic dev` processes, each with its own embedded NATS, JetStream and
// PostgreSQL cluster — linked by a NATS leafnode: connect and accept, a federated search labelled
// by instance, requests outside the grant refused, a frozen peer reported in a partial answer,
// then disconnect, after which nothing of the peer is left in either database. A third instance
// in the test itself (its own identity, database and federation server) sends what no honest
// instance would: forged, replayed, stale and credential-seeking messages.
func TestFederationBetweenTwoInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dirA, dirB := filepath.Join(t.TempDir(), "work"), filepath.Join(t.TempDir(), "home")
	a := startDev(t, dirA, "--instance-name", "work", "--federation-listen", "127.0.0.1:0", "--federation-timeout", "2s")
	b := startDev(t, dirB, "--instance-name", "home", "--federation-listen", "127.0.0.1:0")
	run := func(dir string, env []string, args ...string) result {
		t.Helper()
		return runMosaic(t, env, append(args, "--data-dir", dir)...)
	}
	must := func(r result, what string) string {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", what, r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	apiKey := regexp.MustCompile(`api key\s+(\S+)`)

	// Each instance: a workspace "notes" with an entry about rollbacks; home also has "diary".
	must(run(dirA, nil, "workspaces", "create", "notes"), "workspaces create on work")
	must(run(dirB, nil, "workspaces", "create", "notes"), "workspaces create on home")
	diaryKey := apiKey.FindStringSubmatch(must(run(dirB, nil, "workspaces", "create", "diary"), "create diary"))[1]
	importEntry(t, dirA, nil, "rollback-at-work", "Rollback at work", "Undo a bad deploy with kubectl rollout undo.")
	importEntry(t, dirB, nil, "rollback-at-home", "Rollback at home", "Roll the home server back to last night's snapshot.")
	importEntry(t, dirB, []string{"MOSAIC_API_KEY=" + diaryKey}, "diary-rollback", "Diary rollback", "A rollback the diary keeps to itself.")
	waitFor(t, "home's entry indexed", func() bool {
		return strings.Contains(run(dirB, nil, "knowledge", "search", "rollback", "--mode", "fulltext").stdout, "rollback-at-home")
	})
	waitFor(t, "work's entry indexed", func() bool {
		return strings.Contains(run(dirA, nil, "knowledge", "search", "rollback", "--mode", "fulltext").stdout, "rollback-at-work")
	})
	idA, idB := identityOf(t, a.server), identityOf(t, b.server)

	// work asks; home sees the request with work's key, and accepts it for "notes" only.
	if r := run(dirA, nil, "federation", "connect", b.server, "--expect-key", idA.PublicKey); r.code == 0 || !strings.Contains(r.stderr, "not the expected") {
		t.Fatalf("connect expecting another key: %d %s", r.code, r.stderr)
	}
	out := must(run(dirA, nil, "federation", "connect", b.server), "connect")
	if !strings.Contains(out, "asked home") || !strings.Contains(out, idB.PublicKey) {
		t.Fatalf("connect:\n%s", out)
	}
	out = must(run(dirB, nil, "federation", "list"), "list on home")
	if !regexp.MustCompile(`work\s+incoming\s+pending\s+down\s+` + idA.PublicKey).MatchString(out) {
		t.Fatalf("home's list does not show work's pending request with its key:\n%s", out)
	}
	// A request is accepted by its key, never by the name (or id) anyone may claim.
	if r := run(dirB, nil, "federation", "accept", "work", "--workspace", "notes", "--grant", "knowledge.search"); r.code == 0 || !strings.Contains(r.stderr, "by its key") {
		t.Fatalf("accept by name: %d %s", r.code, r.stderr)
	}
	workKey := idA.PublicKey[:federation.MinKeyRef]
	if r := run(dirB, nil, "federation", "accept", workKey, "--workspace", "notes", "--grant", "credentials.read"); r.code == 0 || !strings.Contains(r.stderr, "credentials are never federated") {
		t.Fatalf("a grant of credentials: %d %s", r.code, r.stderr)
	}
	// The same over HTTP, past the CLI's own check: refused, and work stays pending.
	token, err := os.ReadFile(filepath.Join(dirB, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, b.server+"/v1/federation/peers/"+idA.PublicKey+"/accept",
		strings.NewReader(`{"grants":[{"workspace":"notes","capabilities":["knowledge.search","credentials.read"]}]}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "credentials are never federated") ||
		!regexp.MustCompile(`work\s+incoming\s+pending`).MatchString(run(dirB, nil, "federation", "list").stdout) {
		t.Fatalf("accept with a credentials grant over HTTP: %d %s", resp.StatusCode, body)
	}
	must(run(dirB, nil, "federation", "accept", workKey, "--workspace", "notes", "--grant", "knowledge.search",
		"--grant", "knowledge.read", "--grant", "tasks.read", "--grant", "tasks.publish:demo.echo", "--grant", "events.subscribe"), "accept")
	waitFor(t, "work sees the acceptance and links", func() bool {
		return regexp.MustCompile(`home\s+outgoing\s+accepted\s+up`).MatchString(run(dirA, nil, "federation", "list").stdout)
	})

	// A federated search: work's hit and home's, each labelled; home's diary is not granted.
	var fs struct {
		Results []federation.LabelledHit `json:"items"`
		Partial bool                     `json:"partial"`
	}
	waitFor(t, "a federated search reaches home", func() bool {
		r := run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext", "-o", "json")
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &fs) == nil && len(fs.Results) == 2
	})
	labels := map[string]string{}
	for _, h := range fs.Results {
		labels[h.Slug] = h.Instance + "/" + h.Workspace
	}
	if labels["rollback-at-work"] != "work/notes" || labels["rollback-at-home"] != "home/notes" || fs.Partial {
		t.Fatalf("federated search: %+v", fs)
	}
	out = must(run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext"), "federated search")
	if !regexp.MustCompile(`home\s+notes\s+rollback-at-home`).MatchString(out) || !strings.Contains(out, "instances: work ok; home ok") {
		t.Fatalf("federated search, text:\n%s", out)
	}

	// Within the grant: a demo.echo published on home runs there, its events reach work's
	// federated event stream, and it shows in the federated task list.
	follow := exec.Command(mosaicBin, "events", "--federated", "--for", "6s", "--data-dir", dirA)
	follow.Env = cleanEnv()
	var followed bytes.Buffer
	follow.Stdout, follow.Stderr = &followed, &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the stream subscribes before the task is published
	out = must(run(dirA, nil, "publish", "--instance", "home", "--kind", "demo.echo", "--args", `{"from":"work"}`), "publish on home")
	remoteTask := strings.Fields(out)[0]
	if err := follow.Wait(); err != nil {
		t.Fatalf("mosaic events: %v\n%s", err, followed.String())
	}
	if !strings.Contains(followed.String(), "instance home ok") ||
		!regexp.MustCompile(`home\s+notes\s+task.succeeded\s+`+remoteTask+`\s+demo.echo`).MatchString(followed.String()) {
		t.Fatalf("work's federated event stream:\n%s", followed.String())
	}
	waitFor(t, "the task published on home succeeds there", func() bool {
		return regexp.MustCompile(`home\s+notes\s+` + remoteTask + `\s+demo.echo\s+succeeded`).MatchString(run(dirA, nil, "tasks", "list", "--federated").stdout)
	})
	// One entry and one task of home, read from work.
	if out := must(run(dirA, nil, "tasks", "get", remoteTask, "--instance", "home"), "tasks get on home"); !strings.Contains(out, "status    succeeded") ||
		!strings.Contains(out, "(on home, workspace notes)") {
		t.Fatalf("tasks get on home:\n%s", out)
	}
	if out := must(run(dirA, nil, "knowledge", "get", "rollback-at-home", "--instance", "home"), "knowledge get on home"); !strings.Contains(out, "last night's snapshot") {
		t.Fatalf("knowledge get on home:\n%s", out)
	}
	if r := run(dirA, nil, "knowledge", "get", "diary-rollback", "--instance", "home", "--peer-workspace", "diary"); r.code == 0 ||
		!strings.Contains(r.stderr, `no grant of knowledge.read in workspace "diary"`) {
		t.Fatalf("knowledge get in home's diary: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// Rotation work on home is never shown to work, whatever its grant.
	var cred struct {
		ID string `json:"id"`
	}
	credOut := must(runMosaicIn(t, "s3cr3t-value\n", nil, "credentials", "put", "vault", "--provider", "random", "-o", "json", "--data-dir", dirB), "credentials put")
	if err := json.Unmarshal([]byte(credOut), &cred); err != nil {
		t.Fatalf("credentials put: %v %s", err, credOut)
	}
	rotation := strings.Fields(must(run(dirB, nil, "credentials", "rotate", cred.ID, "--agent"), "rotate"))[2]
	waitFor(t, "home lists its rotation task", func() bool {
		return strings.Contains(run(dirB, nil, "tasks", "list", "--internal").stdout, rotation)
	})
	if out := must(run(dirA, nil, "tasks", "list", "--federated", "-o", "json"), "federated list"); strings.Contains(out, rotation) || strings.Contains(out, "credentials.") {
		t.Fatalf("a rotation task of home reached work:\n%s", out)
	}
	// Asked for by its kind (a list without a kind leaves the system's own tasks out anyway).
	if r := run(dirA, nil, "tasks", "list", "--federated", "--kind", credrotate.KindRotateSecret, "-o", "json"); strings.Contains(r.stdout, rotation) {
		t.Fatalf("a rotation task of home reached work when asked for by kind:\n%s", r.stdout)
	}

	// Outside it: another kind, another workspace.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "--instance", "home", "--kind", "demo.steps"}, "grants you no tasks.publish:demo.steps"},
		{[]string{"publish", "--instance", "home", "--kind", "demo.echo", "--peer-workspace", "diary"}, `no grant of tasks.publish:demo.echo in workspace "diary"`},
	} {
		if r := run(dirA, nil, c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("%v: exit %d, %s; want a refusal saying %q", c.args, r.code, r.stderr, c.want)
		}
	}

	probeWithForgeries(t, ctx, run, dirA, dirB, a.server, b.server, idB)

	// work restarts: its link to home comes back from what it stored (home's key, leafnode URL).
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	a = startDev(t, dirA, "--instance-name", "work", "--federation-listen", "127.0.0.1:0", "--federation-timeout", "2s")
	waitFor(t, "work's link to home after its restart", func() bool {
		r := run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext")
		return r.code == 0 && strings.Contains(r.stdout, "rollback-at-home")
	})

	// home revokes work's grant in notes: at once, work's search says home refused; granted
	// again, home answers again.
	must(run(dirB, nil, "federation", "revoke", "work", "--workspace", "notes"), "revoke")
	r := run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext")
	if r.code != 0 || strings.Contains(r.stdout, "rollback-at-home") || !strings.Contains(r.stdout, "home refused (this instance grants you no knowledge.search)") ||
		!strings.Contains(r.stdout, "partial answer") {
		t.Fatalf("search after the revoke: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	must(run(dirB, nil, "federation", "grant", "work", "--workspace", "notes", "--grant", "knowledge.search"), "grant again")
	if r = run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext"); !strings.Contains(r.stdout, "rollback-at-home") {
		t.Fatalf("search after the grant again:\n%s\n%s", r.stdout, r.stderr)
	}

	// home frozen mid-request: work answers with its own results and says home did not.
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r = run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext")
	_ = b.cmd.Process.Signal(syscall.SIGCONT)
	if r.code != 0 || !strings.Contains(r.stdout, "rollback-at-work") || strings.Contains(r.stdout, "rollback-at-home") ||
		!strings.Contains(r.stdout, "home timeout") || !strings.Contains(r.stdout, "partial answer") {
		t.Fatalf("search with home frozen: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Both sides count what they asked and served, by operation and outcome (no peer names).
	for server, series := range map[string][]string{
		a.server: {`mosaic_federation_requests_total{direction="asked",op="knowledge.search",outcome="ok"}`,
			`mosaic_federation_requests_total{direction="asked",op="knowledge.search",outcome="refused"}`,
			`mosaic_federation_requests_total{direction="asked",op="knowledge.search",outcome="timeout"}`},
		b.server: {`mosaic_federation_requests_total{direction="served",op="knowledge.search",outcome="ok"}`,
			`mosaic_federation_requests_total{direction="served",op="knowledge.search",outcome="refused"}`,
			`mosaic_federation_requests_total{direction="served",op="other",outcome="unauthenticated"}`},
	} {
		text := metricsText(t, server)
		for _, want := range series {
			if !strings.Contains(text, want) {
				t.Errorf("%s/metrics lacks %s", server, want)
			}
		}
		if strings.Contains(text, "home") || strings.Contains(text, "probe") {
			t.Errorf("%s/metrics names a peer", server)
		}
	}

	// Before the disconnect, each database knows the other instance (the scan below can see it).
	if len(pgtest.FindWith(t, devDatabase(t, dirA), idB.PublicKey)) == 0 || len(pgtest.FindWith(t, devDatabase(t, dirB), idA.ID.String())) == 0 {
		t.Fatal("the peers' records are not found before the disconnect: the scan sees nothing")
	}

	// work disconnects: home is told and forgets work; work's requests fail from then on.
	out = must(run(dirA, nil, "federation", "disconnect", "home"), "disconnect")
	if !strings.Contains(out, "it was told and forgot this instance too") {
		t.Fatalf("disconnect: %s", out)
	}
	if r := run(dirA, nil, "publish", "--instance", "home", "--kind", "demo.echo"); r.code == 0 {
		t.Fatal("publishing on home after the disconnect worked")
	}
	out = must(run(dirA, nil, "knowledge", "search", "rollback", "--federated", "--mode", "fulltext"), "search after disconnect")
	if strings.Contains(out, "home") {
		t.Fatalf("a search after the disconnect still reaches home:\n%s", out)
	}
	if out = must(run(dirB, nil, "federation", "list"), "home's list"); strings.Contains(out, "work") {
		t.Fatalf("home still lists work:\n%s", out)
	}

	// Nothing of home is left in work's database, in any column of any table; nothing of work in
	// home's but the task work published there, which is home's own record of the work it ran.
	for _, needle := range []string{idB.ID.String(), idB.PublicKey, "Rollback at home", b.server} {
		if found := pgtest.FindWith(t, devDatabase(t, dirA), needle); len(found) > 0 {
			t.Errorf("work's database still holds %q of home in %v", needle, found)
		}
	}
	for _, needle := range []string{idA.ID.String(), idA.PublicKey, "Rollback at work"} {
		if found := pgtest.FindWith(t, devDatabase(t, dirB), needle); len(found) > 0 {
			t.Errorf("home's database still holds %q of work in %v", needle, found)
		}
	}
}

// probeWithForgeries connects a third instance, run by the test, to home; home accepts it. It
// then sends what home must refuse, and is itself rejected by work.
func probeWithForgeries(t *testing.T, ctx context.Context, run func(string, []string, ...string) result, dirA, dirB, serverA, serverB string, home federation.Identity) {
	t.Helper()
	probe, hub, node := startProbe(t, "probe")
	if _, err := node.Connect(ctx, serverB, home.PublicKey); err != nil {
		t.Fatal(err)
	}
	if r := run(dirB, nil, "federation", "accept", probe.PublicKey, "--workspace", "notes", "--grant", "knowledge.search", "--grant", "tasks.publish:*"); r.code != 0 {
		t.Fatalf("accept probe: %s", r.stderr)
	}
	waitFor(t, "the probe's link to home", func() bool {
		node.CheckRequests(ctx)
		p, err := node.Peer(ctx, "home")
		return err == nil && p.Connected
	})
	nc := hub.Conn(home.ID)
	// send returns home's answer and whether it was signed: a signed answer must be a REPLY to
	// this very request; an answer to a request that did not verify must be unsigned (home signs
	// nothing over fields it has not verified).
	sendSigned := func(e *federation.Envelope) (federation.Reply, bool) {
		t.Helper()
		data, _ := json.Marshal(e)
		var m []byte
		for i := 0; ; i++ { // interest crosses the fresh leafnode shortly after it is up
			msg, err := nc.Request(federation.Subject(home.ID), data, 5*time.Second)
			if err == nil {
				m = msg.Data
				break
			}
			if i == 50 {
				t.Fatalf("request to home: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var env federation.Envelope
		var rep federation.Reply
		if err := json.Unmarshal(m, &env); err != nil || env.Signature == "" {
			if json.Unmarshal(m, &rep) != nil || rep.Error == nil {
				t.Fatalf("home's unsigned answer: %s", m)
			}
			return rep, false
		}
		if env.Type != federation.TypeReply || env.Re != e.Nonce || json.Unmarshal(env.Body, &rep) != nil {
			t.Fatalf("home's signed answer is not a REPLY to this request: %s", m)
		}
		return rep, true
	}
	send := func(e *federation.Envelope) federation.Reply {
		t.Helper()
		rep, _ := sendSigned(e)
		return rep
	}
	signed := func(signer *federation.Self, typ string, req federation.Request, at time.Time) *federation.Envelope {
		t.Helper()
		body, _ := json.Marshal(req)
		e := &federation.Envelope{Type: typ, To: home.ID, Body: body}
		if err := signer.Sign(e, at); err != nil {
			t.Fatal(err)
		}
		return e
	}
	search := federation.Request{Op: "knowledge.search", Params: json.RawMessage(`{"query":"rollback","mode":"fulltext"}`)}

	good := signed(probe, federation.TypeQuery, search, time.Now())
	if rep := send(good); rep.Error != nil || !strings.Contains(string(rep.Result), "rollback-at-home") || strings.Contains(string(rep.Result), "diary") {
		t.Fatalf("the probe's search: %+v %s", rep.Error, rep.Result)
	}
	mallory, _, _ := startProbe(t, "mallory")
	forged := signed(mallory, federation.TypeQuery, search, time.Now())
	forged.From = probe.ID // mallory's signature, the probe's name
	stale := signed(probe, federation.TypeQuery, search, time.Now().Add(-2*time.Minute))
	cases := []struct {
		name string
		env  *federation.Envelope
		code string
		want string
	}{
		{"replayed nonce", good, federation.CodeUnauthenticated, "nonce was seen already"},
		{"forged signature", forged, federation.CodeUnauthenticated, "does not verify"},
		{"expired timestamp", stale, federation.CodeUnauthenticated, "outside the accepted window"},
		{"another workspace", signed(probe, federation.TypeQuery, federation.Request{Op: "knowledge.search", Workspace: "diary", Params: search.Params}, time.Now()),
			federation.CodeRefused, `no grant of knowledge.search in workspace "diary"`},
		{"outside the grant", signed(probe, federation.TypeQuery, federation.Request{Op: "tasks.list"}, time.Now()), federation.CodeRefused, "grants you no tasks.read"},
		{"credentials by name", signed(probe, federation.TypeQuery, federation.Request{Op: "credentials.list"}, time.Now()), federation.CodeRefused, "credentials are never federated"},
		{"a task that opens a credential", signed(probe, federation.TypeCommand, federation.Request{Op: "tasks.publish",
			Params: json.RawMessage(`{"kind":"demo.credentials","credentials":["github"]}`)}, time.Now()), federation.CodeRefused, "credentials are never federated"},
		{"events outside the grant", signed(probe, federation.TypeQuery, federation.Request{Op: "events.subscribe", Params: json.RawMessage(`{"id":"` + uuid.NewString() + `"}`)}, time.Now()),
			federation.CodeRefused, "grants you no events.subscribe"},
		{"a rotation job", signed(probe, federation.TypeCommand, federation.Request{Op: "tasks.publish",
			Params: json.RawMessage(`{"kind":"credentials.rotate"}`)}, time.Now()), federation.CodeRefused, "no peer publishes them"},
	}
	pub := signed(probe, federation.TypeCommand, federation.Request{Op: "tasks.publish",
		Params: json.RawMessage(`{"kind":"demo.echo","idempotency_key":"nightly"}`)}, time.Now())
	if rep := send(pub); rep.Error != nil {
		t.Fatalf("the probe's publish: %+v", rep.Error)
	}
	waitFor(t, "the probe's task in its own idempotency space", func() bool {
		return strings.Contains(run(dirB, nil, "tasks", "list", "-o", "json").stdout, `"federation:`+probe.ID.String()+`:nightly"`)
	})
	for _, c := range cases {
		rep, wasSigned := sendSigned(c.env)
		if rep.Error == nil || rep.Error.Code != c.code || !strings.Contains(rep.Error.Message, c.want) {
			t.Errorf("%s: %+v %s; want %s %q", c.name, rep.Error, rep.Result, c.code, c.want)
		}
		if verified := c.code != federation.CodeUnauthenticated; wasSigned != verified {
			t.Errorf("%s: answer signed %v; want signed only for a request that verified", c.name, wasSigned)
		}
	}
	// A signing oracle, closed: a signed DISCONNECT addressed to a third instance, or a REPLY, sent
	// as a request, gets no signature of home's back.
	third := &federation.Envelope{Type: federation.TypeDisconnect, To: uuid.New()}
	if err := probe.Sign(third, time.Now()); err != nil {
		t.Fatal(err)
	}
	asReply := &federation.Envelope{Type: federation.TypeReply, To: home.ID, Body: json.RawMessage(`{}`), Re: good.Nonce}
	if err := probe.Sign(asReply, time.Now()); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]*federation.Envelope{"a DISCONNECT for a third instance": third, "a REPLY as a request": asReply} {
		if rep, wasSigned := sendSigned(e); wasSigned || rep.Error == nil {
			t.Errorf("%s: signed answer %v, %+v; want an unsigned refusal", name, wasSigned, rep)
		}
	}

	// Severance from the accepting side: home disconnects the probe, which is told and forgets home;
	// the probe's requests fail from then on.
	if r := run(dirB, nil, "federation", "disconnect", "probe"); r.code != 0 || !strings.Contains(r.stdout, "it was told and forgot this instance too") {
		t.Fatalf("home disconnects the probe: %d %s %s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, "the probe to forget home and close its link", func() bool {
		_, err := node.Peer(ctx, "home")
		return errors.Is(err, store.ErrNotFound) && hub.Conn(home.ID) == nil
	})

	// The probe asks work too; work's admin rejects it, and the probe learns so.
	if _, err := node.Connect(ctx, serverA, ""); err != nil {
		t.Fatal(err)
	}
	if r := run(dirA, nil, "federation", "reject", "probe"); r.code != 0 {
		t.Fatalf("reject: %s", r.stderr)
	}
	node.CheckRequests(ctx)
	if p, err := node.Peer(ctx, "work"); err != nil || p.Status != federation.StatusRejected || p.Connected {
		t.Fatalf("the probe's view of work after the rejection: %+v %v", p, err)
	}
}

// startProbe starts an instance inside the test: an identity in a database of its own, a
// federation server and a node.
func startProbe(t *testing.T, name string) (*federation.Self, *federation.Hub, *federation.Node) {
	t.Helper()
	ctx := context.Background()
	db, _ := pgtest.FreshDB(t)
	kr, err := keyring.Open(filepath.Join(t.TempDir(), "keyring.json"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.CreateKey(ctx, crypto.KeyFederation); err != nil {
		t.Fatal(err)
	}
	self, err := federation.LoadOrCreate(ctx, db, kr, name)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := federation.StartHub(self, federation.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	node, err := federation.StartNode(ctx, federation.NodeConfig{Self: self, Hub: hub, DB: db, HTTPURL: "http://127.0.0.1:9", PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	return self, hub, node
}

// importEntry imports one knowledge entry into a `mosaic dev`'s workspace.
func importEntry(t *testing.T, dataDir string, env []string, slug, title, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, slug+".md"), []byte("---\ntitle: "+title+"\n---\n"+body+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runMosaic(t, env, "knowledge", "import", dir, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("import %s: %s", slug, r.stderr)
	}
}

func identityOf(t *testing.T, server string) federation.Identity {
	t.Helper()
	r := runMosaic(t, nil, "federation", "identity", "--server", server, "-o", "json")
	var id federation.Identity
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &id) != nil || id.ID == uuid.Nil {
		t.Fatalf("federation identity: %d %s %s", r.code, r.stdout, r.stderr)
	}
	return id
}

// devDatabase is a superuser's URL of a `mosaic dev`'s database (its local cluster's superuser).
func devDatabase(t *testing.T, dataDir string) string {
	t.Helper()
	var info struct {
		DatabaseURL string `json:"database_url"`
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "dev.json"))
	if err != nil || json.Unmarshal(b, &info) != nil {
		t.Fatalf("dev.json: %v", err)
	}
	pw, err := os.ReadFile(filepath.Join(dataDir, "pg", "superuser.password"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(info.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(localpg.Superuser, strings.TrimSpace(string(pw)))
	return u.String()
}

func metricsText(t *testing.T, server string) string {
	t.Helper()
	resp, err := http.Get(server + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAnUnsignedNotFoundRejectsNothing: a requested peer whose status answer is an unsigned
// "not found" (what anybody between the two could send) is still requested; only the peer's
// signed answer that it rejected the request marks it rejected (TestFederationBetweenTwoInstances).
func TestAnUnsignedNotFoundRejectsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ghost, _, _ := startProbe(t, "ghost")
	id := ghost.Identity
	id.LeafURL = "nats://127.0.0.1:1"
	signedID, err := ghost.SignIdentity(id)
	if err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/federation/identity":
			_ = json.NewEncoder(w).Encode(signedID)
		case "/federation/connect":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"pending"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such peer"}}`))
		}
	}))
	t.Cleanup(fake.Close)
	_, _, node := startProbe(t, "asker")
	if _, err := node.Connect(ctx, fake.URL, ghost.PublicKey); err != nil {
		t.Fatal(err)
	}
	node.CheckRequests(ctx)
	if p, err := node.Peer(ctx, "ghost"); err != nil || p.Status != federation.StatusRequested {
		t.Fatalf("after an unsigned not-found: %+v %v; want still requested", p, err)
	}
}
