package agents

import "testing"

// The delivery's phase moves only as a delivery does: a claim is taken once, a refusal or a fence
// stops it, and a refusal (which says why) outranks a fence met before it answered.
func TestDeliveryPhaseMoves(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, to claimPhase
		moves    bool
	}{
		{unclaimed, claimed, true}, {unclaimed, refused, true}, {unclaimed, fenced, true},
		{claimed, fenced, true}, {claimed, refused, false}, {claimed, unclaimed, false}, {claimed, claimed, false},
		{fenced, refused, true}, {fenced, claimed, false}, {fenced, unclaimed, false},
		{refused, fenced, false}, {refused, claimed, false}, {refused, unclaimed, false},
	} {
		d := &delivery{phase: c.from}
		if got := d.setPhase(c.to); got != c.moves || (c.moves && d.phase != c.to) || (!c.moves && d.phase != c.from) {
			t.Errorf("%d → %d: moved %v, phase %d; want moved %v", c.from, c.to, got, d.phase, c.moves)
		}
	}
}
