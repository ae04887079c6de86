package interleave

import (
	"fmt"
	"math"
)

// This file exports the internal invariant check of Decayed to the external tests (package
// interleave_test), which call it after every step through checkInvariants.

// CheckInvariants reports the first broken internal invariant of d, or nil:
//   - the half-life is positive and the rate is ln 2 / half-life;
//   - the clock is 0 until the first call and never negative;
//   - every key's stored count is finite and >= 0, its update time is in [0, clock], and its
//     stamp is from no later tick than the latest.
func (d *Decayed[K]) CheckInvariants() error {
	if d.halfLife <= 0 || d.rate != math.Ln2/float64(d.halfLife) {
		return fmt.Errorf("half-life %v, rate %v", d.halfLife, d.rate)
	}
	if d.clock < 0 || !d.started && d.clock != 0 {
		return fmt.Errorf("clock %d (started %v)", d.clock, d.started)
	}
	for k, e := range d.m {
		switch {
		case !(e.stored >= 0) || math.IsInf(e.stored, 1):
			return fmt.Errorf("key %v: stored count %v", k, e.stored)
		case e.at < 0 || e.at > d.clock:
			return fmt.Errorf("key %v: updated at %d, clock %d", k, e.at, d.clock)
		case e.stamp > d.stamp:
			return fmt.Errorf("key %v: stamped by tick %d after the latest %d", k, e.stamp, d.stamp)
		}
	}
	return nil
}
