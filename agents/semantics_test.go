package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// Kinds the tests define for themselves.

type recordArgs struct {
	Tag     string `json:"tag"`
	SleepMS int    `json:"sleep_ms,omitempty"`
}

func (recordArgs) Kind() string { return "test.record" }

// recorder runs test.record: it notes the order of runs and how many run at once per workspace.
type recorder struct {
	mu      sync.Mutex
	order   []string
	running map[uuid.UUID]int
	peak    map[uuid.UUID]int
	done    map[uuid.UUID]int
}

func newRecorder() *recorder {
	return &recorder{running: map[uuid.UUID]int{}, peak: map[uuid.UUID]int{}, done: map[uuid.UUID]int{}}
}

func (r *recorder) register(reg *agents.Registry) {
	agents.AddWorker(reg, agents.WorkFunc[recordArgs](func(ctx context.Context, job *agents.Job[recordArgs]) error {
		r.mu.Lock()
		r.order = append(r.order, job.Args.Tag)
		r.running[job.WorkspaceID]++
		r.peak[job.WorkspaceID] = max(r.peak[job.WorkspaceID], r.running[job.WorkspaceID])
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			r.running[job.WorkspaceID]--
			r.done[job.WorkspaceID]++
			r.mu.Unlock()
		}()
		if job.Args.SleepMS > 0 {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(time.Duration(job.Args.SleepMS) * time.Millisecond):
			}
		}
		return nil
	}))
}

type blockArgs struct {
	Checkpoint bool `json:"checkpoint,omitempty"` // write a checkpoint (and so claim the task) before blocking
}

func (blockArgs) Kind() string { return "test.block" }

// blocker runs test.block: it signals started, then waits for release or its context.
type blocker struct {
	started chan *agents.Job[blockArgs]
	release chan struct{}
	cause   chan error
}

func newBlocker() *blocker {
	return &blocker{started: make(chan *agents.Job[blockArgs], 16), release: make(chan struct{}), cause: make(chan error, 16)}
}

func (bl *blocker) register(reg *agents.Registry) {
	agents.AddWorker(reg, agents.WorkFunc[blockArgs](func(ctx context.Context, job *agents.Job[blockArgs]) error {
		if job.Args.Checkpoint {
			if err := job.Checkpoint(ctx, "started"); err != nil {
				return err
			}
		}
		bl.started <- job
		select {
		case <-bl.release:
			return nil
		case <-ctx.Done():
			bl.cause <- context.Cause(ctx)
			return ctx.Err()
		}
	}))
}

