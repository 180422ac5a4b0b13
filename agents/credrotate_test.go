package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// rotWorld is a bundle running the rotation agent on the CREDENTIALS stream with a keyring of
// its own; a step armed in crashAt ends the attempt there once, as a crash would.
type rotWorld struct {
	*testBundle
	creds   *credentials.Vault
	logs    *syncBuffer
	crashAt atomic.Value // string
	crashed atomic.Int32
}

func newRotWorld(t *testing.T, db *store.DB, cfg credrotate.Config) *rotWorld {
	t.Helper()
	w := &rotWorld{logs: &syncBuffer{}}
	w.crashAt.Store("")
	log := zerolog.New(io.MultiWriter(w.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	w.creds = &credentials.Vault{DB: db, Cipher: newKeyring(t, &log)}
	cfg.Credentials, cfg.Logger = w.creds, &log
	cfg.AfterStep = func(step string) error {
		if w.crashAt.CompareAndSwap(step, "") {
			w.crashed.Add(1)
			return errors.New("killed after step " + step)
		}
		return nil
	}
	w.testBundle = setupOn(t, db, func(r *agents.Registry) { credrotate.Register(r, cfg) })
	w.pool(t, agents.PoolConfig{Stream: events.CredentialsStream, Concurrency: 2, Credentials: w.creds, Logger: &log})
	return w
}

func (w *rotWorld) put(t *testing.T, ws, user uuid.UUID, p credentials.Spec, value string) store.Credential {
	t.Helper()
	if p.Scope == "" && user == uuid.Nil {
		p.Scope = store.ScopeWorkspace
	}
	p.Value = crypto.NewSecret([]byte(value))
	c, err := w.creds.Put(context.Background(), ws, user, p)
	if err != nil {
		t.Fatalf("put %s: %v", p.Name, err)
	}
	return c
}

// open decrypts a credential's current and previous values.
func (w *rotWorld) open(t *testing.T, ws, user, id uuid.UUID) (current, previous string, cts store.Ciphertexts) {
	t.Helper()
	ctx := context.Background()
	cts, err := w.db.CredentialCiphertexts(ctx, ws, user, id)
	if err != nil {
		t.Fatal(err)
	}
	read := func(ct string) string {
		s, err := w.creds.Open(ctx, ws, id, ct)
		if err != nil {
			t.Fatalf("open %s: %v", id, err)
		}
		defer s.Wipe()
		var v string
		_ = s.Use(func(b []byte) error { v = string(b); return nil })
		return v
	}
	current = read(cts.Current)
	if cts.Previous != nil {
		previous = read(*cts.Previous)
	}
	return current, previous, cts
}

func login(dsn, password string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.Password = password
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// TestRotationKilledAtEachStepResumes rotates a real PostgreSQL role's password with the
// postgres provider, killing the rotation once after each step (staged, set at the server,
// tested, promoted) before its checkpoint: the retry resumes, the role logs in with the new
// password and not the old, the old one stays as previous, nothing is left pending, and neither
// password is in PostgreSQL's tables, on the NATS wire or in the logs.
func TestRotationKilledAtEachStepResumes(t *testing.T) {
	w := newRotWorld(t, pgtest.DB(t), credrotate.Config{})
	tap := eventstest.NewTap(t, w.nc)
	var seen []string
	for _, step := range []string{"staged", "set", "tested", "done"} {
		t.Run(step, func(t *testing.T) {
			initial := plant("pw-")
			dsn := pgtest.LoginRole(t, initial)
			cred := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "db-" + step, Type: store.CredentialPassword,
				Provider: "postgres", Metadata: map[string]string{"dsn": dsn}}, initial)
			before := w.crashed.Load()
			w.crashAt.Store(step)
			id := w.publish(t, agents.TaskSpec{Kind: credrotate.KindRotateSecret, Args: credrotate.RotateSecretArgs{CredentialID: cred.ID}})
			task := w.wait(t, id, store.StatusSucceeded, 30*time.Second)
			if w.crashed.Load() != before+1 || task.Attempt != 2 {
				t.Fatalf("crashes %d, attempts %d; want one crash after %s and a second attempt", w.crashed.Load()-before, task.Attempt, step)
			}
			if res := decode[credrotate.SecretResult](t, task.Result); res.Version != 2 || res.CredentialID != cred.ID {
				t.Fatalf("result %+v; want version 2", res)
			}
			current, previous, cts := w.open(t, w.ws, uuid.Nil, cred.ID)
			if current == initial || previous != initial || cts.Pending != nil {
				t.Fatalf("after rotation: current is the old value %v, previous is the old value %v, pending %v",
					current == initial, previous == initial, cts.Pending != nil)
			}
			if err := login(dsn, current); err != nil {
				t.Fatalf("the role does not log in with the new password: %v", err)
			}
			if err := login(dsn, initial); err == nil {
				t.Fatal("the role still logs in with the old password")
			}
			seen = append(seen, initial, current)
		})
	}
	if len(tap.Find([]byte(credrotate.KindRotateSecret))) == 0 {
		t.Fatal("the tap saw no rotation task: it would prove nothing")
	}
	for _, secret := range seen {
		if where := pgtest.FindInDatabase(t, secret); len(where) != 0 {
			t.Errorf("a password is in PostgreSQL: %v", where)
		}
		if where := tap.Find([]byte(secret)); len(where) != 0 {
			t.Errorf("a password went over NATS: %v", where)
		}
		if strings.Contains(string(w.logs.Bytes()), secret) {
			t.Error("a password is in the log")
		}
	}
}

// fakeService is a service whose API key the http provider rotates.
type fakeService struct {
	mu        sync.Mutex
	value     string
	initial   string
	acceptNew bool // whether a value other than the initial one works
	sets      int
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/set":
		var body struct{ Name, Value string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Value == "" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		f.value = body.Value
		f.sets++
	case "/test":
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key != f.value || (!f.acceptNew && key != f.initial) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		}
	default:
		http.NotFound(w, r)
	}
}

