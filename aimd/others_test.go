package aimd_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 42)) }

func TestOtherConstructorErrors(t *testing.T) {
	rnd := newRand(1)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"vegas nil rand", errOf(aimd.NewVegas(aimd.VegasConfig{})), "aimd: VegasConfig.Rand must not be nil"},
		{"vegas max", errOf(aimd.NewVegas(aimd.VegasConfig{Max: -1, Rand: rnd})), "aimd: VegasConfig.Max must be >= 1 (or 0 for 1000), got -1"},
		{"vegas initial", errOf(aimd.NewVegas(aimd.VegasConfig{Initial: 30, Max: 20, Rand: rnd})), "aimd: VegasConfig.Initial must be in [1, Max (20)], got 30"},
		{"vegas initial<0", errOf(aimd.NewVegas(aimd.VegasConfig{Initial: -3, Rand: rnd})), "aimd: VegasConfig.Initial must be in [1, Max (1000)], got -3"},
		{"vegas smoothing", errOf(aimd.NewVegas(aimd.VegasConfig{Smoothing: 1.2, Rand: rnd})), "aimd: VegasConfig.Smoothing must be in (0, 1], got 1.2"},
		{"vegas smoothing NaN", errOf(aimd.NewVegas(aimd.VegasConfig{Smoothing: math.NaN(), Rand: rnd})), "aimd: VegasConfig.Smoothing must be in (0, 1], got NaN"},
		{"vegas probe", errOf(aimd.NewVegas(aimd.VegasConfig{ProbeMultiplier: -1, Rand: rnd})), "aimd: VegasConfig.ProbeMultiplier must be >= 1 (or 0 for 30), got -1"},
		{"vegas beta", errOf(aimd.NewVegas(aimd.VegasConfig{Beta: -6, Rand: rnd})), "aimd: VegasConfig.Beta must be >= 0 (0 for the default), got -6"},
		{"g2 max", errOf(aimd.NewGradient2(aimd.Gradient2Config{Max: -1})), "aimd: Gradient2Config.Max must be >= 1 (or 0 for 200), got -1"},
		{"g2 min", errOf(aimd.NewGradient2(aimd.Gradient2Config{Min: -1})), "aimd: Gradient2Config.Min must be >= 1 (or 0 for 20), got -1"},
		{"g2 max<min", errOf(aimd.NewGradient2(aimd.Gradient2Config{Min: 30, Max: 10})), "aimd: Gradient2Config.Max must be >= Min (30), got 10"},
		{"g2 initial", errOf(aimd.NewGradient2(aimd.Gradient2Config{Initial: 5})), "aimd: Gradient2Config.Initial must be in [Min (20), Max (200)], got 5"},
		{"g2 smoothing", errOf(aimd.NewGradient2(aimd.Gradient2Config{Smoothing: -0.2})), "aimd: Gradient2Config.Smoothing must be in (0, 1], got -0.2"},
		{"g2 queue", errOf(aimd.NewGradient2(aimd.Gradient2Config{QueueSize: math.Inf(1)})), "aimd: Gradient2Config.QueueSize must be finite and >= 0 (0 for 4), got +Inf"},
		{"g2 queue<0", errOf(aimd.NewGradient2(aimd.Gradient2Config{QueueSize: -1})), "aimd: Gradient2Config.QueueSize must be finite and >= 0 (0 for 4), got -1"},
		{"g2 window", errOf(aimd.NewGradient2(aimd.Gradient2Config{LongWindow: -600})), "aimd: Gradient2Config.LongWindow must be >= 1 (or 0 for 600), got -600"},
		{"g2 tolerance", errOf(aimd.NewGradient2(aimd.Gradient2Config{Tolerance: 0.9})), "aimd: Gradient2Config.Tolerance must be finite and >= 1 (or 0 for 1.5), got 0.9"},
		{"g2 tolerance NaN", errOf(aimd.NewGradient2(aimd.Gradient2Config{Tolerance: math.NaN()})), "aimd: Gradient2Config.Tolerance must be finite and >= 1 (or 0 for 1.5), got NaN"},
		{"fixed", errOf(aimd.NewFixed(-1)), "aimd: Fixed limit must be >= 0, got -1"},
		{"windowed nil", errOf(aimd.NewWindowed(nil, aimd.WindowConfig{})), "aimd: NewWindowed needs an Algorithm, got nil"},
		{"windowed samples", errOf(aimd.NewWindowed(fixed(t, 1), aimd.WindowConfig{MinSamples: -1})), "aimd: WindowConfig.MinSamples must be >= 1 (or 0 for 1), got -1"},
		{"windowed duration", errOf(aimd.NewWindowed(fixed(t, 1), aimd.WindowConfig{Duration: -1})), "aimd: WindowConfig.Duration must be >= 0, got -1ns"},
		{"windowed latency", errOf(aimd.NewWindowed(fixed(t, 1), aimd.WindowConfig{MinLatency: -time.Second})), "aimd: WindowConfig.MinLatency must be >= 0, got -1s"},
		{"keyed nil", errOf(aimd.NewKeyed[string](nil, aimd.KeyedConfig{})), "aimd: NewKeyed needs a config function, got nil"},
		{"keyed func nil", errOf(aimd.NewKeyedFunc[string](nil, aimd.KeyedConfig{})), "aimd: NewKeyedFunc needs an algorithm factory, got nil"},
		{"keyed shards", errOf(aimd.NewKeyed(func(string) aimd.Config { return aimd.Config{} }, aimd.KeyedConfig{Shards: 3})), "aimd: KeyedConfig.Shards must be a power of two in [1, 65536], got 3"},
		{"keyed shards big", errOf(aimd.NewKeyed(func(string) aimd.Config { return aimd.Config{} }, aimd.KeyedConfig{Shards: 1 << 17})), "aimd: KeyedConfig.Shards must be a power of two in [1, 65536], got 131072"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.EqualError(t, c.err, c.want) })
	}
	f, err := aimd.NewFixed(1)
	require.NoError(t, err)
	assert.EqualError(t, f.SetLimit(-2), "aimd: Fixed limit must be >= 0, got -2")
}

