package textdiff_test

import (
	"fmt"

	"github.com/mosaicstack/mosaic/agents/knowledge/textdiff"
)

func ExampleUnified() {
	v3 := "# Runbook\nRestart the worker.\nCheck the queue.\n"
	v7 := "# Runbook\nDrain the worker.\nRestart the worker.\nCheck the queue."
	fmt.Print(textdiff.Unified("runbook.md@3", "runbook.md@7", v3, v7, 1))
	// Output:
	// --- runbook.md@3
	// +++ runbook.md@7
	// @@ -1,3 +1,4 @@
	//  # Runbook
	// +Drain the worker.
	//  Restart the worker.
	// -Check the queue.
	// +Check the queue.
	// \ No newline at end of file
}

func ExampleStats() {
	added, removed := textdiff.Stats("a\nb\nc\n", "a\nB\nc\nd\n")
	fmt.Printf("+%d -%d\n", added, removed)
	// Output: +2 -1
}