// TestHTTPRotation: with the http provider a rotation killed after the value was set resumes
// and promotes it; a new value that fails its test is taken back at the service (the old one
// works again), dropped from the row, and the task goes to the dead letters.
func TestHTTPRotation(t *testing.T) {
	w := newRotWorld(t, pgtest.DB(t), credrotate.Config{HTTPAllow: []string{"127.0.0.1/32"}}) // the test services listen on loopback
	for _, accept := range []bool{true, false} {
		initial := plant("key-")
		svc := &fakeService{value: initial, initial: initial, acceptNew: accept}
		srv := httptest.NewServer(svc)
		t.Cleanup(srv.Close)
		cred := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "svc-" + map[bool]string{true: "ok", false: "bad"}[accept],
			Type: store.CredentialAPIKey, Provider: "http", Metadata: map[string]string{"set_url": srv.URL + "/set", "test_url": srv.URL + "/test"}}, initial)
		w.crashAt.Store("set")
		id := w.publish(t, agents.TaskSpec{Kind: credrotate.KindRotateSecret, Args: credrotate.RotateSecretArgs{CredentialID: cred.ID}})
		current, _, cts := func() (string, string, store.Ciphertexts) {
			if accept {
				w.wait(t, id, store.StatusSucceeded, 30*time.Second)
			} else {
				task := w.wait(t, id, store.StatusDead, 30*time.Second)
				if !strings.Contains(deref(task.LastError), "failed its test; the old one is back in place") {
					t.Fatalf("last error %q", deref(task.LastError))
				}
			}
			return w.open(t, w.ws, uuid.Nil, cred.ID)
		}()
		svc.mu.Lock()
		value, sets := svc.value, svc.sets
		svc.mu.Unlock()
		switch {
		case accept && (current == initial || value != current || sets != 2):
			t.Fatalf("accepted rotation: service holds the stored value %v, sets %d (the crash after set repeats it once)", value == current, sets)
		case !accept && (current != initial || value != initial || cts.Pending != nil || sets != 3):
			t.Fatalf("failed rotation: stored value kept %v, service has the old value back %v, pending dropped %v, sets %d",
				current == initial, value == initial, cts.Pending == nil, sets)
		}
	}
}

