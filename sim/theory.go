package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// ErlangC returns the probability that an arrival waits in M/M/c with offered load a = λ/μ
// (a < c).
func ErlangC(c int, a float64) float64 {
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

// ErlangB returns the blocking probability of M/M/c/c with offered load a.
func ErlangB(c int, a float64) float64 {
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// MM1K returns the blocking probability and the mean time in system of M/M/1/K.
func MM1K(lambda, mu float64, k int) (block, w float64) {
	rho := lambda / mu
	norm := 1 - math.Pow(rho, float64(k+1))
	block = (1 - rho) * math.Pow(rho, float64(k)) / norm
	var l float64
	for n := 0; n <= k; n++ {
		l += float64(n) * (1 - rho) * math.Pow(rho, float64(n)) / norm
	}
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
