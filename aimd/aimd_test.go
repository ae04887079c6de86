package aimd_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
)

const ms = time.Millisecond

func TestConfigErrors(t *testing.T) {
	ok := aimd.Config{Initial: 10, TargetLag: 100 * ms}
	with := func(f func(*aimd.Config)) aimd.Config {
		c := ok
		f(&c)
		return c
	}
	cases := []struct {
		c    aimd.Config
		want string
	}{
		{aimd.Config{}, "aimd: TargetLag must be > 0, got 0s"},
		{with(func(c *aimd.Config) { c.TargetLag = -time.Second }), "aimd: TargetLag must be > 0, got -1s"},
		{with(func(c *aimd.Config) { c.Min = -1 }), "aimd: Min must be >= 1 (or 0 for 1), got -1"},
		{with(func(c *aimd.Config) { c.Initial = 0 }), "aimd: Initial must be >= Min (1), got 0"},
		{with(func(c *aimd.Config) { c.Min = 20 }), "aimd: Initial must be >= Min (20), got 10"},
		{with(func(c *aimd.Config) { c.Max = 5 }), "aimd: Max must be 0 (unbounded) or >= Initial (10), got 5"},
		{with(func(c *aimd.Config) { c.Max = -1 }), "aimd: Max must be 0 (unbounded) or >= Initial (10), got -1"},
		{with(func(c *aimd.Config) { c.Alpha = 1.5 }), "aimd: Alpha must be in (0, 1], got 1.5"},
		{with(func(c *aimd.Config) { c.Alpha = -0.5 }), "aimd: Alpha must be in (0, 1], got -0.5"},
		{with(func(c *aimd.Config) { c.Alpha = math.NaN() }), "aimd: Alpha must be in (0, 1], got NaN"},
		{with(func(c *aimd.Config) { c.Alpha = math.Inf(1) }), "aimd: Alpha must be in (0, 1], got +Inf"},
		{with(func(c *aimd.Config) { c.FailFactor = 1 }), "aimd: FailFactor must be in (0, 1), got 1"},
		{with(func(c *aimd.Config) { c.FailFactor = -0.1 }), "aimd: FailFactor must be in (0, 1), got -0.1"},
		{with(func(c *aimd.Config) { c.FailFactor = math.NaN() }), "aimd: FailFactor must be in (0, 1), got NaN"},
		{with(func(c *aimd.Config) { c.SlowFactor = 1 }), "aimd: SlowFactor must be in (0, 1), got 1"},
		{with(func(c *aimd.Config) { c.SlowFactor = 2 }), "aimd: SlowFactor must be in (0, 1), got 2"},
		{with(func(c *aimd.Config) { c.SlowFactor = math.Inf(-1) }), "aimd: SlowFactor must be in (0, 1), got -Inf"},
		{with(func(c *aimd.Config) { c.Step = -2 }), "aimd: Step must be >= 1 (or 0 for 1), got -2"},
		{with(func(c *aimd.Config) { c.Timeout = -time.Millisecond }), "aimd: Timeout must be >= 0 (0 disables it), got -1ms"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			assert.EqualError(t, c.c.Validate(), c.want)
			a, err := aimd.New(c.c)
			assert.EqualError(t, err, c.want)
			assert.Nil(t, a)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	a, err := aimd.New(aimd.Config{Initial: 10, TargetLag: 100 * ms})
	require.NoError(t, err)
	assert.Equal(t, aimd.Config{
		Initial: 10, Min: 1, TargetLag: 100 * ms,
		Alpha: 0.5, FailFactor: 0.5, SlowFactor: 0.95, Step: 1,
	}, a.Config())
	// Explicit values are kept; Alpha 1 is allowed (the EWMA is then the last lag).
	c := aimd.Config{Initial: 3, Min: 2, Max: 9, TargetLag: ms, Alpha: 1, FailFactor: 0.25, SlowFactor: 0.5, Step: 3, Timeout: time.Second, GrowOnlyWhenUtilized: true}
	a, err = aimd.New(c)
	require.NoError(t, err)
	assert.Equal(t, c, a.Config())
	assert.Equal(t, 3, a.Limit())
	assert.True(t, a.Fresh())
}

// step is one sample and the limit and EWMA (in milliseconds) expected after it.
type step struct {
	lag      time.Duration
	failed   bool
	latency  time.Duration
	inFlight int
	limit    int
	ewma     float64
}

// run feeds steps to a new AIMD and to the reference model, failing with the step number.
func run(t *testing.T, c aimd.Config, steps []step) {
	t.Helper()
	a, err := aimd.New(c)
	require.NoError(t, err)
	r := newRef(c)
	for i, s := range steps {
		smp := aimd.Sample{Lag: s.lag, Failed: s.failed, Latency: s.latency, InFlight: s.inFlight}
		a.Observe(base, smp)
		r.observe(smp)
		if a.Limit() != s.limit || aimd.EwmaMillis(a) != s.ewma {
			t.Fatalf("step %d: Observe(%+v): limit %d, ewma %v ms; want %d, %v ms", i, smp, a.Limit(), aimd.EwmaMillis(a), s.limit, s.ewma)
		}
		if msg := sameAsRef(a, r); msg != "" {
			t.Fatalf("step %d: %s", i, msg)
		}
		if msg := checkInvariants(a); msg != "" {
			t.Fatalf("step %d: %s", i, msg)
		}
	}
}

// TestSeedSteps pins dispatch_policy's update: +1 under target, ×0.95 over it (strict,
// on the updated EWMA), ×0.5 on failure, floors, and the Min clamp.
func TestSeedSteps(t *testing.T) {
	run(t, aimd.Config{Initial: 10, TargetLag: 100 * ms}, []step{
		{lag: 0, limit: 11, ewma: 0},
		{lag: 200 * ms, limit: 12, ewma: 100},            // ewma == target: not strictly above, grows
		{lag: 300 * ms, limit: 11, ewma: 200},            // ⌊12·0.95⌋ = ⌊11.4⌋
		{lag: 0, limit: 12, ewma: 100},                   // the updated EWMA decides, not the old 200
		{lag: 0, limit: 13, ewma: 50},                    //
		{lag: 10 * ms, failed: true, limit: 6, ewma: 30}, // ⌊13·0.5⌋; a failure wins over low lag
		{failed: true, limit: 3, ewma: 15},
		{failed: true, limit: 1, ewma: 7.5},
		{failed: true, limit: 1, ewma: 3.75},        // ⌊1·0.5⌋ = 0, clamped to Min 1
		{lag: 1000 * ms, limit: 1, ewma: 501.875},   // ⌊1·0.95⌋ = 0, clamped to Min 1
		{lag: 0, limit: 1, ewma: 250.9375},          // recovery waits for the EWMA to decay
		{lag: 0, limit: 1, ewma: 125.46875},         //
		{lag: 0, limit: 2, ewma: 62.734375},         //
		{lag: 0, limit: 3, ewma: 31.3671875},        //
		{lag: -5 * ms, limit: 4, ewma: 15.68359375}, // a negative lag counts as 0
	})
}

// TestFloorAtRunTime pins the seed's float64 floor: 100·0.29 is 28.999999999999996 in
// IEEE doubles (as in the seed's Ruby), so the limit becomes 28, where exact (or Go
// constant) arithmetic would give 29.
func TestFloorAtRunTime(t *testing.T) {
	run(t, aimd.Config{Initial: 100, TargetLag: 100 * ms, FailFactor: 0.29, SlowFactor: 0.29}, []step{
		{failed: true, limit: 28, ewma: 0},
	})
	run(t, aimd.Config{Initial: 100, TargetLag: 100 * ms, FailFactor: 0.29, SlowFactor: 0.29}, []step{
		{lag: time.Second, limit: 28, ewma: 500},
	})
	run(t, aimd.Config{Initial: 20, TargetLag: ms}, []step{
		{lag: time.Second, limit: 19, ewma: 500}, // 20·0.95 rounds to exactly 19
		{lag: time.Second, limit: 18, ewma: 750},
		{lag: time.Second, limit: 17, ewma: 875},
	})
}

func TestOptionSteps(t *testing.T) {
	t.Run("Max", func(t *testing.T) {
		run(t, aimd.Config{Initial: 2, Max: 3, TargetLag: 100 * ms}, []step{
			{limit: 3}, {limit: 3}, {failed: true, limit: 1}, {limit: 2},
		})
	})
	t.Run("Step", func(t *testing.T) {
		run(t, aimd.Config{Initial: 2, Max: 10, Step: 4, TargetLag: 100 * ms}, []step{
			{limit: 6}, {limit: 10}, {limit: 10}, {lag: time.Second, limit: 9, ewma: 500},
		})
	})
	t.Run("GrowOnlyWhenUtilized", func(t *testing.T) {
		run(t, aimd.Config{Initial: 10, TargetLag: 100 * ms, GrowOnlyWhenUtilized: true}, []step{
			{inFlight: 4, limit: 10},              // 4·2 < 10: not utilised, no growth
			{inFlight: 5, limit: 11},              // 5·2 >= 10
			{inFlight: 5, limit: 11},              // 5·2 < 11
			{inFlight: 6, limit: 12},              // 6·2 >= 11
			{inFlight: 0, failed: true, limit: 6}, // decreases ignore utilisation
		})
	})
	t.Run("Timeout", func(t *testing.T) {
		run(t, aimd.Config{Initial: 10, TargetLag: 100 * ms, Timeout: time.Second}, []step{
			{latency: time.Second, limit: 11},    // not above the timeout
			{latency: time.Second + 1, limit: 5}, // above: a failure
			{latency: time.Hour, limit: 2},
		})
	})
	t.Run("Alpha 1", func(t *testing.T) {
		run(t, aimd.Config{Initial: 10, TargetLag: 100 * ms, Alpha: 1}, []step{
			{lag: 101 * ms, limit: 9, ewma: 101}, {lag: 100 * ms, limit: 10, ewma: 100},
		})
	})
}

// TestAvailable pins the seed's evaluate: max(limit, Min) − in-flight, at least Initial
// when idle (the safety valve), never negative.
func TestAvailable(t *testing.T) {
	a, err := aimd.New(aimd.Config{Initial: 8, Min: 2, TargetLag: 100 * ms})
	require.NoError(t, err)
	for range 3 {
		a.Observe(base, aimd.Sample{Failed: true}) // 8 → 4 → 2 → 2
	}
	require.Equal(t, 2, a.Limit())
	for _, c := range []struct{ inFlight, want int }{
		{0, 8}, // idle: the valve lets Initial in
		{1, 1}, {2, 0}, {3, 0}, {100, 0},
		{-1, 8}, // negative counts as 0
	} {
		assert.Equal(t, c.want, a.Available(c.inFlight), "Available(%d)", c.inFlight)
	}
	for range 10 {
		a.Observe(base, aimd.Sample{})
	}
	assert.Equal(t, 12, a.Limit())
	assert.Equal(t, 12, a.Available(0))
	assert.Equal(t, 7, a.Available(5))
}

// TestLimitSaturates checks that unbounded growth stops at math.MaxInt instead of
// wrapping.
func TestLimitSaturates(t *testing.T) {
	a, err := aimd.New(aimd.Config{Initial: math.MaxInt - 3, TargetLag: time.Second, Step: 2})
	require.NoError(t, err)
	for range 3 {
		a.Observe(base, aimd.Sample{})
	}
	assert.Equal(t, math.MaxInt, a.Limit())
	a.Observe(base, aimd.Sample{Failed: true})
	assert.Equal(t, int(math.Floor(float64(math.MaxInt)*0.5)), a.Limit())
	assert.Empty(t, checkInvariants(a))
}

func TestEwmaHugeLag(t *testing.T) {
	a, err := aimd.New(aimd.Config{Initial: 5, TargetLag: time.Second, Alpha: 1})
	require.NoError(t, err)
	a.Observe(base, aimd.Sample{Lag: math.MaxInt64})
	assert.Equal(t, time.Duration(math.MaxInt64), a.Ewma())
	assert.Equal(t, 4, a.Limit())
}

func ExampleConfig_Validate() {
	err := aimd.Config{Initial: 10, TargetLag: 100 * time.Millisecond, SlowFactor: 1.05}.Validate()
	fmt.Println(err)
	// Output: aimd: SlowFactor must be in (0, 1), got 1.05
}
