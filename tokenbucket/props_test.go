package tokenbucket_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// base is the scenarios' epoch: a wall-clock time without a monotonic reading.
var base = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func at(off int64) time.Time { return base.Add(time.Duration(off)) }

// forAll runs check over n seeds from the pinned gopter seed; a failure reports its seed and
// the step that diverged.
func forAll(t *testing.T, name string, n int, check func(seed uint64) string) {
	t.Helper()
	p := params(n)
	p.MaxShrinkCount = 0 // a seed does not shrink meaningfully; the message names the step
	props := gopter.NewProperties(p)
	props.Property(name, prop.ForAll(check, gen.UInt64()))
	props.TestingRun(t)
}

// checkBucket verifies the invariants every Bucket keeps between calls.
func checkBucket(b *tokenbucket.Bucket, now time.Time) string {
	l := b.Limit()
	if err := l.Validate(); err != nil {
		return fmt.Sprintf("Limit() = %v is invalid: %v", l, err)
	}
	if tk := b.Tokens(now); tk < 0 || tk > float64(l.Burst) {
		return fmt.Sprintf("Tokens = %v outside [0, %d]", tk, l.Burst)
	}
	return ""
}

// replayBucket runs ops on b and on the oracle and reports the first divergence.
func replayBucket(b *tokenbucket.Bucket, o *oracle, ops []op) string {
	cur := b.Limit()
	for i, op := range ops {
		now := at(op.off)
		fail := func(got, want any) string {
			return fmt.Sprintf("limit %v: step %d: %v = %v, want %v", cur, i, op, got, want)
		}
		switch op.kind {
		case opAllow:
			if got, want := b.AllowN(now, op.n), o.allowN("b", cur, op.off, op.n); got != want {
				return fail(got, want)
			}
		case opTake:
			g, ra := b.TakeUpTo(now, op.n)
			wg, wra := o.takeUpTo("b", cur, op.off, op.n)
			if g != wg || ra != wra {
				return fail(fmt.Sprint(g, ra), fmt.Sprint(wg, wra))
			}
		case opDelay:
			d, ok := b.Delay(now, op.n)
			wd, wok := o.delay("b", cur, op.off, op.n)
			if d != wd || ok != wok {
				return fail(fmt.Sprint(d, ok), fmt.Sprint(wd, wok))
			}
		case opTokens:
			if got, want := b.Tokens(now), o.tokens("b", cur, op.off); !closeTo(got, want) {
				return fail(got, want)
			}
		case opSetLimit:
			if err := b.SetLimit(now, op.lim); err != nil {
				return fail(err, nil)
			}
			next := b.Limit()
			o.setLimit("b", cur, next, op.off)
			cur = next
		}
		if msg := checkBucket(b, now); msg != "" {
			return fmt.Sprintf("after step %d (%v): %s", i, op, msg)
		}
	}
	return ""
}

func TestBucketMatchesExactModel(t *testing.T) {
	forAll(t, "Bucket decisions equal the big.Rat model", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 1))
		lim := genLimit(r)
		ops := genOps(r, lim, 60, 1, false, r.IntN(4) == 0, false)
		b, err := tokenbucket.New(lim, base)
		if err != nil {
			return err.Error()
		}
		o := newOracle()
		o.start("b", b.Limit(), 0)
		return replayBucket(b, o, ops)
	})
}

