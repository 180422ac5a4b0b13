package agents_test

import (
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/demo"
	"github.com/mosaicstack/mosaic/store"
)

func TestEchoAndStepsSucceed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool(t, agents.PoolConfig{Concurrency: 4})
	echo := b.publish(t, agents.TaskSpec{Kind: "demo.echo", Args: map[string]any{"hello": "world"}})
	steps := b.publish(t, agents.TaskSpec{Kind: "demo.steps", Args: demo.StepsArgs{Steps: 5, StepMS: 5}})

	task := b.wait(t, echo, store.StatusSucceeded, 10*time.Second)
	if got := decode[map[string]string](t, task.Result); got["hello"] != "world" {
		t.Fatalf("echo result %s", task.Result)
	}
	task = b.wait(t, steps, store.StatusSucceeded, 10*time.Second)
	res := decode[demo.StepsResult](t, task.Result)
	if res != (demo.StepsResult{Steps: 5, Executed: 5, ResumedFrom: 0}) || task.Attempt != 1 || task.CheckpointSeq != 5 || task.Progress != 1 {
		t.Fatalf("steps: result %+v attempt %d checkpoints %d progress %v", res, task.Attempt, task.CheckpointSeq, task.Progress)
	}
	evs := b.events(t, steps)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{"published", "running", "succeeded"}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("events %v; want %v", types, want)
	}
}
