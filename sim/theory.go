package sim

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// ErlangC returns the probability that an arrival waits in M/M/c with offered load a = λ/μ:
// 1 when a >= c (the queue is unstable and every arrival waits), NaN when c < 1 or a is not
// finite and >= 0.
func ErlangC(c int, a float64) float64 {
	switch {
	case c < 1 || !(a >= 0) || math.IsInf(a, 0):
		return math.NaN()
	case a >= float64(c):
		return 1
	}
	sum, term := 0.0, 1.0
	for k := 0; k < c; k++ {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	top := term * a / float64(c) * float64(c) / (float64(c) - a) // a^c/c! · c/(c−a)
	return top / (sum + top)
}

// ErlangB returns the blocking probability of M/M/c/c with offered load a, by the recursion
// B(0) = 1, B(k) = aB(k−1)/(k + aB(k−1)); NaN when c < 0 or a is not finite and >= 0.
func ErlangB(c int, a float64) float64 {
	if c < 0 || !(a >= 0) || math.IsInf(a, 0) {
		return math.NaN()
	}
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// MM1K returns the blocking probability and the mean time in system of M/M/1/K (at most k
// jobs in the system, the one in service included): with ρ = λ/μ the number in system n has
// P(n) = (1−ρ)ρⁿ/(1−ρ^{K+1}), or 1/(K+1) for every n when ρ = 1; the blocking probability is
// P(K) and, by Little's law, W = L/(λ(1 − P(K))). Both are NaN when an argument is out of
// range (a rate that is not finite and > 0, k < 1).
func MM1K(lambda, mu float64, k int) (block, w float64) {
	if !positive(lambda) || !positive(mu) || k < 1 {
		return math.NaN(), math.NaN()
	}
	rho := lambda / mu
	p := func(n int) float64 { // P(n jobs in the system)
		if rho == 1 {
			return 1 / float64(k+1)
		}
		return (1 - rho) * math.Pow(rho, float64(n)) / (1 - math.Pow(rho, float64(k+1)))
	}
	var l float64
	for n := 1; n <= k; n++ {
		l += float64(n) * p(n)
	}
	block = p(k)
	return block, l / (lambda * (1 - block))
}

// Check is a queueing-theory result the simulator reproduces: the exact value of a metric of
// a scenario, computed from its formula.
type Check struct {
	Name     string
	Metric   string
	Scenario *Scenario
	Expected float64
	// Guard is a relative tolerance checked beside the confidence interval, so that a wide
	// interval cannot hide a biased simulator. It is set for 100,000 jobs per replication and
	// widens as 1/√jobs for smaller runs.
	Guard   float64
	Jobs    int // jobs per replication the scenario is built for
	Measure func(*Result) float64
}

// widen is how much a run of c.Jobs jobs widens the tolerances set for 100,000 (1/√jobs).
func (c Check) widen() float64 {
	if c.Jobs > 0 && c.Jobs < 100_000 {
		return math.Sqrt(100_000 / float64(c.Jobs))
	}
	return 1
}

// guard returns the check's relative tolerance at its size.
func (c Check) guard() float64 { return c.Guard * c.widen() }

// littleTolerance is the largest Little's-law error accepted: 0.5% at 100,000 jobs.
func (c Check) littleTolerance() float64 { return 0.005 * c.widen() }

func secs(d time.Duration) float64 { return d.Seconds() }

// direct builds a direct-queueing scenario with about n jobs: one Poisson tenant at rate
// lambda per second, service dist, c workers.
func direct(name string, lambda float64, service Dist, c, n int) *Scenario {
	d := time.Duration(float64(n) / lambda * 1e9)
	return &Scenario{
		Name: name, Duration: d, Drain: d, Warmup: d / 10,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(lambda), Service: service}},
		Workers: Workers{Count: c},
		Metrics: Metrics{Window: d / 20},
	}
}

