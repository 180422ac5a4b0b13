package agenttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/agenttest"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/events"
)

// testArgs make testWorker do what a case needs.
type testArgs struct {
	Steps  int    `json:"steps"`
	Return string `json:"return,omitempty"` // "", "error", "permanent", "snooze", "retry_after", "panic", "ctx"
	Text   string `json:"text,omitempty"`
}

func (testArgs) Kind() string { return "agenttest.test" }

func (a testArgs) Validate() error {
	if a.Steps < 0 {
		return errors.New("steps must not be negative")
	}
	return nil
}

type progress struct {
	Done int `json:"done"`
}

// testWorker resumes from its checkpoint, checkpoints each step unless its context has ended,
// reports progress, sets its result and then ends as Return says.
func testWorker(ctx context.Context, job *agents.Job[testArgs]) error {
	var p progress
	if _, err := job.Restore(&p); err != nil {
		return err
	}
	for p.Done < job.Args.Steps {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		p.Done++
		job.Progress(float64(p.Done)/float64(job.Args.Steps), "step")
		if err := job.Checkpoint(ctx, p); err != nil {
			return err
		}
	}
	if err := job.SetResult(map[string]any{"done": p.Done, "seq": job.CheckpointSeq()}); err != nil {
		return err
	}
	switch job.Args.Return {
	case "error":
		return errors.New("failed")
	case "permanent":
		return agents.Permanent(errors.New("no use"))
	case "snooze":
		return agents.Snooze(time.Minute)
	case "retry_after":
		return agents.RetryAfter(time.Hour, errors.New("later"))
	case "panic":
		panic("boom")
	case "ctx":
		<-ctx.Done()
		return context.Cause(ctx)
	}
	return nil
}

var worker = agents.WorkFunc[testArgs](testWorker)

// fixedDelay is a retry policy without jitter.
type fixedDelay time.Duration

func (d fixedDelay) NextRetry(int, error) time.Duration { return time.Duration(d) }

