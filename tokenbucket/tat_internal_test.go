package tokenbucket

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestOriginSinceIsSub holds origin.since to time.Time.Sub over times of every kind: with and
// without a monotonic reading, close together and centuries apart, at the ends of
// time.Time's range (where Sub saturates and Unix seconds come near overflowing).
func TestOriginSinceIsSub(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	mono := time.Now()
	anyTime := func() time.Time {
		switch r.IntN(7) {
		case 0:
			return mono.Add(time.Duration(r.Int64N(1<<40) - 1<<39)) // monotonic
		case 1:
			return time.Unix(r.Int64N(1<<34), r.Int64N(2e9)) // around now, wall only
		case 2:
			return time.Unix(r.Int64()>>r.IntN(64)*(1-2*int64(r.IntN(2))), r.Int64N(1e9))
		case 3:
			return time.Unix(math.MaxInt64-r.Int64N(1<<36), r.Int64N(1e9)) // the far end
		case 4:
			return time.Unix(math.MinInt64+r.Int64N(1<<36), r.Int64N(1e9)) // the near end
		case 5:
			return time.Time{}.Add(time.Duration(r.Int64()))
		default:
			return time.Unix(1<<62+r.Int64N(3)-1, r.Int64N(1e9)) // at the fast path's bound
		}
	}
	// Edge pairs: 292 years apart, where Sub starts to saturate, and the two ends of the
	// internal seconds range (Unix seconds wrap there, and so does their difference).
	const unixToInternal = 62135596800
	internal := func(sec int64, nsec int64) time.Time {
		return time.Unix(sec-unixToInternal, nsec) // wraps as time.Unix's own arithmetic does
	}
	var pairs [][2]time.Time
	for _, ds := range []int64{9_223_372_034, 9_223_372_035, 9_223_372_036, 9_223_372_037} {
		for _, ns := range [][2]int64{{0, 0}, {0, 999_999_999}, {999_999_999, 0}, {854_775_807, 0}, {0, 854_775_808}} {
			a := time.Unix(-1_000_000+ds%7, ns[0])
			b := time.Unix(-1_000_000+ds%7+ds, ns[1])
			pairs = append(pairs, [2]time.Time{a, b}, [2]time.Time{b, a})
		}
	}
	for _, x := range []int64{0, 1, 1e9, 4e9} {
		for _, y := range []int64{0, 7, 3e9} {
			a, b := internal(math.MinInt64+y, 5), internal(math.MaxInt64-x, 6)
			pairs = append(pairs, [2]time.Time{a, b}, [2]time.Time{b, a})
		}
	}
	for i, p := range pairs {
		o := originAt(p[0])
		if got, want := o.since(p[1]), int64(p[1].Sub(p[0])); got != want {
			t.Fatalf("edge %d: since(%v) from %v = %d, want %d (Sub)", i, p[1], p[0], got, want)
		}
	}
	if originAt(mono).wall {
		t.Fatal("an origin with a monotonic reading takes the wall-clock path")
	}
	for i := range 200000 {
		a, b := anyTime(), anyTime()
		if r.IntN(3) == 0 { // near each other, as offsets mostly are
			b = a.Add(time.Duration(r.Int64N(1<<50) - 1<<49))
			if r.IntN(2) == 0 {
				b = b.Round(0)
			}
		}
		o := originAt(a)
		if got, want := o.since(b), int64(b.Sub(a)); got != want {
			t.Fatalf("case %d: since(%v) from %v = %d, want %d (Sub)", i, b, a, got, want)
		}
	}
}
