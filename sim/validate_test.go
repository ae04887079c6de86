package sim

import (
	"flag"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// The validation tests check the simulator against queueing theory: each runs R seeded
// replications and requires the exact value to lie within the 99% confidence interval of
// the replication means, and within a relative guard, so that a wide interval cannot hide a
// bias (reference/simulation.md §2.4). Expectations are computed from the formulas here,
// not pasted. -long runs 30 replications of ten times as many jobs.
var long = flag.Bool("long", false, "run the long validation (30 replications, 10× the jobs)")

// scale returns the replications and the jobs per replication for a validation run.
func scale(jobs int) (reps, n int) {
	switch {
	case *long:
		return 30, jobs * 10
	case raceEnabled:
		return 10, jobs / 5
	}
	return 10, jobs
}

// TestValidate runs every queueing-theory check of Checks (M/M/1, M/M/c, M/D/1, M/M/1/K,
// Erlang B, throttle as M/D/1, per-tenant caps as M/M/k, fair admission keeping the FCFS mean):
// the exact value must lie in the 99% confidence interval of the replication means and within
// the check's relative guard, and Little's law must hold to 0.5% in every replication.
func TestValidate(t *testing.T) {
	reps, n := scale(100_000)
	for _, c := range Checks(n) {
		t.Run(c.Name+"/"+c.Metric, func(t *testing.T) {
			t.Parallel()
			o, err := RunCheck(c, 1, reps, 1)
			require.NoError(t, err)
			t.Logf("%s: %s = %.4f ± %.4f (99%%, %d reps), exact %.4f, Little %.3f%%",
				c.Name, c.Metric, o.Estimate.Mean, o.Estimate.HalfWidth, o.Estimate.N, c.Expected, 100*o.MaxLittle)
			if !o.Pass {
				t.Errorf("%s: %s = %.5f ± %.5f, exact %.5f (guard %.0f%%), Little's law off by up to %.3f%%",
					c.Name, c.Metric, o.Estimate.Mean, o.Estimate.HalfWidth, c.Expected, 100*c.guard(), 100*o.MaxLittle)
			}
		})
	}
}

// M/M/c's waiting-time tail: P(Wq > t) = C·e^{−(cμ−λ)t}, so p95 = ln(C/0.05)/(cμ−λ),
// within the sketch's accuracy.
func TestValidateMMcTail(t *testing.T) {
	t.Parallel()
	reps, n := scale(100_000)
	for _, c := range Checks(n) {
		if c.Scenario.Name != "mm4" {
			continue
		}
		res, err := Replicate(c.Scenario, 1, reps, 1)
		require.NoError(t, err)
		var got []float64
		for _, r := range res {
			got = append(got, r.Overall.Queue.P95.Seconds())
		}
		want := math.Log(ErlangC(4, 3)/0.05) / (4 - 3)
		if e := EstimateOf(got, 0.99); math.Abs(e.Mean-want)/want > 0.06 {
			t.Errorf("M/M/4 Wq p95 = %.4f, exact %.4f", e.Mean, want)
		}
	}
}

// Fair admission favours the light tenants while keeping the overall mean (checked above).
func TestFairAdmissionFavoursLightTenants(t *testing.T) {
	_, n := scale(100_000)
	for _, c := range Checks(n) {
		if c.Scenario.Name != "fair" {
			continue
		}
		r, err := Run(c.Scenario, 1, 0)
		require.NoError(t, err)
		heavy, light := r.Tenants[0].Admission.Mean, r.Tenants[1].Admission.Mean
		if !(light < heavy) {
			t.Errorf("light tenant waits %v, heavy %v: fair admission did not favour the light one", light, heavy)
		}
	}
}

// Under constant overload the adaptive limit shrinks and recovers: a smoke test of the
// admission–worker feedback loop (the limiter's own properties are tested in aimd).
func TestAdaptiveFollowsCapacityDrop(t *testing.T) {
	t.Parallel()
	sc := &Scenario{
		Name: "adaptive", Duration: 400 * time.Second, Drain: 100 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(6), Service: Exp(time.Second)}},
		Workers: Workers{Count: 10, Changes: []CapacityChange{{At: 100 * time.Second, Count: 3}, {At: 250 * time.Second, Count: 10}}},
		Admission: &Admission{TickInterval: 50 * time.Millisecond,
			Adaptive: &aimd.Config{Initial: 10, TargetLag: 500 * time.Millisecond}},
		Metrics: Metrics{Window: 10 * time.Second},
	}
	r, err := Run(sc, 1, 0)
	require.NoError(t, err)
	limitAt := func(at time.Duration) int {
		for _, w := range r.Windows {
			if w.End >= at {
				return w.Tenants[0].Limit
			}
		}
		return -1
	}
	before, during := limitAt(90*time.Second), limitAt(240*time.Second)
	t.Logf("adaptive limit: %d before the drop, %d during, %d after", before, during, limitAt(390*time.Second))
	if during >= before {
		t.Errorf("the limit did not shrink under the capacity drop: %d before, %d during", before, during)
	}
}

