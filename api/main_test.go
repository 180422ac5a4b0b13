package api_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/credrotate"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/crypto/keyring"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testCredentials is a local keyring with Mosaic's keys, in the test's temporary directory.
func testCredentials(t testing.TB, db *store.DB) *agents.Credentials {
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
	return &agents.Credentials{DB: db, Cipher: kr}
}

// fullRegistry holds every kind the binary runs: the demo kinds, the rotation and knowledge agents.
func fullRegistry(db *store.DB, creds *agents.Credentials, emb embed.Embedder) *agents.Registry {
	reg := agents.NewRegistry()
	demo.Register(reg)
	credrotate.Register(reg, credrotate.Config{Credentials: creds})
	knowledge.Register(reg, knowledge.Config{DB: db, Embedder: emb})
	return reg
}
