// Package tick runs the passes of Mosaic's periodic services — the credential scheduler, the
// schedules of periodic tasks, the retention cleaner — in one loop shape: a pass at once, then one
// every interval, a failed pass reported and the next one at its time, until the context ends.
package tick

import (
	"context"
	"time"
)

// Every runs pass at once and then every interval until ctx ends. A pass that fails while ctx is
// live goes to failed (the service's log line; nil: dropped) and the next pass comes at its time:
// a periodic service outlives a database or NATS outage. A pass that overruns the interval is
// followed by the next at once, not by a queue of them. interval must be positive.
func Every(ctx context.Context, interval time.Duration, pass func(context.Context) error, failed func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := pass(ctx); err != nil && ctx.Err() == nil && failed != nil {
			failed(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
