package textdiff

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// patchLine is one body line of a hunk: op is ' ', '-' or '+', text keeps its "\n" unless a
// "\ No newline at end of file" marker followed it.
type patchLine struct {
	op   byte
	text string
}

// applyUnified applies a unified diff to a and returns the result. It checks everything a
// strict patch would: headers, hunk ranges against their bodies and positions, and context and
// removed lines against a.
func applyUnified(a, patch string) (string, error) {
	if patch == "" {
		return a, nil
	}
	lines := splitLines(patch)
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		return "", fmt.Errorf("missing --- / +++ headers")
	}
	lines = lines[2:]
	src := splitLines(a)
	var out strings.Builder
	pos, outLines := 0, 0 // lines of src consumed, lines written
	for len(lines) > 0 {
		oldStart, oldLen, newStart, newLen, err := parseHunkHeader(lines[0])
		if err != nil {
			return "", err
		}
		lines = lines[1:]
		var body []patchLine
		for nOld, nNew := 0, 0; nOld < oldLen || nNew < newLen || (len(lines) > 0 && strings.HasPrefix(lines[0], "\\")); {
			if len(lines) == 0 {
				return "", fmt.Errorf("hunk body ends early")
			}
			l := lines[0]
			lines = lines[1:]
			if !strings.HasSuffix(l, "\n") {
				return "", fmt.Errorf("patch line %q lacks its newline", l)
			}
			switch l[0] {
			case ' ':
				nOld++
				nNew++
			case '-':
				nOld++
			case '+':
				nNew++
			case '\\':
				if l != "\\ No newline at end of file\n" || len(body) == 0 {
					return "", fmt.Errorf("misplaced marker %q", l)
				}
				last := &body[len(body)-1]
				last.text = strings.TrimSuffix(last.text, "\n")
				continue
			default:
				return "", fmt.Errorf("bad hunk line %q", l)
			}
			if nOld > oldLen || nNew > newLen {
				return "", fmt.Errorf("hunk body longer than its header")
			}
			body = append(body, patchLine{op: l[0], text: l[1:]})
		}

		// An empty range names the line before it; otherwise the range starts at its line.
		first := oldStart - 1
		if oldLen == 0 {
			first = oldStart
		}
		if first < pos || first > len(src) {
			return "", fmt.Errorf("hunk at old line %d out of order or range", oldStart)
		}
		for ; pos < first; pos++ {
			out.WriteString(src[pos])
			outLines++
		}
		wantNew := newStart - 1
		if newLen == 0 {
			wantNew = newStart
		}
		if outLines != wantNew {
			return "", fmt.Errorf("hunk new start %d, but %d lines written before it", newStart, outLines)
		}
		for _, pl := range body {
			switch pl.op {
			case ' ', '-':
				if pos >= len(src) || src[pos] != pl.text {
					return "", fmt.Errorf("old line %d does not match %q", pos+1, pl.text)
				}
				pos++
				if pl.op == '-' {
					continue
				}
			}
			out.WriteString(pl.text)
			outLines++
		}
	}
	for ; pos < len(src); pos++ {
		out.WriteString(src[pos])
	}
	return out.String(), nil
}

// parseHunkHeader parses "@@ -l[,s] +l[,s] @@\n".
func parseHunkHeader(h string) (oldStart, oldLen, newStart, newLen int, err error) {
	rest, ok := strings.CutPrefix(h, "@@ -")
	if !ok {
		return 0, 0, 0, 0, fmt.Errorf("bad hunk header %q", h)
	}
	rest, ok = strings.CutSuffix(rest, " @@\n")
	if !ok {
		return 0, 0, 0, 0, fmt.Errorf("bad hunk header %q", h)
	}
	oldR, newR, ok := strings.Cut(rest, " +")
	if !ok {
		return 0, 0, 0, 0, fmt.Errorf("bad hunk header %q", h)
	}
	if oldStart, oldLen, err = parseRange(oldR); err != nil {
		return 0, 0, 0, 0, err
	}
	if newStart, newLen, err = parseRange(newR); err != nil {
		return 0, 0, 0, 0, err
	}
	return oldStart, oldLen, newStart, newLen, nil
}

// parseRange parses "l,s" or "l" (s = 1). It rejects the spelling diff -u never prints: "l,1".
func parseRange(r string) (start, n int, err error) {
	s, c, hasCount := strings.Cut(r, ",")
	if start, err = strconv.Atoi(s); err != nil {
		return 0, 0, err
	}
	if !hasCount {
		return start, 1, nil
	}
	if n, err = strconv.Atoi(c); err != nil {
		return 0, 0, err
	}
	if n == 1 {
		return 0, 0, fmt.Errorf("range %q should omit ,1", r)
	}
	return start, n, nil
}

// countOps counts the '+' and '-' body lines of a unified diff.
func countOps(patch string) (added, removed int) {
	lines := splitLines(patch)
	if len(lines) >= 2 {
		lines = lines[2:]
	}
	for _, l := range lines {
		switch l[0] {
		case '+':
			added++
		case '-':
			removed++
		}
	}
	return added, removed
}

func TestApplyUnifiedRejectsBadPatches(t *testing.T) {
	t.Parallel()
	a := "a\nb\nc\n"
	for name, patch := range map[string]string{
		"no headers":     "@@ -1 +1 @@\n-a\n+A\n",
		"wrong context":  "--- a\n+++ b\n@@ -1,2 +1,2 @@\n x\n-b\n+B\n",
		"short body":     "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n",
		"wrong new line": "--- a\n+++ b\n@@ -2 +3 @@\n-b\n+B\n",
		"explicit ,1":    "--- a\n+++ b\n@@ -2,1 +2,1 @@\n-b\n+B\n",
		"past the end":   "--- a\n+++ b\n@@ -4 +4 @@\n-d\n+D\n",
	} {
		if got, err := applyUnified(a, patch); err == nil {
			t.Errorf("%s: applied to %q, want an error", name, got)
		}
	}
	got, err := applyUnified(a, "--- a\n+++ b\n@@ -2 +2 @@\n-b\n+B\n\\ No newline at end of file\n")
	if err != nil || got != "a\nBc\n" {
		t.Errorf("marker patch: got %q, %v; want %q", got, err, "a\nBc\n")
	}
}
