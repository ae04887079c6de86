package sim

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// gl5 integrates f over [a, b] with 5-point Gauss–Legendre on each of n equal pieces.
func gl5(f func(float64) float64, a, b float64, n int) float64 {
	nodes := []float64{0, -0.5384693101056831, 0.5384693101056831, -0.9061798459386640, 0.9061798459386640}
	weights := []float64{0.5688888888888889, 0.4786286704993665, 0.4786286704993665, 0.2369268850561891, 0.2369268850561891}
	h := (b - a) / float64(n)
	sum := 0.0
	for k := range n {
		m := a + (float64(k)+0.5)*h
		for i, x := range nodes {
			sum += weights[i] * f(m+x*h/2) * h / 2
		}
	}
	return sum
}

// The reference numbers of reference/simulation.md §2.2.
func TestQueueingFormulas(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"M/M/1 rho=0.8 as M/G/1", MG1Wait(0.8, 1, 1), 4},
		{"M/D/1 rho=0.5", MD1Wait(0.5, 1), 0.5},
		{"M/D/1 rho=0.8", MD1Wait(0.8, 1), 2},
		{"M/D/1 rho=0.9", MD1Wait(0.9, 1), 4.5},
		{"M/D/1 in milliseconds", MD1Wait(8, 0.1), 0.2},
		{"M/M/2", MMcWait(2, 1.6, 1), 1.777778},
		{"M/M/4", MMcWait(4, 3, 1), 0.509434},
		{"M/M/8", MMcWait(8, 7.2, 1), 0.876916},
		{"round robin n=1 is M/M/1", RoundRobinSojourn(1, 0.8, 1), 5},
		{"p2c rho=0.5", PowerOfDSojourn(0.5, 2), 1.2657},
		{"p2c rho=0.8", PowerOfDSojourn(0.8, 2), 1.9474},
		{"p2c rho=0.9", PowerOfDSojourn(0.9, 2), 2.6141},
		{"p2c rho=0.95", PowerOfDSojourn(0.95, 2), 3.3830},
		{"p3c rho=0.5", PowerOfDSojourn(0.5, 3), 1.1252},
		{"p3c rho=0.8", PowerOfDSojourn(0.8, 3), 1.5809},
		{"p3c rho=0.9", PowerOfDSojourn(0.9, 3), 2.0279},
		{"p3c rho=0.95", PowerOfDSojourn(0.95, 3), 2.5351},
		{"random rho=0.9", PowerOfDSojourn(0.9, 1), 10},
		{"burst 1 is M/D/1", ThrottleWait(0.8, 1, 1), 2},
		{"M/D/1 P(no wait)", MD1WaitCDF(0.8, 1, 0), 0.2},
		{"M/D/1 P(W <= t) for t < d", MD1WaitCDF(0.8, 1, 0.5), 0.2 * math.Exp(0.4)},
		{"M/D/1 median below 1-rho is 0", MD1WaitQuantile(0.5, 1, 0.4), 0},
		{"Erlang C: M/M/2 P(wait)", ErlangC(2, 1.6), 0.711111},
		{"Erlang C: M/M/8 rho=0.9 P(wait)", ErlangC(8, 7.2), 0.701533},
		{"Erlang C: no load", ErlangC(4, 0), 0},
		{"Erlang C: a = c", ErlangC(4, 4), 1},
		{"Erlang B c=8 a=7.2", ErlangB(8, 7.2), 0.190313},
		{"Erlang B c=10 a=8", ErlangB(10, 8), 0.121661},
		{"Erlang B c=4 a=3", ErlangB(4, 3), 0.206107},
		{"Erlang B c=0", ErlangB(0, 3), 1},
		{"M/M/1/10 lambda=0.9 P(block)", first(MM1K(0.9, 1, 10)), 0.050814},
		{"M/M/1/10 lambda=0.9 W", second(MM1K(0.9, 1, 10)), 4.646601},
		{"M/M/1/10 lambda=1 P(block)", first(MM1K(1, 1, 10)), 0.090909},
		{"M/M/1/10 lambda=1 W", second(MM1K(1, 1, 10)), 5.5},
		{"M/M/1/10 lambda=1.2 P(block)", first(MM1K(1.2, 1, 10)), 0.192586},
		{"M/M/1/10 lambda=1.2 W", second(MM1K(1.2, 1, 10)), 6.926138},
	} {
		assert.InDelta(t, tc.want, tc.got, 5e-5*math.Max(1, tc.want), tc.name)
	}
}

func first(a, _ float64) float64  { return a }
func second(_, b float64) float64 { return b }

