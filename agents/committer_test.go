package agents

import (
	"testing"

	"github.com/google/uuid"
)

func ops(keys ...taskKey) []*commitOp {
	out := make([]*commitOp, len(keys))
	for i, k := range keys {
		out[i] = &commitOp{kind: opFinish, key: k}
	}
	return out
}

func keysOf(batch []*commitOp) []taskKey {
	out := make([]taskKey, len(batch))
	for i, op := range batch {
		out[i] = op.key
	}
	return out
}

func TestGathererTakesWhatWaitsUpToMax(t *testing.T) {
	a, b, c := taskKey{id: uuid.New()}, taskKey{id: uuid.New()}, taskKey{id: uuid.New()}
	q := make(chan *commitOp, 8)
	for _, op := range ops(a, b, c) {
		q <- op
	}
	g := gatherer{max: 2}
	batch, ok := g.next(q)
	if !ok || len(batch) != 2 || batch[0].key != a || batch[1].key != b {
		t.Fatalf("first batch %v, want [a b]", keysOf(batch))
	}
	batch, ok = g.next(q)
	if !ok || len(batch) != 1 || batch[0].key != c {
		t.Fatalf("second batch %v, want [c] at once, without waiting for more", keysOf(batch))
	}
}

func TestGathererHoldsASecondOpOfATask(t *testing.T) {
	a, b := taskKey{id: uuid.New()}, taskKey{id: uuid.New()}
	q := make(chan *commitOp, 8)
	for _, op := range ops(a, a, b, a) {
		q <- op
	}
	g := gatherer{max: 10}
	var batches [][]taskKey
	for range 3 {
		batch, ok := g.next(q)
		if !ok {
			t.Fatal("queue reported closed")
		}
		batches = append(batches, keysOf(batch))
	}
	want := [][]taskKey{{a, b}, {a}, {a}}
	for i := range want {
		if len(batches[i]) != len(want[i]) {
			t.Fatalf("batches %v, want each task once per batch, in order: %v", batches, want)
		}
		for j := range want[i] {
			if batches[i][j] != want[i][j] {
				t.Fatalf("batches %v, want %v", batches, want)
			}
		}
	}
}

func TestGathererDrainsAClosedQueue(t *testing.T) {
	a, b := taskKey{id: uuid.New()}, taskKey{id: uuid.New()}
	q := make(chan *commitOp, 8)
	for _, op := range ops(a, a, b) {
		q <- op
	}
	close(q)
	g := gatherer{max: 10}
	n := 0
	for {
		batch, ok := g.next(q)
		if !ok {
			break
		}
		n += len(batch)
	}
	if n != 3 || len(g.held) != 0 {
		t.Fatalf("%d ops committed, %d held, want all 3 before the end is reported", n, len(g.held))
	}
}
