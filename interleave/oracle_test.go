package interleave_test

import (
	"flag"
	"math"
	"math/big"
	"time"

	"github.com/leanovate/gopter"
)

var (
	trials = flag.Int("trials", 2000, "gopter trials per property (use 100000 to explore)")
	seed   = flag.Int64("seed", 1, "gopter seed; CI pins it, change it to explore")
)

// params returns gopter parameters with the pinned seed and n successful trials.
func params(n int) *gopter.TestParameters {
	p := gopter.DefaultTestParametersWithSeed(*seed)
	p.MinSuccessfulTests = n
	return p
}

// The reference models below are written from the seed's pseudo-code, as literally as
// possible and without the package's tricks (no counting sort, no heap, no early exit), so
// that they and the package can only agree by both being right. Items are the indices of a
// keys slice: keys[i] is item i's key.

// refByKey is :fair_interleave as the seed writes it: ordered group-by, then repeatedly
// shift one item from each non-empty group until nothing is taken.
func refByKey(keys []int) []int {
	var order []int
	groups := map[int][]int{}
	for i, k := range keys {
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out []int
	for took := true; took; {
		took = false
		for _, k := range order {
			if g := groups[k]; len(g) > 0 {
				out = append(out, g[0])
				groups[k] = g[1:]
				took = true
			}
		}
	}
	return out
}

// refWeighted emits, at every step, the next item of the key with the least virtual time
// (j+½)/w, compared exactly as (2j_a+1)·w_b < (2j_b+1)·w_a (the tests' counts and weights
// keep the products far below 2^63), ties to the first-appearing key; O(items·keys).
func refWeighted(keys []int, weight func(int) int) []int {
	var order []int
	groups := map[int][]int{}
	for i, k := range keys {
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	served := map[int]int{}
	var out []int
	for len(out) < len(keys) {
		best := -1
		for _, k := range order {
			if served[k] == len(groups[k]) {
				continue
			}
			if best < 0 || int64(2*served[k]+1)*int64(weight(best)) < int64(2*served[best]+1)*int64(weight(k)) {
				best = k
			}
		}
		out = append(out, groups[best][served[best]])
		served[best]++
	}
	return out
}

// refBatch is the seed's round_robin_by fetch with caps: for each key in first-appearance
// order its first min(quantum, cap) items; the concatenation cut at size; then the top-up
// adds the first items in pending order that are not in the batch, while their key is
// under its cap, until size.
func refBatch(keys []int, quantum, capOf func(int) int, size int) (batch []int, phase1 int) {
	var order []int
	seen := map[int]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	var rows []int
	for _, k := range order {
		lim := min(quantum(k), capOf(k))
		taken := 0
		for i, ki := range keys {
			if ki == k && taken < lim {
				rows = append(rows, i)
				taken++
			}
		}
	}
	if len(rows) > size {
		rows = rows[:size]
	}
	batch = rows
	phase1 = len(rows)
	in := map[int]bool{}
	used := map[int]int{}
	for _, i := range batch {
		in[i] = true
		used[keys[i]]++
	}
	for i, k := range keys {
		if len(batch) >= size {
			break
		}
		if !in[i] && used[k] < capOf(k) {
			batch = append(batch, i)
			used[k]++
		}
	}
	return batch, phase1
}

// refTimeQuantum returns the exact max(⌊size·w_k/Σw⌋, 1) with w = 1/max(consumed, floor),
// and whether size·w_k/Σw is an exact integer (where float64 may round one lower).
func refTimeQuanta(consumed []time.Duration, floor time.Duration, size int) (q []int, integral []bool) {
	sum := new(big.Rat)
	ws := make([]*big.Rat, len(consumed))
	for i, d := range consumed {
		ws[i] = big.NewRat(1, int64(max(d, floor)))
		sum.Add(sum, ws[i])
	}
	for _, w := range ws {
		v := new(big.Rat).Mul(big.NewRat(int64(size), 1), w)
		v.Quo(v, sum)
		fl := new(big.Int).Quo(v.Num(), v.Denom())
		q = append(q, max(int(fl.Int64()), 1))
		integral = append(integral, v.IsInt())
	}
	return q, integral
}

// refDecayed keeps every admission and sums them, decayed, at query time:
// value(t) = Σ n_i·exp(−(t − t_i)/τ) over admissions at t_i <= t, with the tracker's clock
// (the latest time seen) in place of earlier times.
type refDecayed struct {
	tau     float64 // nanoseconds
	clock   int64
	started bool
	hist    map[int][]refAdmit
}

type refAdmit struct {
	at int64
	n  float64
}

func newRefDecayed(halfLife time.Duration) *refDecayed {
	return &refDecayed{tau: float64(halfLife) / math.Ln2, hist: map[int][]refAdmit{}}
}

func (r *refDecayed) eff(t int64) int64 {
	if !r.started {
		return t
	}
	return max(t, r.clock)
}

func (r *refDecayed) value(t int64, k int) float64 {
	t = r.eff(t)
	v := 0.0
	for _, a := range r.hist[k] {
		v += a.n * math.Exp(-float64(t-a.at)/r.tau)
	}
	return v
}

func (r *refDecayed) admit(t int64, k, n int) {
	t = r.eff(t)
	r.clock, r.started = t, true
	if n > 0 {
		r.hist[k] = append(r.hist[k], refAdmit{t, float64(n)})
	}
}
