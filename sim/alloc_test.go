package sim

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine allocates nothing per event once its tables have grown: the hold model (pop
// the next event, schedule another), with a cancellation for every other event.
func TestEngineSteadyStateAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var e *Engine[int32]
	e = NewEngine(func(now time.Duration, id int32) {
		e.At(now+time.Duration(r.ExpFloat64()*1e6), id)
		if id%2 == 0 {
			e.Cancel(e.After(time.Duration(r.IntN(1000)), id+1)) // cancelled: skipped lazily
		}
	})
	for i := range 1000 {
		e.At(time.Duration(r.ExpFloat64()*1e6), int32(i))
	}
	for range 100_000 { // grow the tables
		e.Step()
	}
	allocs := testing.AllocsPerRun(100, func() {
		for range 1000 {
			e.Step()
		}
	})
	assert.Zero(t, allocs, "allocations per 1,000 events")
	assert.Less(t, e.Len(), 3000, "cancelled events are skipped, not left to pile up")
}

// A run's allocations do not grow with its jobs: setup, windows and the latency bins'
// occasional widening, but nothing per event and nothing kept per job (memory is
// O(tenants + in-flight)), with and without admission.
func TestRunAllocsPerJob(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, build := range []func(n int) *Scenario{
		mm8,
		// Ten tenants: their latency bins fill (and stop growing) within the smaller run.
		func(n int) *Scenario { return mm8Admission(n, 10) },
	} {
		allocs := func(n int) (count, bytes float64, jobs uint64) {
			sc := build(n)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			count = testing.AllocsPerRun(1, func() {
				res, err := Run(sc, 1, 0)
				require.NoError(t, err)
				jobs = res.Overall.Completed
			})
			runtime.ReadMemStats(&after)
			return count, float64(after.TotalAlloc-before.TotalAlloc) / 2, jobs // AllocsPerRun runs twice
		}
		a1, b1, j1 := allocs(50_000)
		a2, b2, j2 := allocs(200_000)
		perJob, bytesPerJob := (a2-a1)/float64(j2-j1), (b2-b1)/float64(j2-j1)
		t.Logf("%s: %.0f allocs, %.0f bytes for %d jobs; %.0f, %.0f for %d: %.4f allocs, %.2f bytes per extra job",
			build(1).Name, a1, b1, j1, a2, b2, j2, perJob, bytesPerJob)
		assert.Less(t, perJob, 0.01, "%s: allocations per job", build(1).Name)
		// Keeping anything per job would cost at least 8 bytes a job.
		assert.Less(t, bytesPerJob, 4.0, "%s: bytes allocated per job", build(1).Name)
	}
}

// Adding tenants before and after a tenant shifts none of its draws: its arrivals, service
// times and failures come from its own streams (named by the tenant), so with workers enough
// that nobody waits its results are the same bit for bit.
func TestAddingTenantsShiftsNoDraws(t *testing.T) {
	a := Tenant{Name: "a", Arrivals: Poisson(2), Service: Dist{Kind: "lognormal", Mean: time.Second, Sigma: 0.5}, FailureRate: 0.1}
	run := func(tenants ...Tenant) TenantResult {
		sc := &Scenario{Name: "shift", Duration: 500 * time.Second, Tenants: tenants, Workers: Workers{Count: 200}}
		r, err := Run(sc, 9, 2)
		require.NoError(t, err)
		for _, tr := range r.Tenants {
			if tr.Name == "a" {
				return tr
			}
		}
		t.Fatal("no tenant a")
		return TenantResult{}
	}
	alone := run(a)
	crowd := run(
		Tenant{Name: "before", Count: 3, Arrivals: Poisson(5), Service: Exp(time.Second), FailureRate: 0.5},
		a,
		Tenant{Name: "after", Arrivals: Arrivals{Kind: "diurnal", Rate: 4, Amplitude: 0.5, Period: time.Minute}, Service: Exp(2 * time.Second)},
	)
	require.Zero(t, alone.Queue.Mean, "nobody waits: a's latencies are its service times")
	assert.Positive(t, alone.Failed)
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"arrived", crowd.Arrived, alone.Arrived},
		{"failed", crowd.Failed, alone.Failed},
		{"service", crowd.Service, alone.Service},
		{"total", crowd.Total, alone.Total},
		{"total CDF", crowd.TotalCDF, alone.TotalCDF},
	} {
		assert.Equal(t, f.want, f.got, "tenant a's %s changed when tenants were added", f.name)
	}
}
