package interleave_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/interleave"
)

var base = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func at(off time.Duration) time.Time { return base.Add(off) }

// runTick runs d.Tick with an admit function that takes min(budget, want(key)) and records
// the tick for checkInvariants.
func runTick(d *interleave.Decayed[int], now time.Time, keys []int, b interleave.Budget, want func(k, budget int) int) (*tickRecord, error) {
	rec := &tickRecord{keys: keys, values: map[int]float64{}, cap: b.TickCap, perKey: b.PerKey}
	for _, k := range keys {
		rec.values[k] = d.Value(now, k)
	}
	total, err := d.Tick(now, keys, b, func(k, budget int) int {
		n := want(k, budget)
		rec.calls = append(rec.calls, admitCall{k, budget, n})
		return n
	})
	rec.total = total
	return rec, err
}

func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// TestDecayedMatchesHistory drives a tracker with random admissions and ticks at random
// times (including the same instant twice and steps back in time) and compares every value
// with the sum over the whole history, and every tick with the definition.
func TestDecayedMatchesHistory(t *testing.T) {
	forAll(t, "decayed values equal the decayed sum of the history; ticks follow the definition", *trials/2, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 20))
		hl := time.Duration(1 + r.Int64N(int64(time.Minute)))
		if r.IntN(4) == 0 {
			hl = time.Duration(1 + r.IntN(1000)) // nanoseconds: everything decays at once
		}
		d, err := interleave.NewDecayed[int](hl)
		if err != nil {
			return err.Error()
		}
		ref := newRefDecayed(hl)
		nk := 1 + r.IntN(8)
		var off time.Duration
		for step := range 60 {
			switch x := r.IntN(10); {
			case x == 0:
				off -= time.Duration(r.Int64N(int64(2 * hl))) // back in time
			case x < 3:
				// the same instant
			default:
				off += time.Duration(r.Int64N(int64(2*hl) + 1))
			}
			now := at(off)
			if r.IntN(3) == 0 {
				k, n := r.IntN(nk), r.IntN(5)
				if err := d.Admit(now, k, n); err != nil {
					return err.Error()
				}
				ref.admit(int64(off), k, n)
				if msg := checkInvariants(outcome{op: "state", state: d}); msg != "" {
					return fmt.Sprintf("step %d: %s", step, msg)
				}
			} else {
				keys := r.Perm(nk)[:1+r.IntN(nk)]
				b := interleave.Budget{TickCap: 1 + r.IntN(30)}
				if r.IntN(3) == 0 {
					b = interleave.Budget{PerKey: 1 + r.IntN(10)}
				}
				wants := map[int]int{}
				for _, k := range keys {
					wants[k] = r.IntN(15)
				}
				rec, err := runTick(d, now, keys, b, func(k, budget int) int {
					n := min(budget, wants[k])
					wants[k] -= n
					return n
				})
				if err != nil {
					return err.Error()
				}
				ref.admit(int64(off), -1, 0) // the tick moves the clock
				for _, c := range rec.calls {
					ref.admit(int64(off), c.key, c.n)
				}
				if msg := checkInvariants(outcome{op: "tick", tick: rec, state: d}); msg != "" {
					return fmt.Sprintf("step %d: %s", step, msg)
				}
			}
			for k := range nk {
				if got, want := d.Value(now, k), ref.value(int64(off), k); !closeTo(got, want) {
					return fmt.Sprintf("half-life %v, step %d: Value(%d) = %v, history gives %v", hl, step, k, got, want)
				}
			}
		}
		return ""
	})
}