func TestQueueingFormulasOutOfRange(t *testing.T) {
	for name, v := range map[string]float64{
		"ErlangC c 0":              ErlangC(0, 1),
		"ErlangC a -1":             ErlangC(2, -1),
		"ErlangC a NaN":            ErlangC(2, math.NaN()),
		"ErlangB c -1":             ErlangB(-1, 1),
		"ErlangB a Inf":            ErlangB(2, math.Inf(1)),
		"MM1K k 0":                 first(MM1K(0.5, 1, 0)),
		"MM1K lambda 0":            second(MM1K(0, 1, 10)),
		"MM1K mu NaN":              first(MM1K(0.5, math.NaN(), 10)),
		"MG1Wait lambda 0":         MG1Wait(0, 1, 1),
		"MG1Wait scv -1":           MG1Wait(0.5, 1, -1),
		"MG1Wait mean NaN":         MG1Wait(0.5, math.NaN(), 1),
		"MMcWait c 0":              MMcWait(0, 1, 1),
		"MD1WaitCDF d 0":           MD1WaitCDF(0.5, 0, 1),
		"MD1WaitCDF t NaN":         MD1WaitCDF(0.5, 1, math.NaN()),
		"MD1WaitQuantile p 1":      MD1WaitQuantile(0.5, 1, 1),
		"ThrottleWait burst 0":     ThrottleWait(1, 2, 0),
		"ThrottleWait rate Inf":    ThrottleWait(1, math.Inf(1), 1),
		"ThrottleWaitQuantile r 0": ThrottleWaitQuantile(1, 0, 1, 0.5),
		"RoundRobinSojourn n 0":    RoundRobinSojourn(0, 1, 1),
		"PowerOfDSojourn d 0":      PowerOfDSojourn(0.5, 0),
		"PowerOfDSojourn rho -1":   PowerOfDSojourn(-1, 2),
	} {
		assert.True(t, math.IsNaN(v), "%s = %v, want NaN", name, v)
	}
	for name, v := range map[string]float64{
		"MG1Wait rho 1":           MG1Wait(1, 1, 1),
		"MD1Wait rho 2":           MD1Wait(2, 1),
		"MMcWait overloaded":      MMcWait(2, 2, 1),
		"MD1WaitQuantile rho 1":   MD1WaitQuantile(1, 1, 0.5),
		"ThrottleWait overloaded": ThrottleWait(10, 10, 5),
		"RoundRobinSojourn rho 1": RoundRobinSojourn(4, 4, 1),
		"PowerOfDSojourn rho 1":   PowerOfDSojourn(1, 2),
	} {
		assert.True(t, math.IsInf(v, 1), "%s = %v, want +Inf", name, v)
	}
	assert.Equal(t, 0.0, MD1WaitCDF(0.5, 1, -1))
	assert.Equal(t, 1.0, MD1WaitCDF(0.5, 1, math.Inf(1)))
}

// The M/D/1 waiting-time CDF is a distribution whose mean is Pollaczek–Khinchine's: the
// integral of its tail, taken numerically, gives ρd/(2(1−ρ)).
func TestMD1WaitCDF(t *testing.T) {
	for _, tc := range []struct{ lambda, d, upto float64 }{{0.5, 1, 40}, {8, 0.1, 6}, {0.9, 1, 150}} {
		prev := 0.0
		for x := 0.0; x < tc.upto; x += tc.d / 4 {
			p := MD1WaitCDF(tc.lambda, tc.d, x)
			require.GreaterOrEqual(t, p, prev, "CDF decreases at %v", x)
			require.LessOrEqual(t, p, 1.0)
			prev = p
		}
		require.InDelta(t, 1, prev, 1e-9, "CDF does not reach 1")
		// The CDF has kinks at multiples of d: integrate piece by piece.
		n := int(math.Round(tc.upto / tc.d))
		mean := gl5(func(x float64) float64 { return 1 - MD1WaitCDF(tc.lambda, tc.d, x) }, 0, tc.upto, n)
		require.InDelta(t, MD1Wait(tc.lambda, tc.d), mean, 1e-9, "lambda %v d %v", tc.lambda, tc.d)
	}
}

func TestMD1WaitQuantile(t *testing.T) {
	for _, p := range []float64{0.25, 0.5, 0.9, 0.99, 0.999} {
		q := MD1WaitQuantile(0.8, 1, p)
		require.InDelta(t, p, MD1WaitCDF(0.8, 1, q), 1e-8, "p=%v", p)
	}
	// Quantiles above 1−ρ grow with p.
	assert.Less(t, MD1WaitQuantile(0.8, 1, 0.9), MD1WaitQuantile(0.8, 1, 0.99))
}

