package agents

// bandScheduler decides which priority band the next pull serves. The highest band that may
// hold work is served, except that every message taken from it while a lower band may also hold
// work earns 1/share of a credit, and each whole credit takes one message from the lower bands,
// in turn: with work waiting below, at least one message in every share+1 comes from a lower
// band. When the top band changes, the credit starts again: the new top band is being served.
//
// It is plain code: the pool says which bands may hold work and what each pull brought; the
// scheduler never touches a consumer or the clock.
type bandScheduler struct {
	bands     int     // bands, highest priority first
	share     int     // LowerBandShare
	maxCredit float64 // credit never grows past this (the pool's concurrency)
	credit    float64
	top       int // the band the credit was earned against; -1 before the first pick
	rr        int // the next lower band to serve, counted from the one below top
}

func newBandScheduler(bands, share, maxCredit int) *bandScheduler {
	return &bandScheduler{bands: bands, share: share, maxCredit: float64(maxCredit), top: -1}
}

// pick returns the band to pull from and how many of free messages to ask of it; band is -1
// when no band may hold work. hasWork(i) says whether band i may hold work.
func (s *bandScheduler) pick(hasWork func(int) bool, free int) (band, n int) {
	top := -1
	for i := range s.bands {
		if hasWork(i) {
			top = i
			break
		}
	}
	if top < 0 {
		return -1, 0
	}
	if top != s.top {
		s.credit, s.top = 0, top
	}
	if s.credit >= 1 {
		lower := s.bands - top - 1
		for i := range lower {
			b := top + 1 + (s.rr+i)%lower
			if hasWork(b) {
				s.rr = (s.rr + i + 1) % lower
				return b, 1
			}
		}
		s.credit = 0 // nothing waits below: nothing is owed
	}
	return top, free
}

// took records that the pull pick chose from band brought got messages; hasWork is as for pick,
// asked after the pull.
func (s *bandScheduler) took(band, got int, hasWork func(int) bool) {
	if got == 0 {
		return
	}
	if band != s.top {
		s.credit--
		return
	}
	for i := band + 1; i < s.bands; i++ {
		if hasWork(i) {
			s.credit = min(s.credit+float64(got)/float64(s.share), s.maxCredit)
			return
		}
	}
}
