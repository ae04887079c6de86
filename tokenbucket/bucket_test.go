package tokenbucket_test

import (
	"math"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Synthetic instants, as in x/time/rate's tests.
var (
	t0 = base
	t1 = base.Add(1 * time.Millisecond)
	t2 = base.Add(2 * time.Millisecond)
	t3 = base.Add(3 * time.Millisecond)
	t4 = base.Add(4 * time.Millisecond)
	t5 = base.Add(5 * time.Millisecond)
	t9 = base.Add(9 * time.Millisecond)
)

type step struct {
	t    time.Time
	n    int
	want bool
}

// run feeds steps to b and checks each decision.
func run(t *testing.T, b *tokenbucket.Bucket, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := b.AllowN(s.t, s.n); got != s.want {
			t.Errorf("step %d: AllowN(t0+%v, %d) = %v, want %v", i, s.t.Sub(t0), s.n, got, s.want)
		}
		if msg := checkBucket(b, s.t); msg != "" {
			t.Errorf("step %d: %s", i, msg)
		}
	}
}

func newBucket(t *testing.T, l tokenbucket.Limit) *tokenbucket.Bucket {
	t.Helper()
	b, err := tokenbucket.New(l, t0)
	require.NoError(t, err)
	return b
}

func TestBucketBurst1(t *testing.T) {
	run(t, newBucket(t, tokenbucket.Every(time.Millisecond, 1)), []step{
		{t0, 1, true},
		{t0, 1, false},
		{t0, 1, false},
		{t1, 1, true},
		{t1, 1, false},
		{t1, 1, false},
		{t2, 2, false}, // n > Burst
		{t2, 1, true},
		{t2, 1, false},
	})
}

func TestBucketBurst3(t *testing.T) {
	run(t, newBucket(t, tokenbucket.Every(time.Millisecond, 3)), []step{
		{t0, 2, true},
		{t0, 2, false},
		{t0, 1, true},
		{t0, 1, false},
		{t1, 4, false},
		{t2, 1, true},
		{t3, 1, true},
		{t4, 1, true},
		{t4, 1, true},
		{t4, 1, false},
		{t4, 1, false},
		{t9, 3, true},
		{t9, 0, true},
	})
}

// TestBucketJumpBackwards: times before the latest grant read as that grant's time.
func TestBucketJumpBackwards(t *testing.T) {
	run(t, newBucket(t, tokenbucket.Every(time.Millisecond, 3)), []step{
		{t1, 1, true}, // start at t1
		{t0, 1, true}, // jump back: no refill, 2 left → 1
		{t0, 1, true},
		{t0, 1, false},
		{t0, 1, false},
		{t1, 1, false}, // still t1: nothing refilled
		{t2, 1, true},  // one millisecond after t1
		{t1, 1, false}, // back again: reads as t2
		{t5, 3, true},
	})
}

func TestBucketSameInstantTwice(t *testing.T) {
	run(t, newBucket(t, tokenbucket.Limit{Rate: 2, Per: time.Millisecond, Burst: 2}), []step{
		{t1, 2, true},
		{t1, 1, false},
		{t1, 1, false},
		{t1.Add(500 * time.Microsecond), 1, true},
		{t1.Add(500 * time.Microsecond), 1, false},
	})
}

func TestBucketOddArguments(t *testing.T) {
	b := newBucket(t, tokenbucket.Every(time.Second, 2))
	assert.True(t, b.AllowN(t0, 0), "AllowN(0) takes nothing and reports true")
	assert.False(t, b.AllowN(t0, -1), "negative n is never allowed")
	assert.False(t, b.AllowN(t0, 3), "n > Burst is never allowed")
	assert.False(t, b.AllowN(t0, math.MaxInt), "max int")
	assert.Equal(t, 2.0, b.Tokens(t0), "odd calls take nothing")
	d, ok := b.Delay(t0, 3)
	assert.False(t, ok)
	assert.Zero(t, d)
	d, ok = b.Delay(t0, -1)
	assert.True(t, ok)
	assert.Zero(t, d)
	g, ra := b.TakeUpTo(t0, 0)
	assert.Zero(t, g)
	assert.Zero(t, ra)
	g, ra = b.TakeUpTo(t0, math.MaxInt)
	assert.Equal(t, 2, g)
	assert.Equal(t, time.Second, ra)
}