// TestQuietKeyNotStarved is the fairness property: a quiet key whose arrivals stay within
// its even share ⌊cap/N⌋ per tick, among bursting keys that always take their whole budget,
// is never passed over in two consecutive ticks while it has work, and never holds more than
// one tick's share after a tick. When ⌈cap/N⌉·N > cap only some keys can be served in a tick,
// so being passed over once is possible. Tick gaps vary, go back in time and repeat instants;
// the caller's key order is reshuffled every tick; the half-life is at least 1/64 of the
// longest gap. (With half-lives so short that counts underflow to 0 between ticks, the order
// is the caller's alone and no such bound holds.)
func TestQuietKeyNotStarved(t *testing.T) {
	forAll(t, "a quiet key is never starved by bursting keys", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 21))
		n := 2 + r.IntN(20)
		tickCap := n + r.IntN(4*n)
		share := tickCap / n
		maxGap := time.Duration(1+r.IntN(5000)) * time.Millisecond
		hl := maxGap * time.Duration(1+r.IntN(256)) / 64
		d, err := interleave.NewDecayed[int](hl)
		if err != nil {
			return err.Error()
		}
		keys := r.Perm(n) // key 0 is quiet
		off := time.Duration(0)
		backlog, passedOver := 0, 0
		for tick := range 150 {
			r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			off += time.Duration(r.Int64N(int64(maxGap)+int64(maxGap)/4)) - maxGap/4
			arrivals := share
			if r.IntN(2) == 0 {
				arrivals = r.IntN(share + 1)
			}
			backlog += arrivals
			had := backlog
			rec, err := runTick(d, at(off), keys, interleave.Budget{TickCap: tickCap}, func(k, budget int) int {
				if k == 0 {
					take := min(budget, backlog)
					backlog -= take
					return take
				}
				return budget
			})
			if err != nil {
				return err.Error()
			}
			if msg := checkInvariants(outcome{op: "tick", tick: rec, state: d}); msg != "" {
				return fmt.Sprintf("tick %d: %s", tick, msg)
			}
			if had > 0 && backlog == had {
				passedOver++
			} else {
				passedOver = 0
			}
			if passedOver > 1 {
				return fmt.Sprintf("n %d cap %d half-life %v: tick %d: the quiet key had %d and was passed over twice running", n, tickCap, hl, tick, had)
			}
			if backlog > share {
				return fmt.Sprintf("n %d cap %d half-life %v: tick %d: the quiet key holds %d > share %d", n, tickCap, hl, tick, backlog, share)
			}
		}
		return ""
	})
}

// TestExponentClampDoesNotFreezeHistory pins the bug found while porting the seed: ranking
// keys by stored·exp(max(−Δt/τ, −700)) leaves a key that stopped being admitted at
// stored·e^−700 forever, which outranks keys admitted more recently (whose clamped values
// are smaller), so that key is never served first again.
func TestExponentClampDoesNotFreezeHistory(t *testing.T) {
	d, err := interleave.NewDecayed[string](time.Millisecond)
	require.NoError(t, err)
	require.NoError(t, d.Admit(at(0), "quiet", 4))
	require.NoError(t, d.Admit(at(0), "bulk", 3))
	// Much later (Δt/τ ≫ 700) the bulk key is admitted again; quiet's history is gone.
	require.NoError(t, d.Admit(at(10*time.Second), "bulk", 3))
	later := at(20 * time.Second)
	assert.Equal(t, 0.0, d.Value(later, "quiet"))
	assert.Equal(t, 0.0, d.Value(later, "bulk"))
	// Equal (zero) counts keep the caller's order; clamped, quiet's 4·e^−700 would sort
	// after bulk's 3·e^−700 whatever the caller's order.
	assert.Equal(t, []string{"quiet", "bulk"}, d.Order(nil, later, []string{"quiet", "bulk"}))
	// Shortly after bulk's admission, bulk has counts and quiet has none.
	soon := at(10*time.Second + time.Millisecond)
	assert.Equal(t, []string{"quiet", "bulk"}, d.Order(nil, soon, []string{"bulk", "quiet"}))
	assert.InDelta(t, 1.5, d.Value(soon, "bulk"), 1e-12)
}

func TestDecayedHalfLife(t *testing.T) {
	d, err := interleave.NewDecayed[string](time.Minute)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, d.HalfLife())
	require.NoError(t, d.Admit(at(0), "a", 8))
	steps := []struct {
		off  time.Duration
		want float64
	}{
		{0, 8}, {time.Minute, 4}, {2 * time.Minute, 2}, {3 * time.Minute, 1},
		{-time.Hour, 8}, // before the clock: no time has passed
	}
	for i, s := range steps {
		assert.InDelta(t, s.want, d.Value(at(s.off), "a"), 1e-12, "step %d: Value(t+%v)", i, s.off)
	}
	// Admitting at an earlier time is admitting at the clock (t+0 here): 8 + 8.
	require.NoError(t, d.Admit(at(-time.Hour), "a", 8))
	assert.InDelta(t, 16, d.Value(at(0), "a"), 1e-12)
	// Move the clock on; an admission back in time lands at the clock, not earlier.
	require.NoError(t, d.Admit(at(time.Minute), "b", 1))
	require.NoError(t, d.Admit(at(0), "a", 0))
	assert.InDelta(t, 8, d.Value(at(0), "a"), 1e-12, "a read before the clock is a read at the clock")
	assert.Equal(t, 0.0, d.Value(at(time.Hour), "never"))
	assert.Equal(t, 2, d.Len())
}

