package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// ParetoFront returns the indices of the points (xs[i], ys[i]) that no other point
// dominates, where a larger x and a smaller y are better (throughput and latency): point j
// dominates point i when xs[j] >= xs[i] and ys[j] <= ys[i], one of them strictly. Equal
// points do not dominate each other and are all kept; points with a NaN or infinite
// coordinate are ignored. The indices come in increasing x (then y, then index), which is
// also increasing y: along a front, more throughput costs more latency.
//
// It sorts by x descending and keeps a point when its y is below every y kept so far:
// O(n log n). xs and ys must have the same length; ParetoFront panics otherwise.
func ParetoFront(xs, ys []float64) []int {
	if len(xs) != len(ys) {
		panic(fmt.Sprintf("sim: ParetoFront: %d xs and %d ys", len(xs), len(ys)))
	}
	var idx []int
	for i := range xs {
		if finite(xs[i]) && finite(ys[i]) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(cmp.Compare(xs[b], xs[a]), cmp.Compare(ys[a], ys[b]), cmp.Compare(a, b))
	})
	// Every point seen before i has x >= xs[i]. i is dominated iff one of them has a smaller
	// y, or the same y and a larger x; the first point to reach the smallest y has the
	// largest x among those with that y.
	var front []int
	bestY, xAtBest := math.Inf(1), math.Inf(1)
	for _, i := range idx {
		switch {
		case ys[i] < bestY:
			bestY, xAtBest = ys[i], xs[i]
			front = append(front, i)
		case ys[i] == bestY && xs[i] == xAtBest:
			front = append(front, i) // a duplicate of a front point
		}
	}
	slices.SortFunc(front, func(a, b int) int {
		return cmp.Or(cmp.Compare(xs[a], xs[b]), cmp.Compare(ys[a], ys[b]), cmp.Compare(a, b))
	})
	return front
}

// Knee returns the index of the knee of the points' Pareto front (see ParetoFront): the
// front point beyond which more x costs the most y. Both coordinates are rescaled to [0, 1]
// over the front, which then runs from (0, 0) (least x, least y) to (1, 1); the knee is the
// front point farthest from that chord on the good side (largest x − y after rescaling), as
// in the Kneedle method (Satopää et al., 2011). The result does not change when either axis
// is shifted or scaled by a positive factor (seconds or milliseconds, jobs per second or per
// minute). Ties go to the point of smaller x.
//
// ok is false when there is no knee: fewer than three distinct front points, or a front
// with no point on the good side of the chord (a straight or concave front).
func Knee(xs, ys []float64) (knee int, ok bool) {
	front := ParetoFront(xs, ys)
	if len(front) < 3 {
		return -1, false
	}
	first, last := front[0], front[len(front)-1]
	x0, dx := xs[first], xs[last]-xs[first]
	y0, dy := ys[first], ys[last]-ys[first]
	if dx <= 0 || dy <= 0 {
		return -1, false
	}
	best := 0.0
	knee = -1
	for _, i := range front {
		if d := (xs[i]-x0)/dx - (ys[i]-y0)/dy; d > best {
			best, knee = d, i
		}
	}
	return knee, knee >= 0
}

// Means returns the mean of one estimate of each summary: Means(ss, func(s Summary)
// Estimate { return s.Throughput }) gives the throughputs of a sweep, ready for ParetoFront.
func Means(ss []Summary, f func(Summary) Estimate) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s).Mean
	}
	return out
}

// Estimates returns one estimate of each summary, for plotting a sweep or a comparison with
// its confidence intervals.
func Estimates(ss []Summary, f func(Summary) Estimate) []Estimate {
	out := make([]Estimate, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
