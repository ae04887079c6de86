package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParetoFrontTable(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		want   []int
	}{
		{"empty", nil, nil, nil},
		{"one", []float64{1}, []float64{1}, []int{0}},
		{"trade-off", []float64{1, 2, 3}, []float64{1, 2, 3}, []int{0, 1, 2}},
		{"dominated middle", []float64{1, 2, 3}, []float64{1, 5, 3}, []int{0, 2}},
		{"one dominates all", []float64{3, 1, 2}, []float64{0, 1, 2}, []int{0}},
		{"same x, larger y is dominated", []float64{2, 2}, []float64{1, 3}, []int{0}},
		{"same y, smaller x is dominated", []float64{1, 2}, []float64{1, 1}, []int{1}},
		{"duplicates are kept", []float64{2, 1, 2}, []float64{2, 1, 2}, []int{1, 0, 2}},
		{"NaN and Inf ignored", []float64{nan, 1, 5, math.Inf(1)}, []float64{0, 1, nan, 0}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ParetoFront(tc.xs, tc.ys))
		})
	}
	assert.PanicsWithValue(t, "sim: ParetoFront: 2 xs and 1 ys", func() { ParetoFront([]float64{1, 2}, []float64{1}) })
}

func TestKneeTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		want   int
		ok     bool
	}{
		// Throughput rises fast then flattens while latency keeps growing: the knee is where
		// the gains stop.
		{"bend", []float64{10, 50, 70, 75, 78}, []float64{1, 1.5, 2, 5, 10}, 2, true},
		{"straight", []float64{1, 2, 3}, []float64{1, 2, 3}, -1, false},
		{"concave", []float64{1, 2, 3}, []float64{1, 2.9, 3}, -1, false},
		{"two points", []float64{1, 2}, []float64{1, 2}, -1, false},
		{"duplicates are not a knee", []float64{1, 1, 2}, []float64{1, 1, 2}, -1, false},
		{"dominated points do not count", []float64{10, 50, 70, 75, 78, 40}, []float64{1, 1.5, 2, 5, 10, 8}, 2, true},
		{"tie goes to the smaller x", []float64{0, 1, 2, 4}, []float64{0, 0.5, 1.5, 4}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := Knee(tc.xs, tc.ys)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, k)
		})
	}
}

// randomPoints returns up to 40 points on a small integer grid (so that ties, duplicates and
// exact rescaling occur), a few of them NaN.
func randomPoints(seed uint64) (xs, ys []float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	n := r.IntN(40)
	for range n {
		x, y := float64(r.IntN(12)), float64(r.IntN(12))
		if r.IntN(20) == 0 {
			x = math.NaN()
		}
		if r.IntN(20) == 0 {
			y = math.NaN()
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	return xs, ys
}

func dominates(xs, ys []float64, j, i int) bool {
	return xs[j] >= xs[i] && ys[j] <= ys[i] && (xs[j] > xs[i] || ys[j] < ys[i])
}

// checkFront is the invariant checker of a front: no front point is dominated by any point;
// every other finite point is dominated by a front point; the front runs in increasing x and
// y.
func checkFront(xs, ys []float64, front []int) string {
	on := map[int]bool{}
	for _, i := range front {
		on[i] = true
		if !finite(xs[i]) || !finite(ys[i]) {
			return fmt.Sprintf("front holds non-finite point %d", i)
		}
		for j := range xs {
			if finite(xs[j]) && finite(ys[j]) && dominates(xs, ys, j, i) {
				return fmt.Sprintf("front point %d (%v, %v) is dominated by %d (%v, %v)", i, xs[i], ys[i], j, xs[j], ys[j])
			}
		}
	}
	for i := range xs {
		if on[i] || !finite(xs[i]) || !finite(ys[i]) {
			continue
		}
		if !slices.ContainsFunc(front, func(j int) bool { return dominates(xs, ys, j, i) }) {
			return fmt.Sprintf("point %d (%v, %v) is off the front but no front point dominates it", i, xs[i], ys[i])
		}
	}
	for k := 1; k < len(front); k++ {
		a, b := front[k-1], front[k]
		if xs[a] > xs[b] || ys[a] > ys[b] {
			return fmt.Sprintf("front out of order at %d: (%v, %v) then (%v, %v)", k, xs[a], ys[a], xs[b], ys[b])
		}
	}
	return ""
}

func TestParetoFrontProperties(t *testing.T) {
	forAll(t, "the front is exactly the non-dominated points, in order", *trials, func(seed uint64) string {
		xs, ys := randomPoints(seed)
		return checkFront(xs, ys, ParetoFront(xs, ys))
	})
}

func TestKneeProperties(t *testing.T) {
	forAll(t, "the knee is a front point and ignores the axes' units", *trials, func(seed uint64) string {
		xs, ys := randomPoints(seed)
		k, ok := Knee(xs, ys)
		front := ParetoFront(xs, ys)
		if ok != (k >= 0) {
			return fmt.Sprintf("Knee = %d, %v", k, ok)
		}
		if ok && !slices.Contains(front, k) {
			return fmt.Sprintf("knee %d is not on the front %v", k, front)
		}
		// Exact rescalings (powers of two, integer shifts on integer grids) keep the knee.
		r := rand.New(rand.NewPCG(seed, 8))
		sx, sy := math.Ldexp(1, r.IntN(20)-10), math.Ldexp(1, r.IntN(20)-10)
		dx, dy := float64(r.IntN(100)-50), float64(r.IntN(100)-50)
		xs2, ys2 := make([]float64, len(xs)), make([]float64, len(ys))
		for i := range xs {
			xs2[i], ys2[i] = (xs[i]+dx)*sx, (ys[i]+dy)*sy
		}
		if k2, ok2 := Knee(xs2, ys2); k2 != k || ok2 != ok {
			return fmt.Sprintf("rescaled knee %d, %v; want %d, %v", k2, ok2, k, ok)
		}
		return ""
	})
}

// The checker itself must fail on a wrong front.
func TestCheckFrontCatchesMistakes(t *testing.T) {
	xs, ys := []float64{1, 2, 3}, []float64{1, 5, 3}
	require.Empty(t, checkFront(xs, ys, []int{0, 2}))
	require.NotEmpty(t, checkFront(xs, ys, []int{0, 1, 2}), "dominated point kept")
	require.NotEmpty(t, checkFront(xs, ys, []int{0}), "front point dropped")
	require.NotEmpty(t, checkFront(xs, ys, []int{2, 0}), "out of order")
}

func TestMeans(t *testing.T) {
	ss := []Summary{{Throughput: Estimate{Mean: 1}}, {Throughput: Estimate{Mean: 2}}}
	assert.Equal(t, []float64{1, 2}, Means(ss, func(s Summary) Estimate { return s.Throughput }))
	assert.Equal(t, []Estimate{{Mean: 1}, {Mean: 2}}, Estimates(ss, func(s Summary) Estimate { return s.Throughput }))
}
