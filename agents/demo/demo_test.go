package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/agenttest"
)

var (
	echoWorker        = agents.WorkFunc[EchoArgs](echo)
	stepsWorker       = agents.WorkFunc[StepsArgs](steps)
	credentialsWorker = agents.WorkFunc[CredentialsArgs](openCredentials)
)

// run runs a demo worker through agenttest and fails the test if the task could not have run.
func run[T agents.JobArgs](t *testing.T, w agents.Worker[T], args T, opts agenttest.Options) *agenttest.Record {
	t.Helper()
	rec, err := agenttest.Run(context.Background(), w, args, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestEchoReturnsItsArgs(t *testing.T) {
	t.Parallel()
	for _, args := range []string{`{"a":1,"b":["x",{"c":null}]}`, `{}`} {
		rec := run(t, echoWorker, EchoArgs{raw: json.RawMessage(args)}, agenttest.Options{})
		if rec.Fate != agents.FateSucceeded || string(rec.Result) != args {
			t.Errorf("echo of %s: %v, result %s (err %v)", args, rec.Fate, rec.Result, rec.Err)
		}
		if len(rec.Checkpoints) != 0 {
			t.Errorf("echo of %s checkpointed: %s", args, rec.Checkpoints)
		}
	}
	if rec := run(t, echoWorker, EchoArgs{}, agenttest.Options{}); string(rec.Result) != `{}` {
		t.Errorf("echo of no args: result %s", rec.Result)
	}
}

func TestEchoTakesOnlyAnObject(t *testing.T) {
	t.Parallel()
	for _, args := range []string{`[1]`, `"x"`, `null`} {
		_, err := agenttest.Run(context.Background(), echoWorker, EchoArgs{raw: json.RawMessage(args)}, agenttest.Options{})
		if !errors.Is(err, agents.ErrInvalidArgs) {
			t.Errorf("echo of %s: err %v; want ErrInvalidArgs", args, err)
		}
	}
}

func TestStepsCheckpointsEachStep(t *testing.T) {
	t.Parallel()
	rec := run(t, stepsWorker, StepsArgs{Steps: 3}, agenttest.Options{})
	if rec.Fate != agents.FateSucceeded {
		t.Fatalf("fate %v (err %v)", rec.Fate, rec.Err)
	}
	if got := joined(rec.Checkpoints); got != `{"next":1} {"next":2} {"next":3}` {
		t.Errorf("checkpoints %s", got)
	}
	want := []agenttest.Progress{{Fraction: 1.0 / 3, Message: "step 1 of 3"}, {Fraction: 2.0 / 3, Message: "step 2 of 3"}, {Fraction: 1, Message: "step 3 of 3"}}
	if fmt.Sprint(rec.Progress) != fmt.Sprint(want) {
		t.Errorf("progress %v; want %v", rec.Progress, want)
	}
	if string(rec.Result) != `{"steps":3,"executed":3,"resumed_from":0}` {
		t.Errorf("result %s", rec.Result)
	}
}

// A retried attempt resumes from its predecessor's last checkpoint: the steps done are not done
// again.
func TestStepsResumesWhereTheFailedAttemptStopped(t *testing.T) {
	t.Parallel()
	args := StepsArgs{Steps: 5, FailAt: 4, FailMode: "retry", FailAttempts: 1}
	first := run(t, stepsWorker, args, agenttest.Options{})
	if first.Fate != agents.FateRetried || !strings.Contains(fmt.Sprint(first.Err), "failing at step 4") {
		t.Fatalf("first attempt: %v (err %v); want retried, failing at step 4", first.Fate, first.Err)
	}
	if got := joined(first.Checkpoints); got != `{"next":1} {"next":2} {"next":3}` {
		t.Errorf("first attempt's checkpoints %s", got)
	}
	if first.Result != nil {
		t.Errorf("first attempt set a result: %s", first.Result)
	}
	second := run(t, stepsWorker, args, agenttest.Options{Attempt: 2, Checkpoint: first.LastCheckpoint(), CheckpointSeq: 3})
	if second.Fate != agents.FateSucceeded {
		t.Fatalf("second attempt: %v (err %v)", second.Fate, second.Err)
	}
	if got := joined(second.Checkpoints); got != `{"next":4} {"next":5}` {
		t.Errorf("second attempt's checkpoints %s", got)
	}
	if string(second.Result) != `{"steps":5,"executed":2,"resumed_from":3}` {
		t.Errorf("second attempt's result %s", second.Result)
	}
}

func TestStepsFailsAsAsked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args StepsArgs
		opts agenttest.Options
		fate agents.Fate
	}{
		{name: "retry", args: StepsArgs{Steps: 2, FailAt: 1, FailMode: "retry"}, fate: agents.FateRetried},
		{name: "retry on the last attempt", args: StepsArgs{Steps: 2, FailAt: 1}, opts: agenttest.Options{Attempt: 3, MaxAttempts: 3},
			fate: agents.FateExhausted},
		{name: "only on the first attempts", args: StepsArgs{Steps: 2, FailAt: 1, FailAttempts: 2}, opts: agenttest.Options{Attempt: 3},
			fate: agents.FateSucceeded},
		{name: "permanent", args: StepsArgs{Steps: 2, FailAt: 2, FailMode: "permanent"}, fate: agents.FatePermanent},
		{name: "panic", args: StepsArgs{Steps: 2, FailAt: 2, FailMode: "panic"}, fate: agents.FateRetried},
		{name: "panic on the last attempt", args: StepsArgs{Steps: 2, FailAt: 2, FailMode: "panic"}, opts: agenttest.Options{Attempt: 25},
			fate: agents.FateExhausted},
		{name: "past the last step", args: StepsArgs{Steps: 2, FailAt: 3, FailMode: "permanent"}, fate: agents.FateSucceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := run(t, stepsWorker, c.args, c.opts)
			if rec.Fate != c.fate {
				t.Errorf("fate %v (err %v); want %v", rec.Fate, rec.Err, c.fate)
			}
			var p *agents.PanicError
			if c.args.FailMode == "panic" && !errors.As(rec.Err, &p) {
				t.Errorf("err %v; want a PanicError", rec.Err)
			}
		})
	}
}

