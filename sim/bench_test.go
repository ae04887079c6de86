package sim

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// mm8 is reference/simulation.md's headline model: M/M/8, λ = 7.2, μ = 1 (ρ = 0.9), n jobs.
func mm8(n int) *Scenario {
	d := time.Duration(float64(n) / 7.2 * 1e9)
	return &Scenario{
		Name: "mm8", Duration: d, Drain: d, Warmup: d / 10,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(7.2), Service: Exp(time.Second)}},
		Workers: Workers{Count: 8},
	}
}

// mm8Admission is the same load split over tenants, staged into an admission policy with a
// throttle, a concurrency cap and a fair interleave, ticked every 50ms.
func mm8Admission(n, tenants int) *Scenario {
	sc := mm8(n)
	sc.Name = "mm8-admission"
	sc.Tenants = []Tenant{{Name: "t", Count: tenants, Arrivals: Poisson(7.2 / float64(tenants)), Service: Exp(time.Second)}}
	sc.Admission = &Admission{
		TickInterval:   50 * time.Millisecond,
		Throttle:       &tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 10},
		Concurrency:    4,
		FairInterleave: true,
	}
	return sc
}

func benchRun(b *testing.B, sc *Scenario) {
	b.ReportAllocs()
	var jobs uint64
	for i := 0; b.Loop(); i++ {
		r, err := Run(sc, 1, i)
		if err != nil {
			b.Fatal(err)
		}
		jobs += r.Overall.Completed
	}
	b.ReportMetric(float64(jobs)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkMM8 runs M/M/8 at ρ = 0.9 with 1,000,000 jobs per run; compare jobs/s with SimPy
// (testdata/simpy/mm8.py) run on the same machine.
func BenchmarkMM8(b *testing.B) {
	b.Run("direct/jobs=1e6", func(b *testing.B) { benchRun(b, mm8(1_000_000)) })
	b.Run("admission/tenants=100/jobs=1e6", func(b *testing.B) { benchRun(b, mm8Admission(1_000_000, 100)) })
}

// BenchmarkScale is 10,000,000 jobs over 100,000 tenants (M/M/8 load), for time and peak
// memory (HeapSys after the run, a proxy for the process's peak).
func BenchmarkScale(b *testing.B) {
	if testing.Short() {
		b.Skip("long")
	}
	sc := mm8Admission(10_000_000, 100_000)
	sc.Metrics.Accuracy = 0.02
	b.ReportAllocs()
	var ms runtime.MemStats
	for i := 0; b.Loop(); i++ {
		if _, err := Run(sc, 1, i); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-MiB")
}

// BenchmarkSize is simulator throughput against size, for BENCHMARKS.md's scaling figure:
// the admission model (throttle + concurrency + fair interleave) with the same total load
// over more and more tenants, and direct M/M/c at ρ = 0.9 with more and more workers (about
// 0.9c jobs in service at once). A run has 200,000 jobs, or 20 per tenant if that is more,
// so that per-tenant setup does not dominate.
func BenchmarkSize(b *testing.B) {
	const jobs = 200_000
	for _, n := range []int{10, 100, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) { benchRun(b, mm8Admission(max(jobs, 20*n), n)) })
	}
	for _, c := range []int{8, 64, 512, 4096, 32768} {
		b.Run(fmt.Sprintf("workers=%d", c), func(b *testing.B) {
			lambda := 0.9 * float64(c)
			d := time.Duration(float64(jobs) / lambda * 1e9)
			benchRun(b, &Scenario{
				Name: "mmc", Duration: d, Warmup: d / 10,
				Tenants: []Tenant{{Name: "t", Arrivals: Poisson(lambda), Service: Exp(time.Second)}},
				Workers: Workers{Count: c},
				Metrics: Metrics{Window: max(d/100, time.Millisecond)},
			})
		})
	}
}
