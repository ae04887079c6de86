package sim

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// idleSet agrees with a plain slice of flags under any sequence of adds and removes.
func TestIdleSetMatchesModel(t *testing.T) {
	forAll(t, "first is the lowest member; adds and removes are idempotent", *trials/5+1, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 11))
		n := 1 + r.IntN(9000)
		s := newIdleSet(n)
		in := make([]bool, n)
		count := 0
		for range 2000 {
			i := int32(r.IntN(n))
			if r.IntN(2) == 0 {
				s.add(i)
				if !in[i] {
					in[i], count = true, count+1
				}
			} else {
				s.remove(i)
				if in[i] {
					in[i], count = false, count-1
				}
			}
			want := -1
			for k, b := range in {
				if b {
					want = k
					break
				}
			}
			got, ok := s.first()
			if ok != (want >= 0) || (ok && int(got) != want) || s.n != count {
				return fmt.Sprintf("n %d: first = %d, %v; want %d (count %d vs %d)", n, got, ok, want, s.n, count)
			}
		}
		return ""
	})
}
