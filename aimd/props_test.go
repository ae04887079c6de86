package aimd_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// Scenarios are generated from a seed with math/rand/v2, so a failing trial is reproduced
// by its seed alone.

// genConfig returns a random valid AIMD configuration, zero fields (defaults) included.
func genConfig(r *rand.Rand) aimd.Config {
	var c aimd.Config
	c.Initial = 1 + r.IntN(200)
	if r.IntN(3) > 0 {
		c.Min = 1 + r.IntN(c.Initial)
	}
	if r.IntN(3) == 0 {
		c.Max = c.Initial + r.IntN(100)
	}
	switch r.IntN(3) {
	case 0:
		c.TargetLag = time.Duration(1+r.IntN(1000)) * time.Millisecond // whole ms, as the seed
	case 1:
		c.TargetLag = time.Duration(1 + r.Int64N(int64(time.Second)))
	default:
		c.TargetLag = time.Duration(1 + r.IntN(1000)) // sub-microsecond
	}
	factor := func(one bool) float64 {
		switch r.IntN(4) {
		case 0:
			return 0 // default
		case 1:
			if one {
				return 1
			}
			return math.Nextafter(1, 0)
		default:
			return math.Max(r.Float64(), math.SmallestNonzeroFloat64*4)
		}
	}
	c.Alpha, c.FailFactor, c.SlowFactor = factor(true), factor(false), factor(false)
	if r.IntN(3) == 0 {
		c.Step = 1 + r.IntN(5)
	}
	c.GrowOnlyWhenUtilized = r.IntN(3) == 0
	if r.IntN(3) == 0 {
		c.Timeout = time.Duration(1 + r.Int64N(int64(time.Second)))
	}
	return c
}

// genSamples returns n samples around c's target in one of several load patterns.
func genSamples(r *rand.Rand, c aimd.Config, n int) []aimd.Sample {
	target := c.TargetLag
	mode := r.IntN(5)
	pFail := []float64{0, 0.02, 0.2, 0.5}[r.IntN(4)]
	out := make([]aimd.Sample, n)
	for i := range out {
		var lag time.Duration
		switch mode {
		case 0: // underload
			lag = time.Duration(r.Int64N(int64(target) + 1))
		case 1: // overload
			lag = target + time.Duration(r.Int64N(int64(9*target)+1))
		case 2: // alternating phases
			if (i/20)%2 == 0 {
				lag = time.Duration(r.Int64N(int64(target)/2 + 1))
			} else {
				lag = 2*target + time.Duration(r.Int64N(int64(target)+1))
			}
		case 3: // whole milliseconds, as the seed measures
			lag = time.Duration(r.IntN(int(3*target/time.Millisecond)+2)) * time.Millisecond
		default: // anything, including exactly the target and negative lags
			switch r.IntN(4) {
			case 0:
				lag = target
			case 1:
				lag = -time.Duration(r.IntN(1000))
			default:
				lag = time.Duration(r.Int64N(int64(4*target) + 1))
			}
		}
		out[i] = aimd.Sample{
			Lag:      lag,
			Latency:  time.Duration(r.Int64N(int64(2 * time.Second))),
			InFlight: r.IntN(2*c.Initial + 10),
			Failed:   r.Float64() < pFail,
		}
	}
	return out
}

// TestMatchesReferenceModel: every step equals the seed's update transcribed from the
// spec, bit for bit, and the invariants hold after every step.
func TestMatchesReferenceModel(t *testing.T) {
	forAll(t, "AIMD equals the reference model", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 1))
		c := genConfig(r)
		a, err := aimd.New(c)
		if err != nil {
			return err.Error()
		}
		m := newRef(c)
		if msg := sameAsRef(a, m); msg != "" {
			return "fresh: " + msg
		}
		for i, s := range genSamples(r, c, 120) {
			a.Observe(at(time.Duration(i)), s)
			m.observe(s)
			if msg := sameAsRef(a, m); msg != "" {
				return fmt.Sprintf("%+v: step %d (%+v): %s", c, i, s, msg)
			}
			if msg := checkInvariants(a); msg != "" {
				return fmt.Sprintf("%+v: step %d (%+v): %s", c, i, s, msg)
			}
		}
		return ""
	})
}

// TestDirectionProperties checks the properties step by step: a failure never
// raises the limit; an EWMA above target never raises it; a success under target raises
// it by exactly Step unless Max (or GrowOnlyWhenUtilized) stops it.
func TestDirectionProperties(t *testing.T) {
	forAll(t, "limit moves in the documented direction", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 2))
		c := genConfig(r)
		a, _ := aimd.New(c)
		n := a.Config()
		for i, s := range genSamples(r, c, 120) {
			before := a.Limit()
			a.Observe(at(time.Duration(i)), s)
			after := a.Limit()
			failed := s.Failed || (n.Timeout > 0 && s.Latency > n.Timeout)
			over := aimd.EwmaMillis(a) > float64(n.TargetLag)/1e6
			fail := func(what string) string {
				return fmt.Sprintf("%+v: step %d (%+v): %s: limit %d → %d", n, i, s, what, before, after)
			}
			switch {
			case failed && after > before:
				return fail("a failure raised the limit")
			case failed && after != max(n.Min, int(math.Floor(float64(before)*n.FailFactor))):
				return fail("a failure did not multiply by FailFactor")
			case !failed && over && after > before:
				return fail("an EWMA above target raised the limit")
			case !failed && !over:
				want := before + n.Step
				if n.GrowOnlyWhenUtilized && 2*s.InFlight < before {
					want = before
				}
				if n.Max > 0 {
					want = min(want, n.Max)
				}
				if after != want {
					return fail(fmt.Sprintf("a success under target did not add Step %d", n.Step))
				}
			}
		}
		return ""
	})
}

