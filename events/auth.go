package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
)

// SystemUser is the embedded server's user for Mosaic's own processes (API, workers, relay,
// agents): everything, in the account that holds the streams.
const SystemUser = "mosaic"

// PublisherUserPrefix starts the user name of a workspace's raw-NATS publisher: pub-<workspace>.
const PublisherUserPrefix = "pub-"

// ServerAuth is the embedded server's authentication: every client presents a user and a password.
// The passwords are derived from one secret (HMAC-SHA256; mosaic keeps it in the data dir, readable
// by its owner only), so that any workspace's publisher credentials exist without a
// list to keep: Mosaic's own processes log in as SystemUser; a workspace's publisher logs in as
// pub-<workspace> into an account of its own that imports only that workspace's task subjects,
// with the permissions of deploy/nats/publishers.example.conf. A connection without credentials,
// or with wrong ones, is refused.
type ServerAuth struct {
	secret []byte

	mu       sync.Mutex
	ns       *server.Server
	accounts map[uuid.UUID]*server.Account
}

// NewServerAuth builds the authentication from a secret of at least 32 bytes.
func NewServerAuth(secret []byte) (*ServerAuth, error) {
	if len(secret) < 32 {
		return nil, errors.New("events: the NATS secret must be at least 32 bytes")
	}
	return &ServerAuth{secret: secret, accounts: map[uuid.UUID]*server.Account{}}, nil
}

// GenerateServerAuth is a ServerAuth with a fresh random secret kept in memory only (tests,
// benchmarks).
func GenerateServerAuth() *ServerAuth {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	a, _ := NewServerAuth(secret)
	return a
}

func (a *ServerAuth) password(user string) string {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("mosaic nats user\x00" + user))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// System returns the user and password of Mosaic's own processes.
func (a *ServerAuth) System() (user, password string) {
	return SystemUser, a.password(SystemUser)
}

// Publisher returns the user and password of workspace ws's raw-NATS publisher.
func (a *ServerAuth) Publisher(ws uuid.UUID) (user, password string) {
	user = PublisherUserPrefix + ws.String()
	return user, a.password(user)
}

// PublisherPermissions are what a workspace's publisher may do: publish its own tasks (any band
// and kind), and receive JetStream's acknowledgements in its own account's inboxes.
func PublisherPermissions(ws uuid.UUID) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"mosaic.tasks.*." + ws.String() + ".>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// attach prepares ns: the global account, where the streams live, offers the task subjects as a
// service, to be imported one workspace at a time by the publishers' accounts.
func (a *ServerAuth) attach(ns *server.Server) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ns = ns
	return ns.GlobalAccount().AddServiceExportWithResponse("mosaic.tasks.>", server.Singleton, nil)
}

// Check implements server.Authentication.
func (a *ServerAuth) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if o == nil || o.Username == "" || o.Token != "" || o.Nkey != "" || o.JWT != "" {
		return false
	}
	want := a.password(o.Username)
	if subtle.ConstantTimeCompare([]byte(o.Password), []byte(want)) != 1 {
		return false
	}
	if o.Username == SystemUser {
		c.RegisterUser(&server.User{Username: SystemUser})
		return true
	}
	ws, err := uuid.Parse(strings.TrimPrefix(o.Username, PublisherUserPrefix))
	if !strings.HasPrefix(o.Username, PublisherUserPrefix) || err != nil || ws == uuid.Nil {
		return false
	}
	acc, err := a.account(ws)
	if err != nil {
		return false
	}
	c.RegisterUser(&server.User{Username: o.Username, Account: acc, Permissions: PublisherPermissions(ws)})
	return true
}

// account returns the publisher account of ws, created on first use: its only subjects are
// that workspace's tasks, imported from the global account.
func (a *ServerAuth) account(ws uuid.UUID) (*server.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if acc, ok := a.accounts[ws]; ok {
		return acc, nil
	}
	if a.ns == nil {
		return nil, errors.New("events: the NATS authentication is not attached to a server")
	}
	acc, err := a.ns.RegisterAccount("WS-" + ws.String())
	if err != nil {
		return nil, err
	}
	subject := "mosaic.tasks.*." + ws.String() + ".>"
	if err := acc.AddServiceImport(a.ns.GlobalAccount(), subject, subject); err != nil {
		return nil, err
	}
	a.accounts[ws] = acc
	return acc, nil
}