func TestFencingStaleDeliveryChangesNothing(t *testing.T) {
	t.Parallel()
	bl := newBlocker()
	b := setup(t, bl.register)
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	id := b.publish(t, agents.TaskSpec{Kind: "test.block"})
	var job *agents.Job[blockArgs]
	select {
	case job = <-bl.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not start")
	}
	ctx := context.Background()
	if err := job.Checkpoint(ctx, map[string]int{"step": 1}); err != nil {
		t.Fatalf("checkpoint of the live delivery: %v", err)
	}
	before := b.wait(t, id, store.StatusRunning, time.Second)

	// The message is redelivered to another worker, which claims the task with a larger token
	// (what a second process does when JetStream redelivers).
	cons, err := b.js.Consumer(ctx, events.TasksStream, agents.ConsumerName("default", 5))
	if err != nil {
		t.Fatal(err)
	}
	ci, _ := cons.Info(ctx)
	claim, err := b.db.Claim(ctx, store.ClaimParams{
		Task:  store.NewTask{WorkspaceID: b.ws, ID: id, Kind: "test.block", Priority: 5, Status: store.StatusQueued, MaxAttempts: 25},
		Fence: before.Fence + 1, MsgSeq: ci.Delivered.Stream, Worker: "other-worker", Lease: time.Minute,
	})
	if err != nil || claim.Outcome != store.Claimed || claim.Attempt != 2 {
		t.Fatalf("second claim: %+v %v", claim, err)
	}

	// The stale delivery's checkpoint and completion change nothing.
	if err := job.Checkpoint(ctx, map[string]int{"step": 2}); !errors.Is(err, agents.ErrFenced) {
		t.Fatalf("stale checkpoint: %v; want ErrFenced", err)
	}
	close(bl.release)
	time.Sleep(300 * time.Millisecond) // the stale handler returns and tries to complete
	after, err := b.db.GetTask(ctx, b.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != store.StatusRunning || deref(after.Worker) != "other-worker" || after.CheckpointSeq != before.CheckpointSeq ||
		string(after.Checkpoint) != string(before.Checkpoint) || after.Result != nil || after.Attempt != 2 {
		t.Fatalf("the stale delivery changed the task: status %s worker %s seq %d→%d checkpoint %s result %s",
			after.Status, deref(after.Worker), before.CheckpointSeq, after.CheckpointSeq, after.Checkpoint, after.Result)
	}
	if n := countEvents(b.events(t, id), store.StatusSucceeded); n != 0 {
		t.Fatalf("%d succeeded events from a stale delivery", n)
	}
	// …and it did not ack: the message is still pending on the consumer.
	ci, err = cons.Info(ctx)
	if err != nil || ci.NumAckPending != 1 {
		t.Fatalf("ack pending %d (%v); want 1: the stale delivery must not ack", ci.NumAckPending, err)
	}
}

func TestRetriesThenDeadThenReplay(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	broken.Store(true)
	b := setup(t, func(r *agents.Registry) {
		agents.AddWorker(r, agents.WorkFunc[toggleArgs](func(ctx context.Context, job *agents.Job[toggleArgs]) error {
			if broken.Load() {
				return fmt.Errorf("downstream is broken (attempt %d)", job.Attempt)
			}
			return job.SetResult("fixed")
		}))
	})
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	id := b.publish(t, agents.TaskSpec{Kind: "test.toggle", MaxAttempts: 3})
	task := b.wait(t, id, store.StatusDead, 20*time.Second)
	if task.Attempt != 3 || !strings.Contains(deref(task.LastError), "downstream is broken (attempt 3)") {
		t.Fatalf("dead task: attempt %d, last error %q", task.Attempt, deref(task.LastError))
	}
	evs := b.events(t, id)
	if countEvents(evs, "running") != 3 || countEvents(evs, store.StatusRetrying) != 2 || countEvents(evs, store.StatusDead) != 1 {
		t.Fatalf("events: %+v", evs)
	}
	dls, _, err := b.db.ListDeadLetters(context.Background(), b.ws, store.DeadLetterFilter{})
	if err != nil || len(dls) != 1 || dls[0].Reason != store.ReasonMaxAttempts || *dls[0].TaskID != id || len(dls[0].Payload) == 0 {
		t.Fatalf("dead letters: %+v %v", dls, err)
	}

	// The operator fixes the cause and replays: it runs again, as a new generation.
	broken.Store(false)
	if _, err := agents.Replay(context.Background(), b.db, b.ws, dls[0].ID, false, "test"); err != nil {
		t.Fatal(err)
	}
	task = b.wait(t, id, store.StatusSucceeded, 20*time.Second)
	if task.Generation != 1 || task.Attempt != 1 || string(task.Result) != `"fixed"` {
		t.Fatalf("replayed task: generation %d attempt %d result %s", task.Generation, task.Attempt, task.Result)
	}
}

type toggleArgs struct{}

func (toggleArgs) Kind() string { return "test.toggle" }

func TestPermanentAndPanic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool(t, agents.PoolConfig{Concurrency: 4})
	perm := b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 3, FailAt: 2, FailMode: "permanent"}})
	panicky := b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 3, FailAt: 2, FailMode: "panic", FailAttempts: 1}})

	task := b.wait(t, perm, store.StatusDead, 10*time.Second)
	if task.Attempt != 1 || task.CheckpointSeq != 1 {
		t.Fatalf("permanent: attempt %d checkpoints %d; want dead on attempt 1 after one step", task.Attempt, task.CheckpointSeq)
	}
	dls, _, _ := b.db.ListDeadLetters(context.Background(), b.ws, store.DeadLetterFilter{Reason: store.ReasonPermanent})
	if len(dls) != 1 || *dls[0].TaskID != perm {
		t.Fatalf("permanent dead letters: %+v", dls)
	}
	// A panic is an ordinary failure: retried, and the retry resumes after the last checkpoint.
	task = b.wait(t, panicky, store.StatusSucceeded, 10*time.Second)
	res := decode[demo.StepsResult](t, task.Result)
	if task.Attempt != 2 || res.ResumedFrom != 1 || res.Executed != 2 {
		t.Fatalf("after a panic: attempt %d result %+v; want attempt 2 resuming from step 1", task.Attempt, res)
	}
}