func errOf[T any](_ T, err error) error { return err }

func fixed(t *testing.T, n int) *aimd.Fixed {
	f, err := aimd.NewFixed(n)
	require.NoError(t, err)
	return f
}

func TestDefaults(t *testing.T) {
	v, err := aimd.NewVegas(aimd.VegasConfig{Rand: newRand(1)})
	require.NoError(t, err)
	assert.Equal(t, 20, v.Limit())
	v, err = aimd.NewVegas(aimd.VegasConfig{Max: 5, Rand: newRand(1)})
	require.NoError(t, err)
	assert.Equal(t, 5, v.Limit(), "default Initial capped by a small Max")
	g, err := aimd.NewGradient2(aimd.Gradient2Config{})
	require.NoError(t, err)
	assert.Equal(t, 20, g.Limit())
	g, err = aimd.NewGradient2(aimd.Gradient2Config{Min: 50})
	require.NoError(t, err)
	assert.Equal(t, 50, g.Limit(), "default Initial raised to Min")
	g, err = aimd.NewGradient2(aimd.Gradient2Config{Max: 5})
	require.NoError(t, err)
	assert.Equal(t, 5, g.Limit(), "default Min and Initial capped by a small Max")
}

// vstep is one Netflix onSample(0, rtt, inflight, didDrop) call and the limit after it.
type vstep struct {
	rtt      time.Duration
	inFlight int
	failed   bool
	limit    int
}

func runAlg(t *testing.T, a aimd.Algorithm, steps []vstep) {
	t.Helper()
	for i, s := range steps {
		a.Observe(base, aimd.Sample{Latency: s.rtt, InFlight: s.inFlight, Failed: s.failed})
		if got := a.Limit(); got != s.limit {
			t.Fatalf("step %d: Observe(rtt %v, inflight %d, failed %v): limit %d, want %d", i, s.rtt, s.inFlight, s.failed, got, s.limit)
		}
	}
}

