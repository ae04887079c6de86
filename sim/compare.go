package sim

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// RunOptions say how Compare and Sweep run their scenarios.
type RunOptions struct {
	// Seed is the seed of every run. Replication r of every scenario uses the same random
	// streams (common random numbers), so differences between scenarios are theirs, not noise.
	Seed uint64
	// Replications per scenario; zero means 1.
	Replications int
	// Parallel is the most runs at once; zero or less means GOMAXPROCS. Results do not
	// depend on it.
	Parallel int
	// Level is the confidence level of the summaries' intervals; zero means 0.95.
	Level float64
}

func (o RunOptions) normalize() (RunOptions, error) {
	switch {
	case o.Replications < 0:
		return o, fmt.Errorf("sim: Replications must be >= 0 (0 means 1), got %d", o.Replications)
	case o.Level != 0 && !(o.Level > 0 && o.Level < 1):
		return o, fmt.Errorf("sim: Level must be in (0, 1) (0 means 0.95), got %v", o.Level)
	}
	if o.Replications == 0 {
		o.Replications = 1
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	return o, nil
}

// runAll runs o.Replications replications of every scenario, up to o.Parallel at once, and
// returns out[scenario][replication]. Each run owns its state and random streams, so the
// results do not depend on the parallelism or the order in which runs finish.
func runAll(scs []*Scenario, o RunOptions) ([][]*Result, error) {
	for i, sc := range scs {
		if sc == nil {
			return nil, fmt.Errorf("sim: scenario %d is nil", i)
		}
		if err := sc.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([][]*Result, len(scs))
	errs := make([]error, len(scs)*o.Replications)
	for i := range out {
		out[i] = make([]*Result, o.Replications)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(o.Parallel, len(errs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				i, rep := k/o.Replications, k%o.Replications
				out[i][rep], errs[k] = Run(scs[i], o.Seed, rep)
			}
		}()
	}
	for k := range errs {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Variant is one named configuration in a comparison.
type Variant struct {
	Name     string
	Scenario *Scenario
}

// VariantResult is one variant's replications and their summary.
type VariantResult struct {
	Name    string
	Results []*Result // in replication order
	Summary Summary
}

// Compare runs every variant o.Replications times with the same seeds (common random
// numbers: replication r of every variant sees the same arrivals and service draws, as long
// as the variants have the same tenants) and summarises each. The results do not depend on
// o.Parallel. It returns the first invalid scenario's error before running anything.
func Compare(variants []Variant, o RunOptions) ([]VariantResult, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	scs := make([]*Scenario, len(variants))
	for i, v := range variants {
		scs[i] = v.Scenario
	}
	res, err := runAll(scs, o)
	if err != nil {
		return nil, err
	}
	out := make([]VariantResult, len(variants))
	for i, v := range variants {
		out[i] = VariantResult{Name: v.Name, Results: res[i], Summary: Summarize(v.Name, res[i], o.Level)}
	}
	return out, nil
}

// Summaries returns the summaries of vs, in order.
func Summaries(vs []VariantResult) []Summary {
	out := make([]Summary, len(vs))
	for i, v := range vs {
		out[i] = v.Summary
	}
	return out
}

// PairedDifference returns the mean of measure(b[r]) − measure(a[r]) over replications r,
// with a confidence interval at level (0.95 if zero). With common random numbers the two
// runs of a replication share their randomness, so the paired interval is much narrower
// than the two means' intervals: it tells whether b really differs from a. a and b must
// hold the same replications (the same length); PairedDifference panics otherwise.
func PairedDifference(a, b []*Result, measure func(*Result) float64, level float64) Estimate {
	if len(a) != len(b) {
		panic(fmt.Sprintf("sim: PairedDifference: %d and %d replications; they must pair up", len(a), len(b)))
	}
	if level == 0 {
		level = 0.95
	}
	d := make([]float64, len(a))
	for i := range a {
		d[i] = measure(b[i]) - measure(a[i])
	}
	return EstimateOf(d, level)
}
