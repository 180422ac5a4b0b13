package tick_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/internal/tick"
)

// A failed pass is reported and the loop goes on; the loop ends with its context, and a pass
// that fails because the context ended is not reported.
func TestEveryReportsFailedPassesAndEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	passes, reported := 0, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(ctx, time.Millisecond, func(ctx context.Context) error {
			passes++
			switch passes {
			case 1:
				return errors.New("database away")
			case 3:
				cancel()
				return ctx.Err() // the pass saw its context end: not a failure
			}
			return nil
		}, func(err error) { reported++ })
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Every did not end with its context")
	}
	if passes != 3 || reported != 1 {
		t.Fatalf("passes %d, reported %d; want 3 and 1", passes, reported)
	}
}