func TestRunRecordsCheckpointsProgressAndResult(t *testing.T) {
	t.Parallel()
	rec, err := agenttest.Run(context.Background(), worker, testArgs{Steps: 3}, agenttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Err != nil || rec.Fate != agents.FateSucceeded {
		t.Fatalf("err %v, fate %v; want nil, succeeded", rec.Err, rec.Fate)
	}
	if got := joinRaw(rec.Checkpoints); got != `{"done":1} {"done":2} {"done":3}` {
		t.Errorf("checkpoints %s", got)
	}
	if string(rec.LastCheckpoint()) != `{"done":3}` {
		t.Errorf("last checkpoint %s", rec.LastCheckpoint())
	}
	if string(rec.Result) != `{"done":3,"seq":3}` {
		t.Errorf("result %s", rec.Result)
	}
	if len(rec.Progress) != 3 || rec.Progress[2] != (agenttest.Progress{Fraction: 1, Message: "step"}) {
		t.Errorf("progress %+v", rec.Progress)
	}
	if rec.TaskID == uuid.Nil {
		t.Error("no task id")
	}
}

func TestRunResumesFromARestoredCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first, err := agenttest.Run(ctx, worker, testArgs{Steps: 5}, agenttest.Options{CancelAtCheckpoint: 2})
	if err != nil {
		t.Fatal(err)
	}
	if first.Fate != agents.FateCancelled || !errors.Is(first.Err, agents.ErrCancelled) || len(first.Checkpoints) != 2 {
		t.Fatalf("first run: fate %v, err %v, %d checkpoints; want cancelled at the second", first.Fate, first.Err, len(first.Checkpoints))
	}
	// A checkpoint as stored, or as a value: the same restore.
	for _, cp := range []any{first.LastCheckpoint(), progress{Done: 2}} {
		rec, err := agenttest.Run(ctx, worker, testArgs{Steps: 5}, agenttest.Options{Attempt: 2, Checkpoint: cp, CheckpointSeq: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := joinRaw(rec.Checkpoints); got != `{"done":3} {"done":4} {"done":5}` {
			t.Errorf("resumed from %v: checkpoints %s", cp, got)
		}
		if string(rec.Result) != `{"done":5,"seq":5}` {
			t.Errorf("resumed from %v: result %s", cp, rec.Result)
		}
	}
}

func TestRunGivesTheEnginesFate(t *testing.T) {
	t.Parallel()
	shutdown, stop := context.WithCancelCause(context.Background())
	stop(agents.ErrShutdown)
	cases := []struct {
		name  string
		ctx   context.Context
		args  testArgs
		opts  agenttest.Options
		fate  agents.Fate
		delay time.Duration
	}{
		{name: "nil", args: testArgs{}, fate: agents.FateSucceeded},
		{name: "error", args: testArgs{Return: "error"}, opts: agenttest.Options{RetryPolicy: fixedDelay(7 * time.Second)},
			fate: agents.FateRetried, delay: 7 * time.Second},
		{name: "error on the last attempt", args: testArgs{Return: "error"}, opts: agenttest.Options{Attempt: 3, MaxAttempts: 3},
			fate: agents.FateExhausted},
		{name: "permanent", args: testArgs{Return: "permanent"}, fate: agents.FatePermanent},
		{name: "permanent on the last attempt", args: testArgs{Return: "permanent"}, opts: agenttest.Options{Attempt: 25},
			fate: agents.FatePermanent},
		{name: "snooze", args: testArgs{Return: "snooze"}, opts: agenttest.Options{Attempt: 25}, fate: agents.FateSnoozed, delay: time.Minute},
		{name: "retry after", args: testArgs{Return: "retry_after"}, fate: agents.FateRetried, delay: time.Hour},
		{name: "panic", args: testArgs{Return: "panic"}, opts: agenttest.Options{RetryPolicy: fixedDelay(time.Second)},
			fate: agents.FateRetried, delay: time.Second},
		{name: "cancelled", args: testArgs{Steps: 2, Return: "ctx"}, opts: agenttest.Options{CancelAtCheckpoint: 1}, fate: agents.FateCancelled},
		{name: "pool stopping", ctx: shutdown, args: testArgs{Return: "ctx"}, fate: agents.FateRequeued},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			rec, err := agenttest.Run(ctx, worker, c.args, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Fate != c.fate || rec.Delay != c.delay {
				t.Errorf("fate %v after %s (err %v); want %v after %s", rec.Fate, rec.Delay, rec.Err, c.fate, c.delay)
			}
		})
	}
}

func TestRunRecoversAPanicAsThePoolDoes(t *testing.T) {
	t.Parallel()
	rec, err := agenttest.Run(context.Background(), worker, testArgs{Return: "panic"}, agenttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p *agents.PanicError
	if !errors.As(rec.Err, &p) || p.Value != "boom" || p.Stack == "" {
		t.Fatalf("err %#v; want a PanicError of boom with its stack", rec.Err)
	}
}

func TestRunRefusesWhatWouldNotSurviveTheWire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		args testArgs
		opts agenttest.Options
		want error
	}{
		{name: "args failing Validate", args: testArgs{Steps: -1}, want: agents.ErrInvalidArgs},
		{name: "args PostgreSQL cannot hold", args: testArgs{Text: "a\x00b"}, want: agents.ErrInvalidArgs},
		{name: "args beyond the size limit", args: testArgs{Text: strings.Repeat("x", events.MaxArgsBytes)}, want: agents.ErrInvalidSpec},
		{name: "a priority out of range", opts: agenttest.Options{Priority: 11}, want: agents.ErrInvalidSpec},
		{name: "too many attempts", opts: agenttest.Options{MaxAttempts: 1001}, want: agents.ErrInvalidSpec},
		{name: "a trace parent that is not one", opts: agenttest.Options{TraceParent: "x"}, want: agents.ErrInvalidSpec},
	}
	for _, c := range cases {
		if _, err := agenttest.Run(ctx, worker, c.args, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v; want %v", c.name, err, c.want)
		}
	}
	bad := agents.WorkFunc[floatArgs](func(context.Context, *agents.Job[floatArgs]) error { return nil })
	if _, err := agenttest.Run(ctx, bad, floatArgs{X: math.NaN()}, agenttest.Options{}); !errors.Is(err, agents.ErrInvalidArgs) {
		t.Errorf("args that do not marshal: err %v; want ErrInvalidArgs", err)
	}
	badKind := agents.WorkFunc[badKindArgs](func(context.Context, *agents.Job[badKindArgs]) error { return nil })
	if _, err := agenttest.Run(ctx, badKind, badKindArgs{}, agenttest.Options{}); err == nil {
		t.Error("an invalid kind ran")
	}
}