// Checks returns the queueing-theory checks at about n jobs per replication
// (reference/simulation.md §2): M/M/1, M/M/c (Erlang C), M/D/1 (Pollaczek–Khinchine),
// M/M/1/K, Erlang B, a burst-1 throttle as M/D/1, per-tenant concurrency caps as independent
// M/M/k queues, and fair admission keeping FCFS's overall mean wait.
func Checks(n int) []Check {
	wait := func(r *Result) float64 { return secs(r.Overall.Queue.Mean) }
	var cs []Check
	for _, lambda := range []float64{0.5, 0.8} {
		cs = append(cs, Check{
			Name: fmt.Sprintf("M/M/1 rho=%.1f", lambda), Metric: "Wq",
			Scenario: direct(fmt.Sprintf("mm1-%.1f", lambda), lambda, Exp(time.Second), 1, n),
			Expected: lambda / (1 - lambda), Guard: 0.05, Measure: wait,
		})
	}
	for _, tc := range []struct {
		c      int
		lambda float64
		guard  float64
	}{{2, 1.6, 0.06}, {4, 3, 0.06}, {8, 7.2, 0.10}} {
		cs = append(cs, Check{
			Name: fmt.Sprintf("M/M/%d rho=%.2f", tc.c, tc.lambda/float64(tc.c)), Metric: "Wq",
			Scenario: direct(fmt.Sprintf("mm%d", tc.c), tc.lambda, Exp(time.Second), tc.c, n),
			Expected: ErlangC(tc.c, tc.lambda) / (float64(tc.c) - tc.lambda), Guard: tc.guard, Measure: wait,
		})
	}
	cs = append(cs, Check{
		Name: "M/D/1 rho=0.8", Metric: "Wq", Scenario: direct("md1", 0.8, Det(time.Second), 1, n),
		Expected: 0.8 / (2 * (1 - 0.8)), Guard: 0.05, Measure: wait,
	})
	mm1k := direct("mm1k", 0.9, Exp(time.Second), 1, n)
	mm1k.Workers.Capacity = 10
	block, w := MM1K(0.9, 1, 10)
	blocked := func(r *Result) float64 { return float64(r.Overall.Rejected) / float64(r.Overall.Arrived) }
	cs = append(cs,
		Check{Name: "M/M/1/10 lambda=0.9", Metric: "P(block)", Scenario: mm1k, Expected: block, Guard: 0.08, Measure: blocked},
		Check{Name: "M/M/1/10 lambda=0.9", Metric: "W", Scenario: mm1k, Expected: w, Guard: 0.05,
			Measure: func(r *Result) float64 { return secs(r.Overall.Total.Mean) }},
	)
	erlang := direct("erlang-b", 3, Exp(time.Second), 4, n)
	erlang.Workers.Capacity = 4
	cs = append(cs, Check{Name: "Erlang B c=4 a=3", Metric: "P(block)", Scenario: erlang, Expected: ErlangB(4, 3), Guard: 0.05, Measure: blocked})

	// A throttle with burst 1 in front of an unbounded pool: admission n happens at
	// max(a_n, s_{n−1} + 1/r), the Lindley recursion of M/D/1 with D = 1/r.
	tb := direct("throttle-md1", 0.8, Det(time.Millisecond), 1000, n)
	tb.Admission = &Admission{EventDriven: true, Throttle: &tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 1}}
	cs = append(cs, Check{Name: "throttle r=1 burst=1 lambda=0.8 (M/D/1)", Metric: "admission lag", Scenario: tb,
		Expected: 0.8 / (2 * (1 - 0.8)), Guard: 0.05, Measure: func(r *Result) float64 { return secs(r.Overall.Admission.Mean) }})

	// Per-tenant caps with a pool that never binds: independent M/M/k_i queues.
	d := time.Duration(float64(n) / 3.8 * 1e9 * 0.6)
	caps := &Scenario{
		Name: "caps", Duration: d, Drain: d, Warmup: d / 10,
		Tenants: []Tenant{
			{Name: "a", Arrivals: Poisson(1.6), Service: Exp(time.Second), MaxInFlight: 2},
			{Name: "b", Arrivals: Poisson(2.2), Service: Exp(time.Second), MaxInFlight: 3},
		},
		Workers:   Workers{Count: 20},
		Admission: &Admission{EventDriven: true, Concurrency: 1},
		Metrics:   Metrics{Window: d / 20},
	}
	for i, tc := range []struct {
		k      int
		lambda float64
	}{{2, 1.6}, {3, 2.2}} {
		cs = append(cs, Check{Name: fmt.Sprintf("cap %d per tenant, lambda=%.1f (M/M/%d)", tc.k, tc.lambda, tc.k), Metric: "admission lag",
			Scenario: caps, Expected: ErlangC(tc.k, tc.lambda) / (float64(tc.k) - tc.lambda), Guard: 0.06,
			Measure: func(r *Result) float64 { return secs(r.Tenants[i].Admission.Mean) }})
	}

	// Fair admission (round-robin keys taking turns, fair interleave, a global cap as the only
	// bottleneck) changes who waits, not the overall mean (Kleinrock's conservation law).
	const c = 4
	d = time.Duration(float64(n) * 0.8 / 3.2 * 1e9)
	fair := &Scenario{
		Name: "fair", Duration: d, Drain: d, Warmup: d / 10,
		Tenants: []Tenant{
			{Name: "heavy", Arrivals: Poisson(2.4), Service: Exp(time.Second)},
			{Name: "light-0", Arrivals: Poisson(0.4), Service: Exp(time.Second)},
			{Name: "light-1", Arrivals: Poisson(0.4), Service: Exp(time.Second)},
		},
		Workers:   Workers{Count: c},
		Admission: &Admission{EventDriven: true, GlobalCap: c, RoundRobin: true, FairInterleave: true},
		Metrics:   Metrics{Window: d / 20},
	}
	cs = append(cs, Check{Name: "fair admission, M/M/4 rho=0.8", Metric: "overall wait", Scenario: fair,
		Expected: ErlangC(c, 3.2) / (c - 3.2), Guard: 0.06,
		Measure: func(r *Result) float64 { return secs(r.Overall.Admission.Mean + r.Overall.Queue.Mean) }})
	for i := range cs {
		cs[i].Jobs = n
	}
	return cs
}

