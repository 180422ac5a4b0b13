package textdiff

import (
	"strconv"
	"strings"
)

// defaultContext is the number of context lines Unified uses when given a negative count, as
// diff -u does.
const defaultContext = 3

const noNewline = "\n\\ No newline at end of file\n"

// Unified returns the unified diff that turns a into b, with headers "--- fromName" and
// "+++ toName" and context lines of context around each change; "" when a == b. A negative
// context means 3, diff -u's default. The output is what GNU `diff -u --label fromName --label
// toName` prints, up to the choice between equally short alignments.
func Unified(fromName, toName, a, b string, context int) string {
	if a == b {
		return ""
	}
	if context < 0 {
		context = defaultContext
	}
	al, bl := splitLines(a), splitLines(b)
	changes := diffLines(al, bl)
	if len(changes) == 0 {
		return ""
	}
	// More context than lines changes nothing, and keeps 2*context from overflowing.
	context = min(context, max(len(al), len(bl)))

	var sb strings.Builder
	sb.Grow(len(fromName) + len(toName) + 10 + diffSize(al, bl, changes, context))
	sb.WriteString("--- ")
	sb.WriteString(fromName)
	sb.WriteString("\n+++ ")
	sb.WriteString(toName)
	sb.WriteByte('\n')
	for len(changes) > 0 {
		// A hunk takes every following change whose context touches or overlaps its own.
		n := 1
		for n < len(changes) && changes[n].a0-changes[n-1].a1 <= 2*context {
			n++
		}
		writeHunk(&sb, al, bl, changes[:n], context)
		changes = changes[n:]
	}
	return sb.String()
}

// Stats counts the lines added and removed between a and b: the '+' and '-' lines of
// Unified(_, _, a, b, _). Both are 0 when a == b.
func Stats(a, b string) (added, removed int) {
	if a == b {
		return 0, 0
	}
	for _, c := range diffLines(splitLines(a), splitLines(b)) {
		removed += c.a1 - c.a0
		added += c.b1 - c.b0
	}
	return added, removed
}

// writeHunk writes one hunk holding changes, with context lines around them.
func writeHunk(sb *strings.Builder, a, b []string, changes []change, context int) {
	first, last := changes[0], changes[len(changes)-1]
	// Context lines are equal on both sides, so both ranges grow by the same amount.
	a0 := max(first.a0-context, 0)
	b0 := first.b0 - (first.a0 - a0)
	a1 := min(last.a1+context, len(a))
	b1 := last.b1 + (a1 - last.a1)

	buf := make([]byte, 0, 64)
	buf = append(buf, "@@ -"...)
	buf = appendRange(buf, a0, a1)
	buf = append(buf, " +"...)
	buf = appendRange(buf, b0, b1)
	buf = append(buf, " @@\n"...)
	sb.Write(buf)

	pos := a0
	for _, c := range changes {
		writeLines(sb, ' ', a[pos:c.a0])
		writeLines(sb, '-', a[c.a0:c.a1])
		writeLines(sb, '+', b[c.b0:c.b1])
		pos = c.a1
	}
	writeLines(sb, ' ', a[pos:a1])
}

// appendRange appends the hunk header range of lines [lo, hi) the way diff -u does: "l,s" with
// l 1-based, just "l" when s is 1, and "l,0" naming the line before an empty range.
func appendRange(buf []byte, lo, hi int) []byte {
	switch hi - lo {
	case 0:
		return append(strconv.AppendInt(buf, int64(lo), 10), ",0"...)
	case 1:
		return strconv.AppendInt(buf, int64(lo+1), 10)
	default:
		buf = strconv.AppendInt(buf, int64(lo+1), 10)
		buf = append(buf, ',')
		return strconv.AppendInt(buf, int64(hi-lo), 10)
	}
}

// writeLines writes lines with prefix, marking a last line that has no newline.
func writeLines(sb *strings.Builder, prefix byte, lines []string) {
	for _, l := range lines {
		sb.WriteByte(prefix)
		sb.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			sb.WriteString(noNewline)
		}
	}
}

// diffSize estimates the bytes of the hunk bodies: the changed lines and their context, counting
// shared context twice.
func diffSize(a, b []string, changes []change, context int) int {
	size := 0
	for _, c := range changes {
		for _, l := range a[c.a0:c.a1] {
			size += len(l) + 1
		}
		for _, l := range b[c.b0:c.b1] {
			size += len(l) + 1
		}
		for _, l := range a[max(c.a0-context, 0):c.a0] {
			size += len(l) + 1
		}
		for _, l := range a[c.a1:min(c.a1+context, len(a))] {
			size += len(l) + 1
		}
	}
	return size
}
