package interleave_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// letters turns "AABC" into item keys 'A','A','B','C'.
func letters(s string) []int {
	keys := make([]int, len(s))
	for i := range s {
		keys[i] = int(s[i])
	}
	return keys
}

// keyString renders an output order as its keys: "ABCA".
func keyString(keys, out []int) string {
	var b strings.Builder
	for _, i := range out {
		b.WriteByte(byte(keys[i]))
	}
	return b.String()
}

func TestByKeyTable(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"A", "A"},
		{"AAAA", "AAAA"},
		{"ABC", "ABC"},
		{"AAABCB", "ABCABA"},
		{"AABABB", "ABABAB"}, // river #1060: A1 A2 B1 A3 B2 B3 becomes A1 B1 A2 B2 A3 B3
		{"CBACBA", "CBACBA"}, // first appearance, not key order
		{"AAAAAB", "ABAAAA"},
		{"ABBBCCCCD", "ABCDBCBCC"},
	}
	for _, c := range cases {
		keys := letters(c.in)
		out := seqs(interleave.ByKey(itemsOf(keys), keyOf))
		assert.Equal(t, c.want, keyString(keys, out), "ByKey(%q)", c.in)
		assert.Empty(t, checkInvariants(outcome{op: "bykey", keys: keys, out: out}), c.in)
		assert.True(t, slices.Equal(refByKey(keys), out), c.in)
	}
	assert.NotNil(t, interleave.ByKey([]int{}, func(i int) int { return i }))
	assert.Equal(t, []int{9, 1, 2}, interleave.AppendByKey([]int{9}, []int{1, 2}, func(i int) int { return i }))
}

func TestWeightedTable(t *testing.T) {
	w := map[byte]int{'a': 5, 'b': 1, 'c': 1, 'd': 2, 'e': 3}
	weight := func(k int) int { return w[byte(k)] }
	cases := []struct{ in, want string }{
		{"aaaaabc", "aaabcaa"}, // nginx SWRR gives aabacaa; both keep the bound
		{"bcaaaaa", "aabcaaa"}, // ties at ½ go to the first to appear: b, c, a
		{"ddb", "dbd"},         // d at ¼, ¾; b at ½
		{"eeeeeebb", "eebeeebe"},
		{"abcabc", "aabcbc"},
	}
	for _, c := range cases {
		keys := letters(c.in)
		got, err := interleave.Weighted(itemsOf(keys), keyOf, weight)
		require.NoError(t, err)
		out := seqs(got)
		assert.Equal(t, c.want, keyString(keys, out), "Weighted(%q)", c.in)
		assert.Equal(t, refWeighted(keys, weight), out, c.in)
		assert.Empty(t, checkInvariants(outcome{op: "weighted", keys: keys, out: out, weight: weight}), c.in)
	}
}

func TestWeightedErrors(t *testing.T) {
	items := itemsOf(letters("AB"))
	for _, w := range []int{0, -1, math.MinInt} {
		_, err := interleave.Weighted(items, keyOf, func(k int) int {
			if k == 'B' {
				return w
			}
			return 1
		})
		assert.EqualError(t, err, fmt.Sprintf("interleave: weight must be >= 1, got %d for key 66", w))
	}
	_, err := interleave.Weighted(items, keyOf, nil)
	assert.EqualError(t, err, "interleave: weight must not be nil")
	_, err = interleave.Weighted(items, nil, func(int) int { return 1 })
	assert.EqualError(t, err, "interleave: key must not be nil")
	// Huge weights are compared exactly.
	big := func(k int) int {
		if k == 'A' {
			return math.MaxInt
		}
		return math.MaxInt - 1
	}
	got, err := interleave.Weighted(itemsOf(letters("BBAA")), keyOf, big)
	require.NoError(t, err)
	assert.Equal(t, "ABAB", keyString(letters("BBAA"), seqs(got)))
	var iv interleave.Interleaver[item, int]
	dst := []item{{7, 7}}
	dst, err = iv.AppendWeighted(dst, items, keyOf, nil)
	assert.Error(t, err)
	assert.Equal(t, []item{{7, 7}}, dst, "dst unchanged on error")
}