func TestDecayedPrune(t *testing.T) {
	d, err := interleave.NewDecayed[int](time.Second)
	require.NoError(t, err)
	for k := range 10 {
		require.NoError(t, d.Admit(at(time.Duration(k)*time.Second), k, 1))
	}
	// At t+9s key k has decayed to 2^−(9−k).
	n, err := d.Prune(at(9*time.Second), 0.1) // keys 0..5 hold at most 2^−4
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	assert.Equal(t, 4, d.Len())
	assert.Equal(t, 0.0, d.Value(at(9*time.Second), 0))
	assert.InDelta(t, 0.25, d.Value(at(9*time.Second), 7), 1e-12)

	// A tick records the keys it is given, admitted or not; threshold 0 removes exactly the
	// keys that count 0 (never admitted, or decayed to 0), and nothing else.
	_, err = d.Tick(at(9*time.Second), []int{7, 20, 21}, interleave.Budget{PerKey: 1}, func(k, _ int) int { return 0 })
	require.NoError(t, err)
	assert.Equal(t, 6, d.Len())
	n, err = d.Prune(at(9*time.Second), 0)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, 4, d.Len())
	n, err = d.Prune(at(time.Hour), 0) // 2^−3591 underflows to 0
	require.NoError(t, err)
	assert.Equal(t, 4, n)

	for _, bad := range []float64{math.NaN(), -1, math.Inf(-1)} {
		n, err = d.Prune(at(0), bad)
		assert.EqualError(t, err, fmt.Sprintf("interleave: threshold must be >= 0, got %v", bad))
		assert.Zero(t, n)
	}
}

func TestDecayedTickTable(t *testing.T) {
	d, err := interleave.NewDecayed[string](time.Minute)
	require.NoError(t, err)
	// History: a admitted 5, b admitted 1, c nothing.
	require.NoError(t, d.Admit(at(0), "a", 5))
	require.NoError(t, d.Admit(at(0), "b", 1))
	keys := []string{"a", "b", "c"}
	var calls []string
	total, err := d.Tick(at(0), keys, interleave.Budget{TickCap: 10}, func(k string, budget int) int {
		n := budget
		if k == "b" {
			n = 1 // b has one pending job
		}
		calls = append(calls, fmt.Sprintf("%s %d/%d", k, n, budget))
		return n
	})
	require.NoError(t, err)
	// fair = ⌈10/3⌉ = 4; order c (0), b (1), a (5); pass 1: c 4, b 1, a min(4, 5) = 4;
	// pass 2: remaining 1 to c (used its share); a is not reached.
	assert.Equal(t, []string{"c 4/4", "b 1/4", "a 4/4", "c 1/1"}, calls)
	assert.Equal(t, 10, total)

	// Without a tick cap every key gets PerKey and there is no second pass.
	calls = nil
	total, err = d.Tick(at(time.Second), keys, interleave.Budget{PerKey: 3}, func(k string, budget int) int {
		calls = append(calls, fmt.Sprintf("%s %d", k, budget))
		return 2
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"b 3", "c 3", "a 3"}, calls) // b ≈ 2, c ≈ 5, a ≈ 9
	assert.Equal(t, 6, total)

	// A tick with no keys admits nothing; a zero-key FairShare is PerKey.
	total, err = d.Tick(at(time.Second), nil, interleave.Budget{TickCap: 5}, func(string, int) int { return 0 })
	assert.NoError(t, err)
	assert.Zero(t, total)
	assert.Equal(t, 4, interleave.Budget{TickCap: 10}.FairShare(3))
	assert.Equal(t, 1, interleave.Budget{TickCap: 3}.FairShare(7))
	assert.Equal(t, 9, interleave.Budget{PerKey: 9}.FairShare(7))
	assert.Equal(t, math.MaxInt/2+1, interleave.Budget{TickCap: math.MaxInt}.FairShare(2))
}