// TestEwmaBounds: after k samples the EWMA lies in [(1−(1−α)^k)·min, max] of the lags
// seen (negative lags count as 0), up to float rounding.
func TestEwmaBounds(t *testing.T) {
	const tol = 1e-9
	forAll(t, "EWMA within the lags' range once seeded", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 3))
		c := genConfig(r)
		a, _ := aimd.New(c)
		alpha := a.Config().Alpha
		lo, hi := math.Inf(1), 0.0
		for i, s := range genSamples(r, c, 100) {
			a.Observe(at(0), s)
			lag := math.Max(float64(s.Lag)/1e6, 0)
			lo, hi = math.Min(lo, lag), math.Max(hi, lag)
			e := aimd.EwmaMillis(a)
			floor := (1 - math.Pow(1-alpha, float64(i+1))) * lo
			if e > hi*(1+tol) || e < floor*(1-tol) {
				return fmt.Sprintf("α %v: step %d: EWMA %v ms outside [%v, %v]", alpha, i, e, floor, hi)
			}
		}
		return ""
	})
}

// TestConvergenceUnderOverload: under constant overload (lag > TargetLag/α, so the EWMA
// is above target from the first sample) the limit reaches Min within
// ⌈ln(Min/limit)/ln(SlowFactor)⌉ samples and stays there.
func TestConvergenceUnderOverload(t *testing.T) {
	forAll(t, "limit reaches Min within ⌈ln(Min/limit)/ln(SlowFactor)⌉ samples", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 4))
		c := genConfig(r)
		c.Timeout = 0
		if c.Alpha != 0 && c.Alpha < 0.01 {
			c.Alpha = 0.01 // keep TargetLag/Alpha representable as a Duration
		}
		a, _ := aimd.New(c)
		n := a.Config()
		// Grow the limit first, sometimes far, with zero lag: the EWMA stays 0, so the
		// overload below starts from the state of a limiter created at this limit.
		for range r.IntN(300) {
			a.Observe(at(0), aimd.Sample{InFlight: math.MaxInt / 4})
		}
		start := a.Limit()
		lag := time.Duration(float64(n.TargetLag)/n.Alpha)*2 + time.Duration(r.Int64N(int64(time.Second)))
		bound := math.Ceil(math.Log(float64(n.Min)/float64(start)) / math.Log(n.SlowFactor))
		i := 0.0
		for ; a.Limit() != n.Min; i++ {
			if i >= bound {
				return fmt.Sprintf("%+v: limit %d after %v samples from %d; bound %v", n, a.Limit(), i, start, bound)
			}
			a.Observe(at(0), aimd.Sample{Lag: lag})
		}
		for range 20 {
			if a.Observe(at(0), aimd.Sample{Lag: lag}); a.Limit() != n.Min {
				return fmt.Sprintf("%+v: limit left Min under overload: %d", n, a.Limit())
			}
		}
		return ""
	})
}

// TestDeterminism: the same configuration and samples give identical limits and EWMAs,
// bit for bit, for AIMD, Vegas (same Rand seed), Gradient2 and Windowed.
func TestDeterminism(t *testing.T) {
	forAll(t, "same inputs, same outputs", *trials/4, func(seed uint64) string {
		build := func() []aimd.Algorithm {
			r := rand.New(rand.NewPCG(seed, 5))
			c := genConfig(r)
			a, _ := aimd.New(c)
			v, _ := aimd.NewVegas(aimd.VegasConfig{Initial: 1 + r.IntN(50), Rand: rand.New(rand.NewPCG(seed, 6))})
			g, _ := aimd.NewGradient2(aimd.Gradient2Config{})
			wa, _ := aimd.New(c)
			w, _ := aimd.NewWindowed(wa, aimd.WindowConfig{MinSamples: 3, Duration: time.Millisecond})
			return []aimd.Algorithm{a, v, g, w}
		}
		x, y := build(), build()
		r := rand.New(rand.NewPCG(seed, 7))
		c := genConfig(r)
		for i, s := range genSamples(r, c, 200) {
			s.Latency = time.Duration(1 + r.Int64N(int64(100*time.Millisecond)))
			now := at(time.Duration(i) * 100 * time.Microsecond)
			for j := range x {
				x[j].Observe(now, s)
				y[j].Observe(now, s)
				if x[j].Limit() != y[j].Limit() {
					return fmt.Sprintf("algorithm %d step %d: %d vs %d", j, i, x[j].Limit(), y[j].Limit())
				}
			}
			if ex, ey := aimd.EwmaMillis(x[0].(*aimd.AIMD)), aimd.EwmaMillis(y[0].(*aimd.AIMD)); math.Float64bits(ex) != math.Float64bits(ey) {
				return fmt.Sprintf("step %d: EWMA %v vs %v", i, ex, ey)
			}
		}
		return ""
	})
}