// TestBucketNoTruncationErrors pins the case where x/time/rate over-admits: at 3 per second
// with burst 1, 333,333,333 ns after a grant the bucket holds 0.999999999 tokens, which
// x/time/rate rounds up because the shortfall is under 1 ns of refill.
// See golang.org/issue/34861 and golang.org/issue/46579 for its float rounding bugs.
func TestBucketNoTruncationErrors(t *testing.T) {
	run(t, newBucket(t, tokenbucket.Limit{Rate: 3, Per: time.Second, Burst: 1}), []step{
		{t0, 1, true},
		{t0.Add(333_333_333), 1, false},
		{t0.Add(333_333_334), 1, true},  // 2/3 ns late: the next token is 2/3 ns later too
		{t0.Add(666_666_667), 1, false}, // 1/3 credit-ns short
		{t0.Add(666_666_668), 1, true},
	})
}

// TestBucketTinyRate is the regression golang.org/issue/71154 pins for x/time/rate: a tiny
// rate made the float-to-duration conversion overflow and the limiter jam open.
func TestBucketTinyRate(t *testing.T) {
	b := newBucket(t, tokenbucket.Limit{Rate: 1e-10, Per: time.Millisecond, Burst: 1})
	assert.Equal(t, tokenbucket.Limit{Rate: 1, Per: 1e10 * time.Millisecond, Burst: 1}, b.Limit())
	assert.True(t, b.Allow(t0))
	assert.False(t, b.Allow(t0.Add(24*time.Hour)))
	d, ok := b.Delay(t0, 1)
	assert.True(t, ok)
	assert.Equal(t, 1e10*time.Millisecond, d)
	assert.False(t, b.Allow(t0.Add(d-1)))
	assert.True(t, b.Allow(t0.Add(d)))
}

// TestBucketFailedAllowChangesNothing: golang.org/issue/52584, where a failed reservation
// mutated the limiter.
func TestBucketFailedAllowChangesNothing(t *testing.T) {
	b := newBucket(t, tokenbucket.Every(time.Second, 3))
	require.True(t, b.AllowN(t0, 2))
	before := b.Tokens(t1)
	require.False(t, b.AllowN(t1, 3))
	assert.Equal(t, before, b.Tokens(t1))
	g, _ := b.TakeUpTo(t1, 5)
	assert.Equal(t, 1, g)
}

func TestBucketTakeUpTo(t *testing.T) {
	b := newBucket(t, tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 5})
	g, ra := b.TakeUpTo(t0, 3)
	assert.Equal(t, 3, g)
	assert.Zero(t, ra, "two tokens remain")
	g, ra = b.TakeUpTo(t0, 3)
	assert.Equal(t, 2, g, "partial grant")
	assert.Equal(t, 100*time.Millisecond, ra)
	g, ra = b.TakeUpTo(t0.Add(50*time.Millisecond), 3)
	assert.Zero(t, g)
	assert.Equal(t, 50*time.Millisecond, ra)
	g, _ = b.TakeUpTo(t0.Add(250*time.Millisecond), 3)
	assert.Equal(t, 2, g)
}

func TestBucketSetLimit(t *testing.T) {
	b := newBucket(t, tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 10})
	require.True(t, b.AllowN(t0, 6)) // 4 left
	// Refill at 1/s for 2s (6 tokens), then switch to 10/s with burst 5 (capped at 5).
	require.NoError(t, b.SetLimit(t0.Add(2*time.Second), tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 5}))
	assert.Equal(t, tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 5}, b.Limit())
	assert.Equal(t, 5.0, b.Tokens(t0.Add(2*time.Second)))
	require.True(t, b.AllowN(t0.Add(2*time.Second), 5))
	assert.False(t, b.Allow(t0.Add(2*time.Second+99*time.Millisecond)))
	assert.True(t, b.Allow(t0.Add(2*time.Second+100*time.Millisecond)))

	// A partial balance is kept: 0.5 tokens under 1/s is 0.5 under 1/10s, not rounded to 0.
	c := newBucket(t, tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 1})
	require.True(t, c.Allow(t0))
	require.NoError(t, c.SetLimit(t0.Add(500*time.Millisecond), tokenbucket.Limit{Rate: 1, Per: 10 * time.Second, Burst: 1}))
	d, _ := c.Delay(t0.Add(500*time.Millisecond), 1)
	assert.Equal(t, 5*time.Second, d)

	// Bad input changes nothing.
	assert.EqualError(t, c.SetLimit(t1, tokenbucket.Limit{Rate: -1, Per: time.Second, Burst: 1}),
		"tokenbucket: Rate must be > 0, got -1")
	assert.Equal(t, tokenbucket.Limit{Rate: 1, Per: 10 * time.Second, Burst: 1}, c.Limit())

	// A full bucket stays full when the burst grows.
	f := newBucket(t, tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 2})
	require.NoError(t, f.SetLimit(t1, tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 4}))
	assert.Equal(t, 4.0, f.Tokens(t1))
}

