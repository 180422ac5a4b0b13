package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/events/eventstest"
	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// TestClusterSurvivesLeaderLossAndRestart runs M demo.steps tasks on three worker processes
// against a three-node JetStream cluster (streams at R3, the workers given every node's URL),
// shuts down the TASKS stream's leader while they run, starts it again on its own store (it
// rejoins), then does the same to the new leader; at the end every task has succeeded exactly
// once. MOSAIC_CLUSTER_TASKS sets M (default 1500).
func TestClusterSurvivesLeaderLossAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster and three worker processes")
	}
	tasks := 1500
	if v := os.Getenv("MOSAIC_CLUSTER_TASKS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("MOSAIC_CLUSTER_TASKS=%q is not a count", v)
		}
		tasks = n
	}
	const steps, stepMS, workers = 5, 20, 3
	began := time.Now()

	// The cluster and the topology at R3.
	cluster := eventstest.RunCluster(t, 3)
	urls := cluster.ClientURLs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var js jetstream.JetStream
	for {
		nc, j, err := events.Connect(ctx, events.ConnConfig{URL: urls, Name: t.Name()})
		if err == nil {
			t.Cleanup(nc.Close)
			js = j
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("JetStream cluster not ready: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for {
		_, err := events.ApplyTopology(ctx, js, events.Topology(events.TopologyConfig{Replicas: 3}))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("topology at R3: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// PostgreSQL, a workspace, a client (it publishes through the outbox, which the workers relay).
	db := pgtest.DB(t)
	w, err := db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "cluster-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	reg := agents.NewRegistry()
	demo.Register(reg)
	client, err := agents.NewClient(agents.ClientConfig{DB: db, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	e := &workerEnv{db: db, ws: w.ID, client: client, env: []string{
		"MOSAIC_DATABASE_URL=" + pgtest.OwnerURL(t), "MOSAIC_NATS_URL=" + urls, "MOSAIC_REPLICAS=3", "MOSAIC_LOG_FORMAT=json"}}

	procs := make([]*workerProc, workers)
	for i := range procs {
		procs[i] = e.startWorker(t, "--name", fmt.Sprintf("cw%d", i), "--concurrency", "8", "--heartbeat", "300ms", "--ack-wait", "10s")
	}
	e.waitAgentsRunning(t, workers)

	// A schedule of another workspace fires every second through the failures: each due time
	// must give exactly one task, run to success.
	sw, err := db.CreateWorkspace(context.Background(), store.NewWorkspace{Name: "cluster-schedule-" + uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	tick, err := db.CreateSchedule(context.Background(), store.Schedule{WorkspaceID: sw.ID, Name: "tick", Kind: "demo.echo",
		Args: json.RawMessage(`{}`), Priority: 5, Every: time.Second, Overlap: store.OverlapAllow, Missed: store.MissedRunOnce,
		NextRunAt: time.Now().Add(time.Second).Truncate(time.Second), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}

	ids := e.publishSteps(t, tasks, steps, stepMS)

	counts := func() (succeeded, terminal int) {
		c, err := e.db.CountTasks(context.Background(), e.ws)
		if err != nil {
			t.Fatal(err)
		}
		s := c.ByStatus[store.StatusSucceeded]
		return s, s + c.ByStatus[store.StatusDead] + c.ByStatus[store.StatusCancelled]
	}
	waitSucceeded := func(n int) {
		e.waitFor(t, fmt.Sprintf("%d tasks to succeed", n), 90*time.Second, func() bool {
			s, _ := counts()
			return s >= n
		})
	}
	// tasksLeader asks the cluster (through whichever node the test's connection is on) for the
	// TASKS stream's leader.
	tasksLeader := func() string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ictx, icancel := context.WithTimeout(context.Background(), 3*time.Second)
			st, err := js.Stream(ictx, events.TasksStream)
			var info *jetstream.StreamInfo
			if err == nil {
				info, err = st.Info(ictx)
			}
			icancel()
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
				return info.Cluster.Leader
			}
			if time.Now().After(deadline) {
				t.Fatalf("no TASKS leader after 30s: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// The failures: the TASKS leader is shut down while tasks run, and later started again from
	// its store; then the same to the leader elected in its place.
	kills, restarts := 0, 0
	var story []string
	for round, at := range []int{tasks / 10, tasks / 2} {
		waitSucceeded(at)
		leader := tasksLeader()
		i := cluster.Index(leader)
		if i < 0 {
			t.Fatalf("TASKS leader %q is not a node of the cluster", leader)
		}
		s, _ := counts()
		cluster.Stop(i)
		kills++
		story = append(story, fmt.Sprintf("round %d: stopped TASKS leader %s at %d succeeded", round+1, leader, s))
		time.Sleep(3 * time.Second)
		s, _ = counts()
		story = append(story, fmt.Sprintf("round %d: %d succeeded 3s later; new TASKS leader %s", round+1, s, tasksLeader()))
		cluster.Start(i)
		restarts++
		story = append(story, fmt.Sprintf("round %d: restarted %s on its store", round+1, leader))
	}

	deadline := time.Now().Add(time.Duration(90+tasks/50) * time.Second)
	for {
		_, done := counts()
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			for _, line := range story {
				t.Log(line)
			}
			for i, p := range procs {
				t.Logf("worker cw%d log tail:\n%s", i, tail(p.stderr.String(), 40))
			}
			t.Fatalf("%d of %d tasks ended before the deadline", done, len(ids))
		}
		time.Sleep(250 * time.Millisecond)
	}

	v := e.exactlyOnce(t, ids, steps)
	scheduleOnce(t, db, sw.ID, tick)
	lost, doubled, badSteps, reruns := v.lost, v.doubled, v.badSteps, v.reruns
	for _, line := range story {
		t.Log(line)
	}
	// The restarted nodes rejoined: the TASKS group has a leader and two current followers.
	var group *jetstream.ClusterInfo
	var held uint64
	e.waitFor(t, "the TASKS replicas to be current again", 60*time.Second, func() bool {
		ictx, icancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer icancel()
		st, err := js.Stream(ictx, events.TasksStream)
		if err != nil {
			return false
		}
		info, err := st.Info(ictx)
		if err != nil || info.Cluster == nil {
			return false
		}
		group, held = info.Cluster, info.State.Msgs
		current := 0
		for _, r := range group.Replicas {
			if r.Current && !r.Offline {
				current++
			}
		}
		return group.Leader != "" && current == 2
	})
	var peers []string
	for _, r := range group.Replicas {
		peers = append(peers, fmt.Sprintf("%s(current=%v lag=%d)", r.Name, r.Current, r.Lag))
	}
	t.Logf("TASKS after the run: leader %s, followers %s; %d messages still held", group.Leader, strings.Join(peers, ", "), held)
	exited := 0
	for i, p := range procs {
		log := p.stderr.String()
		t.Logf("worker cw%d: %d NATS disconnects, %d reconnects, %d warnings, %d errors logged", i, strings.Count(log, "NATS disconnected"),
			strings.Count(log, "NATS reconnected"), strings.Count(log, `"level":"warn"`), strings.Count(log, `"level":"error"`))
		if testing.Verbose() {
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, `"level":"error"`) || (strings.Contains(line, `"level":"warn"`) && !strings.Contains(line, "NATS disconnected")) {
					t.Logf("  cw%d: %s", i, line)
				}
			}
		}
		select {
		case <-p.done:
			exited++
			t.Errorf("worker cw%d exited during the run (%v); log tail:\n%s", i, p.err, tail(log, 40))
		default:
		}
	}
	t.Logf("cluster verdict: %d tasks on %d workers, 3 nodes at R3, %d TASKS-leader shutdowns, %d restarts; %d rerun; lost %d, doubled %d, inconsistent step counts %d; workers exited %d; %s",
		tasks, workers, kills, restarts, reruns, lost, doubled, badSteps, exited, time.Since(began).Round(time.Second))
	if lost+doubled+badSteps > 0 {
		t.Fatalf("not exactly once: lost %d, doubled %d, inconsistent %d", lost, doubled, badSteps)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// scheduleOnce pauses a schedule that fired through a cluster's failures, waits for its runs'
// tasks to end, and checks that each due time gave exactly one task, which succeeded.
func scheduleOnce(t *testing.T, db *store.DB, ws uuid.UUID, sch store.Schedule) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.SetSchedulePaused(ctx, ws, sch.Name, true, nil); err != nil {
		t.Fatal(err)
	}
	var perDue map[string]int
	var statuses map[string]int
	deadline := time.Now().Add(60 * time.Second)
	for {
		perDue, statuses = map[string]int{}, map[string]int{}
		err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT metadata->>'scheduled_for', status FROM tasks WHERE workspace_id = $1`, ws)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var due, status string
				if err := rows.Scan(&due, &status); err != nil {
					return err
				}
				perDue[due]++
				statuses[status]++
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		if sumCounts(statuses) == statuses[string(store.StatusSucceeded)] || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	got, err := db.GetSchedule(ctx, ws, sch.Name)
	if err != nil {
		t.Fatal(err)
	}
	doubled := 0
	for due, n := range perDue {
		if n != 1 {
			doubled++
			t.Errorf("due time %s gave %d tasks", due, n)
		}
	}
	t.Logf("schedule verdict: %d runs, %d skipped, %d due times with a task, doubled %d, statuses %v", got.Runs, got.Skipped, len(perDue), doubled, statuses)
	if got.Runs < 5 || int(got.Runs) != sumCounts(statuses) || statuses[string(store.StatusSucceeded)] != sumCounts(statuses) {
		t.Fatalf("schedule through the failures: %d runs recorded, tasks %v; want one succeeded task per run, at least 5", got.Runs, statuses)
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
