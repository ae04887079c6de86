package sim_test

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/sim"
)

// An M/M/2 queue at 75% load: one run of 20,000 simulated seconds. The output is pinned, so
// this example also checks that the simulator stays bit-for-bit reproducible.
func Example() {
	sc := &sim.Scenario{
		Name:     "mm2",
		Duration: 20000 * time.Second,
		Warmup:   2000 * time.Second,
		Tenants:  []sim.Tenant{{Name: "t", Arrivals: sim.Poisson(1.5), Service: sim.Exp(time.Second)}},
		Workers:  sim.Workers{Count: 2},
	}
	r, err := sim.Run(sc, 1, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("completed %d jobs\n", r.Overall.Completed)
	fmt.Printf("mean wait %.3fs (Erlang C: 1.286s)\n", r.Overall.Queue.Mean.Seconds())
	fmt.Printf("p99 total %.2fs\n", r.Overall.Total.P99.Seconds())
	fmt.Printf("Little's law error %.2f%%\n", 100*r.LittleError)
	// Output:
	// completed 29878 jobs
	// mean wait 1.324s (Erlang C: 1.286s)
	// p99 total 10.17s
	// Little's law error 0.03%
}