// TestVegasNetflixVectors replays Netflix's VegasLimitTest (alpha 3, beta 6, smoothing 1,
// initial 10, max 20) and its largeLimitIncrease case (defaults, initial 10000).
func TestVegasNetflixVectors(t *testing.T) {
	vegas := func(c aimd.VegasConfig) *aimd.Vegas {
		c.Rand = newRand(7)
		v, err := aimd.NewVegas(c)
		require.NoError(t, err)
		return v
	}
	test := aimd.VegasConfig{Alpha: 3, Beta: 6, Smoothing: 1, Initial: 10, Max: 20}
	t.Run("increaseLimit", func(t *testing.T) {
		runAlg(t, vegas(test), []vstep{{10 * ms, 10, false, 10}, {10 * ms, 11, false, 16}})
	})
	t.Run("decreaseLimit", func(t *testing.T) {
		runAlg(t, vegas(test), []vstep{{10 * ms, 10, false, 10}, {50 * ms, 11, false, 9}})
	})
	t.Run("noChangeIfWithinThresholds", func(t *testing.T) {
		runAlg(t, vegas(test), []vstep{{10 * ms, 10, false, 10}, {14 * ms, 14, false, 10}})
	})
	t.Run("largeLimitIncrease", func(t *testing.T) {
		runAlg(t, vegas(aimd.VegasConfig{Initial: 10000, Max: 20000}), []vstep{
			{10 * time.Second, 5000, false, 10000}, {10 * time.Second, 6000, false, 10024},
		})
	})
	t.Run("smoothing 0.2", func(t *testing.T) { // 512·0.8 + (512+12)·0.2 = 514.4; then 511.6
		runAlg(t, vegas(aimd.VegasConfig{Initial: 512, Max: 1024, Smoothing: 0.2}), []vstep{
			{10 * ms, 512, false, 512}, {10 * ms, 513, false, 514},
		})
		runAlg(t, vegas(aimd.VegasConfig{Initial: 512, Max: 1024, Smoothing: 0.2}), []vstep{
			{10 * ms, 512, false, 512}, {50 * ms, 513, false, 511},
		})
	})
	t.Run("queue thresholds", func(t *testing.T) {
		// limit 10, no-load 10ms: queue = ⌈10·(1 − 10ms/rtt)⌉; threshold 1, alpha 3, beta 6
		for _, c := range []struct {
			rtt         time.Duration
			queue, want int
		}{
			{10500 * time.Microsecond, 1, 16}, // queue <= threshold: + beta
			{12 * ms, 2, 11},                  // queue < alpha: + L
			{14 * ms, 3, 10},                  // alpha <= queue <= beta: steady
			{22 * ms, 6, 10},                  //
			{28 * ms, 7, 9},                   // queue > beta: − L
		} {
			runAlg(t, vegas(test), []vstep{{10 * ms, 10, false, 10}, {c.rtt, 10, false, c.want}})
		}
	})
	t.Run("drop and app-limited", func(t *testing.T) {
		runAlg(t, vegas(test), []vstep{
			{10 * ms, 10, false, 10}, // first sample: the no-load RTT
			{12 * ms, 1, false, 10},  // inflight·2 < limit: app-limited, no change
			{12 * ms, 1, true, 9},    // a drop decreases by L = 1 even when app-limited
			{5 * ms, 10, false, 9},   // a smaller RTT only resets the no-load RTT
			{5 * ms, 10, false, 15},  // queue 0: + beta
			{0, 10, true, 15},        // Latency <= 0 is ignored
			{-ms, 10, true, 15},
		})
	})
}

