package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/store"
)

// The console in a real headless Chromium against `mosaic dev`: a wrong key is refused with the
// API's message, the right one signs in, tasks published from the CLI appear and reach
// "succeeded" through the live event stream (the page is never reloaded), a task's page shows
// its timeline, a running task is cancelled from its page, a dead letter is shown and replayed,
// and the operator sections ask for the admin token, which then shows them.
//
// Not parallel: Go runs it before the parallel tests, so the browser has the machine to itself.
func TestConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	dev := startDev(t, dataDir)
	r := runMosaic(t, nil, "workspaces", "create", "console", "--output", "json", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("workspaces create: %d %s", r.code, r.stderr)
	}
	var created struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("workspaces create printed %q: %v", r.stdout, err)
	}
	adminToken, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(os.TempDir(), "mosaic-console-test")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, chromium)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// until waits for a JavaScript expression to be truthy (the page's state, never a reload).
	until := func(what, expr string) chromedp.Action[chromedp.Void] {
		poll := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			v, err := poll(ctx, tg)
			if err != nil {
				return v, fmt.Errorf("waiting for %s: %w", what, err)
			}
			return v, nil
		}
	}
	signIn := func(key string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.ID("key")),
			chromedp.SetValue(chromedp.ID("key"), key),
			chromedp.Click(chromedp.CSS(`#login button[type="submit"]`))) // as a person does: Submit skips the form's handler
	}

	// A wrong key: the API's 401 message, and the form asks again.
	wrong := created.APIKey[:len(created.APIKey)-4] + "AAAA"
	do("wrong key",
		chromedp.Navigate(dev.server+"/console"),
		signIn(wrong),
		until("the 401 message", `document.getElementById("login-error").textContent.includes("invalid, revoked or expired API key")`),
		until("the form again", `!document.getElementById("login-view").hidden && document.getElementById("view").hidden`),
		// Signed out, the navigation, the live badge and "Sign out" are not shown (a display rule
		// of their own once overrode their hidden attribute).
		until("no navigation or session signed out", `["nav", "session", "live", "signout"].every((id) => document.getElementById(id).offsetParent === null)`))

	// The right key: the tasks page, live.
	do("sign in",
		signIn(created.APIKey),
		until("the task list", `document.querySelector("#task-table") !== null && document.getElementById("login-view").hidden`),
		until("the live stream", `document.getElementById("live").dataset.state === "live"`),
		chromedp.Evaluate[chromedp.Void](`window.mosaicNotReloaded = true`))

	// Five tasks from the CLI; the page shows them succeeded without a reload.
	var ids []string
	for range 5 {
		ids = append(ids, publishDemoSteps(t, dataDir, `{"steps":5,"step_ms":100}`))
	}
	idList, _ := json.Marshal(ids)
	do("tasks succeed in the list",
		until("5 succeeded rows", fmt.Sprintf(`(() => {
			const ids = %s;
			const rows = [...document.querySelectorAll("#task-table tbody tr")];
			return ids.every((id) => rows.some((r) => r.dataset.taskId === id && r.dataset.status === "succeeded"));
		})()`, idList)),
		until("the same page (no reload)", `window.mosaicNotReloaded === true`))
	shot := filepath.Join(artifacts, "console.png")
	screenshot(t, b, shot)

	// Two of the five selected and deleted in bulk: gone from the list and from the API.
	do("delete in bulk",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`[%q, %q].forEach((id) => { document.querySelector('#task-table tr[data-task-id="' + id + '"] input.pick').checked = true; })`, ids[3], ids[4])),
		chromedp.Click(chromedp.CSS(`#task-bulk button.bulk-delete`)),
		until("both gone", fmt.Sprintf(`document.getElementById("task-bulk").textContent.includes("2 of 2 done") && !document.querySelector('#task-table tr[data-task-id="%s"]') && !document.querySelector('#task-table tr[data-task-id="%s"]')`, ids[3], ids[4])))
	for _, id := range ids[3:] {
		if r := runMosaic(t, nil, "tasks", "get", id, "--data-dir", dataDir); r.code == 0 {
			t.Fatalf("task %s after its delete: %s", id, r.stdout)
		}
	}
	ids = ids[:3]

	// Finding one task: by its id in the search box, then every task again.
	do("search by id",
		chromedp.SetValue(chromedp.ID("filter-q"), ids[2]),
		chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)),
		until("one row, that task", fmt.Sprintf(`(() => {
			const rows = [...document.querySelectorAll("#task-table tbody tr")];
			return location.hash.includes("q=") && rows.length === 1 && rows[0].dataset.taskId === %q;
		})()`, ids[2])),
		chromedp.SetValue(chromedp.ID("filter-q"), "steps=5"),
		chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)),
		until("the three left by an argument", `document.querySelectorAll("#task-table tbody tr").length === 3`),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/tasks"`),
		until("the whole list again", `document.querySelectorAll("#task-table tbody tr").length >= 3 && document.getElementById("filter-q").value === ""`),
		// Sorted by when they ended, the last to end first: the three that succeeded, in that order.
		chromedp.SetValue(chromedp.ID("filter-sort"), "finished"),
		chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)),
		until("the list by finish time", `location.hash.includes("sort=finished") && document.querySelectorAll("#task-table tbody tr").length === 3`))
	if r := runMosaic(t, nil, "tasks", "list", "--sort", "finished", "--output", "json", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("tasks list --sort finished: %d %s", r.code, r.stderr)
	} else {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		_ = json.Unmarshal([]byte(r.stdout), &page)
		want := make([]string, 0, len(page.Items))
		for _, it := range page.Items {
			want = append(want, it.ID)
		}
		// The rows as they are now, polled: "the list by finish time" above can be met by the
		// list in creation order (three rows too) before the sorted one replaces it.
		do("the same order as the API", until("the API's order", fmt.Sprintf(
			`[...document.querySelectorAll("#task-table tbody tr")].map((r) => r.dataset.taskId).join(",") === %q`, strings.Join(want, ","))))
	}
	if r := runMosaic(t, nil, "tasks", "list", "--sort", "size", "--data-dir", dataDir); r.code != 2 {
		t.Fatalf("tasks list --sort size: exit %d (want 2) %s", r.code, r.stderr)
	}
	do("back to the creation order", chromedp.Evaluate[chromedp.Void](`location.hash = "#/tasks"`),
		until("the whole list again", `document.querySelectorAll("#task-table tbody tr").length >= 3`))

	// One task's page: its facts and timeline.
	do("task page",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#task-table a[href="#/tasks/%s"]`, ids[0]))),
		until("the task's facts", `document.querySelector("#task-facts")?.dataset.status === "succeeded"`),
		until("its timeline", `(() => {
			const items = [...document.querySelectorAll("#timeline li")];
			return items.some((li) => li.dataset.type === "published") && items.some((li) => li.textContent.includes("succeeded"));
		})()`),
		until("no Cancel button on a finished task", `document.getElementById("cancel") === null`),
		until("attempt and checkpoint", `(() => {
			const text = document.getElementById("task-facts").textContent;
			return text.includes("1 of ") && text.includes("sequence ") && text.includes('"executed": 5');
		})()`))
	screenshot(t, b, filepath.Join(artifacts, "task.png"))

	// A task delayed by an hour, run now from its page.
	r = runMosaic(t, nil, "publish", "--kind", "demo.steps", "--args", `{"steps":1}`, "--delay", "1h", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("publish --delay: %d %s", r.code, r.stderr)
	}
	delayed := strings.TrimSpace(r.stdout)
	do("run a scheduled task now",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/tasks/`+delayed+`"`),
		until("scheduled, with Run now", `document.querySelector("#task-facts")?.dataset.status === "scheduled" && document.getElementById("run-now") !== null`),
		chromedp.Click(chromedp.ID("run-now")),
		until("it ran", `document.querySelector("#task-facts")?.dataset.status === "succeeded"`))

	// A long task, cancelled from its page.
	long := publishDemoSteps(t, dataDir, `{"steps":100,"step_ms":200}`)
	do("cancel a task",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/tasks/`+long+`"`),
		until("the Cancel button", `document.getElementById("cancel") !== null`),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), // the browser's dialog, answered
		chromedp.Click(chromedp.ID("cancel")),
		until("the task cancelled", `document.querySelector("#task-facts")?.dataset.status === "cancelled"`),
		until("no Cancel button any more", `document.getElementById("cancel") === null`))

	// A task that fails for good: its dead letter appears in the list, opens, and is replayed.
	do("dead letters page", chromedp.Evaluate[chromedp.Void](`location.hash = "#/dead-letters"`),
		until("the dead-letter list", `document.querySelector("#dead-letter-table") !== null`))
	dead := publishDemoSteps(t, dataDir, `{"steps":1,"fail_at":1,"fail_mode":"permanent"}`)
	do("dead letter",
		until("its row", `document.querySelector('#dead-letter-table a[href="#/tasks/`+dead+`"]') !== null`),
		chromedp.Click(chromedp.CSS(`#dead-letter-table tbody tr a[href^="#/dead-letters/"]`)),
		until("its facts", `(() => {
			const text = document.querySelector("#dead-letter-facts")?.textContent || "";
			return text.includes("permanent") && text.includes("`+dead+`") && text.includes('"fail_mode": "permanent"');
		})()`),
		chromedp.Click(chromedp.ID("replay")),
		until("the replay", `document.getElementById("view").textContent.includes("queued again (generation")`))
	// Its task's timeline keeps the failed attempt's error on that attempt's event.
	do("the error in the timeline",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/tasks/`+dead+`"`),
		until("the attempt's error", `[...document.querySelectorAll("#timeline li pre.error")].some((p) => p.textContent.length > 0)`))
	// Dead again after the replay (generation 1): retried from its own page.
	do("retry a dead task",
		until("dead after its replay", `document.querySelector("#task-facts")?.dataset.status === "dead" && document.getElementById("task-facts").textContent.includes("generation 1")`),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.ID("retry")),
		until("queued again", `document.getElementById("view").textContent.includes("retry: queued (generation 2)")`),
		until("dead once more, generation 2", `document.querySelector("#task-facts")?.dataset.status === "dead" && document.getElementById("task-facts").textContent.includes("generation 2")`))
	if r := runMosaic(t, nil, "tasks", "get", dead, "--output", "json", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, `"generation": 2`) {
		t.Fatalf("the retried task in the API: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Its dead letters (one per death) selected and discarded in bulk: out of the default list,
	// kept under --state discarded.
	do("discard in bulk",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/dead-letters"`),
		until("the dead letters", `document.querySelectorAll("#dead-letter-table tbody input.pick").length >= 2`),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#dead-letter-table tbody input.pick").forEach((c) => { c.checked = true; })`),
		chromedp.Click(chromedp.CSS(`#dl-bulk button.bulk-discard`)),
		until("none left in the default list", `document.querySelectorAll("#dead-letter-table tbody tr").length === 0 && document.getElementById("dl-bulk").textContent.includes("done")`))
	if r := runMosaic(t, nil, "dlq", "list", "--state", "discarded", "--output", "json", "--data-dir", dataDir); r.code != 0 || strings.Count(r.stdout, `"discarded_at"`) < 2 || !strings.Contains(r.stdout, dead) {
		t.Fatalf("the discarded dead letters in the API: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A schedule made with the CLI: its row, its last run's result, paused from the page.
	if r := runMosaic(t, nil, "schedules", "create", "tick", "--kind", "demo.echo", "--every", "1s", "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("schedules create: %d %s", r.code, r.stderr)
	}
	do("schedules page",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/schedules"`),
		until("its row with a succeeded run", `document.querySelector('#schedule-table tr[data-schedule="tick"] .last-result .status-succeeded') !== null`),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`#schedule-table tr[data-schedule="tick"] button.pause`)),
		until("paused", `document.querySelector('#schedule-table tr[data-schedule="tick"]')?.dataset.paused === "true"`))
	screenshot(t, b, filepath.Join(artifacts, "schedules.png"))
	if r := runMosaic(t, nil, "schedules", "get", "tick", "--output", "json", "--data-dir", dataDir); r.code != 0 || !strings.Contains(r.stdout, `"paused_at": "`) {
		t.Fatalf("the paused schedule in the API: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// The operator sections need the admin token; with it they show.
	do("operator sections with an API key",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/system"`),
		until("five admin-token notes", `document.querySelectorAll(".needs-admin").length === 5`))
	do("admin token",
		chromedp.Click(chromedp.ID("signout")),
		signIn(strings.TrimSpace(string(adminToken))),
		until("the workspace picker", `!document.getElementById("workspace").hidden && document.getElementById("workspace").value === "`+created.ID+`"`),
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/system"`),
		until("an agent", `document.querySelectorAll("#agent-table tbody tr").length > 0`),
		until("the TASKS consumers", `document.querySelectorAll("#consumers-TASKS tbody tr").length > 0`),
		until("the busiest workspaces", `document.querySelector("#overview p") !== null`),
		until("this instance's federation identity", `(document.querySelector("#federation p")?.textContent || "").includes("This instance: ")`),
		// The last hour as the workers measured it: the runs above as bars, their times as lines.
		until("the runs per minute", `document.querySelectorAll("#chart-throughput rect.succeeded").length > 0 && document.querySelectorAll("#chart-throughput rect.failed").length > 0`),
		until("the latency lines", `document.querySelector("#chart-latency circle.run.p95") !== null && document.querySelector("#chart-latency circle.wait.p50") !== null`),
		until("the totals", `/^[1-9][0-9]* succeeded, [1-9][0-9]* failed in 60 minutes$/.test(document.getElementById("chart-totals").textContent)`),
		// One series picked: the choice stays through the section's reloads.
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("chart-series"); s.value = "default/TASKS/p5"; s.dispatchEvent(new Event("change")); })()`),
		until("the p5 series", `document.getElementById("chart-series").value === "default/TASKS/p5"`))
	screenshot(t, b, filepath.Join(artifacts, "system.png"))

	// Operator actions, each checked in the API. A pool paused and resumed from the operators' page.
	admin, err := client.New(dev.server, strings.TrimSpace(string(adminToken)))
	if err != nil {
		t.Fatal(err)
	}
	poolPaused := func(want bool) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				var got struct {
					Paused []struct{ Pool string } `json:"paused"`
				}
				if err := admin.Do(ctx, "GET", "/v1/pools", nil, &got); err != nil {
					return chromedp.Void{}, err
				}
				if slices.ContainsFunc(got.Paused, func(p struct{ Pool string }) bool { return p.Pool == "default" }) == want {
					return chromedp.Void{}, nil
				}
				if time.Now().After(deadline) {
					return chromedp.Void{}, fmt.Errorf("pool default paused: want %v", want)
				}
			}
		}
	}
	do("pause and resume a pool",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		until("the pool's Pause button", `document.querySelector('#pool-actions [data-pool="default"] button.pause') !== null`),
		chromedp.Click(chromedp.CSS(`#pool-actions [data-pool="default"] button.pause`)),
		poolPaused(true),
		until("the pool's Resume button", `document.querySelector('#pool-actions [data-pool="default"] button.resume') !== null`),
		chromedp.Click(chromedp.CSS(`#pool-actions [data-pool="default"] button.resume`)),
		poolPaused(false),
		until("Pause again", `document.querySelector('#pool-actions [data-pool="default"] button.pause') !== null`))

	// The workspace paused from its task list: a task published meanwhile waits, and runs once it
	// is resumed.
	do("pause the workspace",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/tasks"`),
		until("the Pause button", `document.getElementById("workspace-pause") !== null`),
		chromedp.Click(chromedp.ID("workspace-pause")),
		until("paused", `document.getElementById("workspace-state")?.dataset.paused === "true"`))
	time.Sleep(6 * time.Second) // workers read a workspace's limits again within 5 s
	waiting := publishDemoSteps(t, dataDir, `{"steps":1}`)
	time.Sleep(time.Second)
	if task, err := admin.GetTask(context.Background(), uuid.MustParse(created.ID), uuid.MustParse(waiting), 0); err != nil || task.Status == store.StatusSucceeded {
		t.Fatalf("a task of a paused workspace: %+v %v; want it not run", task, err)
	}
	do("resume the workspace",
		chromedp.Click(chromedp.ID("workspace-resume")),
		until("running again", `document.getElementById("workspace-state")?.dataset.paused === "false"`),
		until("the waiting task succeeded", `document.querySelector('#task-table tr[data-task-id="`+waiting+`"]')?.dataset.status === "succeeded"`))

	// The agent drained from the operators' page (last: it stops the dev's pools).
	do("drain the agent",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#/system"`),
		until("a Drain button", `document.querySelector("#agent-table button.drain") !== null`),
		chromedp.Click(chromedp.CSS(`#agent-table button.drain`)),
		until("drain requested", `document.getElementById("agent-table").textContent.includes("drain")`))
	screenshot(t, b, filepath.Join(artifacts, "actions.png"))

	// The knowledge page, on the console's session (no form of its own): the graph with every
	// label, search in each mode with snippets, an entry with its backlinks and versions.
	env := []string{"MOSAIC_API_KEY=" + created.APIKey}
	for _, e := range []struct{ slug, title, body string }{
		{"sourdough", "Sourdough starter", "Feed the starter twice a day; see the [[Bread schedule]]."},
		{"bread-schedule", "Bread schedule", "Bake on Saturdays."},
		{"bread-schedule", "Bread schedule", "Bake on Saturdays and Wednesdays."},
	} {
		if r := runMosaicIn(t, e.body, env, "knowledge", "put", e.slug, "--title", e.title, "--file", "-", "--data-dir", dataDir); r.code != 0 {
			t.Fatalf("knowledge put: %d %s", r.code, r.stderr)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for r := runMosaic(t, env, "knowledge", "graph", "--data-dir", dataDir); !strings.Contains(r.stdout, "2 entries, 1 links"); r = runMosaic(t, env, "knowledge", "graph", "--data-dir", dataDir) {
		if time.Now().After(deadline) {
			t.Fatalf("knowledge never indexed: %s %s", r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	do("the knowledge page",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem("mosaic.workspace", `+strconv.Quote(created.ID)+`)`),
		chromedp.Navigate(dev.server+"/console/knowledge"),
		until("the graph with every label", `document.querySelectorAll("#graph circle").length === 2 &&
			[...document.querySelectorAll("#graph text")].map((t) => t.textContent).sort().join() === "Bread schedule,Sourdough starter"`),
		until("no sign-in form of its own", `document.getElementById("signed-out").hidden && !document.querySelector("input[type=password]")`))
	for _, mode := range []string{"fulltext", "semantic", "hybrid"} {
		do("search "+mode,
			chromedp.SetValue(chromedp.ID("q"), "sourdough starter"),
			chromedp.SetValue(chromedp.ID("mode"), mode),
			chromedp.Click(chromedp.CSS(`#kb-search button[type="submit"]`)),
			until(mode+": the one matching entry", `(() => {
				const hits = [...document.querySelectorAll("#results li a.entry-link")].map((a) => a.textContent);
				return hits.length === 1 && hits[0] === "Sourdough starter" && document.getElementById("search-note").textContent.includes("(`+mode+`")
			})()`))
	}
	do("snippet and lexical note",
		chromedp.SetValue(chromedp.ID("mode"), "fulltext"),
		chromedp.Click(chromedp.CSS(`#kb-search button[type="submit"]`)),
		until("a highlighted snippet", `document.querySelector("#results .snippet mark")?.textContent.toLowerCase() === "starter"`),
		chromedp.SetValue(chromedp.ID("mode"), "semantic"),
		chromedp.Click(chromedp.CSS(`#kb-search button[type="submit"]`)),
		until("the embedder named", `document.getElementById("search-note").textContent.includes("matches shared words, not meaning")`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#graph circle[data-slug="bread-schedule"]').dispatchEvent(new MouseEvent("click"))`),
		until("the entry with its backlink and versions", `document.getElementById("entry-title").textContent === "Bread schedule" &&
			document.getElementById("entry-backlinks").textContent.includes("Sourdough starter") &&
			document.querySelectorAll("#entry-versions li").length === 2`))
	screenshot(t, b, filepath.Join(artifacts, "knowledge.png"))
	t.Logf("screenshots: %s (tasks), task.png, system.png, actions.png and knowledge.png beside it", shot)
}

// publishDemoSteps publishes a demo.steps task from the CLI and returns its id.
func publishDemoSteps(t *testing.T, dataDir, args string) string {
	t.Helper()
	r := runMosaic(t, nil, "publish", "--kind", "demo.steps", "--args", args, "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("publish: %d %s", r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// chromiumPath finds Debian's chromium; as root it installs it when missing, else it skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	if os.Geteuid() != 0 {
		t.Skip("the console test needs Chromium: install the Debian package chromium (apt-get install chromium)")
	}
	t.Log("chromium is missing: apt-get install -y chromium")
	install := func(args ...string) error {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	err := install("install", "-y", "-qq", "chromium")
	if err != nil { // the package lists of a fresh machine may be empty
		err = errors.Join(install("update", "-qq"), install("install", "-y", "-qq", "chromium"))
	}
	if p := find(); p != "" {
		return p
	}
	t.Fatalf("installing chromium: %v", err)
	return ""
}

// startBrowser starts a headless Chromium with a fresh profile and returns its context. At
// cleanup the browser is closed, and no process of it may be left.
func startBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "mosaic-console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	var browserLog bytes.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // as root, Chromium refuses to start without it
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		// No connection of Chromium's own: this machine's closed network refuses them.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&browserLog),
	)
	// The whole browser's life is bounded: a hung page cannot hold the test.
	life, stop := context.WithTimeout(context.Background(), 90*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(closeCtx)
		cancelBrowser()
		cancelAlloc()
		stop()
		// chromedp reaps the processes of the profiles it makes itself; this profile is ours.
		if n := killChromium(profile, 5*time.Second); n > 0 {
			t.Logf("killed %d Chromium processes that outlived the browser", n)
		}
		if pids := chromiumUsing(profile); len(pids) > 0 {
			t.Errorf("Chromium processes left behind: %v", pids)
		}
		for range 50 { // a child may still be writing in the profile for a moment
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if t.Failed() && browserLog.Len() > 0 {
			t.Logf("chromium output:\n%s", browserLog.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser (no timeout: it would end it)
		t.Fatalf("start chromium: %v\n%s", err, browserLog.String())
	}
	return ctx
}

// chromiumUsing lists the processes started with this profile (Chromium passes --user-data-dir
// to each of its children).
func chromiumUsing(profile string) []int {
	want := []byte("--user-data-dir=" + profile)
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range bytes.Split(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killChromium waits up to grace for the profile's processes to end, then kills those left; it
// returns how many it killed.
func killChromium(profile string, grace time.Duration) int {
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(chromiumUsing(profile)) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	killed := 0
	for range 10 {
		pids := chromiumUsing(profile)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return killed
}

func screenshot(t *testing.T, b context.Context, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