func TestPoisonMessagesAreDeadLetteredAndTheConsumerGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ws := b.ws
	other := uuid.New()
	subj := func(band, wsTok, kind string) string { return "mosaic.tasks." + band + "." + wsTok + "." + kind }
	env := func(ws uuid.UUID, kind string, extra string) []byte {
		return []byte(fmt.Sprintf(`{"workspace_id":%q,"kind":%q%s}`, ws, kind, extra))
	}
	big := `,"args":{"pad":"` + strings.Repeat("x", events.MaxArgsBytes) + `"}`
	cases := []struct {
		name, subject string
		body          []byte
		reason        string
		unrouted      bool
	}{
		{"garbage", subj("p5", ws.String(), "demo.echo"), []byte("\x00\xffnot json"), events.ReasonInvalidEnvelope, false},
		{"unknown kind", subj("p5", ws.String(), "demo.nope"), env(ws, "demo.nope", ""), events.ReasonUnknownKind, false},
		{"invalid args", subj("p5", ws.String(), "demo.steps"), env(ws, "demo.steps", `,"args":{"steps":-1}`), events.ReasonInvalidArgs, false},
		{"args of the wrong shape", subj("p5", ws.String(), "demo.steps"), env(ws, "demo.steps", `,"args":{"stepz":3}`), events.ReasonInvalidArgs, false},
		{"workspace mismatch", subj("p5", ws.String(), "demo.echo"), env(other, "demo.echo", ""), events.ReasonWorkspaceMismatch, false},
		{"priority out of range", subj("p5", ws.String(), "demo.echo"), env(ws, "demo.echo", `,"priority":11`), events.ReasonInvalidPriority, false},
		{"priority off its band", subj("p5", ws.String(), "demo.echo"), env(ws, "demo.echo", `,"priority":2`), events.ReasonInvalidPriority, false},
		{"negative timeout", subj("p5", ws.String(), "demo.echo"), env(ws, "demo.echo", `,"timeout_ms":-5`), events.ReasonInvalidEnvelope, false},
		{"oversize args", subj("p5", ws.String(), "demo.echo"), env(ws, "demo.echo", big), events.ReasonArgsTooLarge, false},
		{"unknown workspace", subj("p5", other.String(), "demo.echo"), env(other, "demo.echo", ""), events.ReasonUnknownWorkspace, true},
		{"bad subject", subj("p5", "not-a-workspace", "demo.echo"), env(ws, "demo.echo", ""), events.ReasonInvalidSubject, true},
	}
	for _, c := range cases {
		if _, err := b.js.Publish(ctx, c.subject, c.body); err != nil {
			t.Fatalf("%s: publish: %v", c.name, err)
		}
	}
	// A good task after all the bad ones still runs.
	good := uuid.New()
	if _, err := b.js.Publish(ctx, subj("p5", ws.String(), "demo.echo"),
		[]byte(fmt.Sprintf(`{"id":%q,"workspace_id":%q,"kind":"demo.echo","args":{"ok":true}}`, good, ws))); err != nil {
		t.Fatal(err)
	}
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	b.wait(t, good, store.StatusSucceeded, 10*time.Second)

	deadline := time.Now().Add(10 * time.Second)
	for {
		dls, _, err := b.db.ListDeadLetters(ctx, ws, store.DeadLetterFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		unrouted, err := b.db.ListUnrouted(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		missing := []string{}
		for _, c := range cases {
			found := false
			if c.unrouted {
				for _, u := range unrouted {
					found = found || (u.Subject == c.subject && u.Reason == c.reason && string(u.Payload) == string(c.body))
				}
			} else {
				for _, d := range dls {
					found = found || (d.Reason == c.reason && string(d.Payload) == string(c.body) && d.Error != "")
				}
			}
			if !found {
				missing = append(missing, c.name)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not dead-lettered with their reason: %v", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every message was settled: nothing is left on the consumer.
	b.waitDrained(t, 5, uint64(len(cases))+1)
	// The unknown-kind task exists, dead, with its reason: the publisher can find out.
	dls, _, _ := b.db.ListDeadLetters(ctx, ws, store.DeadLetterFilter{Reason: events.ReasonUnknownKind})
	task, err := b.db.GetTask(ctx, ws, *dls[0].TaskID)
	if err != nil || task.Status != store.StatusDead {
		t.Fatalf("unknown-kind task: %+v %v", task, err)
	}
}

func TestPriorityBandsAndGuaranteedShare(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	var ids []uuid.UUID
	for _, prio := range []int{10, 5, 1} {
		for range 5 {
			ids = append(ids, b.publish(t, agents.TaskSpec{Kind: "test.record", Priority: prio, Args: recordArgs{Tag: fmt.Sprintf("p%d", prio)}}))
		}
	}
	b.waitQueued(t, len(ids))
	b.pool(t, agents.PoolConfig{Concurrency: 1})
	for _, id := range ids {
		b.wait(t, id, store.StatusSucceeded, 20*time.Second)
	}
	rec.mu.Lock()
	order := strings.Join(rec.order, " ")
	rec.mu.Unlock()
	want := strings.TrimSpace(strings.Repeat("p1 ", 5) + strings.Repeat("p5 ", 5) + strings.Repeat("p10 ", 5))
	if order != want {
		t.Fatalf("order %q; want %q", order, want)
	}
}

func TestLowerBandsAreNotStarved(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	var ids []uuid.UUID
	for range 2 {
		ids = append(ids, b.publish(t, agents.TaskSpec{Kind: "test.record", Priority: 10, Args: recordArgs{Tag: "low"}}))
	}
	for range 30 {
		ids = append(ids, b.publish(t, agents.TaskSpec{Kind: "test.record", Priority: 1, Args: recordArgs{Tag: "high"}}))
	}
	b.waitQueued(t, len(ids))
	b.pool(t, agents.PoolConfig{Concurrency: 1, LowerBandShare: 9})
	for _, id := range ids {
		b.wait(t, id, store.StatusSucceeded, 20*time.Second)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	first := slices.Index(rec.order, "low")
	if first < 0 || first > 11 {
		t.Fatalf("first low-priority task ran at position %d of %v; want within the first 11", first, rec.order)
	}
	if rec.order[0] != "high" {
		t.Fatalf("order %v: the high band must go first", rec.order)
	}
}

// waitQueued waits until the relay has put n task messages on the TASKS stream.
func (b *testBundle) waitQueued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s, err := b.js.Stream(context.Background(), events.TasksStream)
		if err == nil {
			info, err := s.Info(context.Background())
			if err == nil && info.State.Msgs >= uint64(n) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fewer than %d messages reached the TASKS stream", n)
}

func TestWorkspaceCapAndFairness(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	ctx := context.Background()
	flood := b.ws
	if err := b.db.SetMaxConcurrency(ctx, flood, 2); err != nil {
		t.Fatal(err)
	}
	quiet := b.workspace(t)
	var floodIDs, quietIDs []uuid.UUID
	for range 30 {
		floodIDs = append(floodIDs, b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{SleepMS: 50}}))
	}
	for range 5 {
		quietIDs = append(quietIDs, b.publish(t, agents.TaskSpec{WorkspaceID: quiet, Kind: "test.record", Args: recordArgs{SleepMS: 50}}))
	}
	b.waitQueued(t, 35)
	b.pool(t, agents.PoolConfig{Concurrency: 6, CapacityDelay: 50 * time.Millisecond})

	deadline := time.Now().Add(30 * time.Second)
	for {
		rec.mu.Lock()
		quietDone, floodDone := rec.done[quiet], rec.done[flood]
		rec.mu.Unlock()
		if quietDone == 5 {
			if floodDone >= 25 {
				t.Fatalf("the quiet workspace finished only after %d of the flood's 30 tasks", floodDone)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quiet workspace: %d of 5 done", quietDone)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ws = flood
	for _, id := range floodIDs {
		b.wait(t, id, store.StatusSucceeded, 60*time.Second)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.peak[flood] > 2 {
		t.Fatalf("the capped workspace ran %d tasks at once; its cap is 2", rec.peak[flood])
	}
	if rec.peak[flood] < 2 {
		t.Fatalf("the capped workspace never used its 2 slots (peak %d)", rec.peak[flood])
	}
}

func TestCancelQueuedAndRunning(t *testing.T) {
	t.Parallel()
	bl := newBlocker()
	rec := newRecorder()
	b := setup(t, bl.register, rec.register)
	ctx := context.Background()

	queued := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "must-not-run"}})
	b.waitQueued(t, 1)
	res, err := b.client.Cancel(ctx, b.nc, b.ws, queued, "test")
	if err != nil || res.Status != store.StatusCancelled || res.WasRunning {
		t.Fatalf("cancel queued: %+v %v", res, err)
	}
	if _, err := b.client.Cancel(ctx, b.nc, b.ws, queued, "test"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancel twice: %v; want ErrConflict", err)
	}
	if _, err := b.client.Cancel(ctx, b.nc, b.ws, uuid.New(), "test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel unknown: %v; want ErrNotFound", err)
	}

	b.pool(t, agents.PoolConfig{Concurrency: 2})
	running := b.publish(t, agents.TaskSpec{Kind: "test.block"})
	select {
	case <-bl.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking task did not start")
	}
	// The handler has written nothing yet: the row may still say queued (the delivery claims with
	// its first write), and the cancel reaches the handler through the control subject either way.
	if _, err = b.client.Cancel(ctx, b.nc, b.ws, running, "test"); err != nil {
		t.Fatalf("cancel running: %v", err)
	}
	select {
	case cause := <-bl.cause:
		if !errors.Is(cause, agents.ErrCancelled) {
			t.Fatalf("handler's context ended with %v; want ErrCancelled", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the running handler was not cancelled")
	}
	b.wait(t, running, store.StatusCancelled, 5*time.Second)

	// A running task that has claimed its row (it checkpointed): the row says running, the cancel
	// is a request, and the worker ends it as cancelled.
	claimed := b.publish(t, agents.TaskSpec{Kind: "test.block", Args: blockArgs{Checkpoint: true}})
	select {
	case <-bl.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the checkpointing blocking task did not start")
	}
	res, err = b.client.Cancel(ctx, b.nc, b.ws, claimed, "test")
	if err != nil || !res.WasRunning || res.Status != store.StatusRunning {
		t.Fatalf("cancel a claimed running task: %+v %v", res, err)
	}
	select {
	case cause := <-bl.cause:
		if !errors.Is(cause, agents.ErrCancelled) {
			t.Fatalf("claimed handler's context ended with %v; want ErrCancelled", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the claimed running handler was not cancelled")
	}
	b.wait(t, claimed, store.StatusCancelled, 5*time.Second)

	// The queued task's message was taken back from the stream by its cancel: two delivered
	// (the running ones), none left.
	b.waitDrained(t, 5, 2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.order) != 0 {
		t.Fatalf("the cancelled queued task ran: %v", rec.order)
	}
}

// TestACancelledNewTaskNeverRuns: a new task's first delivery does not read its row, so a cancel
// takes its message back from the stream. The pool knows the workspace (a task of it ran) and
// its one slot is busy. A task published then, while the pool has no pull open, waits on the
// stream; one published while a pull is open waits in the pool for the slot. Both are cancelled
// there: the first one's message is gone from the stream, the second reads its row before it
// runs (it waited past heldFor), and neither runs once the slot frees.
func TestACancelledNewTaskNeverRuns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		idle    time.Duration // the pool's IdleWait: how long the pull that brought the blocking task stays open
		inPool  bool          // the cancelled task is in the pool when cancelled, not on the stream
		settled func(*testing.T, *testBundle, uuid.UUID)
	}{
		{name: "on the stream", idle: 200 * time.Millisecond},
		{name: "in the pool", idle: 20 * time.Second, inPool: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			bl := newBlocker()
			rec := newRecorder()
			b := setup(t, bl.register, rec.register)
			ctx := context.Background()
			b.pool(t, agents.PoolConfig{Concurrency: 1, IdleWait: c.idle})
			warm := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "warm"}})
			b.wait(t, warm, store.StatusSucceeded, 10*time.Second)
			blocking := b.publish(t, agents.TaskSpec{Kind: "test.block"})
			select {
			case <-bl.started:
			case <-time.After(10 * time.Second):
				t.Fatal("the blocking task did not start")
			}
			cons, err := b.js.Consumer(ctx, events.TasksStream, agents.ConsumerName("default", 5))
			if err != nil {
				t.Fatal(err)
			}
			if !c.inPool {
				// The waiting pull that brought the blocking task ends after IdleWait; a pool with
				// no free slot opens no other.
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					ci, err := cons.Info(ctx)
					if err == nil && ci.NumWaiting == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the pool's pull is still open: %+v %v", ci, err)
					}
				}
			}
			cancelled := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "must-not-run"}})
			// Where its message is: on the stream (none delivered beyond the blocking task) or
			// delivered to the pool (two awaiting their acks).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				ci, err := cons.Info(ctx)
				if err == nil && !c.inPool && ci.NumPending == 1 && ci.NumAckPending == 1 ||
					err == nil && c.inPool && ci.NumPending == 0 && ci.NumAckPending == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the cancelled task's message is not where the case wants it: %+v %v", ci, err)
				}
			}
			time.Sleep(2 * 100 * time.Millisecond) // past heldFor: in the pool, it has waited for its slot
			res, err := b.client.Cancel(ctx, b.nc, b.ws, cancelled, "test")
			if err != nil || res.Status != store.StatusCancelled || res.WasRunning {
				t.Fatalf("cancel: %+v %v", res, err)
			}
			s, err := b.js.Stream(ctx, events.TasksStream)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := s.GetLastMsgForSubject(ctx, events.SubjectFor(5, b.ws, "test.record")); !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatalf("the cancelled task's message is still on the stream: %v %v", m, err)
			}
			close(bl.release)
			b.wait(t, blocking, store.StatusSucceeded, 10*time.Second)
			after := b.publish(t, agents.TaskSpec{Kind: "test.record", Args: recordArgs{Tag: "after"}})
			b.wait(t, after, store.StatusSucceeded, 10*time.Second)
			if got := b.wait(t, cancelled, "", time.Second); got.Status != store.StatusCancelled || got.Attempt != 0 {
				t.Fatalf("the cancelled task: %s, attempt %d", got.Status, got.Attempt)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if fmt.Sprint(rec.order) != "[warm after]" {
				t.Fatalf("handlers ran %v; want [warm after]", rec.order)
			}
		})
	}
}

