package textdiff

import (
	"math/rand/v2"
	"strings"
)

// randomLines returns n lines drawn from a vocabulary of vocab words, so that lines repeat and
// alignments are ambiguous.
func randomLines(r *rand.Rand, n, vocab int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = randomLine(r, vocab)
	}
	return lines
}

var words = []string{"alpha", "beta", "gamma", "delta", "", "# Heading", "- item", "```", "epsilon", "zeta"}

func randomLine(r *rand.Rand, vocab int) string {
	return words[r.IntN(min(vocab, len(words)))]
}

// randomEdit applies up to edits random insertions, deletions and replacements to lines.
func randomEdit(r *rand.Rand, lines []string, edits, vocab int) []string {
	out := append([]string(nil), lines...)
	for range r.IntN(edits + 1) {
		i := r.IntN(len(out) + 1)
		n := 1 + r.IntN(3)
		switch r.IntN(3) {
		case 0: // insert
			ins := randomLines(r, n, vocab)
			out = append(out[:i], append(ins, out[i:]...)...)
		case 1: // delete
			out = append(out[:i], out[min(i+n, len(out)):]...)
		case 2: // replace
			for k := i; k < min(i+n, len(out)); k++ {
				out[k] = randomLine(r, vocab)
			}
		}
	}
	return out
}

// joinDoc joins lines into a document ending in eol, with or without the final one.
func joinDoc(lines []string, eol string, finalNewline bool) string {
	if len(lines) == 0 {
		return ""
	}
	s := strings.Join(lines, eol)
	if finalNewline {
		s += eol
	}
	return s
}

// randomPair returns two related random documents. Either may lack its final newline, and
// some pairs use CRLF line ends, some a mix.
func randomPair(r *rand.Rand) (a, b string) {
	vocab := 2 + r.IntN(len(words)-1)
	al := randomLines(r, r.IntN(40), vocab)
	bl := randomEdit(r, al, 6, vocab)
	if r.IntN(10) == 0 {
		bl = randomLines(r, r.IntN(40), vocab) // unrelated
	}
	eolA, eolB := "\n", "\n"
	switch r.IntN(6) {
	case 0:
		eolA, eolB = "\r\n", "\r\n"
	case 1:
		eolB = "\r\n"
	}
	return joinDoc(al, eolA, r.IntN(4) != 0), joinDoc(bl, eolB, r.IntN(4) != 0)
}