// TestBucketLeavesLockFreeHorizon: at 10^9 tokens per nanosecond one epoch serves about
// 4.6 s; past that the first charge moves the epoch, and the bucket stays exact.
func TestBucketLeavesLockFreeHorizon(t *testing.T) {
	l := tokenbucket.Limit{Rate: 1e9, Per: time.Nanosecond, Burst: 1 << 30}
	b := newBucket(t, l)
	o := newOracle()
	o.start("b", b.Limit(), 0)
	for i := range 30 {
		off := int64(i) * int64(time.Second)
		n := 1<<30 - i
		if got, want := b.AllowN(at(off), n), o.allowN("b", b.Limit(), off, n); got != want {
			t.Fatalf("step %d: AllowN(t0+%ds, %d) = %v, want %v", i, i, n, got, want)
		}
		if got, want := b.Tokens(at(off)), o.tokens("b", b.Limit(), off); !closeTo(got, want) {
			t.Fatalf("step %d: Tokens = %v, want %v", i, got, want)
		}
	}
}

// TestBucketConcurrent hammers one bucket from many goroutines, each with its own advancing
// clock, while one of them keeps setting the limit again (which replaces the bucket's state
// under load). In the second case the rate's numerator is large, so one epoch lasts 76
// minutes and the calls, 7.2 s apart over four hours, move it three times. No grant may
// be lost or invented: total admits never exceed Burst + Rate·span/Per, and the bucket keeps
// admitting. Run it with -race.
func TestBucketConcurrent(t *testing.T) {
	for _, c := range []struct {
		l    tokenbucket.Limit
		step time.Duration
	}{
		{tokenbucket.Limit{Rate: 1, Per: time.Microsecond, Burst: 50}, 100 * time.Nanosecond},
		{tokenbucket.Limit{Rate: 1_000_003, Per: 1e15, Burst: 50}, 7200 * time.Millisecond},
	} {
		t.Run(c.l.String(), func(t *testing.T) {
			const goroutines, calls = 8, 2000
			b := newBucket(t, c.l)
			var wg sync.WaitGroup
			admits := make([]int, goroutines)
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range calls {
						now := t0.Add(time.Duration(i) * c.step)
						if b.Allow(now) {
							admits[g]++
						}
						if g == 0 && i%100 == 50 {
							assert.NoError(t, b.SetLimit(now, c.l))
						}
					}
				}()
			}
			wg.Wait()
			total := 0
			for _, a := range admits {
				total += a
			}
			span := time.Duration(calls-1) * c.step
			// Rate·span/Per, exactly: Rate and Per are integers here.
			supply := new(big.Int).Mul(big.NewInt(int64(c.l.Rate)), big.NewInt(int64(span)))
			supply.Quo(supply, big.NewInt(int64(c.l.Per)))
			bound := c.l.Burst + int(supply.Int64())
			assert.LessOrEqual(t, total, bound)
			// One goroutine may run ahead and leave the others' times behind its clock, so
			// liveness is judged against one goroutine's demand when that is the smaller.
			assert.Greater(t, total, min(bound, calls)/2, "the bucket kept admitting under contention")
		})
	}
}

func TestBucketNearTimeLimits(t *testing.T) {
	for _, start := range []time.Time{{}, time.Unix(1<<63-1-62135596800-1<<30, 0)} {
		b, err := tokenbucket.New(tokenbucket.Every(time.Second, 1), start)
		require.NoError(t, err)
		assert.True(t, b.Allow(start))
		assert.False(t, b.Allow(start.Add(999*time.Millisecond)))
		assert.True(t, b.Allow(start.Add(time.Second)))
		d, ok := b.Delay(start.Add(time.Second), 1)
		assert.True(t, ok)
		assert.Equal(t, time.Second, d)
	}
}