func TestDelayedTaskIsNotRunEarly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	published := time.Now()
	id := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Delay: 2 * time.Second})
	task, err := b.db.GetTask(context.Background(), b.ws, id)
	if err != nil || task.Status != store.StatusScheduled || task.RunAt == nil {
		t.Fatalf("delayed task: %+v %v", task, err)
	}
	task = b.wait(t, id, store.StatusSucceeded, 15*time.Second)
	if task.StartedAt.Before(*task.RunAt) || task.StartedAt.Sub(published) < 2*time.Second {
		t.Fatalf("started at %s, before its run_at %s", task.StartedAt, task.RunAt)
	}
	// A delay in a raw message is honoured too.
	raw := uuid.New()
	runAt := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	body := fmt.Sprintf(`{"id":%q,"workspace_id":%q,"kind":"demo.echo","run_at":%q}`, raw, b.ws, runAt)
	if _, err := b.js.Publish(context.Background(), events.TaskSubject(5, b.ws, "demo.echo"), []byte(body)); err != nil {
		t.Fatal(err)
	}
	task = b.wait(t, raw, store.StatusSucceeded, 15*time.Second)
	if task.StartedAt.Before(*task.RunAt) {
		t.Fatalf("raw delayed task started at %s, before its run_at %s", task.StartedAt, task.RunAt)
	}
}

