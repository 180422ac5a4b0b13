package agents

import (
	"strings"
	"testing"
)

// serve runs the scheduler for rounds pulls of free messages each, every pull bringing what it
// asked for, and returns the bands served, one letter per message ('a' the highest band).
func serve(s *bandScheduler, work []bool, free, rounds int) string {
	hasWork := func(i int) bool { return work[i] }
	var b strings.Builder
	for range rounds {
		band, n := s.pick(hasWork, free)
		if band < 0 {
			b.WriteByte('-')
			continue
		}
		for range n {
			b.WriteByte(byte('a' + band))
		}
		s.took(band, n, hasWork)
	}
	return b.String()
}

func TestBandsLowerBandGetsItsShare(t *testing.T) {
	s := newBandScheduler(2, 3, 64)
	if got := serve(s, []bool{true, true}, 1, 12); got != "aaabaaabaaab" {
		t.Fatalf("one message per pull, share 3: %q, want aaab repeated", got)
	}
	s = newBandScheduler(2, 9, 64)
	if got := serve(s, []bool{true, true}, 9, 3); got != "aaaaaaaaabaaaaaaaaa" {
		t.Fatalf("nine per pull, share 9: %q, want nine a, one b, nine a", got)
	}
}

func TestBandsOnlyTheTopWhenNothingWaitsBelow(t *testing.T) {
	s := newBandScheduler(3, 1, 64)
	if got := serve(s, []bool{true, false, false}, 4, 3); got != "aaaaaaaaaaaa" {
		t.Fatalf("%q, want only the top band", got)
	}
	if s.credit != 0 {
		t.Fatalf("credit %v earned with nothing waiting below", s.credit)
	}
	if got := serve(s, []bool{false, false, true}, 2, 2); got != "cccc" {
		t.Fatalf("%q, want the only band with work", got)
	}
	if got := serve(s, []bool{false, false, false}, 2, 2); got != "--" {
		t.Fatalf("%q, want no pull when no band may hold work", got)
	}
}

func TestBandsLowerBandsInTurn(t *testing.T) {
	s := newBandScheduler(3, 1, 64)
	if got := serve(s, []bool{true, true, true}, 1, 8); got != "abacabac" {
		t.Fatalf("%q, want the lower bands served in turn", got)
	}
}

func TestBandsCreditStartsAgainWithANewTop(t *testing.T) {
	s := newBandScheduler(3, 2, 64)
	work := []bool{true, true, true}
	serve(s, work, 1, 1) // half a credit against band a
	work[0] = false
	if got := serve(s, work, 1, 3); got != "bbc" {
		t.Fatalf("%q, want the credit owed below a forgotten once b is the top", got)
	}
}

func TestBandsCreditIsCapped(t *testing.T) {
	s := newBandScheduler(2, 1, 4)
	hasWork := func(int) bool { return true }
	s.pick(hasWork, 100)
	s.took(0, 100, hasWork)
	if s.credit != 4 {
		t.Fatalf("credit %v, want capped at 4", s.credit)
	}
}

func TestBandsEmptyPullsChangeNothing(t *testing.T) {
	s := newBandScheduler(2, 1, 64)
	hasWork := func(int) bool { return true }
	s.pick(hasWork, 1)
	s.took(0, 1, hasWork) // one credit
	band, _ := s.pick(hasWork, 1)
	s.took(band, 0, hasWork) // the lower band had nothing after all
	if band != 1 || s.credit != 1 {
		t.Fatalf("band %d credit %v, want band 1 picked and the credit kept for an empty pull", band, s.credit)
	}
}