func TestBatchTable(t *testing.T) {
	unlimited := func(byte) int { return math.MaxInt }
	cases := []struct {
		name     string
		pending  string
		quantum  int
		size     int
		caps     map[byte]int // nil: no caps
		want     string
		p1, topU int
	}{
		{"empty", "", 2, 5, nil, "", 0, 0},
		{"size 0", "AAB", 2, 0, nil, "", 0, 0},
		{"quantum per key", "AAAABBBCD", 2, 10, nil, "AABBCDAAB", 6, 3},
		{"cut at size", "AAAABBBCD", 2, 3, nil, "AAB", 3, 0},
		{"keys·quantum <= size", "ABABABAB", 3, 6, nil, "AAABBB", 6, 0},
		{"top-up is the oldest", "AAAAABCB", 1, 5, nil, "ABCAA", 3, 2},
		{"later keys lose when keys·quantum > size", "ABCDEF", 1, 3, nil, "ABC", 3, 0},
		{"cap below quantum", "AAAABBB", 3, 6, map[byte]int{'A': 2, 'B': 9}, "AABBB", 5, 0},
		{"cap holds through top-up", "AAAAAAB", 2, 6, map[byte]int{'A': 3, 'B': 9}, "AABA", 3, 1},
		{"cap 0 excludes", "AAABBB", 2, 6, map[byte]int{'A': 0, 'B': 9}, "BBB", 2, 1},
		{"all capped at 0", "AB", 2, 6, map[byte]int{}, "", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys := letters(c.pending)
			capOf := unlimited
			bc := interleave.BatchConfig[int]{Size: c.size, Quantum: c.quantum}
			if c.caps != nil {
				capOf = func(k byte) int { return c.caps[k] }
				bc.Cap = func(k int) int { return capOf(byte(k)) }
			}
			got, stats, err := interleave.BatchWith(itemsOf(keys), keyOf, bc)
			require.NoError(t, err)
			out := seqs(got)
			assert.Equal(t, c.want, keyString(keys, out))
			assert.Equal(t, c.p1, stats.Phase1, "phase 1")
			assert.Equal(t, c.topU, stats.TopUp, "top-up")
			bcase := batchCase{size: c.size, quantum: func(int) int { return c.quantum }, capOf: func(k int) int { return capOf(byte(k)) }, capped: c.caps != nil}
			assert.Empty(t, checkInvariants(outcome{op: "batch", keys: keys, out: out, batch: bcase, stats: stats}))
			if c.caps == nil {
				plain, err := interleave.Batch(itemsOf(keys), keyOf, c.quantum, c.size)
				require.NoError(t, err)
				assert.Equal(t, got, plain)
			}
		})
	}
}

// TestBatchTopUpRespectsCaps is the Hatchet #1164 regression: a key that did not fill its
// quantum must not let the top-up push other keys past their caps.
func TestBatchTopUpRespectsCaps(t *testing.T) {
	keys := letters("AAAAAAAAAABC")
	got, stats, err := interleave.BatchWith(itemsOf(keys), keyOf, interleave.BatchConfig[int]{
		Size: 10, Quantum: 1, Cap: func(int) int { return 2 },
	})
	require.NoError(t, err)
	assert.Equal(t, "ABCA", keyString(keys, seqs(got)))
	assert.Equal(t, interleave.BatchStats{Scanned: 12, Keys: 3, Phase1: 3, TopUp: 1}, stats)
}