func TestIdempotencyKeyGivesOneTask(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	ctx := context.Background()
	spec := agents.TaskSpec{WorkspaceID: b.ws, Kind: "test.record", Args: recordArgs{Tag: "once"}, IdempotencyKey: "order-42"}
	first, err := b.client.Publish(ctx, spec)
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := b.client.Publish(ctx, spec)
	if err != nil || !second.Duplicate || second.ID != first.ID {
		t.Fatalf("second: %+v %v; want a duplicate of %s", second, err, first.ID)
	}
	// The same key over raw NATS is the same task too.
	body := fmt.Sprintf(`{"workspace_id":%q,"kind":"test.record","args":{"tag":"once"},"idempotency_key":"order-42"}`, b.ws)
	if _, err := b.js.Publish(ctx, events.TaskSubject(5, b.ws, "test.record"), []byte(body)); err != nil {
		t.Fatal(err)
	}
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	b.wait(t, first.ID, store.StatusSucceeded, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := countEvents(b.events(t, first.ID), "running"); n != 1 {
		t.Fatalf("the task ran %d times", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.order) != 1 {
		t.Fatalf("handler ran %d times", len(rec.order))
	}
}

func TestProgressTimeoutCancelsAndRetries(t *testing.T) {
	t.Parallel()
	var attempts atomic.Int32
	b := setup(t, func(r *agents.Registry) {
		agents.AddWorkerConfig(r, agents.WorkFunc[hangArgs](func(ctx context.Context, job *agents.Job[hangArgs]) error {
			attempts.Add(1)
			if job.Attempt == 1 {
				<-ctx.Done() // makes no progress at all
				return context.Cause(ctx)
			}
			return nil
		}), agents.WorkerConfig{ProgressTimeout: 300 * time.Millisecond})
	})
	b.pool(t, agents.PoolConfig{Concurrency: 1, AckWait: 300 * time.Millisecond})
	id := b.publish(t, agents.TaskSpec{Kind: "test.hang"})
	task := b.wait(t, id, store.StatusSucceeded, 15*time.Second)
	if task.Attempt != 2 {
		t.Fatalf("attempt %d; want 2", task.Attempt)
	}
	evs := b.events(t, id)
	var retry store.TaskEvent
	for _, e := range evs {
		if e.Type == string(store.StatusRetrying) {
			retry = e
		}
	}
	if retry.Type == "" {
		t.Fatalf("no retry recorded: %+v", evs)
	}
}

type hangArgs struct{}

func (hangArgs) Kind() string { return "test.hang" }

func TestStopDrainsAndNothingIsLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []uuid.UUID
	for range 6 {
		ids = append(ids, b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 40, StepMS: 25}}))
	}
	b.waitQueued(t, len(ids))
	first := b.pool(t, agents.PoolConfig{Concurrency: 6, WorkerName: "first"})
	b.wait(t, ids[0], store.StatusRunning, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	// A stop whose drain window is shorter than the tasks: they are interrupted, not lost.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		task, _ := b.db.GetTask(context.Background(), b.ws, id)
		if task.Status != store.StatusRetrying || task.CheckpointSeq == 0 {
			t.Fatalf("after an interrupted drain: %s status %s with %d checkpoints; want retrying with progress kept", id, task.Status, task.CheckpointSeq)
		}
	}
	b.pool(t, agents.PoolConfig{Concurrency: 6, WorkerName: "second"})
	for _, id := range ids {
		task := b.wait(t, id, store.StatusSucceeded, 20*time.Second)
		res := decode[demo.StepsResult](t, task.Result)
		if res.ResumedFrom == 0 || res.ResumedFrom+res.Executed != 40 || task.Attempt != 2 || task.MaxAttempts != 26 {
			t.Fatalf("%s: result %+v attempt %d max attempts %d; want a resume that completes the 40 steps, the interrupted attempt not counted",
				id, res, task.Attempt, task.MaxAttempts)
		}
		if n := countEvents(b.events(t, id), store.StatusSucceeded); n != 1 {
			t.Fatalf("%s succeeded %d times", id, n)
		}
	}
}