// TestVegasProbe checks that the no-load RTT is re-probed after exactly ⌈jitter·30·limit⌉
// samples, with jitter drawn from the injected Rand as Java's nextDouble(0.5, 1) does.
func TestVegasProbe(t *testing.T) {
	for s := range uint64(20) {
		v, err := aimd.NewVegas(aimd.VegasConfig{Rand: newRand(s)}) // initial 20
		require.NoError(t, err)
		jitter := newRand(s).Float64()*0.5 + 0.5
		probeAt := int(math.Ceil(jitter * 30 * 20))
		v.Observe(base, aimd.Sample{Latency: 10 * ms}) // count 1: the no-load RTT
		require.Equal(t, 10*ms, v.NoLoad())
		for n := 2; n < probeAt; n++ {
			v.Observe(base, aimd.Sample{Latency: 30 * ms}) // app-limited: the limit stays 20
			require.Equal(t, 10*ms, v.NoLoad(), "sample %d, probe due at %d", n, probeAt)
		}
		v.Observe(base, aimd.Sample{Latency: 30 * ms})
		assert.Equal(t, 30*ms, v.NoLoad(), "probe at sample %d", probeAt)
		assert.Equal(t, 20, v.Limit())
	}
}

func TestLog10Root(t *testing.T) {
	// Netflix's Log10RootIntFunctionTest: f(0) = 1, f(100) = 2, f(10000) = 4; via Vegas's
	// default beta = 6·L on a no-queue sample.
	for _, c := range []struct{ initial, l int }{{1, 1}, {9, 1}, {10, 1}, {99, 1}, {100, 2}, {999, 2}, {1000, 3}, {10000, 4}} {
		v, err := aimd.NewVegas(aimd.VegasConfig{Initial: c.initial, Max: 1 << 30, Rand: newRand(1)})
		require.NoError(t, err)
		v.Observe(base, aimd.Sample{Latency: ms, InFlight: c.initial})
		v.Observe(base, aimd.Sample{Latency: ms, InFlight: c.initial})
		assert.Equal(t, c.initial+6*c.l, v.Limit(), "limit %d", c.initial)
	}
}

// TestGradient2Vectors: initial 512, max 1024, smoothing 0.2, long window 100, queue 16
// (Netflix semantics with rttTolerance 1.5; the vectors also appear in a downstream
// project's LimitTest), worked by hand: 512·0.8 + (512·1 + 16)·0.2 = 515.2, and so on.
func TestGradient2Vectors(t *testing.T) {
	g2 := func(c aimd.Gradient2Config) *aimd.Gradient2 {
		g, err := aimd.NewGradient2(c)
		require.NoError(t, err)
		return g
	}
	c := aimd.Gradient2Config{Initial: 512, Max: 1024, Smoothing: 0.2, LongWindow: 100, QueueSize: 16}
	t.Run("increase", func(t *testing.T) {
		runAlg(t, g2(c), []vstep{{10 * ms, 512, false, 515}, {10 * ms, 513, false, 518}})
	})
	t.Run("decrease", func(t *testing.T) {
		// long = 30ms, gradient = 1.5·30/50 = 0.9: 515.2·0.8 + (515.2·0.9 + 16)·0.2 = 508.096
		runAlg(t, g2(c), []vstep{{10 * ms, 512, false, 515}, {50 * ms, 513, false, 508}})
	})
	t.Run("app-limited and failures ignored", func(t *testing.T) {
		runAlg(t, g2(c), []vstep{
			{10 * ms, 100, false, 512}, // inflight < limit/2
			{10 * ms, 512, true, 515},  // Netflix ignores didDrop (issue #176)
			{0, 512, false, 515},       // Latency <= 0 is ignored
		})
	})
	t.Run("BackOffOnFailure", func(t *testing.T) {
		o := c
		o.BackOffOnFailure = true
		// 512·0.8 + (512·0.5 + 16)·0.2 = 464; even when app-limited
		runAlg(t, g2(o), []vstep{{10 * ms, 1, true, 464}, {10 * ms, 512, false, 467}})
	})
	t.Run("QueueOnlyWhenUnloaded", func(t *testing.T) {
		o := c
		o.QueueOnlyWhenUnloaded = true
		// gradient 1: queue kept (515.2); gradient 0.9: 515.2·0.8 + 515.2·0.9·0.2 = 504.896
		runAlg(t, g2(o), []vstep{{10 * ms, 512, false, 515}, {50 * ms, 513, false, 504}})
	})
	t.Run("clamped to [Min, Max]", func(t *testing.T) {
		g := g2(aimd.Gradient2Config{Initial: 20, Min: 20, Max: 21, Smoothing: 1})
		runAlg(t, g, []vstep{{10 * ms, 20, false, 21}, {10 * ms, 20, false, 21}, {time.Second, 20, false, 20}})
	})
}

