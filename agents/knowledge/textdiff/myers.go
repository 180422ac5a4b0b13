package textdiff

import "math"

// The cost bound of one middle-snake search: the number of edit steps each way it takes before
// it settles for the furthest diagonal reached. GNU diff uses 4096 for inputs of the sizes seen
// here, which makes the worst case cost about lines*4096 steps (seconds for 1 MiB of short,
// repetitive lines). Here the bound shrinks for long inputs so that lines*bound stays within
// searchBudget, about half a second of work, down to a floor.
const (
	maxTooExpensive = 4096
	minTooExpensive = 128
	searchBudget    = 1 << 27
)

// tooExpensiveFor returns the cost bound for a search over n lines in all: 4096 up to 32768
// lines, then searchBudget/n, never below minTooExpensive.
func tooExpensiveFor(n int) int {
	return max(min(searchBudget/max(n, 1), maxTooExpensive), minTooExpensive)
}

// myers finds a shortest edit script between two sequences of line ids with Myers' linear-space
// O(ND) algorithm, following GNU diffutils' diffseq.h.
type myers struct {
	x, y       []int32
	xchg, ychg []bool // deleted lines of x, inserted lines of y

	// fd and bd hold the furthest-reaching x of the forward and backward searches, indexed by
	// diagonal k = x - y plus off; diagonals run from -len(y)-1 to len(x)+1.
	fd, bd []int
	off    int

	// tooExpensive bounds the cost of one search when a minimal answer is not required.
	tooExpensive int
}

func newMyers(x, y []int32) *myers {
	diags := len(x) + len(y) + 3
	return &myers{
		x:            x,
		y:            y,
		xchg:         make([]bool, len(x)),
		ychg:         make([]bool, len(y)),
		fd:           make([]int, diags),
		bd:           make([]int, diags),
		off:          len(y) + 1,
		tooExpensive: tooExpensiveFor(len(x) + len(y)),
	}
}

// partition is a point the edit script passes through, and whether each half is known to
// have a minimal script through it.
type partition struct {
	xmid, ymid           int
	loMinimal, hiMinimal bool
}

// compare marks the changes between x[xoff:xlim] and y[yoff:ylim]. When minimal is set the
// cost bound is not applied.
func (m *myers) compare(xoff, xlim, yoff, ylim int, minimal bool) {
	x, y := m.x, m.y
	for xoff < xlim && yoff < ylim && x[xoff] == y[yoff] {
		xoff++
		yoff++
	}
	for xoff < xlim && yoff < ylim && x[xlim-1] == y[ylim-1] {
		xlim--
		ylim--
	}
	switch {
	case xoff == xlim:
		for ; yoff < ylim; yoff++ {
			m.ychg[yoff] = true
		}
	case yoff == ylim:
		for ; xoff < xlim; xoff++ {
			m.xchg[xoff] = true
		}
	default:
		p := m.split(xoff, xlim, yoff, ylim, minimal)
		m.compare(xoff, p.xmid, yoff, p.ymid, p.loMinimal)
		m.compare(p.xmid, xlim, p.ymid, ylim, p.hiMinimal)
	}
}

// split finds the middle snake of a shortest edit script between x[xoff:xlim] and
// y[yoff:ylim], both non-empty and differing in their first and last elements, by searching
// forward from the top-left and backward from the bottom-right until the searches meet. Past
// the cost bound (unless minimal) it returns the furthest point either search reached.
func (m *myers) split(xoff, xlim, yoff, ylim int, minimal bool) partition {
	x, y := m.x, m.y
	fd, bd, off := m.fd, m.bd, m.off
	dmin, dmax := xoff-ylim, xlim-yoff // valid diagonals
	fmid, bmid := xoff-yoff, xlim-ylim // centre diagonals of the two searches
	fmin, fmax := fmid, fmid
	bmin, bmax := bmid, bmid
	odd := (fmid-bmid)&1 != 0 // the searches can only meet after a forward step

	fd[off+fmid] = xoff
	bd[off+bmid] = xlim

	for c := 1; ; c++ {
		// One more edit step forward on each diagonal.
		if fmin > dmin {
			fmin--
			fd[off+fmin-1] = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			fd[off+fmax+1] = -1
		} else {
			fmax--
		}
		for d := fmax; d >= fmin; d -= 2 {
			tlo, thi := fd[off+d-1], fd[off+d+1]
			x0 := tlo + 1
			if tlo < thi {
				x0 = thi
			}
			xx, yy := x0, x0-d
			for xx < xlim && yy < ylim && x[xx] == y[yy] {
				xx++
				yy++
			}
			fd[off+d] = xx
			if odd && bmin <= d && d <= bmax && bd[off+d] <= xx {
				return partition{xmid: xx, ymid: yy, loMinimal: true, hiMinimal: true}
			}
		}

		// And one more backward.
		if bmin > dmin {
			bmin--
			bd[off+bmin-1] = math.MaxInt
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			bd[off+bmax+1] = math.MaxInt
		} else {
			bmax--
		}
		for d := bmax; d >= bmin; d -= 2 {
			tlo, thi := bd[off+d-1], bd[off+d+1]
			x0 := thi - 1
			if tlo < thi {
				x0 = tlo
			}
			xx, yy := x0, x0-d
			for xx > xoff && yy > yoff && x[xx-1] == y[yy-1] {
				xx--
				yy--
			}
			bd[off+d] = xx
			if !odd && fmin <= d && d <= fmax && xx <= fd[off+d] {
				return partition{xmid: xx, ymid: yy, loMinimal: true, hiMinimal: true}
			}
		}

		if minimal || c < m.tooExpensive {
			continue
		}

		// Too expensive: take the forward diagonal that got furthest (max x+y) or the backward
		// one (min x+y), whichever covered more ground.
		fxybest, fxbest := -1, 0
		for d := fmax; d >= fmin; d -= 2 {
			xx := min(fd[off+d], xlim)
			yy := xx - d
			if ylim < yy {
				xx, yy = ylim+d, ylim
			}
			if fxybest < xx+yy {
				fxybest, fxbest = xx+yy, xx
			}
		}
		bxybest, bxbest := math.MaxInt, 0
		for d := bmax; d >= bmin; d -= 2 {
			xx := max(xoff, bd[off+d])
			yy := xx - d
			if yy < yoff {
				xx, yy = yoff+d, yoff
			}
			if xx+yy < bxybest {
				bxybest, bxbest = xx+yy, xx
			}
		}
		if (xlim+ylim)-bxybest < fxybest-(xoff+yoff) {
			return partition{xmid: fxbest, ymid: fxybest - fxbest, loMinimal: true}
		}
		return partition{xmid: bxbest, ymid: bxybest - bxbest, hiMinimal: true}
	}
}