// TestBucketWindowBound checks the arrival curve: over every window [ti, tj] of admitted
// calls, admits <= Burst + Rate·(tj−ti)/Per, with the running-minimum form of §5.7:
// S_j − r·t_j − burst <= min_{i<=j}(S_{i−1} − r·t_i).
func TestBucketWindowBound(t *testing.T) {
	forAll(t, "admits in any window <= Burst + Rate·window/Per", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 2))
		lim := genLimit(r)
		b, err := tokenbucket.New(lim, base)
		if err != nil {
			return err.Error()
		}
		rate := exactRate(b.Limit())
		burst := new(big.Rat).SetInt64(int64(lim.Burst))
		var sum, runMin *big.Rat = new(big.Rat), nil
		for i, off := range genTimes(r, lim, 200, true) {
			n := 1 + r.IntN(lim.Burst)
			if r.IntN(3) > 0 {
				n = 1
			}
			granted := n
			if r.IntN(4) == 0 {
				granted, _ = b.TakeUpTo(at(off), n)
			} else if !b.AllowN(at(off), n) {
				granted = 0
			}
			if granted == 0 {
				continue
			}
			rt := new(big.Rat).Mul(rate, new(big.Rat).SetInt64(off))
			cand := new(big.Rat).Sub(sum, rt) // S_{i−1} − r·t_i
			if runMin == nil || cand.Cmp(runMin) < 0 {
				runMin = cand
			}
			sum.Add(sum, new(big.Rat).SetInt64(int64(granted)))
			lhs := new(big.Rat).Sub(new(big.Rat).Sub(sum, rt), burst)
			if lhs.Cmp(runMin) > 0 {
				return fmt.Sprintf("limit %v: window bound broken at step %d (t+%d)", lim, i, off)
			}
		}
		return ""
	})
}

// TestBucketDelayTight checks that Delay is exact and tight on a replayed history: if Delay
// says d, AllowN(now+d) succeeds and AllowN(now+d−1ns) does not.
func TestBucketDelayTight(t *testing.T) {
	forAll(t, "AllowN(now+Delay) succeeds and AllowN(now+Delay−1ns) fails", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 3))
		lim := genLimit(r)
		ops := genOps(r, lim, 40, 1, false, r.IntN(4) == 0, false)
		fresh := func() *tokenbucket.Bucket {
			b, _ := tokenbucket.New(lim, base)
			for _, op := range ops {
				switch op.kind {
				case opAllow:
					b.AllowN(at(op.off), op.n)
				case opTake:
					b.TakeUpTo(at(op.off), op.n)
				case opSetLimit:
					_ = b.SetLimit(at(op.off), op.lim)
				}
			}
			return b
		}
		a := fresh()
		now := at(ops[len(ops)-1].off + int64(r.IntN(3)-1)*int64(interval(lim)))
		n := 1 + r.IntN(a.Limit().Burst)
		d, ok := a.Delay(now, n)
		if !ok {
			return fmt.Sprintf("Delay(%d) reported false with Burst %d", n, a.Limit().Burst)
		}
		if d == 0 {
			if !a.AllowN(now, n) {
				return fmt.Sprintf("limit %v: Delay(n=%d) = 0 but AllowN fails", lim, n)
			}
			return ""
		}
		if a.AllowN(now.Add(d-1), n) {
			return fmt.Sprintf("limit %v: Delay(n=%d) = %v is not tight", lim, n, d)
		}
		if !fresh().AllowN(now.Add(d), n) {
			return fmt.Sprintf("limit %v: Delay(n=%d) = %v is too short", lim, n, d)
		}
		return ""
	})
}

// TestBucketBackwardsTime checks that a call earlier than the latest grant behaves exactly
// as a call at the latest grant: time going backwards is no time passing, and a run with
// such steps never admits more than the same run with them moved forward.
func TestBucketBackwardsTime(t *testing.T) {
	forAll(t, "a backwards step is a step at the latest grant", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 4))
		lim := genLimit(r)
		a, _ := tokenbucket.New(lim, base)
		b, _ := tokenbucket.New(lim, base)
		var latest int64
		var admitsA, admitsB int
		for i, off := range genTimes(r, lim, 100, false) {
			fwd := max(off, latest)
			n := 1 + r.IntN(2)
			ga, gb := a.AllowN(at(off), n), b.AllowN(at(fwd), n)
			if ga != gb {
				return fmt.Sprintf("limit %v: step %d: AllowN at t+%d = %v, at the latest grant t+%d = %v", lim, i, off, ga, fwd, gb)
			}
			if ga {
				latest = fwd
				admitsA += n
				admitsB += n
			}
		}
		if admitsA > admitsB {
			return "backwards time admitted more"
		}
		return ""
	})
}

