package textdiff

import "strings"

// splitLines splits s into lines that keep their terminating "\n"; the last line lacks it when
// s does not end in a newline. An empty s has no lines. The lines share s's memory.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	n := strings.Count(s, "\n")
	if s[len(s)-1] != '\n' {
		n++
	}
	lines := make([]string, 0, n)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// change is one block of an edit script: lines a[a0:a1] are replaced by b[b0:b1]. One of the
// two ranges may be empty, not both.
type change struct {
	a0, a1 int
	b0, b1 int
}

// diffLines returns, in order, the changes that turn a into b.
func diffLines(a, b []string) []change {
	// changed flags carry a false sentinel on each side: line i is at index i+1.
	achg := make([]bool, len(a)+2)
	bchg := make([]bool, len(b)+2)

	// Common leading and trailing lines never change; skip them before hashing anything.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	markChanges(a[pre:len(a)-suf], b[pre:len(b)-suf], achg[pre+1:len(a)-suf+1], bchg[pre+1:len(b)-suf+1])

	shiftBoundaries(a, achg, bchg)
	shiftBoundaries(b, bchg, achg)
	return collectChanges(len(a), len(b), achg, bchg)
}

// markChanges sets achg[i] for every line a[i] the edit script deletes and bchg[j] for every
// line b[j] it inserts.
func markChanges(a, b []string, achg, bchg []bool) {
	if len(a) == 0 || len(b) == 0 {
		for i := range achg {
			achg[i] = true
		}
		for j := range bchg {
			bchg[j] = true
		}
		return
	}

	ids := make(map[string]int32, len(a)+len(b))
	intern := func(lines []string) []int32 {
		out := make([]int32, len(lines))
		for i, l := range lines {
			id, ok := ids[l]
			if !ok {
				id = int32(len(ids))
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	xa, xb := intern(a), intern(b)
	inA := make([]bool, len(ids))
	inB := make([]bool, len(ids))
	for _, id := range xa {
		inA[id] = true
	}
	for _, id := range xb {
		inB[id] = true
	}

	// A line with no equal on the other side is always part of the change; leaving it out of
	// the search does not change the longest common subsequence, only its cost.
	x, xi := keepMatched(xa, inB, achg)
	y, yi := keepMatched(xb, inA, bchg)

	m := newMyers(x, y)
	m.compare(0, len(x), 0, len(y), false)
	for k, c := range m.xchg {
		if c {
			achg[xi[k]] = true
		}
	}
	for k, c := range m.ychg {
		if c {
			bchg[yi[k]] = true
		}
	}
}

// keepMatched returns the ids that occur on the other side (other[id]) with their indices in
// ids, and marks every other line as changed in chg.
func keepMatched(ids []int32, other []bool, chg []bool) (kept []int32, index []int) {
	kept = make([]int32, 0, len(ids))
	index = make([]int, 0, len(ids))
	for i, id := range ids {
		if other[id] {
			kept = append(kept, id)
			index = append(index, i)
		} else {
			chg[i] = true
		}
	}
	return kept, index
}

// shiftBoundaries slides each group of changed lines in lines (flags in chg, the other side's
// in other, both with sentinels) over equal neighbours, as GNU diff's shift_boundaries does:
// first to merge with the groups around it, then as far down as possible, then back up to line
// up with a change on the other side if it can. The number of changed lines stays the same.
func shiftBoundaries(lines []string, chg, other []bool) {
	// GNU's changed[i] is chg[i+1] here and other_changed[j] is other[j+1].
	n := len(lines)
	i, j := 0, 0
	for {
		// Find the start of the next group, keeping j on the line that matches i.
		for i < n && !chg[i+1] {
			for other[j+1] {
				j++
			}
			j++
			i++
		}
		if i == n {
			return
		}
		start := i
		i++
		for chg[i+1] {
			i++
		}
		for other[j+1] {
			j++
		}

		var corresponding int
		for {
			runLength := i - start

			// Move the group up while the line above equals its last line, merging with
			// groups above.
			for start > 0 && lines[start-1] == lines[i-1] {
				start--
				chg[start+1] = true
				i--
				chg[i+1] = false
				for chg[start] {
					start--
				}
				j--
				for other[j+1] {
					j--
				}
			}

			// corresponding is the last end of the group that lines up with a change on the
			// other side; n means none.
			corresponding = n
			if other[j] {
				corresponding = i
			}

			// Move the group down while its first line equals the line below, merging with
			// groups below.
			for i != n && lines[start] == lines[i] {
				chg[start+1] = false
				start++
				chg[i+1] = true
				i++
				for chg[i+1] {
					i++
				}
				j++
				for other[j+1] {
					corresponding = i
					j++
				}
			}
			if runLength == i-start {
				break
			}
		}

		// Move the merged group back up to a change on the other side, if there was one.
		for corresponding < i {
			start--
			chg[start+1] = true
			i--
			chg[i+1] = false
			j--
			for other[j+1] {
				j--
			}
		}
	}
}

// collectChanges turns the changed flags (with sentinels) of n lines of a and m lines of b into
// change blocks.
func collectChanges(n, m int, achg, bchg []bool) []change {
	var out []change
	i, j := 0, 0
	for i < n || j < m {
		if !achg[i+1] && !bchg[j+1] {
			i++
			j++
			continue
		}
		c := change{a0: i, b0: j}
		for achg[i+1] {
			i++
		}
		for bchg[j+1] {
			j++
		}
		c.a1, c.b1 = i, j
		out = append(out, c)
	}
	return out
}