// TestAHeartbeatClaimDoesNotRefuseItsOwnEnd: a handler that runs through a heartbeat without
// writing is claimed by the heartbeat; one that returns while that claim is under way must not
// send its end as a claim-and-end (which would find the task claimed by its own delivery, be
// refused, and leave the message for its redelivery: a second attempt after the ack wait). With
// a heartbeat every 133 ms and handlers of 1–130 ms, many ends meet a heartbeat's claim; every task
// must end in its first attempt. (An ack wait of 150 ms, as first written, also let a heartbeat
// delayed by a loaded machine cause a real redelivery: 400 ms gives three beats of margin.)
func TestAHeartbeatClaimDoesNotRefuseItsOwnEnd(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	b := setup(t, rec.register)
	b.pool(t, agents.PoolConfig{Concurrency: 32, AckWait: 400 * time.Millisecond})
	const n = 300
	specs := make([]agents.TaskSpec, n)
	for i := range specs {
		specs[i] = agents.TaskSpec{WorkspaceID: b.ws, Kind: "test.record", Args: recordArgs{Tag: fmt.Sprint(i), SleepMS: 1 + i%130}}
	}
	pub, err := b.client.PublishMany(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pub {
		task := b.wait(t, p.ID, store.StatusSucceeded, 30*time.Second)
		if task.Attempt != 1 {
			t.Fatalf("task %s succeeded in attempt %d: an end was refused and the message redelivered", p.ID, task.Attempt)
		}
	}
}

type failTwiceArgs struct{}

func (failTwiceArgs) Kind() string { return "test.fail-twice" }

// TestEachAttemptKeepsItsError: a task that succeeded after two failures shows both errors, each
// on the audit row of the attempt that failed (the task row keeps only the last), and a success
// records no error.
func TestEachAttemptKeepsItsError(t *testing.T) {
	t.Parallel()
	b := setup(t, func(r *agents.Registry) {
		agents.AddWorker(r, agents.WorkFunc[failTwiceArgs](func(ctx context.Context, job *agents.Job[failTwiceArgs]) error {
			if job.Attempt <= 2 {
				return fmt.Errorf("upstream said no to attempt %d", job.Attempt)
			}
			return nil
		}))
	})
	b.pool(t, agents.PoolConfig{Concurrency: 1})
	id := b.publish(t, agents.TaskSpec{Kind: "test.fail-twice"})
	b.wait(t, id, store.StatusSucceeded, 15*time.Second)
	var errs []string
	for _, e := range b.events(t, id) {
		var d struct {
			Error *string `json:"error"`
		}
		if len(e.Detail) > 0 {
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case e.Type == string(store.StatusRetrying) && d.Error != nil:
			errs = append(errs, fmt.Sprintf("%d: %s", e.Attempt, *d.Error))
		case e.Type == string(store.StatusRetrying):
			t.Errorf("attempt %d's retry has no error: %s", e.Attempt, e.Detail)
		case d.Error != nil:
			t.Errorf("a %s event with an error: %s", e.Type, e.Detail)
		}
	}
	want := []string{"1: upstream said no to attempt 1", "2: upstream said no to attempt 2"}
	if !slices.Equal(errs, want) {
		t.Fatalf("errors in the events: %q; want %q", errs, want)
	}
}

// TestRunNowStartsAScheduledTask: a task delayed by an hour, made due now, runs at once, once;
// its schedule message, when it fires, would find it ended. A task that is not scheduled cannot be.
func TestRunNowStartsAScheduledTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool(t, agents.PoolConfig{Concurrency: 2})
	id := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Delay: time.Hour})
	task, err := agents.RunTaskNow(context.Background(), b.db, b.ws, id, "test")
	if err != nil || task.Status != store.StatusQueued {
		t.Fatalf("run now: %+v %v", task, err)
	}
	done := b.wait(t, id, store.StatusSucceeded, 15*time.Second)
	if done.Attempt != 1 {
		t.Fatalf("attempt %d; want 1", done.Attempt)
	}
	if n := countEvents(b.events(t, id), "run_now"); n != 1 {
		t.Fatalf("%d run_now events; want 1", n)
	}
	if _, err := agents.RunTaskNow(context.Background(), b.db, b.ws, id, "test"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("run now a succeeded task: %v; want a conflict", err)
	}
}