// Outcome is one check's result over replications.
type Outcome struct {
	Check
	Estimate Estimate
	// MaxLittle is the largest Little's-law error of the replications.
	MaxLittle float64
	Pass      bool
}

// RunCheck runs reps replications of c's scenario (parallel as in Replicate) and compares the
// metric's mean with the exact value: it passes when the value lies in the 99% confidence
// interval, the mean is within the guard, and Little's law holds to 0.5% in every replication
// (both tolerances widen as 1/√jobs below 100,000 jobs).
func RunCheck(c Check, seed uint64, reps, parallel int) (Outcome, error) {
	res, err := Replicate(c.Scenario, seed, reps, parallel)
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Check: c}
	xs := make([]float64, len(res))
	for i, r := range res {
		xs[i] = c.Measure(r)
		o.MaxLittle = max(o.MaxLittle, r.LittleError)
	}
	o.Estimate = EstimateOf(xs, 0.99)
	o.Pass = o.Estimate.Covers(c.Expected) && math.Abs(o.Estimate.Mean-c.Expected) <= c.guard()*c.Expected && o.MaxLittle < c.littleTolerance()
	return o, nil
}

// The formulas below return NaN when an argument is out of range (a rate or a service time
// that is not finite and > 0, a probability outside [0, 1)) and +Inf for a mean when the
// queue is unstable (ρ >= 1). Times are in seconds and rates per second.

// MG1Wait returns the mean wait in queue of M/G/1 (Pollaczek–Khinchine): λE[S²]/(2(1−ρ))
// with ρ = λ·mean and E[S²] = mean²(1 + scv), where scv is the squared coefficient of
// variation of the service time (1 for exponential, 0 for deterministic).
func MG1Wait(lambda, mean, scv float64) float64 {
	if !positive(lambda) || !positive(mean) || !(scv >= 0) || math.IsInf(scv, 0) {
		return math.NaN()
	}
	rho := lambda * mean
	if rho >= 1 {
		return math.Inf(1)
	}
	return lambda * mean * mean * (1 + scv) / (2 * (1 - rho))
}

// MD1Wait returns the mean wait in queue of M/D/1 with service time d: ρd/(2(1−ρ)), half
// of M/M/1's.
func MD1Wait(lambda, d float64) float64 { return MG1Wait(lambda, d, 0) }

