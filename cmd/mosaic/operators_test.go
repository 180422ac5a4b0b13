package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// Operator keys from the CLI against `mosaic dev`: made with the admin token, used as
// MOSAIC_ADMIN_TOKEN, refused for making keys, listed, revoked (then unauthorized: exit 4).
func TestOperatorKeysFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	r := runMosaic(t, nil, "operators", "create", "alice", "--output", "json", "--data-dir", dataDir)
	var k struct {
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); r.code != 0 || err != nil || !strings.HasPrefix(k.Key, "moso_") || k.Name != "alice" {
		t.Fatalf("operators create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "operators", "create", "Alice Smith", "--data-dir", dataDir); r.code != 2 {
		t.Fatalf("a bad name: exit %d, want 2 (usage): %s", r.code, r.stderr)
	}
	alice := []string{"MOSAIC_ADMIN_TOKEN=" + k.Key}
	empty := t.TempDir() // no admin.token there: the variable is the only credential
	if r = runMosaic(t, alice, "workspaces", "create", "by-alice", "--data-dir", empty, "--server", dev.server); r.code != 0 {
		t.Fatalf("an operator creating a workspace: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, alice, "operators", "create", "bob", "--data-dir", empty, "--server", dev.server); r.code == 0 ||
		!strings.Contains(r.stderr, "with the admin token itself") {
		t.Fatalf("an operator making a key: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, nil, "operators", "list", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "admin") {
		t.Fatalf("operators list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "operators", "revoke", "alice", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "revoked the key of operator alice") {
		t.Fatalf("operators revoke: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, alice, "workspaces", "list", "--data-dir", empty, "--server", dev.server); r.code != 4 {
		t.Fatalf("a revoked operator key: exit %d, want 4 (unauthorized): %s", r.code, r.stderr)
	}
}
