package textdiff

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMyersCostBound runs the search with tiny cost bounds, so that nearly every split gives up
// early, and checks that the script is still valid: the unchanged elements of x and y are the
// same sequence. With no bound it must be minimal.
func TestMyersCostBound(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 500 {
		x, y := randomIDs(r, r.IntN(60), 3), randomIDs(r, r.IntN(60), 3)
		for _, bound := range []int{1, 2, 5, 1 << 30} {
			m := newMyers(x, y)
			m.tooExpensive = bound
			m.compare(0, len(x), 0, len(y), false)
			kx, ky := unchanged(x, m.xchg), unchanged(y, m.ychg)
			if !slices.Equal(kx, ky) {
				t.Fatalf("case %d, bound %d: unchanged lines differ:\n%v\n%v", i, bound, kx, ky)
			}
			if bound == 1<<30 && len(kx) != lcsLength(idStrings(x), idStrings(y)) {
				t.Fatalf("case %d: kept %d, LCS is %d", i, len(kx), lcsLength(idStrings(x), idStrings(y)))
			}
		}
	}
}

// TestUnifiedPastCostBound diffs two long unrelated documents of two distinct lines, whose edit
// distance is far past the cost bound, and checks the patch.
func TestUnifiedPastCostBound(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	a := joinDoc(randomLines(r, 20000, 2), "\n", true)
	b := joinDoc(randomLines(r, 20000, 2), "\n", false)
	checkPatch(t, a, b, Unified("a", "b", a, b, 3))
}

func TestTooExpensiveFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, want int }{
		{0, 4096},
		{1000, 4096},
		{1 << 15, 4096},
		{1 << 17, 1024},
		{1 << 21, 128},
	} {
		if got := tooExpensiveFor(tc.n); got != tc.want {
			t.Errorf("tooExpensiveFor(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func randomIDs(r *rand.Rand, n, alphabet int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(alphabet))
	}
	return ids
}

func unchanged(ids []int32, chg []bool) []int32 {
	var out []int32
	for i, id := range ids {
		if !chg[i] {
			out = append(out, id)
		}
	}
	return out
}

func idStrings(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(rune('a' + id))
	}
	return out
}