// MMcWait returns the mean wait in queue of M/M/c with arrival rate lambda and service rate
// mu per server (Erlang C): C(c, λ/μ)/(cμ − λ).
func MMcWait(c int, lambda, mu float64) float64 {
	if c < 1 || !positive(lambda) || !positive(mu) {
		return math.NaN()
	}
	if lambda >= float64(c)*mu {
		return math.Inf(1)
	}
	return ErlangC(c, lambda/mu) / (float64(c)*mu - lambda)
}

// MD1WaitCDF returns P(W <= t) for the wait W of M/D/1 with arrival rate lambda and service
// time d (Erlang 1909, Crommelin 1932):
//
//	P(W <= t) = (1−ρ) Σ_{k=0}^{⌊t/d⌋} e^{λ(t−kd)} (−λ(t−kd))^k / k!
//
// The terms alternate and grow like e^{2λt}, so the sum is taken in math/big with enough
// bits (about 3λt) to stay exact to float64 precision. Cost: O((t/d)·log(t/d)) big-float operations.
func MD1WaitCDF(lambda, d, t float64) float64 {
	if !positive(lambda) || !positive(d) || math.IsNaN(t) {
		return math.NaN()
	}
	rho := lambda * d
	switch {
	case rho >= 1:
		return 0
	case t < 0:
		return 0
	case math.IsInf(t, 1):
		return 1
	}
	b := newMD1Big(lambda, d, t)
	sum := b.f()
	ek := b.exp(b.lt)           // e^{λt − kλd}, from k = 0
	q := b.exp(b.f().Neg(b.ld)) // e^{−λd}
	fact := b.f().SetInt64(1)   // k!
	for k := 0; ; k++ {
		v := b.v(k)
		if v.Sign() < 0 {
			break
		}
		if k > 0 {
			fact.Mul(fact, b.f().SetInt64(int64(k)))
		}
		term := b.pow(b.f().Neg(v), k) // e^{v} (−v)^k / k!
		term.Mul(term, ek)
		sum.Add(sum, term.Quo(term, fact))
		ek.Mul(ek, q)
	}
	p, _ := sum.Float64()
	return math.Min(1, math.Max(0, (1-rho)*p))
}

