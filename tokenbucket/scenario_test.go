package tokenbucket_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Scenarios are generated from a seed with math/rand/v2, so a failing gopter trial is
// reproduced by its seed alone. The generator follows the exactness checker in
// reference/ratelimit-aimd.md §5.7: rates that are integers, fractions and arbitrary floats;
// periods from 1 ms to 1 h; arrivals at random gaps, at adversarial gaps of ⌊T⌋ and ⌊T⌋+1 ns
// around the emission interval T, in bursts, and at tiny polling gaps, with steps back in
// time and repeated instants mixed in.

type opKind int

const (
	opAllow opKind = iota
	opTake
	opDelay
	opTokens
	opSetLimit
	opPrune
)

type op struct {
	kind opKind
	off  int64 // nanoseconds from the scenario's base time
	n    int
	key  int
	lim  tokenbucket.Limit // opSetLimit: the new limit; Keyed: a new limit for key
}

func (o op) String() string {
	names := [...]string{"AllowN", "TakeUpTo", "Delay", "Tokens", "SetLimit", "Prune"}
	return fmt.Sprintf("%s(t+%d, key %d, n %d, %v)", names[o.kind], o.off, o.key, o.n, o.lim)
}

var periods = []time.Duration{time.Millisecond, time.Second, 3 * time.Second, 7 * time.Second, time.Minute, time.Hour}

// genLimit returns a random valid limit.
func genLimit(r *rand.Rand) tokenbucket.Limit {
	for {
		var l tokenbucket.Limit
		switch r.IntN(5) {
		case 0:
			l.Rate = float64(1 + r.IntN(1000))
		case 1:
			qs := []int{2, 3, 7, 10, 60, 1000}
			l.Rate = float64(1+r.IntN(1000)) / float64(qs[r.IntN(len(qs))])
		case 2:
			l.Rate = r.Float64() * 1000
		case 3:
			l.Rate = float64(1 + r.IntN(10))
		default:
			l.Rate = math.Pow(10, -3+7*r.Float64())
		}
		if r.IntN(8) == 0 {
			l.Per = time.Duration(1 + r.IntN(1_000_000))
		} else {
			l.Per = periods[r.IntN(len(periods))]
		}
		l.Burst = 1 + r.IntN(20)
		if r.IntN(10) == 0 {
			l.Burst = 1 + r.IntN(1000)
		}
		if l.Validate() == nil {
			return l
		}
	}
}

// interval returns the emission interval Per/Rate in nanoseconds, capped so that a scenario
// of a few hundred steps stays within int64.
func interval(l tokenbucket.Limit) float64 {
	return math.Min(float64(l.Per)/l.Rate, 1e14)
}

// genTimes returns n arrival offsets. monotone forbids steps back in time.
func genTimes(r *rand.Rand, l tokenbucket.Limit, n int, monotone bool) []int64 {
	T := interval(l)
	ft := int64(T)
	mode := r.IntN(4)
	offs := make([]int64, n)
	var now int64
	for i := range offs {
		var gap int64
		switch mode {
		case 0: // random gaps around the emission interval
			gap = int64(r.Float64() * 2 * T)
		case 1: // adversarial: exactly ⌊T⌋ or ⌊T⌋+1, sometimes several intervals
			gap = ft + int64(r.IntN(2))
			if r.IntN(4) == 0 {
				gap *= int64(1 + r.IntN(l.Burst+1))
			}
		case 2: // bursts then idle
			if r.IntN(l.Burst+2) == 0 {
				gap = int64(r.Float64() * 2 * float64(l.Burst) * T)
			} else {
				gap = int64(r.IntN(3))
			}
		default: // tiny polling gaps
			gap = int64(r.IntN(10))
			if r.IntN(50) == 0 {
				gap = int64(r.Float64() * T)
			}
		}
		switch {
		case r.IntN(10) == 0:
			gap = 0 // the same instant twice
		case !monotone && r.IntN(8) == 0:
			gap = -int64(r.Float64() * 3 * T) // back in time
		}
		now += gap
		offs[i] = now
	}
	return offs
}

// genOps returns a random operation sequence. keys > 1 spreads the ops over partitions;
// setLimit allows SetLimit ops (Bucket) or limit changes (Keyed); prune allows Prune ops
// (Keyed). With both, they share the last 7% of ops, so that a history can have both.
func genOps(r *rand.Rand, l tokenbucket.Limit, n, keys int, monotone, setLimit, prune bool) []op {
	offs := genTimes(r, l, n, monotone)
	ops := make([]op, n)
	for i := range ops {
		o := op{off: offs[i], key: r.IntN(keys)}
		switch x := r.IntN(100); {
		case x < 60:
			o.kind, o.n = opAllow, 1
			if r.IntN(3) == 0 {
				o.n = r.IntN(l.Burst + 2)
			}
		case x < 75:
			o.kind, o.n = opTake, r.IntN(l.Burst+3)
		case x < 85:
			o.kind, o.n = opDelay, r.IntN(l.Burst+2)
		case x < 93:
			o.kind = opTokens
		case setLimit && (!prune || x < 97):
			o.kind, o.lim = opSetLimit, genLimit(r)
		case prune:
			o.kind, o.n = opPrune, r.IntN(4)
		default:
			o.kind = opTokens
		}
		ops[i] = o
	}
	return ops
}
