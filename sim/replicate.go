package sim

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Replicate runs replications 0..r−1 of sc with seed, using up to parallel goroutines
// (GOMAXPROCS if parallel <= 0), and returns the results in replication order. Each
// replication has its own random streams, so the results do not depend on parallel.
func Replicate(sc *Scenario, seed uint64, r, parallel int) ([]*Result, error) {
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	out := make([]*Result, r)
	errs := make([]error, r)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, r) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = Run(sc, seed, i)
			}
		}()
	}
	for i := range r {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Estimate is a mean over replications with a confidence interval.
type Estimate struct {
	Mean float64 `json:"mean"`
	// HalfWidth is the half-width of the two-sided confidence interval at Level, from
	// Student's t with n−1 degrees of freedom; NaN for fewer than two replications.
	HalfWidth float64 `json:"half_width"`
	Level     float64 `json:"level"`
	N         int     `json:"n"`
}

// Covers reports whether x lies within the interval.
func (e Estimate) Covers(x float64) bool { return math.Abs(x-e.Mean) <= e.HalfWidth }

// EstimateOf returns the mean of xs with a two-sided confidence interval at level (0.95, 0.99).
func EstimateOf(xs []float64, level float64) Estimate {
	e := Estimate{Level: level, N: len(xs), HalfWidth: math.NaN()}
	if len(xs) == 0 {
		e.Mean = math.NaN()
		return e
	}
	mean, sd := stat.MeanStdDev(xs, nil)
	e.Mean = mean
	if len(xs) > 1 {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(xs) - 1)}.Quantile(1 - (1-level)/2)
		e.HalfWidth = t * sd / math.Sqrt(float64(len(xs)))
	}
	return e
}