// The wait CDFs follow theory: M/M/4's P(W > t) = C·e^{−(cμ−λ)t} in direct queueing, and a
// burst-1 throttle's admission wait M/D/1's distribution (Erlang's formula), within the
// sketch's accuracy and one run's noise.
func TestWaitCDF(t *testing.T) {
	t.Parallel()
	_, n := scale(200_000)
	mmc := direct("mm4", 3, Exp(time.Second), 4, n)
	tb := direct("throttle-md1", 0.8, Det(time.Millisecond), 1000, n)
	tb.Admission = &Admission{EventDriven: true, Throttle: &tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 1}}
	c := ErlangC(4, 3)
	for _, tc := range []struct {
		sc    *Scenario
		exact func(p float64) float64
	}{
		{mmc, func(p float64) float64 { return math.Max(0, math.Log(c/(1-p))/(4-3)) }},
		{tb, func(p float64) float64 { return MD1WaitQuantile(0.8, 1, p) }},
	} {
		r, err := Run(tc.sc, 1, 0)
		require.NoError(t, err)
		cdf := r.Overall.WaitCDF
		require.Len(t, cdf, 99, tc.sc.Name)
		require.Equal(t, cdf, r.Tenants[0].WaitCDF, "%s: one tenant's wait CDF is the system's", tc.sc.Name)
		for _, pct := range []int{10, 30, 60, 80, 90, 95, 99} {
			p := float64(pct) / 100
			got, want := cdf[pct-1].Seconds(), tc.exact(p)
			if want < 1e-3 {
				assert.Zero(t, got, "%s: p%d of the wait", tc.sc.Name, pct)
				continue
			}
			tol := 0.06
			if pct == 99 {
				tol = 0.10 // the tail is the noisiest part of one run
			}
			assert.InEpsilon(t, want, got, tol, "%s: p%d of the wait", tc.sc.Name, pct)
		}
	}
}

// Failures feed the adaptive limit: the same light load with every fifth job failing keeps
// the limit far below the failure-free run's, and the failures are counted.
func TestFailuresShrinkAdaptiveLimit(t *testing.T) {
	limit := func(failureRate float64) (float64, uint64) {
		sc := &Scenario{
			Name: "failures", Duration: 300 * time.Second,
			Tenants: []Tenant{{Name: "t", Arrivals: Poisson(4), Service: Exp(200 * time.Millisecond), FailureRate: failureRate}},
			Workers: Workers{Count: 10},
			Admission: &Admission{TickInterval: 50 * time.Millisecond,
				Adaptive: &aimd.Config{Initial: 5, Max: 50, TargetLag: time.Second}},
			Metrics: Metrics{Window: 10 * time.Second},
		}
		r, err := Run(sc, 1, 0)
		require.NoError(t, err)
		var sum float64
		for _, w := range r.Windows {
			sum += float64(w.Tenants[0].Limit)
		}
		return sum / float64(len(r.Windows)), r.Overall.Failed
	}
	healthy, none := limit(0)
	failing, failed := limit(0.2)
	assert.Zero(t, none)
	assert.InDelta(t, 0.2, float64(failed)/1200, 0.03, "about a fifth of ~1,200 jobs fail")
	assert.Less(t, failing, healthy/2, "mean adaptive limit %.1f with failures, %.1f without", failing, healthy)
}
