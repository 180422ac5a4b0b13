package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The newcomer's knowledge path against `mosaic dev`: import a vault-like folder (nested folders,
// front matter with aliases and keys Mosaic does not know, a note without front matter, links by
// title, alias and file name, a code block holding [[not a link]]; a file whose front matter is
// not YAML is reported with its line, the rest imported), see every link resolved and the
// metadata kept, search it once indexed, read the graph and its console page, and export it so
// that importing the export elsewhere and exporting again gives the same files.
func TestKnowledgeFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	if r := runMosaic(t, nil, "workspaces", "create", "kb", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}

	src := t.TempDir()
	files := map[string]string{
		"runbooks/rollback.md": "---\ntitle: Rollback procedure\ntags: [ops, k8s]\nstatus: published\n---\n" +
			"Undo a bad deployment with kubectl rollout undo. See [[deployment-checklist]] and [[the drill]].\n",
		"deployment-checklist.md": "---\ntitle: Deployment checklist\nslug: checklist\ntags:\n  - ops\naliases:\n  - release list\n" +
			"summary: what to check before a release\ncssclass: wide\nreviewers: [Ada, Grace]\ndate: 2024-03-01\n" +
			"review:\n  every: 90d\n  owner: ops\n---\nReview, canary, then watch. Back to [[rollback|the rollback]].\n",
		"notes/Restore drill.md": "# Restore drill\n\nPractise restores; the list is [[Release list]], or [[DEPLOYMENT Checklist]].\n\n" +
			"```\n[[not a link]]\n```\n",
		"notes/lunch.md": "---\ntitle: \"Team lunch: Fridays\"\nvisibility: workspace\naliases: the drill\n---\n" +
			"Pizza. After lunch, [[Restore drill]].\n",
		"broken.md": "---\ntitle: Broken\nsummary: a: b\n---\nbody\n",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runMosaic(t, nil, "knowledge", "import", src, "--data-dir", dataDir)
	if r.code == 0 || !strings.Contains(r.stdout, "imported 4 entries") || !strings.Contains(r.stderr, "broken.md:3: front matter is not YAML") {
		t.Fatalf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Indexing is a job: search finds the entries once it has run.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = runMosaic(t, nil, "knowledge", "search", "rollout", "--mode", "fulltext", "--data-dir", dataDir)
		if r.code == 0 && strings.Contains(r.stdout, "rollback — Rollback procedure") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search never found the imported entry: %d %s %s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(r.stdout, "«rollout»") {
		t.Fatalf("search output has no highlighted snippet:\n%s", r.stdout)
	}
	if r = runMosaic(t, nil, "knowledge", "search", "the", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "no searchable words") {
		t.Fatalf("a stop-word query: %d %s", r.code, r.stderr)
	}
	// The metadata is kept and shown.
	if r = runMosaic(t, nil, "knowledge", "get", "checklist", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "aliases release list\n") ||
		!strings.Contains(r.stdout, `metadata {"summary":"what to check before a release","cssclass":"wide","reviewers":["Ada","Grace"],"review":{"every":"90d","owner":"ops"}}`) ||
		!strings.Contains(r.stdout, "created 2024-0") { // the front matter's date, in local time
		t.Fatalf("knowledge get checklist: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Only what matches, in the default (hybrid) mode too.
	if r = runMosaic(t, nil, "knowledge", "search", "pizza", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "lunch —") ||
		strings.Count(r.stdout, " — ") != 1 {
		t.Fatalf("search pizza: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "knowledge", "search", "quantum chromodynamics", "--data-dir", dataDir); r.code != 0 || strings.Contains(r.stdout, " — ") {
		t.Fatalf("search for nothing here: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		r = runMosaic(t, nil, "knowledge", "graph", "--data-dir", dataDir)
		if r.code == 0 && strings.Contains(r.stdout, "4 entries, 6 links, 0 orphans, 0 dangling links") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("knowledge graph: %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r = runMosaic(t, nil, "knowledge", "graph", "--center", "lunch", "--depth", "9", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "depth") {
		t.Fatalf("graph depth 9: %d %s", r.code, r.stderr)
	}

	// The console page that draws the graph is served by the binary.
	for path, want := range map[string]string{"/console/knowledge": `src="/console/knowledge.js"`, "/console/knowledge.js": "/knowledge${path}"} {
		resp, err := http.Get(dev.server + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode, resp.Header)
		}
	}

	// Edits are versions; export → import elsewhere → export gives the same files.
	r = runMosaicIn(t, "Pizza, then salad.\n", nil, "knowledge", "put", "lunch", "--file", "-", "--message", "salad too", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "updated lunch (version 2)") {
		t.Fatalf("put: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "knowledge", "diff", "lunch", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "-Pizza. After lunch, [[Restore drill]].\n+Pizza, then salad.\n") {
		t.Fatalf("diff: %d %s %s", r.code, r.stdout, r.stderr)
	}
	out1, out2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if r = runMosaic(t, nil, "knowledge", "export", out1, "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "exported 4 entries") {
		t.Fatalf("export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runMosaic(t, nil, "workspaces", "create", "kb2", "--output", "json", "--data-dir", dataDir)
	var second struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &second); err != nil || second.APIKey == "" {
		t.Fatalf("second workspace: %s %v", r.stdout, err)
	}
	env := []string{"MOSAIC_API_KEY=" + second.APIKey}
	if r = runMosaic(t, env, "knowledge", "import", out1, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("import of the export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, env, "knowledge", "export", out2, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("second export: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"rollback.md", "checklist.md", "lunch.md", "restore-drill.md"} {
		a, errA := os.ReadFile(filepath.Join(out1, name))
		b, errB := os.ReadFile(filepath.Join(out2, name))
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Fatalf("%s differs after a round trip (%v %v):\n%s\n---\n%s", name, errA, errB, a, b)
		}
	}
	a, _ := os.ReadFile(filepath.Join(out1, "rollback.md"))
	if !strings.Contains(string(a), "status: PUBLISHED") || !strings.Contains(string(a), "tags: [ops, k8s]") {
		t.Fatalf("exported file lost its front matter:\n%s", a)
	}
	a, _ = os.ReadFile(filepath.Join(out1, "checklist.md"))
	for _, want := range []string{"aliases: [release list]", "created: 2024-03-01T00:00:00Z", "summary: what to check before a release",
		"cssclass: wide", "reviewers:\n  - Ada\n  - Grace", "review:\n  every: 90d\n  owner: ops"} {
		if !strings.Contains(string(a), want) {
			t.Fatalf("exported file lost %q of its front matter:\n%s", want, a)
		}
	}
	if a, _ = os.ReadFile(filepath.Join(out1, "restore-drill.md")); !strings.Contains(string(a), "title: Restore drill\n") {
		t.Fatalf("a note without front matter exported without the title its heading gave:\n%s", a)
	}
}
