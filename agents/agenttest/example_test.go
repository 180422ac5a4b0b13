package agenttest_test

import (
	"context"
	"fmt"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/agenttest"
)

// CountArgs ask count to count to To.
type CountArgs struct {
	To int `json:"to"`
}

func (CountArgs) Kind() string { return "example.count" }

// count counts one number at a time, checkpointing each, from where an earlier attempt stopped;
// its result is how many numbers this attempt counted.
func count(ctx context.Context, job *agents.Job[CountArgs]) error {
	var n int // the last number counted
	if _, err := job.Restore(&n); err != nil {
		return agents.Permanent(err)
	}
	counted := 0
	for n < job.Args.To {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		n++
		counted++
		if err := job.Checkpoint(ctx, n); err != nil {
			return err
		}
	}
	return job.SetResult(map[string]int{"counted": counted})
}

// A worker's unit test: a first attempt, then a second that resumes from a checkpoint. In a test,
// the checks are t.Fatalf calls (see the package's overview).
func Example() {
	ctx, w := context.Background(), agents.WorkFunc[CountArgs](count)
	rec, err := agenttest.Run(ctx, w, CountArgs{To: 3}, agenttest.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Fate, len(rec.Checkpoints), string(rec.LastCheckpoint()), string(rec.Result))

	// A second attempt, after a first that stopped having counted to 2, resumes there.
	rec, err = agenttest.Run(ctx, w, CountArgs{To: 3}, agenttest.Options{Attempt: 2, Checkpoint: 2})
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Fate, len(rec.Checkpoints), string(rec.LastCheckpoint()), string(rec.Result))
	// Output:
	// succeeded 3 3 {"counted":3}
	// succeeded 1 3 {"counted":1}
}