// TestAKindsRetryPolicyOverridesThePools: a kind registered with a retry policy of its own
// (WorkerConfig.RetryPolicy) waits what that policy says after a failed attempt; the pool's policy
// (an hour here: the task would not finish in time) is not asked.
func TestAKindsRetryPolicyOverridesThePools(t *testing.T) {
	t.Parallel()
	var kindAsked, poolAsked atomic.Int32
	b := setup(t, func(r *agents.Registry) {
		agents.AddWorkerConfig(r, agents.WorkFunc[toggleArgs](func(ctx context.Context, job *agents.Job[toggleArgs]) error {
			if job.Attempt == 1 {
				return errors.New("the first attempt fails")
			}
			return nil
		}), agents.WorkerConfig{RetryPolicy: countingPolicy{&kindAsked, 10 * time.Millisecond}})
	})
	b.pool(t, agents.PoolConfig{Concurrency: 2, RetryPolicy: countingPolicy{&poolAsked, time.Hour}})
	id := b.publish(t, agents.TaskSpec{Kind: "test.toggle", MaxAttempts: 3})
	task := b.wait(t, id, store.StatusSucceeded, 20*time.Second)
	if task.Attempt != 2 || kindAsked.Load() != 1 || poolAsked.Load() != 0 {
		t.Fatalf("attempts %d; the kind's policy asked %d times, the pool's %d; want 2, 1, 0", task.Attempt, kindAsked.Load(), poolAsked.Load())
	}
}

// countingPolicy waits delay after every failed attempt and counts how often it was asked.
type countingPolicy struct {
	asked *atomic.Int32
	delay time.Duration
}

func (p countingPolicy) NextRetry(int, error) time.Duration {
	p.asked.Add(1)
	return p.delay
}