func TestBatchEarlyExit(t *testing.T) {
	// A's and B's quanta fill the batch by item 5; the rest is never looked at.
	keys := letters("AABBAACCCCDDDD")
	calls := 0
	key := func(it item) int { calls++; return it.key }
	got, stats, err := interleave.BatchWith(itemsOf(keys), key, interleave.BatchConfig[int]{Size: 4, Quantum: 2})
	require.NoError(t, err)
	assert.Equal(t, "AABB", keyString(keys, seqs(got)))
	assert.Equal(t, interleave.BatchStats{Scanned: 4, Keys: 2, Phase1: 4}, stats)
	assert.Equal(t, len(keys), calls, "keys are computed in blocks of 128")
	// Keys past the stopping point are never configured: a Cap that rejects C is not asked.
	_, stats, err = interleave.BatchWith(itemsOf(keys), keyOf, interleave.BatchConfig[int]{
		Size: 4, Quantum: 2, Cap: func(k int) int {
			if k == 'C' {
				return -1
			}
			return 5
		},
	})
	require.NoError(t, err)
	assert.Equal(t, 2, stats.Keys)
	// A leading key with cap 0 is saturated at once.
	_, stats, err = interleave.BatchWith(itemsOf(letters("XAAYZ")), keyOf, interleave.BatchConfig[int]{
		Size: 2, Quantum: 2, Cap: func(k int) int { return map[int]int{'X': 0, 'A': 5}[k] },
	})
	require.NoError(t, err)
	assert.Equal(t, 3, stats.Scanned)
	// Time-weighted quanta need every key: the whole list is scanned.
	_, stats, err = interleave.BatchWith(itemsOf(keys), keyOf, interleave.BatchConfig[int]{
		Size: 4, Time: &interleave.TimeWeight[int]{Consumed: func(int) time.Duration { return 0 }, Floor: time.Second},
	})
	require.NoError(t, err)
	assert.Equal(t, len(keys), stats.Scanned)
}

func TestBatchErrors(t *testing.T) {
	items := itemsOf(letters("AB"))
	_, err := interleave.Batch(items, keyOf, 0, 5)
	assert.EqualError(t, err, "interleave: quantum must be >= 1, got 0")
	_, err = interleave.Batch(items, keyOf, -3, 5)
	assert.EqualError(t, err, "interleave: quantum must be >= 1, got -3")
	_, err = interleave.Batch(items, keyOf, 1, -1)
	assert.EqualError(t, err, "interleave: size must be >= 0, got -1")
	_, err = interleave.Batch[item, int](items, nil, 1, 1)
	assert.EqualError(t, err, "interleave: key must not be nil")

	one := func(int) int { return 1 }
	tw := &interleave.TimeWeight[int]{Consumed: func(int) time.Duration { return 0 }, Floor: time.Second}
	configs := []struct {
		c    interleave.BatchConfig[int]
		want string
	}{
		{interleave.BatchConfig[int]{Size: -1, Quantum: 1}, "interleave: Size must be >= 0, got -1"},
		{interleave.BatchConfig[int]{Size: 1}, "interleave: Quantum must be >= 1, got 0"},
		{interleave.BatchConfig[int]{Size: 1, Quantum: -2}, "interleave: Quantum must be >= 1, got -2"},
		{interleave.BatchConfig[int]{Size: 1, Quantum: 5, QuantumOf: one}, "interleave: Quantum must be 0 when QuantumOf or Time is set, got 5"},
		{interleave.BatchConfig[int]{Size: 1, Quantum: 5, Time: tw}, "interleave: Quantum must be 0 when QuantumOf or Time is set, got 5"},
		{interleave.BatchConfig[int]{Size: 1, QuantumOf: one, Time: tw}, "interleave: QuantumOf and Time must not both be set"},
		{interleave.BatchConfig[int]{Size: 1, Time: &interleave.TimeWeight[int]{Floor: time.Second}}, "interleave: Time.Consumed must not be nil"},
		{interleave.BatchConfig[int]{Size: 1, Time: &interleave.TimeWeight[int]{Consumed: tw.Consumed}}, "interleave: Time.Floor must be > 0, got 0s"},
		{interleave.BatchConfig[int]{Size: 1, Time: &interleave.TimeWeight[int]{Consumed: tw.Consumed, Floor: -time.Millisecond}}, "interleave: Time.Floor must be > 0, got -1ms"},
		{interleave.BatchConfig[int]{Size: 1, QuantumOf: func(int) int { return 0 }}, "interleave: QuantumOf must return >= 1, got 0 for key 65"},
		{interleave.BatchConfig[int]{Size: 1, Quantum: 1, Cap: func(int) int { return -1 }}, "interleave: Cap must return >= 0, got -1 for key 65"},
		{interleave.BatchConfig[int]{Size: 1, Time: &interleave.TimeWeight[int]{Consumed: func(int) time.Duration { return -time.Second }, Floor: time.Second}},
			"interleave: Time.Consumed must return >= 0, got -1s for key 65"},
	}
	for _, c := range configs {
		_, _, err := interleave.BatchWith(items, keyOf, c.c)
		assert.EqualError(t, err, c.want)
		var iv interleave.Interleaver[item, int]
		dst := []int{42}
		dst, _, err = iv.AppendBatchIndex(dst, items, keyOf, c.c)
		assert.EqualError(t, err, c.want)
		assert.Equal(t, []int{42}, dst, "dst unchanged on error")
	}

	_, err = interleave.TimeQuanta(nil, nil, 0, 1)
	assert.EqualError(t, err, "interleave: floor must be > 0, got 0s")
	_, err = interleave.TimeQuanta(nil, nil, time.Second, -1)
	assert.EqualError(t, err, "interleave: size must be >= 0, got -1")
	dst, err := interleave.TimeQuanta([]int{7}, []time.Duration{time.Second, -time.Nanosecond}, time.Second, 10)
	assert.EqualError(t, err, "interleave: consumed must be >= 0, got -1ns at index 1")
	assert.Equal(t, []int{7}, dst)
}