// TestBucketAcrossEpochs replays random histories on limits whose exact rate has a large
// numerator a, so that one epoch lasts only 2^62/a ns (4.6 s to 53 days), with jumps of a
// large part of that every few steps: charges beyond an epoch's range move it, and every
// decision still matches the model (AllowN, TakeUpTo, Delay, Tokens and SetLimit).
func TestBucketAcrossEpochs(t *testing.T) {
	forAll(t, "Bucket matches the model across epoch moves", *trials/20, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 6))
		cases := []struct {
			l tokenbucket.Limit
			a float64 // the exact rate's numerator, in credits per nanosecond
		}{
			{tokenbucket.Limit{Rate: 1_000_003, Per: 1e15}, 1_000_003}, // about 1 per second
			{tokenbucket.Limit{Rate: 1e6, Per: 1}, 1e6},                // 10^6 per nanosecond
			{tokenbucket.Limit{Rate: 999, Per: time.Second}, 999},
			{tokenbucket.Limit{Rate: 7, Per: 3}, 7},
		}
		c := cases[r.IntN(len(cases))]
		lim := c.l
		lim.Burst = 1 + r.IntN(20)
		b, err := tokenbucket.New(lim, base)
		if err != nil {
			return err.Error()
		}
		horizon := float64(1<<62) / c.a
		ops := genOps(r, lim, 80, 1, false, r.IntN(4) == 0, false)
		var shift int64
		for i := range ops {
			if i%8 == 7 {
				shift += int64(horizon * (0.2 + 0.6*r.Float64()))
			}
			ops[i].off += shift
		}
		o := newOracle()
		o.start("b", b.Limit(), 0)
		return replayBucket(b, o, ops)
	})
}

// TestExtremeParameters runs random histories against limits and times at the edges of the
// representable range: nothing panics, invalid limits are errors, and valid ones still match
// the exact model.
func TestExtremeParameters(t *testing.T) {
	year := 365 * 24 * time.Hour
	nearMax := time.Unix(1<<63-1-62135596800-1<<24, 0) // about 194 days before the last time.Time
	nearMin := time.Unix(-62135596800+1<<24, 0)        // about 194 days after the first
	limits := []tokenbucket.Limit{
		{Rate: 0.001, Per: 100 * 24 * time.Hour * 365, Burst: 1}, // 1 per 100,000 years: error
		{Rate: 0.001, Per: year, Burst: 1},                       // 1 per 1000 years: error
		{Rate: 1, Per: 290 * year, Burst: 1},                     // 1 per 290 years: error
		{Rate: 1, Per: 140 * year, Burst: 1},                     // 1 per 140 years: fits
		{Rate: 1e-10, Per: time.Millisecond, Burst: 3},           // tiny rate
		{Rate: 1e-10, Per: time.Second, Burst: 1},                // too tiny: error
		{Rate: 1e9, Per: time.Nanosecond, Burst: 1},              // 1e9 per ns
		{Rate: 1e9, Per: time.Nanosecond, Burst: 1 << 31},        // and a huge burst
		{Rate: 1, Per: time.Second, Burst: 1 << 31},              // Burst 2^31
		{Rate: 1 << 53, Per: time.Nanosecond, Burst: 5},          // the largest rate
		{Rate: 999, Per: time.Second, Burst: 7},                  // a = 999
		{Rate: 7777, Per: time.Second, Burst: 1 << 20},           // a = 7777
		{Rate: 1, Per: time.Second, Burst: 1<<63 - 1},            // overflowing burst: error
		{Rate: 1<<53 + 2, Per: time.Second, Burst: 1},            // too large: error
	}
	bases := []time.Time{base, nearMax, nearMin, {}}
	for _, lim := range limits {
		for _, b0 := range bases {
			t.Run(lim.String()+"@"+strconv.Itoa(b0.Year()), func(t *testing.T) {
				forAll(t, "no panic; exact when valid", 50, func(seed uint64) string {
					r := rand.New(rand.NewPCG(seed, 5))
					b, err := tokenbucket.New(lim, b0)
					if err != nil {
						if lim.Validate() == nil {
							return "New failed on a valid limit: " + err.Error()
						}
						return ""
					}
					o := newOracle()
					o.start("b", b.Limit(), 0)
					ops := genOps(r, lim, 60, 1, false, false, false)
					for i := range ops {
						ops[i].off = ops[i].off % (1 << 50) // keep within the base's range
					}
					saved := base
					base = b0
					defer func() { base = saved }()
					return replayBucket(b, o, ops)
				})
			})
		}
	}
}