// TestGradient2LongRTT replays Netflix's ExpAvgMeasurementTest (window 100, warm-up 10)
// through the long-term RTT, and the fast decay after an overload.
func TestGradient2LongRTT(t *testing.T) {
	g, err := aimd.NewGradient2(aimd.Gradient2Config{LongWindow: 100})
	require.NoError(t, err)
	want := []float64{10.0, 10.5, 11, 11.5, 12, 12.5, 13, 13.5, 14, 14.5}
	for i := range 10 {
		g.Observe(base, aimd.Sample{Latency: time.Duration(i+10) * ms})
		assert.Equal(t, time.Duration(want[i]*1e6), g.LongRTT())
	}
	g.Observe(base, aimd.Sample{Latency: 100 * ms})
	assert.InDelta(t, 16.2e6, float64(g.LongRTT()), 0.1e6)

	// long/rtt > 2 decays the long RTT by 0.95 after the average is taken.
	g, _ = aimd.NewGradient2(aimd.Gradient2Config{})
	g.Observe(base, aimd.Sample{Latency: 100 * ms})
	for range 9 {
		g.Observe(base, aimd.Sample{Latency: 100 * ms})
	}
	g.Observe(base, aimd.Sample{Latency: 10 * ms}) // EMA: 100·(1−2/601) + 10·2/601
	f := 2.0 / 601
	long := float64(float64(100e6*(1-f)) + float64(10e6*f))
	assert.Equal(t, time.Duration(long*0.95), g.LongRTT())
}

func TestFixed(t *testing.T) {
	f := fixed(t, 3)
	assert.Equal(t, 3, f.Limit())
	f.Observe(base, aimd.Sample{Failed: true, Lag: time.Hour})
	assert.Equal(t, 3, f.Limit())
	assert.Equal(t, 3, f.Available(0))
	assert.Equal(t, 1, f.Available(2))
	assert.Equal(t, 0, f.Available(5))
	assert.Equal(t, 3, f.Available(-1))
	assert.True(t, f.Fresh())
	require.NoError(t, f.SetLimit(0))
	assert.Equal(t, 0, f.Available(0), "a cap of 0 admits nothing, valve or not")
	assert.False(t, f.Fresh())
}

func TestWindowed(t *testing.T) {
	a, err := aimd.New(aimd.Config{Initial: 10, TargetLag: 100 * ms})
	require.NoError(t, err)
	w, err := aimd.NewWindowed(a, aimd.WindowConfig{MinSamples: 3, Duration: time.Second, MinLatency: ms})
	require.NoError(t, err)
	assert.Same(t, a, w.Unwrap())
	assert.True(t, w.Fresh())
	obs := func(off time.Duration, lag, lat time.Duration, in int, failed bool) {
		w.Observe(at(off), aimd.Sample{Lag: lag, Latency: lat, InFlight: in, Failed: failed})
	}
	obs(0, 500*ms, 0, 1, false) // Latency below MinLatency: dropped
	assert.Equal(t, 0, w.Pending())
	assert.True(t, w.Fresh())
	obs(0, 300*ms, 2*ms, 4, false)
	obs(100*ms, 0, 2*ms, 9, false)
	assert.False(t, w.Fresh())
	obs(500*ms, 0, 2*ms, 2, false) // 3 samples but only 500ms: stays open
	assert.Equal(t, 3, w.Pending())
	assert.Equal(t, 10, a.Limit())
	obs(999*ms, 0, 2*ms, 1, false)
	assert.Equal(t, 4, w.Pending())
	obs(-time.Hour, 0, 2*ms, 1, false) // earlier than the window's start: no time passed
	assert.Equal(t, 5, w.Pending())
	obs(time.Second, 1, 4*ms, 3, false) // closes: mean lag (300ms+1ns)/6, max inflight 9
	assert.Equal(t, 0, w.Pending())
	assert.Equal(t, int64(1), a.Samples())
	assert.Equal(t, (300*ms+1)/6, a.Ewma()*2, "EWMA = α·mean lag")
	assert.Equal(t, 11, a.Limit())
	assert.Equal(t, 11, w.Limit())
	assert.Equal(t, 11, w.Available(0))
	assert.Equal(t, 6, w.Available(5))
	// A failure anywhere in the window fails the aggregate.
	obs(2*time.Second, 0, 2*ms, 1, true)
	obs(2*time.Second, 0, 2*ms, 1, false)
	obs(3*time.Second, 0, 2*ms, 1, false)
	assert.Equal(t, 5, a.Limit())
	// Without an Availabler, Available is Limit − inFlight.
	wf, _ := aimd.NewWindowed(fixed(t, 4), aimd.WindowConfig{})
	assert.Equal(t, 1, wf.Available(3))
	assert.True(t, wf.Fresh())
	v, _ := aimd.NewVegas(aimd.VegasConfig{Rand: newRand(1)})
	wv, _ := aimd.NewWindowed(v, aimd.WindowConfig{})
	assert.Equal(t, 15, wv.Available(5))
	assert.False(t, wv.Fresh(), "Vegas is not a Fresher")
}