func TestTimeQuantaTable(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		consumed []time.Duration
		size     int
		want     []int
	}{
		{nil, 500, nil},
		{[]time.Duration{0}, 500, []int{500}},
		{[]time.Duration{ms, 50 * ms, 100 * ms}, 6, []int{2, 2, 2}}, // all below the 100 ms floor
		{[]time.Duration{time.Second, 2 * time.Second}, 300, []int{200, 100}},
		{[]time.Duration{time.Second, 3 * time.Second}, 4, []int{3, 1}},
		{[]time.Duration{time.Second, time.Hour}, 10, []int{9, 1}}, // at least 1
		{[]time.Duration{time.Second, time.Second, time.Second}, 6, []int{2, 2, 2}},
		{[]time.Duration{time.Second, time.Second, time.Second}, 0, []int{1, 1, 1}},
		// A single key gets the whole size, even at MaxInt, where float64(size) is 2^63 and
		// converting it back to int overflowed to a quantum of 1.
		{[]time.Duration{time.Second}, math.MaxInt, []int{math.MaxInt}},
		// Equal consumption gives exactly size/N: the seed's formula, summing 1/c fourteen
		// times in float64, gives 49 here.
		{slices.Repeat([]time.Duration{100 * ms}, 14), 700, slices.Repeat([]int{50}, 14)},
	}
	for _, c := range cases {
		got, err := interleave.TimeQuanta(nil, c.consumed, 100*ms, c.size)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "consumed %v size %d", c.consumed, c.size)
	}
}

// TestMaxMinFairKubernetesVectors checks the water-filling against the vectors of
// Kubernetes' TestFairAlloc (queueset_test.go).
func TestMaxMinFairKubernetesVectors(t *testing.T) {
	cases := []struct {
		demands  []float64
		capacity float64
		want     []float64
	}{
		{[]float64{0, 0}, 42, []float64{0, 0}},
		{[]float64{47, 0}, 42, []float64{42, 0}},
		{[]float64{1, 47}, 42, []float64{1, 41}},
		{[]float64{3, 7, 9, 1}, 14, []float64{3, 5, 5, 1}},
		{[]float64{1, 9, 7, 3}, 21, []float64{1, 9, 7, 3}},
		{nil, 10, []float64{}},
		{[]float64{math.Inf(1), 2}, 10, []float64{8, 2}},
		{[]float64{math.Inf(1), math.Inf(1)}, math.Inf(1), []float64{math.Inf(1), math.Inf(1)}},
		{[]float64{5, 5}, 0, []float64{0, 0}},
	}
	for _, c := range cases {
		got, err := interleave.MaxMinFair(c.demands, c.capacity, nil)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "MaxMinFair(%v, %v)", c.demands, c.capacity)
	}
	// Weighted, by hand: capacity 12 over demands {10, 10, 1} with weights {1, 2, 1}: the
	// third takes 1; 11 left at level 11/3 gives {11/3, 22/3}.
	got, err := interleave.MaxMinFair([]float64{10, 10, 1}, 12, []float64{1, 2, 1})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{11.0 / 3, 22.0 / 3, 1}, got, 1e-12)
	// Weight 3 against 1, both unbounded: 3:1.
	got, err = interleave.MaxMinFair([]float64{math.Inf(1), math.Inf(1)}, 8, []float64{3, 1})
	require.NoError(t, err)
	assert.Equal(t, []float64{6, 2}, got)
}