// TestSchedulerRotatesDueCredentialsAndRaisesExpiryEvents: a credential whose policy is due is
// rotated (once: a second pass publishes nothing), one not due is left alone, and expiring and
// expired credentials raise credential.expiring and credential.expired, once each.
func TestSchedulerRotatesDueCredentialsAndRaisesExpiryEvents(t *testing.T) {
	db, _ := pgtest.FreshDB(t) // the scheduler walks every workspace
	w := newRotWorld(t, db, credrotate.Config{})
	ctx := context.Background()
	alice, err := db.AddMember(ctx, w.ws, "alice", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	due := w.put(t, w.ws, alice, credentials.Spec{Name: "due", Provider: "random", RotationPolicy: "every 1h"}, plant("v-"))
	fresh := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "fresh", Provider: "random", RotationPolicy: "every 1h"}, plant("v-"))
	soon, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "expiring", ExpiresAt: &soon}, plant("v-"))
	w.put(t, w.ws, alice, credentials.Spec{Name: "expired", ExpiresAt: &past}, plant("v-"))
	err = db.InWorkspaceAs(ctx, w.ws, alice, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE user_credentials SET created_at = now() - interval '2 hours' WHERE workspace_id = $1 AND id = $2`, w.ws, due.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sched := &credrotate.Scheduler{DB: db, Client: w.client}
	evs, err := w.js.OrderedConsumer(ctx, events.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.EventSubject(w.ws, "credential.>")}})
	if err != nil {
		t.Fatal(err)
	}
	for pass := range 2 {
		if err := sched.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := db.GetCredential(ctx, w.ws, alice, due.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pass %d: the due credential was not rotated", pass)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if c, err := db.GetCredential(ctx, w.ws, uuid.Nil, fresh.ID); err != nil || c.Version != 1 {
		t.Fatalf("the credential not due: version %d, %v", c.Version, err)
	}
	tasks, _, err := db.ListTasks(ctx, w.ws, store.TaskFilter{Kind: credrotate.KindRotateSecret, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Fatalf("%d rotation tasks after two passes; want 1", len(tasks))
	}
	got := map[string]string{}
	fetchCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(got) < 2 {
		msg, err := evs.Next(jetstream.FetchContext(fetchCtx))
		if err != nil {
			t.Fatalf("events so far %v: %v", got, err)
		}
		var ev events.CredentialEvent
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		got[ev.Name] = ev.Type
	}
	if got["expiring"] != "credential.expiring" || got["expired"] != "credential.expired" {
		t.Fatalf("events %v", got)
	}
	extra, err := evs.Next(jetstream.FetchMaxWait(500 * time.Millisecond))
	if err == nil {
		t.Fatalf("a second pass raised another event: %s", extra.Data())
	}
}

// TestRewrapLeavesNoOldCiphertext rotates the credentials key and rewraps, in small batches,
// every ciphertext — current, previous and pending, USER and WORKSPACE, in two workspaces —
// then raises the minimum decryption version: none is left below it, each credential still
// opens to its value, and an old ciphertext no longer opens.
func TestRewrapLeavesNoOldCiphertext(t *testing.T) {
	db, _ := pgtest.FreshDB(t) // the rewrap walks every workspace
	w := newRotWorld(t, db, credrotate.Config{RewrapGrace: time.Millisecond})
	ctx := context.Background()
	ws2 := w.workspace(t)
	alice, err := db.AddMember(ctx, w.ws, "alice", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ws, user, id      uuid.UUID
		current, previous string
	}
	var rows []row
	add := func(ws, user uuid.UUID, name string) *row {
		v := plant("v-")
		c := w.put(t, ws, user, credentials.Spec{Name: name}, v)
		rows = append(rows, row{ws: ws, user: user, id: c.ID, current: v})
		return &rows[len(rows)-1]
	}
	for i := range 3 {
		add(ws2, uuid.Nil, "shared-"+string(rune('a'+i)))
	}
	add(w.ws, uuid.Nil, "team")
	mine := add(w.ws, alice, "mine")
	next := plant("v-")
	if _, err := w.creds.Rotate(ctx, w.ws, alice, mine.id, crypto.NewSecret([]byte(next)), nil, store.Access{}); err != nil {
		t.Fatal(err)
	}
	mine.previous, mine.current = mine.current, next
	staged := rows[0]
	ct, _, err := w.creds.Seal(ctx, staged.ws, staged.id, crypto.NewSecret([]byte(plant("v-"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.StagePending(ctx, staged.ws, uuid.Nil, staged.id, 1, ct); err != nil {
		t.Fatal(err)
	}
	old, _, _ := w.open(t, w.ws, uuid.Nil, rows[3].id)
	oldCT, err := db.CredentialCiphertexts(ctx, w.ws, uuid.Nil, rows[3].id)
	if err != nil || old != rows[3].current {
		t.Fatal(err)
	}

	id := w.publish(t, agents.TaskSpec{Kind: credrotate.KindRotateKey, Args: credrotate.RotateKeyArgs{BatchSize: 2}})
	task := w.wait(t, id, store.StatusSucceeded, 30*time.Second)
	res := decode[credrotate.KeyResult](t, task.Result)
	info, err := w.creds.Cipher.KeyInfo(ctx, crypto.KeyCredentials)
	if err != nil {
		t.Fatal(err)
	}
	if res.MinDecryptionVersion != 2 || info.MinDecryptionVersion != 2 || info.LatestVersion != 2 || res.Rewrapped != len(rows) {
		t.Fatalf("result %+v, key %+v; want version 2 as the minimum and %d rows rewrapped", res, info, len(rows))
	}
	for _, r := range rows {
		current, previous, cts := w.open(t, r.ws, r.user, r.id)
		if current != r.current || previous != r.previous {
			t.Fatalf("credential %s opens to other values after the rewrap", r.id)
		}
		for _, c := range []*string{&cts.Current, cts.Previous, cts.Pending} {
			if c == nil {
				continue
			}
			if _, v, _, err := crypto.ParseVersion(*c); err != nil || v < 2 {
				t.Fatalf("credential %s keeps a ciphertext at version %d (%v)", r.id, v, err)
			}
		}
		if r.id == staged.id && cts.Pending == nil {
			t.Fatal("the pending value was lost")
		}
	}
	if _, err := w.creds.Open(ctx, w.ws, rows[3].id, oldCT.Current); !errors.Is(err, crypto.ErrVersionDisallowed) {
		t.Fatalf("an old ciphertext: %v; want ErrVersionDisallowed", err)
	}
}

// fakePG is a server that speaks PostgreSQL's protocol far enough to ask a client for its
// password in clear (or as MD5), and keeps whatever password message it is sent.
type fakePG struct {
	addr      string
	conns     atomic.Int32
	mu        sync.Mutex
	passwords []string
}

func newFakePG(t *testing.T, ask pgproto3.BackendMessage) *fakePG {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakePG{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			go f.serve(conn, ask)
		}
	}()
	return f
}

func (f *fakePG) serve(conn net.Conn, ask pgproto3.BackendMessage) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	be := pgproto3.NewBackend(conn, conn)
	msg, err := be.ReceiveStartupMessage()
	if _, ssl := msg.(*pgproto3.SSLRequest); ssl && err == nil {
		if _, err := conn.Write([]byte("N")); err != nil {
			return
		}
		msg, err = be.ReceiveStartupMessage()
	}
	if _, ok := msg.(*pgproto3.StartupMessage); !ok || err != nil {
		return
	}
	be.Send(ask)
	if be.Flush() != nil {
		return
	}
	if _, md5 := ask.(*pgproto3.AuthenticationMD5Password); md5 {
		_ = be.SetAuthType(pgproto3.AuthTypeMD5Password)
	} else {
		_ = be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
	}
	reply, err := be.Receive()
	if pw, ok := reply.(*pgproto3.PasswordMessage); ok && err == nil {
		f.mu.Lock()
		f.passwords = append(f.passwords, pw.Password)
		f.mu.Unlock()
	}
}

func (f *fakePG) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.passwords)
}

// TestManagerCannotSendACredentialElsewhere is the exfiltration an ADMIN could do: point a
// WORKSPACE credential it may manage (but not read) at a server of its own, then have the rotation
// agent present the value there. The provider and metadata are bound to the value: changing them
// without it is refused by the API's path and by the database itself; the rotation then goes
// where the value was stored for, and logs every decrypt with its task and attempt. A server that
// asks for a password in clear or as MD5 is sent nothing, whoever pointed the credential at it.
func TestManagerCannotSendACredentialElsewhere(t *testing.T) {
	w := newRotWorld(t, pgtest.DB(t), credrotate.Config{})
	ctx := context.Background()
	clear := newFakePG(t, &pgproto3.AuthenticationCleartextPassword{})
	md5 := newFakePG(t, &pgproto3.AuthenticationMD5Password{Salt: [4]byte{1, 2, 3, 4}})
	fakeDSN := func(f *fakePG) string { return "postgres://victim@" + f.addr + "/postgres?sslmode=disable" }

	initial := plant("pw-")
	dsn := pgtest.LoginRole(t, initial)
	cred := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "db-main", Type: store.CredentialPassword, Scope: store.ScopeWorkspace,
		Provider: "postgres", Metadata: map[string]string{"dsn": dsn}}, initial)

	// The ADMIN's move, as the PATCH route makes it: new metadata (or provider), no value.
	for _, u := range []store.CredentialUpdate{
		{Metadata: map[string]string{"dsn": fakeDSN(clear)}},
		{Provider: ptr("http"), Metadata: map[string]string{"set_url": "http://" + clear.addr + "/steal"}},
		{Provider: ptr("random")},
	} {
		if _, err := w.creds.Update(ctx, w.ws, uuid.Nil, cred.ID, u, crypto.Secret{}); !errors.Is(err, store.ErrValueBound) {
			t.Fatalf("update %+v without the value: %v; want ErrValueBound", u, err)
		}
	}
	// The database holds the rule, whatever path a write takes.
	err := w.db.InWorkspace(ctx, w.ws, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE user_credentials SET metadata = jsonb_build_object('dsn', $2::text) WHERE id = $1`, cred.ID, fakeDSN(clear))
		return err
	})
	if !store.IsValueBound(err) {
		t.Fatalf("a raw UPDATE of the metadata: %v; want the binding trigger's refusal", err)
	}

	id := w.publish(t, agents.TaskSpec{Kind: credrotate.KindRotateSecret, Args: credrotate.RotateSecretArgs{CredentialID: cred.ID}})
	task := w.wait(t, id, store.StatusSucceeded, 30*time.Second)
	if current, _, _ := w.open(t, w.ws, uuid.Nil, cred.ID); current == initial || login(dsn, current) != nil {
		t.Fatal("the rotation did not take place at the credential's own server")
	}
	if n := clear.conns.Load(); n != 0 {
		t.Fatalf("the attacker's server had %d connections", n)
	}
	// Every decrypt the rotation made is in the log, with its task and attempt.
	audit, err := w.db.ListAccess(ctx, w.ws, uuid.Nil, store.AccessFilter{Credential: cred.ID})
	if err != nil {
		t.Fatal(err)
	}
	var decrypts []string
	for _, a := range audit {
		if a.Action == "decrypt" {
			if a.TaskID == nil || *a.TaskID != id || a.Attempt == nil || *a.Attempt != task.Attempt || a.Agent != "credrotate" {
				t.Fatalf("decrypt entry %+v; want task %s, attempt %d, agent credrotate", a, id, task.Attempt)
			}
			decrypts = append(decrypts, a.Purpose)
		}
	}
	slices.Sort(decrypts)
	if want := []string{"task credentials.rotate (current value)", "task credentials.rotate (pending value)"}; !slices.Equal(decrypts, want) {
		t.Fatalf("decrypts logged: %q; want %q", decrypts, want)
	}

	// A credential stored for a server that asks for the password in clear or as MD5 (its value
	// given with it): the rotation refuses before sending anything.
	for name, f := range map[string]*fakePG{"cleartext": clear, "md5": md5} {
		value := plant("pw-" + name + "-")
		c := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "db-" + name, Type: store.CredentialPassword, Scope: store.ScopeWorkspace,
			Provider: "postgres", Metadata: map[string]string{"dsn": fakeDSN(f)}}, value)
		id := w.publish(t, agents.TaskSpec{Kind: credrotate.KindRotateSecret, Args: credrotate.RotateSecretArgs{CredentialID: c.ID}})
		task := w.wait(t, id, store.StatusRetrying, 30*time.Second)
		if f.conns.Load() == 0 {
			t.Fatalf("%s: the rotation never reached the server; the test proves nothing", name)
		}
		if got := f.got(); len(got) != 0 {
			t.Fatalf("%s: the server received %d password messages", name, len(got))
		}
		if !strings.Contains(deref(task.LastError), "scram-sha-256") || strings.Contains(deref(task.LastError), value) {
			t.Fatalf("%s: last error %q; want the authentication requirement named, and no value", name, deref(task.LastError))
		}
		if _, err := w.client.Cancel(ctx, w.nc, w.ws, id, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