// ThrottleWait's closed form against the tail integral of (W − c)⁺ taken numerically.
func TestThrottleWait(t *testing.T) {
	const lambda, rate = 8.0, 10.0
	d := 1 / rate
	prev := math.Inf(1)
	for _, burst := range []int{1, 2, 3, 5, 10, 20} {
		c := float64(burst-1) * d
		upto := c + 8
		n := int(math.Round((upto - c) / d))
		want := gl5(func(x float64) float64 { return 1 - MD1WaitCDF(lambda, d, x) }, c, upto, n)
		got := ThrottleWait(lambda, rate, burst)
		require.InDelta(t, want, got, 1e-9, "burst %d", burst)
		// Jensen: E[(W−c)⁺] >= (E[W]−c)⁺, and more burst never waits longer.
		require.GreaterOrEqual(t, got, math.Max(0, MD1Wait(lambda, d)-c)-1e-12)
		require.Less(t, got, prev)
		prev = got
		assert.InDelta(t, math.Max(0, MD1WaitQuantile(lambda, d, 0.99)-c), ThrottleWaitQuantile(lambda, rate, burst, 0.99), 1e-12)
	}
}

// The simulator's throttle with burst 5 waits as ThrottleWait says (a token bucket with burst
// b is an M/D/1 queue whose waits are shortened by (b−1)/rate).
func TestThrottleWaitSimulated(t *testing.T) {
	reps, n := scale(20_000)
	const lambda, rate, burst = 8.0, 10.0, 5
	sc := direct("throttle-burst", lambda, Det(time.Millisecond), 1000, n)
	sc.Admission = &Admission{EventDriven: true, Throttle: &tokenbucket.Limit{Rate: rate, Per: time.Second, Burst: burst}}
	res, err := Replicate(sc, 1, reps, 0)
	require.NoError(t, err)
	s := Summarize("throttle", res, 0.99)
	want := ThrottleWait(lambda, rate, burst)
	t.Logf("admission lag %v s, ThrottleWait %.4f s", s.AdmissionMean, want)
	require.True(t, s.AdmissionMean.Covers(want), "admission lag %v does not cover %v", s.AdmissionMean, want)
}

// Round robin over n exponential servers: each is E_n/M/1, whose σ solves the GI/M/1 fixed
// point; and the simulator agrees.
func TestRoundRobinSojourn(t *testing.T) {
	for _, n := range []int{2, 4, 16} {
		lambda := 0.75 * float64(n)
		w := RoundRobinSojourn(n, lambda, 1)
		sigma := 1 - 1/w
		require.InDelta(t, sigma, math.Pow(lambda/(lambda+(1-sigma)), float64(n)), 1e-12, "n=%d", n)
		require.Less(t, w, 4.0, "round robin beats random (M/M/1, 4s) at n=%d", n)
	}
	reps, jobs := scale(40_000)
	const n, lambda = 8, 6.0
	d := time.Duration(float64(jobs) / lambda * 1e9)
	sc := &Scenario{
		Name: "round-robin", Duration: d, Drain: d, Warmup: d / 10,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(lambda), Service: Exp(time.Second)}},
		Workers: Workers{Count: n, Queue: "per-worker", Strategy: "next"},
		Metrics: Metrics{Window: d / 20},
	}
	res, err := Replicate(sc, 1, reps, 0)
	require.NoError(t, err)
	s := Summarize("rr", res, 0.99)
	want := RoundRobinSojourn(n, lambda, 1)
	t.Logf("total %v s, RoundRobinSojourn %.4f s", s.TotalMean, want)
	require.True(t, s.TotalMean.Covers(want), "total %v does not cover %v", s.TotalMean, want)
}

func TestThrottleBurstFor(t *testing.T) {
	for _, target := range []float64{0.21, 0.1, 0.05, 0.01, 1e-3, 1e-6} {
		b := ThrottleBurstFor(8, 10, target)
		require.Positive(t, b, "target %v", target)
		require.LessOrEqual(t, ThrottleWait(8, 10, b), target)
		if b > 1 {
			require.Greater(t, ThrottleWait(8, 10, b-1), target, "burst %d is not the smallest for %v", b, target)
		}
	}
	assert.Equal(t, 1, ThrottleBurstFor(8, 10, 0.21), "burst 1 waits M/D/1's 0.2s")
	assert.Equal(t, 0, ThrottleBurstFor(10, 10, 1), "an overloaded bucket has no burst")
	assert.Equal(t, 0, ThrottleBurstFor(8, 10, 0), "no burst waits zero")
	assert.Equal(t, -1, ThrottleBurstFor(8, -1, 1))
	assert.Equal(t, -1, ThrottleBurstFor(8, 10, math.NaN()))
}