// TestMaxMinFairFarApartWeights pins a bug: the remaining weight was kept by subtracting
// from the total, which left 0 after a user of weight 1e20 was served, so the level became
// 4/0 and the user of weight 1 got its whole demand of 10 from a capacity of 5.
func TestMaxMinFairFarApartWeights(t *testing.T) {
	got, err := interleave.MaxMinFair([]float64{1, 10}, 5, []float64{1e20, 1})
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 4}, got)
	got, err = interleave.MaxMinFair([]float64{10, 1e21}, 1e20+5, []float64{1, 1e20})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1, 1e20 + 4}, got, 1e5)
}

func TestMetricErrors(t *testing.T) {
	nan := math.NaN()
	_, err := interleave.Jain(nil)
	assert.EqualError(t, err, "interleave: Jain needs at least one value")
	for _, v := range []float64{-1, nan, math.Inf(1), math.Inf(-1)} {
		_, err = interleave.Jain([]float64{1, v})
		assert.EqualError(t, err, fmt.Sprintf("interleave: Jain values must be finite and >= 0, got %v at index 1", v))
	}
	_, err = interleave.MaxMinFair([]float64{1}, -1, nil)
	assert.EqualError(t, err, "interleave: capacity must be >= 0, got -1")
	_, err = interleave.MaxMinFair([]float64{1}, nan, nil)
	assert.EqualError(t, err, "interleave: capacity must be >= 0, got NaN")
	_, err = interleave.MaxMinFair([]float64{1, nan}, 1, nil)
	assert.EqualError(t, err, "interleave: demand must be >= 0, got NaN at index 1")
	_, err = interleave.MaxMinFair([]float64{-2}, 1, nil)
	assert.EqualError(t, err, "interleave: demand must be >= 0, got -2 at index 0")
	_, err = interleave.MaxMinFair([]float64{1, 2}, 1, []float64{1})
	assert.EqualError(t, err, "interleave: weights must have one entry per demand, got 1 weights for 2 demands")
	for _, w := range []float64{0, -1, nan, math.Inf(1)} {
		_, err = interleave.MaxMinFair([]float64{1}, 1, []float64{w})
		assert.EqualError(t, err, fmt.Sprintf("interleave: weight must be finite and > 0, got %v at index 0", w))
	}
	_, err = interleave.PositionalUnfairness(itemsOf(letters("AB")), keyOf, func(int) int { return 0 })
	assert.EqualError(t, err, "interleave: weight must be >= 1, got 0 for key 65")
	_, err = interleave.PositionalUnfairness[item, int](itemsOf(letters("AB")), nil, nil)
	assert.EqualError(t, err, "interleave: key must not be nil")
}

