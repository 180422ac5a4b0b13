package textdiff

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// markdownDoc returns an n-line markdown-like document: headings, paragraphs, lists and blank
// lines, most lines distinct.
func markdownDoc(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		switch {
		case i%40 == 0:
			lines[i] = fmt.Sprintf("## Section %d", i/40)
		case i%5 == 4:
			lines[i] = ""
		case i%7 == 3:
			lines[i] = fmt.Sprintf("- item %d: see the runbook for step %d", i, i%13)
		default:
			lines[i] = fmt.Sprintf("Line %d of the page explains how the agent handles case %d.", i, i%97)
		}
	}
	return lines
}

// BenchmarkUnified diffs a 10 000-line document against a copy with 20 scattered edits.
func BenchmarkUnified(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	al := markdownDoc(10000)
	bl := append([]string(nil), al...)
	for k := range 20 {
		i := k*500 + r.IntN(450)
		switch k % 3 {
		case 0:
			bl[i] = "changed: " + bl[i]
		case 1:
			bl = append(bl[:i], append([]string{"inserted line", "and another"}, bl[i:]...)...)
		case 2:
			bl = append(bl[:i], bl[i+2:]...)
		}
	}
	a, c := strings.Join(al, "\n")+"\n", strings.Join(bl, "\n")+"\n"
	b.SetBytes(int64(len(a) + len(c)))
	b.ReportAllocs()
	for b.Loop() {
		Unified("v3", "v7", a, c, 3)
	}
}

// BenchmarkUnifiedWorstCase diffs two unrelated 1 MiB documents of the lines "a" and "b" in
// random order: the longest, most repetitive input, which runs into the search's cost bound.
func BenchmarkUnifiedWorstCase(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	a := joinDoc(randomLines(r, 1<<19, 2), "\n", true)
	c := joinDoc(randomLines(r, 1<<19, 2), "\n", true)
	b.SetBytes(int64(len(a) + len(c)))
	for b.Loop() {
		Unified("v3", "v7", a, c, 3)
	}
}
