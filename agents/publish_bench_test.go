package agents_test

import (
	"context"
	"testing"

	"github.com/mosaicstack/mosaic/agents"
)

// BenchmarkPublish measures one Publish: the transaction, the direct send, the outbox cleanup.
func BenchmarkPublish(b *testing.B) {
	bb := setup(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := bb.client.Publish(ctx, agents.TaskSpec{WorkspaceID: bb.ws, Kind: "demo.echo"}); err != nil {
			b.Fatal(err)
		}
	}
}
