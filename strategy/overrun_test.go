package strategy_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/strategy"
)

const (
	sec  = time.Second
	day  = 24 * time.Hour
	year = 365 * day
)

// warn and kill are compact OverrunChecks for tables.
func warn(at, runtime time.Duration) strategy.OverrunCheck {
	return strategy.OverrunCheck{At: at, Runtime: runtime}
}

func kill(at time.Duration) strategy.OverrunCheck {
	return strategy.OverrunCheck{At: at, Runtime: at, Kill: true}
}

func TestOverrunSchedules(t *testing.T) {
	cases := []struct {
		name  string
		c     strategy.OverrunConfig
		until time.Duration
		want  []strategy.OverrunCheck
	}{
		{"documented unlimited doubles", strategy.OverrunConfig{Warning: sec}, 20 * sec,
			[]strategy.OverrunCheck{warn(sec, sec), warn(2*sec, 2*sec), warn(4*sec, 4*sec), warn(8*sec, 8*sec), warn(16*sec, 16*sec)}},
		// "overrun_warning = 1000, max_overrun_warnings = 5 → killed after 5 s"
		{"documented M=5 equal spacing", strategy.OverrunConfig{Warning: sec, MaxWarnings: 5}, time.Hour,
			[]strategy.OverrunCheck{warn(sec, sec), warn(2*sec, 2*sec), warn(3*sec, 3*sec), warn(4*sec, 4*sec), kill(5 * sec)}},
		{"as-coded unlimited equal spacing, runtime W", strategy.OverrunConfig{Warning: sec, Mode: strategy.OverrunAsCoded}, 5 * sec,
			[]strategy.OverrunCheck{warn(sec, sec), warn(2*sec, sec), warn(3*sec, sec), warn(4*sec, sec), warn(5*sec, sec)}},
		// wpool code: W=1000, M=5 ⇒ kill at 16 000 ms after 4 overrun reports.
		{"as-coded M=5 doubles", strategy.OverrunConfig{Warning: sec, MaxWarnings: 5, Mode: strategy.OverrunAsCoded}, time.Hour,
			[]strategy.OverrunCheck{warn(sec, sec), warn(2*sec, 2*sec), warn(4*sec, 4*sec), warn(8*sec, 8*sec), kill(16 * sec)}},
		// M = 1: killed at W with no warning, in both modes.
		{"documented M=1", strategy.OverrunConfig{Warning: 500 * ms, MaxWarnings: 1}, time.Hour,
			[]strategy.OverrunCheck{kill(500 * ms)}},
		{"as-coded M=1", strategy.OverrunConfig{Warning: 500 * ms, MaxWarnings: 1, Mode: strategy.OverrunAsCoded}, time.Hour,
			[]strategy.OverrunCheck{kill(500 * ms)}},
		// The wpool suite's case, W=500, M=2, which both readings satisfy.
		{"documented M=2", strategy.OverrunConfig{Warning: 500 * ms, MaxWarnings: 2}, time.Hour,
			[]strategy.OverrunCheck{warn(500*ms, 500*ms), kill(sec)}},
		{"as-coded M=2", strategy.OverrunConfig{Warning: 500 * ms, MaxWarnings: 2, Mode: strategy.OverrunAsCoded}, time.Hour,
			[]strategy.OverrunCheck{warn(500*ms, 500*ms), kill(sec)}},
		// wpool stops checking when the next runtime would pass 2^32-1 ms (49.7 days): a
		// task bounded at M=3 with W=30 days is warned once and never killed.
		{"as-coded timer limit", strategy.OverrunConfig{Warning: 30 * day, MaxWarnings: 3, Mode: strategy.OverrunAsCoded}, math.MaxInt64,
			[]strategy.OverrunCheck{warn(30*day, 30*day)}},
		{"as-coded largest timer", strategy.OverrunConfig{Warning: math.MaxUint32 * ms, MaxWarnings: 2, Mode: strategy.OverrunAsCoded}, math.MaxInt64,
			[]strategy.OverrunCheck{warn(math.MaxUint32*ms, math.MaxUint32*ms)}},
		// Documented doubling stops where time.Duration ends (about 292 years).
		{"documented unlimited overflow", strategy.OverrunConfig{Warning: 100 * year}, math.MaxInt64,
			[]strategy.OverrunCheck{warn(100*year, 100*year), warn(200*year, 200*year)}},
		{"documented M·W at the limit", strategy.OverrunConfig{Warning: math.MaxInt64 / 2, MaxWarnings: 2}, math.MaxInt64,
			[]strategy.OverrunCheck{warn(math.MaxInt64/2, math.MaxInt64/2), kill(math.MaxInt64 / 2 * 2)}},
		{"tiny warning", strategy.OverrunConfig{Warning: 1, MaxWarnings: 3}, time.Hour,
			[]strategy.OverrunCheck{warn(1, 1), warn(2, 2), kill(3)}},
		{"as-coded unlimited max warning", strategy.OverrunConfig{Warning: math.MaxInt64 / 3, Mode: strategy.OverrunAsCoded}, math.MaxInt64,
			nil}, // rejected: above the timer limit
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := strategy.NewOverrun(c.c)
			if c.want == nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.c, o.Config())
			got := o.Checks(nil, c.until)
			assert.Equal(t, c.want, got)
			checkOverrun(t, o)
			last := c.want[len(c.want)-1]
			k, ok := o.KillAt()
			assert.Equal(t, last.Kill, ok)
			if ok {
				assert.Equal(t, last.At, k)
			}
		})
	}
}

