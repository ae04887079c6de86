package sim_test

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// A sweep of a throttle's burst with common random numbers, checked against the exact mean
// wait of a token bucket (an M/D/1 queue whose waits are shortened by (burst−1)/rate).
func ExampleSweep() {
	base := &sim.Scenario{
		Name: "throttle", Duration: 500 * time.Second, Warmup: 50 * time.Second,
		Tenants:   []sim.Tenant{{Name: "api", Arrivals: sim.Poisson(8), Service: sim.Det(time.Millisecond)}},
		Workers:   sim.Workers{Count: 100},
		Admission: &sim.Admission{EventDriven: true, Throttle: &tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 1}},
	}
	setBurst := func(sc *sim.Scenario, b int) { sc.Admission.Throttle.Burst = b }
	pts, err := sim.Sweep(base, []int{1, 3, 5}, setBurst, sim.RunOptions{Seed: 1, Replications: 10})
	if err != nil {
		panic(err)
	}
	for _, p := range pts {
		lag := p.Summary.AdmissionMean
		want := sim.ThrottleWait(8, 10, p.Value)
		fmt.Printf("burst %d: mean admission lag %.3f s, formula %.3f s, within the 95%% interval: %v\n", p.Value, lag.Mean, want, lag.Covers(want))
	}
	// Output:
	// burst 1: mean admission lag 0.201 s, formula 0.200 s, within the 95% interval: true
	// burst 3: mean admission lag 0.088 s, formula 0.085 s, within the 95% interval: true
	// burst 5: mean admission lag 0.038 s, formula 0.036 s, within the 95% interval: true
}

// The knee of a throughput/latency trade-off: past it, more throughput costs the most latency.
func ExampleKnee() {
	targets := []string{"10ms", "100ms", "500ms", "1s", "5s"}
	throughput := []float64{43, 56, 70, 74, 78}  // jobs/s
	p99 := []float64{0.49, 0.63, 1.42, 2.4, 9.4} // seconds
	fmt.Println("front:", sim.ParetoFront(throughput, p99))
	if k, ok := sim.Knee(throughput, p99); ok {
		fmt.Printf("knee: %s (%.0f jobs/s, p99 %.2f s)\n", targets[k], throughput[k], p99[k])
	}
	// Output:
	// front: [0 1 2 3 4]
	// knee: 1s (74 jobs/s, p99 2.40 s)
}

// Two admission orderings side by side with the same seeds: the paired difference says how
// much fair interleaving lowers the light tenant's latency.
func ExampleCompare() {
	base := func(a sim.Admission) *sim.Scenario {
		a.TickInterval, a.GlobalCap = 50*time.Millisecond, 2
		return &sim.Scenario{
			Name: "two tenants", Duration: 300 * time.Second, Warmup: 30 * time.Second,
			Tenants: []sim.Tenant{
				{Name: "heavy", Arrivals: sim.Poisson(8), Service: sim.Exp(200 * time.Millisecond)},
				{Name: "light", Arrivals: sim.Poisson(1), Service: sim.Exp(200 * time.Millisecond)},
			},
			Workers:   sim.Workers{Count: 2},
			Admission: &a,
		}
	}
	res, err := sim.Compare([]sim.Variant{
		{Name: "FIFO", Scenario: base(sim.Admission{})},
		{Name: "round robin", Scenario: base(sim.Admission{RoundRobin: true})},
	}, sim.RunOptions{Seed: 1, Replications: 5})
	if err != nil {
		panic(err)
	}
	for _, v := range res {
		fmt.Printf("%-11s light p99 %.2f s, heavy p99 %.2f s\n", v.Name, v.Summary.Tenants[1].TotalP99.Mean, v.Summary.Tenants[0].TotalP99.Mean)
	}
	light := func(r *sim.Result) float64 { return r.Tenants[1].Total.Mean.Seconds() }
	d := sim.PairedDifference(res[0].Results, res[1].Results, light, 0.95)
	fmt.Printf("round robin changes light's mean latency by %.2f s (95%% interval ± %.2f)\n", d.Mean, d.HalfWidth)
	// Output:
	// FIFO        light p99 12.33 s, heavy p99 12.79 s
	// round robin light p99 1.27 s, heavy p99 14.07 s
	// round robin changes light's mean latency by -6.22 s (95% interval ± 3.58)
}
