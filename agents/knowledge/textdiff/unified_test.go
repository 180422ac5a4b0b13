package textdiff

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// numbered returns "line 1\n" ... "line n\n" with the given lines (1-based) replaced by
// "LINE i".
func numbered(n int, changed ...int) string {
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		format := "line %d\n"
		for _, c := range changed {
			if c == i {
				format = "LINE %d\n"
			}
		}
		fmt.Fprintf(&sb, format, i)
	}
	return sb.String()
}

type goldenCase struct {
	name    string
	a, b    string
	context int
	want    string // without the two header lines
}

var goldenCases = []goldenCase{
	{name: "equal", a: "a\nb\n", b: "a\nb\n", context: 3, want: ""},
	{name: "both empty", a: "", b: "", context: 3, want: ""},
	{name: "empty to text", a: "", b: "a\nb\n", context: 3, want: "@@ -0,0 +1,2 @@\n+a\n+b\n"},
	{name: "text to empty", a: "a\nb\n", b: "", context: 3, want: "@@ -1,2 +0,0 @@\n-a\n-b\n"},
	{name: "one line to empty", a: "a\n", b: "", context: 3, want: "@@ -1 +0,0 @@\n-a\n"},
	{
		name: "middle of 20", a: numbered(20), b: numbered(20, 10), context: 3,
		want: "@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+LINE 10\n line 11\n line 12\n line 13\n",
	},
	{
		name: "at start", a: numbered(20), b: numbered(20, 1), context: 3,
		want: "@@ -1,4 +1,4 @@\n-line 1\n+LINE 1\n line 2\n line 3\n line 4\n",
	},
	{
		name: "at end", a: numbered(20), b: numbered(20, 20), context: 3,
		want: "@@ -17,4 +17,4 @@\n line 17\n line 18\n line 19\n-line 20\n+LINE 20\n",
	},
	{
		name: "start and end", a: numbered(20), b: numbered(20, 1, 20), context: 3,
		want: "@@ -1,4 +1,4 @@\n-line 1\n+LINE 1\n line 2\n line 3\n line 4\n" +
			"@@ -17,4 +17,4 @@\n line 17\n line 18\n line 19\n-line 20\n+LINE 20\n",
	},
	{
		name: "far apart", a: numbered(20), b: numbered(20, 3, 15), context: 3,
		want: "@@ -1,6 +1,6 @@\n line 1\n line 2\n-line 3\n+LINE 3\n line 4\n line 5\n line 6\n" +
			"@@ -12,7 +12,7 @@\n line 12\n line 13\n line 14\n-line 15\n+LINE 15\n line 16\n line 17\n line 18\n",
	},
	{
		name: "close, merged", a: numbered(20), b: numbered(20, 5, 9), context: 3,
		want: "@@ -2,11 +2,11 @@\n line 2\n line 3\n line 4\n-line 5\n+LINE 5\n line 6\n line 7\n line 8\n" +
			"-line 9\n+LINE 9\n line 10\n line 11\n line 12\n",
	},
	{
		name: "gap of 2*context, merged", a: numbered(20), b: numbered(20, 5, 12), context: 3,
		want: "@@ -2,14 +2,14 @@\n line 2\n line 3\n line 4\n-line 5\n+LINE 5\n" +
			" line 6\n line 7\n line 8\n line 9\n line 10\n line 11\n" +
			"-line 12\n+LINE 12\n line 13\n line 14\n line 15\n",
	},
	{
		name: "gap of 2*context+1, split", a: numbered(20), b: numbered(20, 5, 13), context: 3,
		want: "@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+LINE 5\n line 6\n line 7\n line 8\n" +
			"@@ -10,7 +10,7 @@\n line 10\n line 11\n line 12\n-line 13\n+LINE 13\n line 14\n line 15\n line 16\n",
	},
	{
		name: "negative context means 3", a: numbered(20), b: numbered(20, 10), context: -1,
		want: "@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+LINE 10\n line 11\n line 12\n line 13\n",
	},
	{
		name: "context 0 change", a: numbered(20), b: numbered(20, 10, 11), context: 0,
		want: "@@ -10,2 +10,2 @@\n-line 10\n-line 11\n+LINE 10\n+LINE 11\n",
	},
	{
		name: "context 0 insert", a: "1\n2\n3\n4\n5\n6\n", b: "1\n2\n3\nnew\n4\n5\n6\n", context: 0,
		want: "@@ -3,0 +4 @@\n+new\n",
	},
	{
		name: "context 0 delete", a: "1\n2\n3\n4\n5\n6\n", b: "1\n2\n4\n5\n6\n", context: 0,
		want: "@@ -3 +2,0 @@\n-3\n",
	},
	{
		name: "insert at top", a: "1\n2\n3\n4\n5\n", b: "0\n1\n2\n3\n4\n5\n", context: 3,
		want: "@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n",
	},
	{
		name: "large context", a: "a\nb\nc\n", b: "a\nB\nc\n", context: 1 << 62,
		want: "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
	},
	{
		name: "newline added at end", a: "a\nb\nc", b: "a\nb\nc\n", context: 3,
		want: "@@ -1,3 +1,3 @@\n a\n b\n-c\n\\ No newline at end of file\n+c\n",
	},
	{
		name: "newline removed at end", a: "a\nb\nc\n", b: "a\nb\nc", context: 3,
		want: "@@ -1,3 +1,3 @@\n a\n b\n-c\n+c\n\\ No newline at end of file\n",
	},
	{
		name: "no newline on either, last line context", a: "a\nb\nc", b: "A\nb\nc", context: 3,
		want: "@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n",
	},
	{
		name: "no newline on either, last line changed", a: "a\nb", b: "a\nc", context: 3,
		want: "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n",
	},
	{
		name: "line appended to file without newline", a: "a\nb", b: "a\nb\nc\n", context: 3,
		want: "@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n",
	},
	{
		name: "no newline outside the hunk", a: strings.TrimSuffix(numbered(20), "\n"),
		b: strings.TrimSuffix(numbered(20, 2), "\n"), context: 3,
		want: "@@ -1,5 +1,5 @@\n line 1\n-line 2\n+LINE 2\n line 3\n line 4\n line 5\n",
	},
	{
		name: "empty to text without newline", a: "", b: "a", context: 3,
		want: "@@ -0,0 +1 @@\n+a\n\\ No newline at end of file\n",
	},
	{
		name: "crlf", a: "a\r\nb\r\nc\r\n", b: "a\r\nB\r\nc\r\n", context: 3,
		want: "@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n",
	},
	{
		name: "crlf to lf", a: "a\r\nb\n", b: "a\nb\n", context: 3,
		want: "@@ -1,2 +1,2 @@\n-a\r\n+a\n b\n",
	},
	{
		name: "crlf without final newline", a: "a\r\nb\r", b: "a\r\nb\r\n", context: 3,
		want: "@@ -1,2 +1,2 @@\n a\r\n-b\r\n\\ No newline at end of file\n+b\r\n",
	},
}

func TestUnifiedGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := tc.want
			if want != "" {
				want = "--- v3\n+++ v7\n" + want
			}
			got := Unified("v3", "v7", tc.a, tc.b, tc.context)
			if got != want {
				t.Fatalf("Unified:\n%s\nwant:\n%s", got, want)
			}
			checkPatch(t, tc.a, tc.b, got)
		})
	}
}

// checkPatch checks that patch turns a into b and that Stats agrees with its line counts.
func checkPatch(t *testing.T, a, b, patch string) {
	t.Helper()
	if (patch == "") != (a == b) {
		t.Fatalf("patch %q for a == b: %v", patch, a == b)
	}
	got, err := applyUnified(a, patch)
	if err != nil {
		t.Fatalf("apply %q to %q: %v", patch, a, err)
	}
	if got != b {
		t.Fatalf("applying %q to %q gave %q, want %q", patch, a, got, b)
	}
	added, removed := Stats(a, b)
	pAdded, pRemoved := countOps(patch)
	if added != pAdded || removed != pRemoved {
		t.Fatalf("Stats = +%d -%d, patch has +%d -%d", added, removed, pAdded, pRemoved)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b           string
		added, removed int
	}{
		{"", "", 0, 0},
		{"a\n", "a\n", 0, 0},
		{"", "a\nb\n", 2, 0},
		{"a\nb\n", "", 0, 2},
		{numbered(20), numbered(20, 3, 15), 2, 2},
		{"a\nb\nc", "a\nb\nc\n", 1, 1},
		{"a\nb\nc\n", "a\nx\nb\ny\nc\n", 2, 0},
		{"a\r\nb\r\n", "a\nb\n", 2, 2},
	} {
		added, removed := Stats(tc.a, tc.b)
		if added != tc.added || removed != tc.removed {
			t.Errorf("Stats(%q, %q) = +%d -%d, want +%d -%d", tc.a, tc.b, added, removed, tc.added, tc.removed)
		}
	}
}

// TestUnifiedRoundTrip applies Unified's patch for random pairs of related documents, with and
// without final newlines and CRLF, at several context sizes, and checks that the edit script is
// minimal against a dynamic-programming LCS.
func TestUnifiedRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 600 {
		a, b := randomPair(r)
		context := []int{-1, 0, 1, 3, 5}[i%5]
		patch := Unified("a", "b", a, b, context)
		checkPatch(t, a, b, patch)

		added, removed := Stats(a, b)
		al, bl := splitLines(a), splitLines(b)
		common := lcsLength(al, bl)
		if removed != len(al)-common || added != len(bl)-common {
			t.Fatalf("pair %d: Stats = +%d -%d, minimal is +%d -%d\na = %q\nb = %q",
				i, added, removed, len(bl)-common, len(al)-common, a, b)
		}
	}
}

// lcsLength is the length of the longest common subsequence of a and b, by dynamic programming.
func lcsLength(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			switch {
			case a[i] == b[j]:
				cur[j+1] = prev[j] + 1
			case prev[j+1] >= cur[j]:
				cur[j+1] = prev[j+1]
			default:
				cur[j+1] = cur[j]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestSplitLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\n", []string{"\n"}},
		{"a", []string{"a"}},
		{"a\nb", []string{"a\n", "b"}},
		{"a\r\n\nb\n", []string{"a\r\n", "\n", "b\n"}},
	} {
		got := splitLines(tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
