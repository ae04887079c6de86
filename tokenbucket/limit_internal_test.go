package tokenbucket

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The integer-rate shortcut of exact gives what the convergent walk gives, errors included.
func TestExactIntegerShortcut(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		l := Limit{
			Rate:  float64([]int64{1, 2, 3, 10, 999, 1e6, 1 << 40, 1 << 53}[r.IntN(8)] + r.Int64N(3) - 1),
			Per:   time.Duration(1 + r.Int64N([]int64{10, 1e9, 1e15, 1 << 62}[r.IntN(4)])),
			Burst: 1 + r.IntN([]int{1, 10, 1 << 20, 1 << 40}[r.IntN(4)]),
		}
		if l.Rate <= 0 {
			continue
		}
		got, gerr := l.exact()
		want, werr := l.walk()
		if got != want || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("case %d: %+v: exact = %+v, %v; walk = %+v, %v", i, l, got, gerr, want, werr)
		}
	}
}