// checkOverrun checks the invariants of a schedule: checks strictly later one after
// another, a kill only as the last check, at most MaxWarnings checks when bounded, and
// Checks consistent with Check.
func checkOverrun(t *testing.T, o strategy.Overrun) {
	t.Helper()
	if msg := overrunInvariants(o); msg != "" {
		t.Fatal(msg)
	}
}

func overrunInvariants(o strategy.Overrun) string {
	c := o.Config()
	var prev time.Duration
	k := 0
	for ; k < 200; k++ {
		x, ok := o.Check(k)
		if !ok {
			break
		}
		if x.At <= prev || x.Runtime <= 0 || x.Runtime > x.At {
			return fmt.Sprintf("%+v: check %d = %+v after %v", c, k, x, prev)
		}
		if x.Kill {
			if _, more := o.Check(k + 1); more {
				return fmt.Sprintf("%+v: check %d kills but check %d follows", c, k, k+1)
			}
		}
		prev = x.At
	}
	if c.MaxWarnings > 0 && k > c.MaxWarnings {
		return fmt.Sprintf("%+v: %d checks, more than MaxWarnings", c, k)
	}
	if _, ok := o.Check(-1); ok {
		return "Check(-1) exists"
	}
	if k > 0 {
		all := o.Checks(nil, prev)
		if len(all) != k {
			return fmt.Sprintf("%+v: Checks(until %v) has %d checks, Check has %d", c, prev, len(all), k)
		}
	}
	return ""
}

func TestOverrunValidate(t *testing.T) {
	cases := []struct {
		c    strategy.OverrunConfig
		want string
	}{
		{strategy.OverrunConfig{}, "strategy: Overrun Warning must be > 0, got 0s"},
		{strategy.OverrunConfig{Warning: -sec}, "strategy: Overrun Warning must be > 0, got -1s"},
		{strategy.OverrunConfig{Warning: sec, MaxWarnings: -1}, "strategy: Overrun MaxWarnings must be >= 0 (0 is unlimited), got -1"},
		{strategy.OverrunConfig{Warning: sec, Mode: 2}, "strategy: Overrun Mode must be OverrunDocumented or OverrunAsCoded, got OverrunMode(2)"},
		{strategy.OverrunConfig{Warning: math.MaxUint32*ms + 1, Mode: strategy.OverrunAsCoded},
			"strategy: Overrun Warning must be <= 2^32-1 ms in as-coded mode, got 1193h2m47.295000001s"},
		{strategy.OverrunConfig{Warning: 100 * year, MaxWarnings: 3},
			"strategy: Overrun Warning×MaxWarnings must fit in a time.Duration, got 876000h0m0s×3"},
		{strategy.OverrunConfig{Warning: sec, MaxWarnings: math.MaxInt},
			"strategy: Overrun Warning×MaxWarnings must fit in a time.Duration, got 1s×9223372036854775807"},
	}
	for _, c := range cases {
		assert.EqualError(t, c.c.Validate(), c.want)
		_, err := strategy.NewOverrun(c.c)
		assert.EqualError(t, err, c.want)
	}
	assert.Equal(t, "documented", strategy.OverrunDocumented.String())
	assert.Equal(t, "as-coded", strategy.OverrunAsCoded.String())
	// Unlimited warnings with any Warning fit in documented mode, and a huge limit with
	// doubling is fine in as-coded mode: the timer limit ends it.
	for _, c := range []strategy.OverrunConfig{
		{Warning: math.MaxInt64},
		{Warning: sec, MaxWarnings: math.MaxInt, Mode: strategy.OverrunAsCoded},
	} {
		o, err := strategy.NewOverrun(c)
		require.NoError(t, err)
		checkOverrun(t, o)
		_, kills := o.KillAt()
		assert.False(t, kills)
	}
}

// TestOverrunProperties: for random valid configurations, the schedule keeps its
// invariants, and the two modes agree exactly when MaxWarnings is 1 or 2.
func TestOverrunProperties(t *testing.T) {
	forAll(t, "overrun schedules are increasing, end with at most one kill, and agree for M ≤ 2", *trials, func(r *rand.Rand) string {
		c := strategy.OverrunConfig{
			Warning:     time.Duration(1 + r.Int64N(int64([]time.Duration{sec, time.Hour, 60 * day, 200 * year}[r.IntN(4)]))),
			MaxWarnings: r.IntN(12),
			Mode:        strategy.OverrunMode(r.IntN(2)),
		}
		o, err := strategy.NewOverrun(c)
		if err != nil {
			if c.Validate() == nil {
				return "NewOverrun rejected a valid config: " + err.Error()
			}
			return ""
		}
		if msg := overrunInvariants(o); msg != "" {
			return msg
		}
		// Below wpool's timer limit, the two readings agree when M is 1 or 2.
		if (c.MaxWarnings == 1 || c.MaxWarnings == 2) && 2*c.Warning <= math.MaxUint32*ms {
			c.Mode = 1 - c.Mode
			other, err := strategy.NewOverrun(c)
			if err == nil {
				a, b := o.Checks(nil, math.MaxInt64), other.Checks(nil, math.MaxInt64)
				if fmt.Sprint(a) != fmt.Sprint(b) {
					return fmt.Sprintf("%+v: modes disagree: %v and %v", c, a, b)
				}
			}
		}
		return ""
	})
}