// A task cancelled while it runs stops between steps, its last checkpoint kept, whether its
// steps wait (StepMS) or not.
func TestStepsStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	for _, ms := range []int{1, 0} {
		rec := run(t, stepsWorker, StepsArgs{Steps: 50, StepMS: ms}, agenttest.Options{CancelAtCheckpoint: 2})
		if rec.Fate != agents.FateCancelled || !errors.Is(rec.Err, agents.ErrCancelled) {
			t.Fatalf("step_ms %d: fate %v (err %v); want cancelled", ms, rec.Fate, rec.Err)
		}
		if got := joined(rec.Checkpoints); got != `{"next":1} {"next":2}` {
			t.Errorf("step_ms %d: checkpoints %s", ms, got)
		}
	}
}

func TestStepsArgsAreChecked(t *testing.T) {
	t.Parallel()
	for _, args := range []StepsArgs{{Steps: -1}, {Steps: 100001}, {Steps: 1, StepMS: 60001}, {FailAt: -1},
		{FailMode: "crash"}, {FailAttempts: -1}} {
		if _, err := agenttest.Run(context.Background(), stepsWorker, args, agenttest.Options{}); !errors.Is(err, agents.ErrInvalidArgs) {
			t.Errorf("%+v: err %v; want ErrInvalidArgs", args, err)
		}
	}
}

func TestCredentialsReportsWhatItOpened(t *testing.T) {
	t.Parallel()
	rec := run(t, credentialsWorker, CredentialsArgs{}, agenttest.Options{Credentials: map[string]string{"api": "s3cret", "db": ""}})
	if rec.Fate != agents.FateSucceeded {
		t.Fatalf("fate %v (err %v)", rec.Fate, rec.Err)
	}
	if string(rec.Result) != `{"api":{"opened":true,"length":6},"db":{"opened":true,"length":0}}` {
		t.Errorf("result %s", rec.Result)
	}
	if strings.Join(rec.Credentials, ",") != "api,db" {
		t.Errorf("opened %v", rec.Credentials)
	}
	if strings.Contains(string(rec.Result), "s3cret") {
		t.Error("the result holds a credential's value")
	}
}

func TestCredentialsWithoutAnyIsPermanent(t *testing.T) {
	t.Parallel()
	rec := run(t, credentialsWorker, CredentialsArgs{}, agenttest.Options{})
	if rec.Fate != agents.FatePermanent || !strings.Contains(fmt.Sprint(rec.Err), "declared no credential") {
		t.Errorf("fate %v (err %v); want dead, no credential declared", rec.Fate, rec.Err)
	}
}

func joined(raws []json.RawMessage) string {
	s := make([]string, len(raws))
	for i, r := range raws {
		s[i] = string(r)
	}
	return strings.Join(s, " ")
}