func TestDecayedTickMaxBudget(t *testing.T) {
	d, err := interleave.NewDecayed[int](time.Nanosecond)
	require.NoError(t, err)
	total, err := d.Tick(at(0), []int{1, 2}, interleave.Budget{TickCap: math.MaxInt}, func(k, budget int) int { return budget })
	require.NoError(t, err)
	assert.Equal(t, math.MaxInt, total)
	assert.False(t, math.IsInf(d.Value(at(0), 1), 0))
}

func TestDecayedErrors(t *testing.T) {
	for _, hl := range []time.Duration{0, -time.Second, math.MinInt64} {
		_, err := interleave.NewDecayed[int](hl)
		assert.EqualError(t, err, fmt.Sprintf("interleave: halfLife must be > 0, got %v", hl))
	}
	// The seed's NaN half-life: a Duration cannot be NaN, and converting a NaN float64 of
	// seconds gives math.MinInt64 (amd64) or 0 (arm64), both rejected.
	nan := math.NaN()
	if hl := time.Duration(nan * float64(time.Second)); hl <= 0 {
		_, err := interleave.NewDecayed[int](hl)
		assert.EqualError(t, err, fmt.Sprintf("interleave: halfLife must be > 0, got %v", hl))
	}
	d, err := interleave.NewDecayed[string](time.Second)
	require.NoError(t, err)
	assert.EqualError(t, d.Admit(at(0), "acme", -1), "interleave: admitted count must be >= 0, got -1 for key acme")

	budgets := []struct {
		b    interleave.Budget
		want string
	}{
		{interleave.Budget{}, "interleave: set one of TickCap and PerKey, got neither"},
		{interleave.Budget{TickCap: -1}, "interleave: TickCap must be >= 0, got -1"},
		{interleave.Budget{PerKey: -3}, "interleave: PerKey must be >= 0, got -3"},
		{interleave.Budget{TickCap: 10, PerKey: 100}, "interleave: set one of TickCap and PerKey, got TickCap 10 and PerKey 100"},
	}
	admitAll := func(_ string, b int) int { return b }
	for _, c := range budgets {
		assert.EqualError(t, c.b.Validate(), c.want)
		_, err := d.Tick(at(0), []string{"a"}, c.b, admitAll)
		assert.EqualError(t, err, c.want)
	}
	assert.Zero(t, d.Value(at(0), "a"), "a rejected tick admits nothing")

	_, err = d.Tick(at(0), []string{"a"}, interleave.Budget{PerKey: 1}, nil)
	assert.EqualError(t, err, "interleave: admit must not be nil")
	_, err = d.Tick(at(0), []string{"a", "b", "a"}, interleave.Budget{PerKey: 1}, admitAll)
	assert.EqualError(t, err, "interleave: key a appears twice in keys")
	assert.Zero(t, d.Value(at(0), "a"))

	// A rejected tick changes nothing: it neither moves the clock nor adds keys.
	dup, err := interleave.NewDecayed[string](time.Second)
	require.NoError(t, err)
	require.NoError(t, dup.Admit(at(0), "a", 8))
	_, err = dup.Tick(at(time.Second), []string{"b", "a", "c", "b"}, interleave.Budget{PerKey: 1}, admitAll)
	assert.EqualError(t, err, "interleave: key b appears twice in keys")
	assert.Equal(t, 1, dup.Len(), "no state for the keys of a rejected tick")
	assert.Empty(t, checkInvariants(outcome{op: "state", state: dup}))
	assert.Equal(t, 8.0, dup.Value(at(0), "a"), "the clock has not moved to t+1s")
	_, err = dup.Tick(at(time.Second), []string{"b", "a", "c"}, interleave.Budget{PerKey: 1}, admitAll)
	require.NoError(t, err)
	assert.Equal(t, 3, dup.Len())
	assert.Equal(t, 5.0, dup.Value(at(0), "a"), "8 halved, plus the tick's 1")

	// admit overrunning its budget stops the tick; what was admitted before stays recorded.
	n, err := d.Tick(at(0), []string{"a", "b"}, interleave.Budget{PerKey: 2}, func(k string, b int) int {
		if k == "b" {
			return b + 1
		}
		return b
	})
	assert.EqualError(t, err, "interleave: admit returned 3 for key b with budget 2")
	assert.Equal(t, 2, n)
	assert.Equal(t, 2.0, d.Value(at(0), "a"))
	_, err = d.Tick(at(0), []string{"c"}, interleave.Budget{TickCap: 5}, func(string, int) int { return -1 })
	assert.EqualError(t, err, "interleave: admit returned -1 for key c with budget 5")
}
