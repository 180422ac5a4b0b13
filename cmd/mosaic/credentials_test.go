package main_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The newcomer's credential path, from the CLI against `mosaic dev`: store a credential, run a task
// that declared it, read the access in the audit log. The value shows up nowhere but in the task.
func TestCredentialFromCLI(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	const secret = "ghp_cliSecretValue0123456789"

	if r := runMosaic(t, nil, "workspaces", "create", "creds", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	// The value is never a flag.
	if r := runMosaicIn(t, secret, nil, "credentials", "put", "github", "--value", secret, "--data-dir", dataDir); r.code == 0 {
		t.Fatal("credentials put accepted a --value flag")
	}
	if r := runMosaicIn(t, "\n", nil, "credentials", "put", "github", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "the value is empty") {
		t.Fatalf("an empty value: %d %q", r.code, r.stderr)
	}
	r := runMosaicIn(t, secret+"\n", nil, "credentials", "put", "github", "--type", "API_KEY", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("credentials put: %d %s", r.code, r.stderr)
	}
	id := regexp.MustCompile(`id\s+([0-9a-f-]{36})`).FindStringSubmatch(r.stdout)
	if id == nil || !strings.Contains(r.stdout, "scope     USER") {
		t.Fatalf("credentials put printed %q", r.stdout)
	}
	outputs := []string{r.stdout, r.stderr}

	r = runMosaic(t, nil, "credentials", "list", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "github") || !strings.Contains(r.stdout, "••••6789") {
		t.Fatalf("credentials list: %d %q %s", r.code, r.stdout, r.stderr)
	}
	outputs = append(outputs, r.stdout, r.stderr)

	r = runMosaic(t, nil, "publish", "--kind", "demo.credentials", "--credential", "github", "--wait", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, `"opened":true`) || !strings.Contains(r.stdout, `"length":28`) {
		t.Fatalf("publish demo.credentials: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	taskID := strings.Fields(r.stdout)[0]
	outputs = append(outputs, r.stdout, r.stderr)

	// A task that did not declare it cannot open it, and says which name it lacked.
	r = runMosaic(t, nil, "publish", "--kind", "demo.credentials", "--wait", "--data-dir", dataDir)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "ended dead") {
		t.Fatalf("publish demo.credentials without a credential: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	outputs = append(outputs, r.stdout, r.stderr)

	r = runMosaic(t, nil, "credentials", "audit", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("credentials audit: %d %s", r.code, r.stderr)
	}
	decrypt := regexp.MustCompile(`(?m)^.*\bdecrypt\s+github\s+` + regexp.QuoteMeta(taskID) + `\s+1\s+\S+`).FindString(r.stdout)
	if decrypt == "" || !strings.Contains(r.stdout, "create") {
		t.Fatalf("credentials audit has no decrypt by task %s:\n%s", taskID, r.stdout)
	}
	outputs = append(outputs, r.stdout, r.stderr)

	// Key rotation spans every workspace: the admin token starts it, nobody publishes it as a task.
	r = runMosaic(t, nil, "publish", "--kind", "credentials.rewrap", "--data-dir", dataDir)
	if r.code == 0 || !strings.Contains(r.stderr, "rotation agent") {
		t.Fatalf("publish credentials.rewrap: %d %s", r.code, r.stderr)
	}
	if r = runMosaic(t, nil, "credentials", "rotate-key", "--key", "mosaic-nope", "--data-dir", dataDir); r.code == 0 || !strings.Contains(r.stderr, "--key") {
		t.Fatalf("rotate-key of an unknown key: %d %s", r.code, r.stderr)
	}
	r = runMosaic(t, nil, "credentials", "rotate-key", "--output", "json", "--data-dir", dataDir)
	rewrap := regexp.MustCompile(`"task_id": "([0-9a-f-]{36})"`).FindStringSubmatch(r.stdout)
	if r.code != 0 || rewrap == nil {
		t.Fatalf("credentials rotate-key: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runMosaic(t, nil, "tasks", "get", rewrap[1], "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, "credentials.rewrap") {
		t.Fatalf("tasks get of the rewrap job: %d %s %s", r.code, r.stdout, r.stderr)
	}

	r = runMosaic(t, nil, "credentials", "delete", id[1], "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("credentials delete: %d %s", r.code, r.stderr)
	}
	r = runMosaic(t, nil, "publish", "--kind", "demo.credentials", "--credential", "github", "--wait", "--data-dir", dataDir)
	if r.code == 0 {
		t.Fatalf("a deleted credential still opened:\n%s", r.stdout)
	}
	outputs = append(outputs, r.stdout, r.stderr, dev.stderr.String())

	for _, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, secret[4:20]) {
			t.Fatalf("the secret showed up in CLI or server output:\n%s", out)
		}
	}
}
