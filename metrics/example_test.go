package metrics_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/metrics"
)

// A registry records handler runs through agents.PoolConfig.Observe and serves them on /metrics.
func ExampleRegistry_ObserveHandler() {
	reg := metrics.New(metrics.Config{}) // no DB, no JetStream: the hooks' series and Go's only
	// agents.NewPool(agents.PoolConfig{..., Observe: reg.ObserveHandler})
	reg.ObserveHandler(agents.HandlerDone{Pool: "default", Stream: "TASKS", Kind: "demo.echo", Duration: 120 * time.Millisecond})

	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "mosaic_handler_runs_total{") {
			fmt.Println(line)
		}
	}
	// Output: mosaic_handler_runs_total{kind="demo.echo",outcome="succeeded",pool="default"} 1
}
