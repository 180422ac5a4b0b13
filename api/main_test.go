package api_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mosaic-api-test-")
	if err != nil {
		panic(err)
	}
	federationKeyringPath = filepath.Join(dir, "federation-keyring.json")
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// federationKeyringPath is a keyring shared by the package's tests: the instance identity is one
// per database, and every test that opens it must hold the key that sealed it.
var (
	federationKeyringPath string
	federationKeyringOnce sync.Once
	federationKeyring     *keyring.Keyring
)

// startFederation opens the instance's identity in the package's database and starts its
// federation server and node, closed at cleanup.
func startFederation(t testing.TB, db *store.DB, tasks *agents.Client) *federation.Node {
	t.Helper()
	ctx := context.Background()
	federationKeyringOnce.Do(func() {
		kr, err := keyring.Open(federationKeyringPath, keyring.Options{})
		if err == nil {
			_, err = kr.CreateKey(ctx, crypto.KeyFederation)
		}
		if err != nil {
			panic(err)
		}
		federationKeyring = kr
	})
	self, err := federation.LoadOrCreate(ctx, db, federationKeyring, "api-test")
	if err != nil {
		t.Fatal(err)
	}
	hub, err := federation.StartHub(self, federation.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	node, err := federation.StartNode(ctx, federation.NodeConfig{Self: self, Hub: hub, DB: db, Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	return node
}

// testCredentials is a local keyring with Mosaic's keys, in the test's temporary directory.
func testCredentials(t testing.TB, db *store.DB) *credentials.Vault {
	t.Helper()
	kr, err := keyring.Open(filepath.Join(t.TempDir(), "keyring.json"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range crypto.Keys {
		if _, err := kr.CreateKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	return &credentials.Vault{DB: db, Cipher: kr}
}

// fullRegistry holds every kind the binary runs: the demo kinds, the rotation and knowledge agents.
func fullRegistry(db *store.DB, creds *credentials.Vault, emb embed.Embedder) *agents.Registry {
	reg := agents.NewRegistry()
	demo.Register(reg)
	credrotate.Register(reg, credrotate.Config{Credentials: creds})
	knowledge.Register(reg, knowledge.Config{DB: db, Embedder: emb})
	return reg
}
