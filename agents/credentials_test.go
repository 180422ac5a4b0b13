package agents_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// useCredArgs make test.usecred open each of Open, in order.
type useCredArgs struct {
	Open []string `json:"open"`
	// Fail ends the attempt with an error that formats the first opened secret every way a
	// careless handler might.
	Fail bool `json:"fail,omitempty"`
}

func (useCredArgs) Kind() string { return "test.usecred" }

// useCredResult holds, per name, a digest of the value opened (never the value) or the error.
type useCredResult struct {
	Digests map[string]string `json:"digests"`
	Errors  map[string]string `json:"errors"`
}

func digest(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:8]) }

// credWorld is a bundle with a keyring-backed credential store, a log the test can read, and the
// test.usecred kind, whose jobs it keeps to call them after their delivery ended.
type credWorld struct {
	*testBundle
	creds *credentials.Vault
	logs  *syncBuffer
	log   zerolog.Logger
	jobs  chan *agents.Job[useCredArgs]
	kept  chan crypto.Secret
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// newKeyring opens a keyring of the test's own with every Mosaic key created.
func newKeyring(t testing.TB, log *zerolog.Logger) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.Open(filepath.Join(t.TempDir(), "keyring.json"), keyring.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range crypto.Keys {
		if _, err := kr.CreateKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	return kr
}

func newCredWorld(t *testing.T) *credWorld {
	t.Helper()
	w := &credWorld{logs: &syncBuffer{}, jobs: make(chan *agents.Job[useCredArgs], 16), kept: make(chan crypto.Secret, 16)}
	w.log = zerolog.New(io.MultiWriter(w.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	w.testBundle = setup(t, func(r *agents.Registry) {
		agents.AddWorker(r, agents.WorkFunc[useCredArgs](w.useCred))
	})
	w.creds = &credentials.Vault{DB: w.db, Cipher: newKeyring(t, &w.log)}
	w.pool(t, agents.PoolConfig{Concurrency: 4, Credentials: w.creds, Logger: &w.log, WorkerName: "cred-test-worker"})
	return w
}

func (w *credWorld) useCred(ctx context.Context, job *agents.Job[useCredArgs]) error {
	res := useCredResult{Digests: map[string]string{}, Errors: map[string]string{}}
	var first crypto.Secret
	for _, name := range job.Args.Open {
		s, err := job.Credential(ctx, name)
		if err != nil {
			res.Errors[name] = err.Error()
			w.log.Info().Err(err).Str("credential", name).Msg("test.usecred: could not open")
			continue
		}
		if first == (crypto.Secret{}) {
			first = s
		}
		// A careless handler: the secret handed to the logger and to fmt every way.
		w.log.Info().Str("credential", name).Interface("value", s).Object("obj", s).
			Str("formatted", fmt.Sprintf("%v %s %q %x %+v %#v", s, s, s, s, s, s)).Msg("test.usecred: opened")
		_ = s.Use(func(b []byte) error { res.Digests[name] = digest(b); return nil })
		w.kept <- s
	}
	w.jobs <- job
	if job.Args.Fail && first != (crypto.Secret{}) {
		return agents.Permanent(fmt.Errorf("upstream refused %v (%s)", first, first))
	}
	return job.SetResult(res)
}

// addUser adds a member to the workspace.
func (w *credWorld) addUser(t *testing.T, ws uuid.UUID, name string) uuid.UUID {
	t.Helper()
	id, err := w.db.AddMember(context.Background(), ws, name, store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *credWorld) put(t *testing.T, ws, user uuid.UUID, p credentials.Spec, value string) store.Credential {
	t.Helper()
	p.Value = crypto.NewSecret([]byte(value))
	c, err := w.creds.Put(context.Background(), ws, user, p)
	if err != nil {
		t.Fatalf("put %s: %v", p.Name, err)
	}
	return c
}

func plant(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// TestJobOpensOnlyDeclaredCredentials: a job opens what its task declared — the publisher's USER
// credential, the workspace's — and nothing else; every open is in the access log; the
// plaintext is nowhere in PostgreSQL, on the NATS wire, or in the logs, even when a handler
// logs the secret and puts it in its error; a secret kept past the delivery is wiped, and the
// job refuses to open more.
func TestJobOpensOnlyDeclaredCredentials(t *testing.T) {
	t.Parallel()
	w := newCredWorld(t)
	tap := eventstest.NewTap(t, w.nc)
	ctx := context.Background()
	alice, bob := w.addUser(t, w.ws, "alice"), w.addUser(t, w.ws, "bob")
	mine, shared, other := plant("sk-user-"), plant("sk-shared-"), plant("sk-undeclared-")
	w.put(t, w.ws, alice, credentials.Spec{Name: "github", Type: store.CredentialAPIKey}, mine)
	w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "shared", Scope: store.ScopeWorkspace}, shared)
	w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "undeclared", Scope: store.ScopeWorkspace}, other)
	marker := plant("marker-")

	byAlice := w.publish(t, agents.TaskSpec{Kind: "test.usecred", PublishedBy: alice, Credentials: []string{"github", "shared"},
		Args: useCredArgs{Open: []string{"github", "shared", "undeclared"}}, Metadata: map[string]string{"marker": marker}})
	byBob := w.publish(t, agents.TaskSpec{Kind: "test.usecred", PublishedBy: bob, Credentials: []string{"github"},
		Args: useCredArgs{Open: []string{"github"}}})
	failing := w.publish(t, agents.TaskSpec{Kind: "test.usecred", PublishedBy: alice, Credentials: []string{"shared"},
		Args: useCredArgs{Open: []string{"shared"}, Fail: true}})

	task := w.wait(t, byAlice, store.StatusSucceeded, 15*time.Second)
	res := decode[useCredResult](t, task.Result)
	if res.Digests["github"] != digest([]byte(mine)) || res.Digests["shared"] != digest([]byte(shared)) {
		t.Fatalf("alice's task opened %v; want her github and the shared value", res.Digests)
	}
	if e := res.Errors["undeclared"]; !strings.Contains(e, "not declared") || res.Digests["undeclared"] != "" {
		t.Fatalf("an undeclared credential: %q %q; want refused as not declared", res.Digests["undeclared"], e)
	}
	task = w.wait(t, byBob, store.StatusSucceeded, 15*time.Second)
	res = decode[useCredResult](t, task.Result)
	if e := res.Errors["github"]; !strings.Contains(e, "credential not found") || len(res.Digests) != 0 {
		t.Fatalf("bob's task opened alice's USER credential: %v %v", res.Digests, res.Errors)
	}
	task = w.wait(t, failing, store.StatusDead, 15*time.Second)
	if task.LastError == nil || !strings.Contains(*task.LastError, crypto.Redacted) {
		t.Fatalf("failing task's last error %q; want the redaction in place of the secret", deref(task.LastError))
	}

	// After the deliveries: kept secrets are wiped and the jobs open nothing more.
	for range 3 {
		job := <-w.jobs
		if _, err := job.Credential(ctx, "shared"); !errors.Is(err, agents.ErrNotRunning) {
			t.Fatalf("job.Credential after the delivery ended: %v; want ErrNotRunning", err)
		}
	}
	for range 3 {
		if s := <-w.kept; !s.Wiped() {
			t.Fatal("a secret kept past its delivery was not wiped")
		}
	}

	// The access log: alice's task opened github and shared, at attempt 1, from this worker; bob's
	// opened nothing; the failing task opened shared.
	log, err := w.db.ListAccess(ctx, w.ws, alice, store.AccessFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	opened := map[uuid.UUID][]string{}
	for _, a := range log {
		if a.Action != "decrypt" {
			continue
		}
		if a.TaskID == nil || a.Attempt == nil || *a.Attempt != 1 || a.Agent != "cred-test-worker" || a.Purpose != "task test.usecred" {
			t.Fatalf("access entry %+v: want task, attempt 1, agent and purpose", a)
		}
		opened[*a.TaskID] = append(opened[*a.TaskID], a.Name)
	}
	if got := strings.Join(opened[byAlice], ","); got != "shared,github" && got != "github,shared" {
		t.Fatalf("access log for alice's task: %v", opened[byAlice])
	}
	if len(opened[byBob]) != 0 || len(opened[failing]) != 1 {
		t.Fatalf("access log: bob's task %v, failing task %v", opened[byBob], opened[failing])
	}
	// Bob's view of the log leaves out alice's own (USER) credential, its name included.
	bobs, err := w.db.ListAccess(ctx, w.ws, bob, store.AccessFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range bobs {
		if a.Name == "github" {
			t.Fatalf("bob sees alice's USER credential in the access log: %+v", a)
		}
	}
	if len(bobs) == 0 {
		t.Fatal("bob sees no entry at all, not even the workspace's shared credential: the check would prove nothing")
	}

	// Nowhere in PostgreSQL, on the wire or in the logs.
	if tap.Len() == 0 || len(tap.Find([]byte(marker))) == 0 {
		t.Fatalf("the tap saw %d messages and not the task's marker: it would prove nothing", tap.Len())
	}
	if !bytes.Contains(w.logs.Bytes(), []byte("test.usecred: opened")) {
		t.Fatal("the captured log lacks the handler's lines: it would prove nothing")
	}
	for _, secret := range []string{mine, shared, other} {
		if where := pgtest.FindInDatabase(t, secret); len(where) != 0 {
			t.Errorf("a plaintext credential is in PostgreSQL: %v", where)
		}
		if where := tap.Find([]byte(secret)); len(where) != 0 {
			t.Errorf("a plaintext credential went over NATS: %v", where)
		}
		if where := eventstest.FindInStreams(t, w.js, []byte(secret)); len(where) != 0 {
			t.Errorf("a plaintext credential is in a stream: %v", where)
		}
		if bytes.Contains(w.logs.Bytes(), []byte(secret)) {
			t.Errorf("a plaintext credential is in the log")
		}
	}
}

// TestCopiedCiphertextDoesNotOpen: each ciphertext is bound to its workspace and credential, so
// one copied to another row, or to another workspace, fails to decrypt — at the store and in a
// running job.
func TestCopiedCiphertextDoesNotOpen(t *testing.T) {
	t.Parallel()
	w := newCredWorld(t)
	ctx := context.Background()
	ws2 := w.workspace(t)
	value := plant("sk-copied-")
	src := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "source", Scope: store.ScopeWorkspace}, value)
	sameWS := w.put(t, w.ws, uuid.Nil, credentials.Spec{Name: "target", Scope: store.ScopeWorkspace}, plant("other-"))
	otherWS := w.put(t, ws2, uuid.Nil, credentials.Spec{Name: "target", Scope: store.ScopeWorkspace}, plant("other-"))
	cts, err := w.db.CredentialCiphertexts(ctx, w.ws, uuid.Nil, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := w.creds.Open(ctx, w.ws, src.ID, cts.Current); err != nil {
		t.Fatalf("the source does not open in place: %v", err)
	} else {
		s.Wipe()
	}
	for _, c := range []struct {
		name   string
		ws, id uuid.UUID
	}{{"another row", w.ws, sameWS.ID}, {"another workspace", ws2, otherWS.ID}, {"another workspace, same id", ws2, src.ID}} {
		if _, err := w.creds.Open(ctx, c.ws, c.id, cts.Current); !errors.Is(err, crypto.ErrDecrypt) {
			t.Errorf("%s: open = %v; want ErrDecrypt", c.name, err)
		}
	}

	// Plant the copy in both rows, then let jobs try them.
	for _, c := range []struct{ ws, id uuid.UUID }{{w.ws, sameWS.ID}, {ws2, otherWS.ID}} {
		err := w.db.InWorkspace(ctx, c.ws, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE user_credentials SET encrypted_value = $3 WHERE workspace_id = $1 AND id = $2`, c.ws, c.id, cts.Current)
			if err == nil && tag.RowsAffected() != 1 {
				err = errors.New("no row updated")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	same := w.publish(t, agents.TaskSpec{Kind: "test.usecred", Credentials: []string{"target"}, Args: useCredArgs{Open: []string{"target"}}})
	other := w.publish(t, agents.TaskSpec{WorkspaceID: ws2, Kind: "test.usecred", Credentials: []string{"target"}, Args: useCredArgs{Open: []string{"target"}}})
	task := w.wait(t, same, store.StatusSucceeded, 15*time.Second)
	if res := decode[useCredResult](t, task.Result); !strings.Contains(res.Errors["target"], crypto.ErrDecrypt.Error()) {
		t.Fatalf("a job opened a ciphertext copied from another row: %+v", res)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		task, err = w.db.GetTask(ctx, ws2, other)
		if err == nil && task.Status == store.StatusSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task in the second workspace: %+v %v", task, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := decode[useCredResult](t, task.Result); !strings.Contains(res.Errors["target"], crypto.ErrDecrypt.Error()) {
		t.Fatalf("a job opened a ciphertext copied from another workspace: %+v", res)
	}
}

// TestUserCredentialsAreTheirOwners: a USER credential is listed, read, updated and deleted by
// its owner only; another member and the workspace-level view see only WORKSPACE credentials.
func TestUserCredentialsAreTheirOwners(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	creds := &credentials.Vault{DB: b.db, Cipher: newKeyring(t, nil)}
	alice, err := b.db.AddMember(ctx, b.ws, "alice", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := b.db.AddMember(ctx, b.ws, "bob", store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	hers, err := creds.Put(ctx, b.ws, alice, credentials.Spec{Name: "hers", Value: crypto.NewSecret([]byte(plant("v-")))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := creds.Put(ctx, b.ws, alice, credentials.Spec{Name: "team", Scope: store.ScopeWorkspace, Value: crypto.NewSecret([]byte(plant("v-")))}); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.Put(ctx, b.ws, uuid.Nil, credentials.Spec{Name: "nobody", Value: crypto.NewSecret([]byte(plant("v-")))}); !errors.Is(err, credentials.ErrInvalid) {
		t.Fatalf("a USER credential without a user: %v; want credentials.ErrInvalid", err)
	}
	names := func(user uuid.UUID) string {
		list, err := b.db.ListCredentials(ctx, b.ws, user)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, c := range list {
			n = append(n, c.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(alice); got != "hers,team" {
		t.Fatalf("alice sees %q; want hers,team", got)
	}
	for _, user := range []uuid.UUID{bob, uuid.Nil} {
		if got := names(user); got != "team" {
			t.Fatalf("%v sees %q; want team only", user, got)
		}
		if _, err := b.db.GetCredential(ctx, b.ws, user, hers.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get by %v: %v; want not found", user, err)
		}
		if err := b.db.DeleteCredential(ctx, b.ws, user, hers.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete by %v: %v; want not found", user, err)
		}
		if _, err := creds.Rotate(ctx, b.ws, user, hers.ID, crypto.NewSecret([]byte(plant("v-"))), nil, store.Access{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotate by %v: %v; want not found", user, err)
		}
	}
	// Nor can anyone write a USER row for somebody else.
	err = b.db.InWorkspaceAs(ctx, b.ws, bob, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE user_credentials SET owner_id = $3 WHERE workspace_id = $1 AND name = $2`, b.ws, "team", alice)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE user_credentials SET scope = 'USER' WHERE workspace_id = $1 AND name = 'team'`, b.ws)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("bob turned a WORKSPACE credential into alice's USER one: %v", err)
	}
	if err := b.db.DeleteCredential(ctx, b.ws, alice, hers.ID); err != nil {
		t.Fatal(err)
	}
	if got := names(alice); got != "team" {
		t.Fatalf("after delete alice sees %q", got)
	}
}