// TestWindowedPassThrough: the zero WindowConfig feeds every sample through unchanged.
func TestWindowedPassThrough(t *testing.T) {
	forAll(t, "Windowed with the zero config equals its algorithm", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 8))
		c := genConfig(r)
		a, _ := aimd.New(c)
		b, _ := aimd.New(c)
		w, _ := aimd.NewWindowed(b, aimd.WindowConfig{})
		for i, s := range genSamples(r, c, 100) {
			a.Observe(base, s)
			w.Observe(base, s)
			if a.Limit() != w.Limit() || aimd.EwmaMillis(a) != aimd.EwmaMillis(b) {
				return fmt.Sprintf("step %d: %d vs %d", i, a.Limit(), w.Limit())
			}
		}
		return ""
	})
}

// TestBoundsVegasGradient2: Vegas stays in [1, Max] and Gradient2 in [Min, Max] under
// random samples.
func TestBoundsVegasGradient2(t *testing.T) {
	forAll(t, "Vegas and Gradient2 limits stay in range", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 9))
		vc := aimd.VegasConfig{Max: 1 + r.IntN(300), ProbeMultiplier: r.IntN(5), Smoothing: []float64{0, 0.2, 1}[r.IntN(3)], Rand: rand.New(rand.NewPCG(seed, 10))}
		vc.Initial = 1 + r.IntN(vc.Max)
		v, err := aimd.NewVegas(vc)
		if err != nil {
			return err.Error()
		}
		gc := aimd.Gradient2Config{Min: 1 + r.IntN(30), BackOffOnFailure: r.IntN(2) == 0, QueueOnlyWhenUnloaded: r.IntN(2) == 0, LongWindow: 1 + r.IntN(50)}
		gc.Max = gc.Min + r.IntN(200)
		gc.Initial = gc.Min + r.IntN(gc.Max-gc.Min+1)
		g, err := aimd.NewGradient2(gc)
		if err != nil {
			return err.Error()
		}
		for i := range 300 {
			s := aimd.Sample{
				Latency:  time.Duration(r.Int64N(int64(time.Second))),
				InFlight: r.IntN(400),
				Failed:   r.IntN(10) == 0,
			}
			v.Observe(base, s)
			g.Observe(base, s)
			if l := v.Limit(); l < 1 || l > vc.Max {
				return fmt.Sprintf("step %d: Vegas limit %d outside [1, %d]", i, l, vc.Max)
			}
			if l := g.Limit(); l < gc.Min || l > gc.Max {
				return fmt.Sprintf("step %d: Gradient2 limit %d outside [%d, %d]", i, l, gc.Min, gc.Max)
			}
		}
		return ""
	})
}