type floatArgs struct{ X float64 }

func (floatArgs) Kind() string { return "agenttest.float" }

type badKindArgs struct{}

func (badKindArgs) Kind() string { return "Not A Kind" }

func TestRunChecksItsOptions(t *testing.T) {
	t.Parallel()
	cases := map[string]agenttest.Options{
		"Attempt":            {Attempt: -1},
		"max attempts":       {Attempt: 4, MaxAttempts: 3},
		"CheckpointSeq":      {CheckpointSeq: -1},
		"CancelAtCheckpoint": {CancelAtCheckpoint: -1},
		"Generation":         {Generation: -1},
		"Checkpoint":         {Checkpoint: json.RawMessage(`{`)},
	}
	for name, opts := range cases {
		_, err := agenttest.Run(context.Background(), worker, testArgs{}, opts)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v; want one naming it", name, err)
		}
	}
}

func TestRunGivesTheJobWhatTheOptionsSay(t *testing.T) {
	t.Parallel()
	ws, publisher := uuid.New(), uuid.New()
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	var info agents.JobInfo
	var gotPublisher uuid.UUID
	var secret crypto.Secret
	var undeclared error
	var job *agents.Job[testArgs]
	w := agents.WorkFunc[testArgs](func(ctx context.Context, j *agents.Job[testArgs]) error {
		job, info = j, j.JobInfo
		var err error
		if gotPublisher, err = j.Publisher(ctx); err != nil {
			return err
		}
		if secret, err = j.Credential(ctx, "api-key"); err != nil {
			return err
		}
		_, undeclared = j.Credential(ctx, "other")
		j.Progress(math.NaN(), strings.Repeat("é", 300))
		j.Progress(2, "over")
		return nil
	})
	rec, err := agenttest.Run(context.Background(), w, testArgs{}, agenttest.Options{
		Attempt: 2, MaxAttempts: 4, Priority: 2, Generation: 1, WorkspaceID: ws, Publisher: publisher,
		Credentials: map[string]string{"api-key": "s3cret", "db": "pw"}, Metadata: map[string]string{"team": "a"},
		TraceParent: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Err != nil {
		t.Fatal(rec.Err)
	}
	if info.ID != rec.TaskID || info.WorkspaceID != ws || info.Kind != "agenttest.test" || info.Attempt != 2 ||
		info.MaxAttempts != 4 || info.Priority != 2 || info.Generation != 1 || info.TraceParent != tp ||
		info.Metadata["team"] != "a" || strings.Join(info.Credentials, ",") != "api-key,db" {
		t.Errorf("job info %+v", info)
	}
	if gotPublisher != publisher {
		t.Errorf("publisher %s; want %s", gotPublisher, publisher)
	}
	if !errors.Is(undeclared, agents.ErrCredentialNotDeclared) {
		t.Errorf("an undeclared credential: err %v", undeclared)
	}
	if strings.Join(rec.Credentials, ",") != "api-key" {
		t.Errorf("credentials opened %v", rec.Credentials)
	}
	if !secret.Wiped() {
		t.Error("the credential was not wiped when the handler returned")
	}
	if len(rec.Progress) != 2 || rec.Progress[0].Fraction != 0 || len(rec.Progress[0].Message) != 512 || rec.Progress[1].Fraction != 1 {
		t.Errorf("progress %+v; want NaN as 0, the message cut to 512 bytes, 2 as 1", rec.Progress)
	}
	// The job outlives its run only to be told so.
	if err := job.Checkpoint(context.Background(), progress{}); !errors.Is(err, agents.ErrNotRunning) {
		t.Errorf("a checkpoint after the run: err %v; want ErrNotRunning", err)
	}
	if _, err := job.Credential(context.Background(), "api-key"); !errors.Is(err, agents.ErrNotRunning) {
		t.Errorf("a credential after the run: err %v; want ErrNotRunning", err)
	}
}

func joinRaw(raws []json.RawMessage) string {
	s := make([]string, len(raws))
	for i, r := range raws {
		s[i] = string(r)
	}
	return strings.Join(s, " ")
}
