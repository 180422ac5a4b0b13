package textdiff

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// gnuDiff runs the machine's `diff -u` on a and b, skipping the test when there is none.
func gnuDiff(t *testing.T, fromName, toName, a, b string) string {
	t.Helper()
	path, err := exec.LookPath("diff")
	if err != nil {
		t.Skip("diff is not on PATH")
	}
	dir := t.TempDir()
	fileA, fileB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(fileA, []byte(a), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fileB, []byte(b), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "-u", "--label", fromName, "--label", toName, fileA, fileB).Output()
	// diff exits 1 when the files differ, 2 on trouble.
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) && exitErr.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		t.Fatalf("diff -u: %v", err)
	}
	return string(out)
}

// TestGoldenMatchesGNU checks the golden outputs (all unambiguous) against the machine's diff.
func TestGoldenMatchesGNU(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		if tc.context != 3 && tc.context != -1 {
			continue // diff -u always uses 3
		}
		got := Unified("v3", "v7", tc.a, tc.b, tc.context)
		if want := gnuDiff(t, "v3", "v7", tc.a, tc.b); got != want {
			t.Errorf("%s: Unified:\n%s\ndiff -u:\n%s", tc.name, got, want)
		}
	}
}

// TestUnifiedAgainstGNU compares with the machine's diff on seeded random edits: our patch must
// apply, and both must add and remove the same number of lines (both are minimal). Where two
// alignments are equally short the outputs may differ, so the text is only compared in a log.
func TestUnifiedAgainstGNU(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	const cases = 300
	identical := 0
	for i := range cases {
		a, b := randomPair(r)
		if i%3 == 0 {
			// Longer documents with a wider vocabulary, like real pages.
			vocab := len(words)
			al := randomLines(r, 200+r.IntN(300), vocab)
			a = joinDoc(al, "\n", true)
			b = joinDoc(randomEdit(r, al, 12, vocab), "\n", r.IntN(5) != 0)
		}
		want := gnuDiff(t, "a", "b", a, b)
		got := Unified("a", "b", a, b, 3)
		checkPatch(t, a, b, got)
		if applied, err := applyUnified(a, want); err != nil || applied != b {
			t.Fatalf("case %d: the test's applier fails on diff -u's own patch: %v", i, err)
		}
		gotAdded, gotRemoved := countOps(got)
		wantAdded, wantRemoved := countOps(want)
		if gotAdded != wantAdded || gotRemoved != wantRemoved {
			t.Fatalf("case %d: Unified +%d -%d, diff -u +%d -%d\na = %q\nb = %q\nUnified:\n%s\ndiff -u:\n%s",
				i, gotAdded, gotRemoved, wantAdded, wantRemoved, a, b, got, want)
		}
		if got == want {
			identical++
		}
	}
	t.Logf("%d of %d patches byte-identical to diff -u", identical, cases)
}
