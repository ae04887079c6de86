package wdrr_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

// drain pops n items (or until empty) and returns "key:item" pairs.
func drain(t *testing.T, d *wdrr.DRR[string, string], n int) string {
	t.Helper()
	var out []string
	for range n {
		k, v, ok := d.Pop()
		if !ok {
			break
		}
		out = append(out, k+":"+v)
		require.Empty(t, checkInvariants(d))
	}
	return strings.Join(out, " ")
}

func TestDRRErrors(t *testing.T) {
	for _, q := range []int{0, -1, wdrr.MaxCost + 1} {
		_, err := wdrr.NewDRR[string, int](q)
		assert.EqualError(t, err, fmt.Sprintf("wdrr: quantum must be in [1, 2^62], got %d", q))
	}
	d, err := wdrr.NewDRR[string, int](1 << 40)
	require.NoError(t, err)
	assert.EqualError(t, d.Push("a", 1, 0), "wdrr: cost must be in [1, 2^62], got 0")
	assert.EqualError(t, d.Push("a", 1, -7), "wdrr: cost must be in [1, 2^62], got -7")
	assert.EqualError(t, d.Push("a", 1, wdrr.MaxCost+1), "wdrr: cost must be in [1, 2^62], got 4611686018427387905")
	assert.EqualError(t, d.SetWeight("a", 0), "wdrr: weight must be in [1, 2147483647], got 0")
	assert.EqualError(t, d.SetWeight("a", wdrr.MaxWeight+1), "wdrr: weight must be in [1, 2147483647], got 2147483648")
	assert.EqualError(t, d.SetWeight("a", 1<<23), "wdrr: weight × quantum must be <= 2^62, got 8388608 × 1099511627776")
	assert.Equal(t, 0, d.Len(), "a rejected push queues nothing")
	assert.Empty(t, checkInvariants(d))
}

// TestDRRRiverOrder is riverqueue/river #1060's order: customer A has three jobs, two are
// dispatched, then B's three arrive; B joins behind A's current round instead of waiting for
// A to drain: A1 A2 B1 A3 B2 B3.
func TestDRRRiverOrder(t *testing.T) {
	d, _ := wdrr.NewDRR[string, string](1)
	for _, j := range []string{"A1", "A2", "A3"} {
		require.NoError(t, d.Push("A", j, 1))
	}
	got := drain(t, d, 2)
	for _, j := range []string{"B1", "B2", "B3"} {
		require.NoError(t, d.Push("B", j, 1))
	}
	got += " " + drain(t, d, 10)
	assert.Equal(t, "A:A1 A:A2 B:B1 A:A3 B:B2 B:B3", got)
}

// TestDRRLinuxSemantics pins sch_drr's rules: a newly active key starts with one quantum and
// joins the tail; a key sends while cost <= deficit and stays first; an empty key forgets its
// deficit; quantum = weight × base.
func TestDRRLinuxSemantics(t *testing.T) {
	d, _ := wdrr.NewDRR[string, string](3)
	require.NoError(t, d.SetWeight("big", 2))
	for i := range 4 {
		require.NoError(t, d.Push("big", fmt.Sprint(i), 2))
		require.NoError(t, d.Push("small", fmt.Sprint(i), 2))
	}
	def, ok := d.Deficit("big")
	assert.True(t, ok)
	assert.Equal(t, int64(6), def, "one quantum of weight 2 × 3")
	// big: 6 → sends 3 items (6, 4, 2 → 0); small: 3 → 1 item; big +6 → 1 left; small …
	assert.Equal(t, "big:0 big:1 big:2 small:0 big:3 small:1 small:2 small:3", drain(t, d, 20))
	_, ok = d.Deficit("big")
	assert.False(t, ok, "an empty key leaves the active list")

	assert.Equal(t, 2, d.Weight("big"))
	assert.Equal(t, 1, d.Weight("small"))
	require.NoError(t, d.SetWeight("big", 1))
	assert.Equal(t, 1, d.Weight("big"), "weight 1 is the default and is forgotten")
	assert.Equal(t, 3, d.Quantum())
}

// TestDRRQuantumBelowCost: with quanta far below the costs a key needs many turns per item;
// Pop skips whole rounds arithmetically instead of looping 10^12 times.
func TestDRRQuantumBelowCost(t *testing.T) {
	d, _ := wdrr.NewDRR[string, string](1)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, d.Push(k, "1", 1_000_000_000_000))
		require.NoError(t, d.Push(k, "2", 1_000_000_000_000))
	}
	assert.Equal(t, "a:1 b:1 c:1 a:2 b:2 c:2", drain(t, d, 10))

	d, _ = wdrr.NewDRR[string, string](wdrr.MaxCost)
	require.NoError(t, d.Push("a", "max", wdrr.MaxCost))
	require.NoError(t, d.Push("a", "max2", wdrr.MaxCost))
	require.NoError(t, d.Push("b", "one", 1))
	assert.Equal(t, "a:max b:one a:max2", drain(t, d, 10), "no overflow at the extremes")

	d, _ = wdrr.NewDRR[string, string](1)
	require.NoError(t, d.Push("a", "max", wdrr.MaxCost))
	require.NoError(t, d.Push("b", "one", 1))
	assert.Equal(t, "b:one a:max", drain(t, d, 10))
}

// TestDRRCounts checks Len, Active and KeyLen through a history.
func TestDRRCounts(t *testing.T) {
	d, _ := wdrr.NewDRR[int, int](10)
	for i := range 5 {
		require.NoError(t, d.Push(i%2, i, 1))
		require.Empty(t, checkInvariants(d))
	}
	assert.Equal(t, []int{5, 2, 3, 2, 0}, []int{d.Len(), d.Active(), d.KeyLen(0), d.KeyLen(1), d.KeyLen(7)})
	for range 5 {
		_, _, ok := d.Pop()
		require.True(t, ok)
		require.Empty(t, checkInvariants(d))
	}
	_, _, ok := d.Pop()
	assert.False(t, ok)
	assert.Equal(t, []int{0, 0}, []int{d.Len(), d.Active()})
	assert.Empty(t, checkInvariants(d))
}

// TestDRRSteadyStateAllocs: once the DRR has held as many items and keys as now, Push and
// Pop allocate nothing, including keys going idle and coming back.
func TestDRRSteadyStateAllocs(t *testing.T) {
	d, _ := wdrr.NewDRR[int, int](2)
	for i := range 1000 {
		require.NoError(t, d.Push(i%64, i, 1+i%3))
	}
	for d.Len() > 0 {
		d.Pop()
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		for range 500 {
			i++
			_ = d.Push(i%64, i, 1+i%3)
		}
		for d.Len() > 0 {
			d.Pop()
		}
	})
	assert.Zero(t, allocs)
}