// MD1WaitQuantile returns the p-quantile of M/D/1's wait: 0 when p <= 1−ρ (the arrivals that
// do not wait), otherwise the t with P(W <= t) = p, by bisection to a relative 1e-9.
func MD1WaitQuantile(lambda, d, p float64) float64 {
	if !positive(lambda) || !positive(d) || !(p >= 0 && p < 1) {
		return math.NaN()
	}
	if lambda*d >= 1 {
		return math.Inf(1)
	}
	if p <= 1-lambda*d {
		return 0
	}
	lo, hi := 0.0, d
	for MD1WaitCDF(lambda, d, hi) < p {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1e-9*hi {
		mid := (lo + hi) / 2
		if MD1WaitCDF(lambda, d, mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// ThrottleWait returns the mean wait of Poisson jobs (lambda per second) in front of a
// token bucket of rate tokens per second and the given burst, refilled continuously,
// initially full, that admits waiting jobs first come first served.
//
// The bucket's deficit plus the waiting jobs, counted in 1/rate units of time, is exactly
// the workload of an M/D/1 queue with service time D = 1/rate (each arrival adds D; it
// drains at rate 1), and a job waits until that workload, its own share included, falls to
// burst·D. So a job's wait is (W − (burst−1)D)⁺, where W is its wait in that M/D/1 queue:
// with burst 1 it is M/D/1's (Pollaczek–Khinchine), and each extra token of burst takes D
// off every wait. The mean is
//
//	E[(W − c)⁺] = E[W] − c + ∫_0^c P(W <= t) dt,   c = (burst−1)D,
//
// and the integral of MD1WaitCDF's sum has a closed form term by term. Cost:
// O(burst²) big-float operations.
func ThrottleWait(lambda, rate float64, burst int) float64 {
	if !positive(lambda) || !positive(rate) || burst < 1 {
		return math.NaN()
	}
	d := 1 / rate
	if lambda*d >= 1 {
		return math.Inf(1)
	}
	c := float64(burst-1) * d
	w := MD1Wait(lambda, d)
	if burst == 1 {
		return w
	}
	return math.Max(0, w-c+md1CDFIntegral(lambda, d, c))
}

// ThrottleWaitQuantile returns the p-quantile of the wait in front of the token bucket of
// ThrottleWait: max(0, MD1WaitQuantile(lambda, 1/rate, p) − (burst−1)/rate).
func ThrottleWaitQuantile(lambda, rate float64, burst int, p float64) float64 {
	if !positive(rate) || burst < 1 {
		return math.NaN()
	}
	q := MD1WaitQuantile(lambda, 1/rate, p)
	return math.Max(0, q-float64(burst-1)/rate)
}

// ThrottleBurstFor returns the smallest burst whose mean wait (ThrottleWait) is at most
// target seconds, for Poisson arrivals at lambda per second through a token bucket of rate
// tokens per second: the burst to configure for a lag objective. It returns 0 when no burst
// will do (rate <= lambda: the bucket is overloaded) and -1 for arguments out of range. The
// wait falls exponentially with the burst, so the search (doubling, then bisection) takes
// O(log burst) evaluations of ThrottleWait.
func ThrottleBurstFor(lambda, rate, target float64) int {
	if !positive(lambda) || !positive(rate) || !(target >= 0) || math.IsInf(target, 0) {
		return -1
	}
	if rate <= lambda || target == 0 {
		return 0
	}
	ok := func(b int) bool { return ThrottleWait(lambda, rate, b) <= target }
	lo, hi := 0, 1 // ok(hi), !ok(lo)
	for !ok(hi) {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// md1CDFIntegral returns ∫_0^c P(W <= t) dt for M/D/1. With v_k = λ(c − kd), each term of
// the CDF integrates in closed form (the antiderivative of e^v v^k/k! is
// e^v Σ_{j<=k} (−1)^{k−j} v^j/j!), which gives
//
//	(1−ρ)/λ · Σ_{k=0}^{⌊c/d⌋} [ e^{v_k} Σ_{j=0}^{k} (−v_k)^j/j! − 1 ].
func md1CDFIntegral(lambda, d, c float64) float64 {
	b := newMD1Big(lambda, d, c)
	sum := b.f()
	ek := b.exp(b.lt)
	q := b.exp(b.f().Neg(b.ld))
	one := b.f().SetInt64(1)
	for k := 0; ; k++ {
		v := b.v(k)
		if v.Sign() < 0 {
			break
		}
		partial, term := b.f().SetInt64(1), b.f().SetInt64(1)
		mv := b.f().Neg(v)
		for j := 1; j <= k; j++ {
			term.Mul(term, mv)
			term.Quo(term, b.f().SetInt64(int64(j)))
			partial.Add(partial, term)
		}
		partial.Mul(partial, ek)
		sum.Add(sum, partial.Sub(partial, one))
		ek.Mul(ek, q)
	}
	s, _ := sum.Float64()
	return (1 - lambda*d) / lambda * s
}

// md1Big holds λt and λd as exact big floats (the float64 inputs are exact binary numbers),
// so that every v_k = λt − kλd, and every e^{v_k}, comes from the same exact inputs: the
// alternating sums cancel only if the terms are consistent to the working precision.
type md1Big struct {
	prec   uint
	lt, ld *big.Float
}

func newMD1Big(lambda, d, t float64) md1Big {
	// The largest terms are about e^{2λt}; keep 2λt·log2(e) bits for the cancellation, 64 for
	// float64's result and its rounding, and some for the number of terms.
	prec := uint(128 + 3*lambda*t + math.Log2(2+t/d))
	b := md1Big{prec: prec}
	l := b.f().SetFloat64(lambda)
	b.lt = b.f().Mul(l, b.f().SetFloat64(t))
	b.ld = b.f().Mul(l, b.f().SetFloat64(d))
	return b
}

func (b md1Big) f() *big.Float { return new(big.Float).SetPrec(b.prec) }

// v returns λt − kλd.
func (b md1Big) v(k int) *big.Float {
	v := b.f().Mul(b.ld, b.f().SetInt64(int64(k)))
	return v.Sub(b.lt, v)
}

// pow returns x^k by repeated squaring.
func (b md1Big) pow(x *big.Float, k int) *big.Float {
	r := b.f().SetInt64(1)
	for sq := b.f().Set(x); k > 0; k >>= 1 {
		if k&1 == 1 {
			r.Mul(r, sq)
		}
		if k > 1 {
			sq.Mul(sq, sq)
		}
	}
	return r
}

// exp returns e^x to the working precision: e^{x/2^s} by its Taylor series, with s chosen
// so that x/2^s < 1/2, then squared s times (s guard bits cover the squarings).
func (b md1Big) exp(x *big.Float) *big.Float {
	if x.Sign() < 0 {
		r := b.exp(b.f().Neg(x))
		return r.Quo(b.f().SetInt64(1), r)
	}
	s := 0
	if xf, _ := x.Float64(); xf > 0.5 {
		s = int(math.Ceil(math.Log2(xf / 0.5)))
	}
	prec := b.prec + uint(s) + 16
	f := func() *big.Float { return new(big.Float).SetPrec(prec) }
	y := f().SetMantExp(f().Set(x), -s) // x / 2^s
	sum, term := f().SetInt64(1), f().SetInt64(1)
	eps := f().SetMantExp(f().SetInt64(1), -int(prec))
	for n := int64(1); ; n++ {
		term.Mul(term, y)
		term.Quo(term, f().SetInt64(n))
		sum.Add(sum, term)
		if term.Cmp(eps) < 0 {
			break
		}
	}
	for range s {
		sum.Mul(sum, sum)
	}
	return b.f().Set(sum)
}

// RoundRobinSojourn returns the mean time in system when Poisson arrivals (lambda per second)
// are dealt round robin to n servers, each a FIFO queue with exponential service at rate mu:
// every server sees every n-th arrival, an Erlang-n renewal stream, so each is an E_n/M/1
// queue (a GI/M/1 queue): with σ the root in (0, 1) of σ = (λ/(λ + μ(1−σ)))^n, the mean time
// in system is 1/(μ(1−σ)). n = 1 is M/M/1.
func RoundRobinSojourn(n int, lambda, mu float64) float64 {
	if n < 1 || !positive(lambda) || !positive(mu) {
		return math.NaN()
	}
	if lambda >= float64(n)*mu {
		return math.Inf(1)
	}
	// σ ↦ A*(μ(1−σ)) is increasing and convex with a fixed point in (0, 1) when ρ < 1; the
	// iteration from 0 climbs to it monotonically.
	sigma := 0.0
	for range 100_000 {
		next := math.Pow(lambda/(lambda+mu*(1-sigma)), float64(n))
		if math.Abs(next-sigma) < 1e-15 {
			sigma = next
			break
		}
		sigma = next
	}
	return 1 / (mu * (1 - sigma))
}

// PowerOfDSojourn returns the mean time in system, in units of the mean service time, of the
// supermarket model (Mitzenmacher 2001; Vvedenskaya et al. 1996): N → ∞ FIFO servers with
// exponential service, load rho per server, each job joining the shortest of d servers
// chosen at random: Σ_{i>=1} ρ^{(d^i−d)/(d−1)}. d = 1 (random choice) gives M/M/1's
// 1/(1−ρ). With finitely many servers the mean is higher: about 1% at N = 1000 and 10–35%
// at N = 10 (reference/simulation.md §2.2).
func PowerOfDSojourn(rho float64, d int) float64 {
	if !(rho > 0) || d < 1 {
		return math.NaN()
	}
	if rho >= 1 {
		return math.Inf(1)
	}
	if d == 1 {
		return 1 / (1 - rho)
	}
	sum, pow := 0.0, float64(d) // pow = d^i
	for i := 1; ; i++ {
		term := math.Pow(rho, (pow-float64(d))/float64(d-1))
		sum += term
		if term < 1e-17 || pow > 1e300 {
			return sum
		}
		pow *= float64(d)
	}
}

func positive(x float64) bool { return x > 0 && !math.IsInf(x, 0) }