func TestJainTable(t *testing.T) {
	cases := []struct {
		x    []float64
		want float64
	}{
		{[]float64{7}, 1},
		{[]float64{0, 0, 0}, 1},
		{[]float64{1, 1, 1, 1}, 1},
		{[]float64{1, 0, 0, 0}, 0.25},
		{[]float64{100, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0.1}, // FIFO's first 100 under a burst
		{[]float64{12, 10, 10, 10, 10, 10, 10, 10, 10, 8}, 1e4 / (10 * 1008)},
		{[]float64{1, 2}, 0.9},
		{[]float64{math.MaxFloat64, math.MaxFloat64}, 1},
	}
	for _, c := range cases {
		got, err := interleave.Jain(c.x)
		require.NoError(t, err)
		assert.InDelta(t, c.want, got, 1e-12, "Jain(%v)", c.x)
	}
}

func TestPositionalUnfairnessTable(t *testing.T) {
	cases := []struct {
		order  string
		lag    float64
		at     int
		ahead  byte
		behind byte
	}{
		{"", 0, 0, 0, 0},
		{"AAAA", 0, 0, 0, 0},
		{"ABAB", 1, 1, 'A', 'B'},
		{"AAAB", 3, 3, 'A', 'B'},
		{"AABBCC", 2, 2, 'A', 'B'},
		{"ABCABCAAA", 1, 1, 'A', 'B'}, // B and C are done before A's run
	}
	for _, c := range cases {
		keys := letters(c.order)
		u, err := interleave.PositionalUnfairness(itemsOf(keys), keyOf, nil)
		require.NoError(t, err)
		assert.Equal(t, interleave.Unfairness[int]{Lag: c.lag, At: c.at, Ahead: int(c.ahead), Behind: int(c.behind)}, u, c.order)
		uw, err := interleave.PositionalUnfairness(itemsOf(keys), keyOf, func(int) int { return 1 })
		require.NoError(t, err)
		assert.Equal(t, u, uw, "weights of 1 give the unweighted answer for %q", c.order)
	}
	// Weighted: after AAA with A weighing 3 and B 1, 2·(3·1 − 0·3)/(3+1) = 1.5.
	keys := letters("AAAB")
	u, err := interleave.PositionalUnfairness(itemsOf(keys), keyOf, func(k int) int { return map[int]int{'A': 3, 'B': 1}[k] })
	require.NoError(t, err)
	assert.Equal(t, 1.5, u.Lag)
	assert.Equal(t, 3, u.At)
}

// TestInterleaverNoAllocs checks the hot paths do not allocate once buffers are warm.
func TestInterleaverNoAllocs(t *testing.T) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%04d", i)
	}
	items := make([]job, 10_000)
	for i := range items {
		items[i] = job{keys[(i*7919)%1024], i}
	}
	var iv interleave.Interleaver[job, string]
	dst := make([]job, 0, len(items))
	idx := make([]int, 0, len(items))
	w := func(string) int { return 3 }                             // equal weights: the round-robin path
	uneven := func(k string) int { return 1 + int(k[len(k)-1]%4) } // the heap path
	bc := interleave.BatchConfig[string]{Size: 500, Quantum: 5, Cap: func(string) int { return 7 }}
	run := func() {
		dst = iv.AppendByKey(dst[:0], items, tenantOf)
		idx = iv.AppendByKeyIndex(idx[:0], items, tenantOf)
		dst, _ = iv.AppendWeighted(dst[:0], items, tenantOf, w)
		dst, _ = iv.AppendWeighted(dst[:0], items, tenantOf, uneven)
		idx, _ = iv.AppendWeightedIndex(idx[:0], items, tenantOf, uneven)
		dst, _, _ = iv.AppendBatch(dst[:0], items, tenantOf, bc)
		idx, _, _ = iv.AppendBatchIndex(idx[:0], items, tenantOf, bc)
	}
	run()
	assert.Zero(t, testing.AllocsPerRun(20, run))

	d, err := interleave.NewDecayed[string](time.Minute)
	require.NoError(t, err)
	admit := func(string, int) int { return 1 }
	tick := func() { _, _ = d.Tick(at(time.Second), keys, interleave.Budget{TickCap: 2000}, admit) }
	tick()
	assert.Zero(t, testing.AllocsPerRun(20, tick))
}

func TestInterleaverShrinksMap(t *testing.T) {
	// After a call with many keys, repeated small calls get a small map again; results are
	// unaffected.
	var iv interleave.Interleaver[int, int]
	big := make([]int, 20_000)
	for i := range big {
		big[i] = i
	}
	id := func(i int) int { return i }
	iv.AppendByKey(nil, big, id)
	small := []int{3, 1, 3, 2}
	for range 20 {
		assert.Equal(t, []int{3, 1, 2, 3}, iv.AppendByKey(nil, small, id))
	}
}
