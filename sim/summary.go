package sim

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// Summary is a scenario's metrics over replications, each an Estimate: the mean over the
// replications with a confidence interval. Latencies are in seconds.
type Summary struct {
	Name         string
	Replications int
	// Throughput is measured completions per second.
	Throughput Estimate
	// AdmissionMean, QueueMean and TotalMean are mean latencies over all measured jobs:
	// arrival to admission, admission to start, arrival to finish. TotalP99 is the 99th
	// percentile of the total latency.
	AdmissionMean, QueueMean, TotalMean, TotalP99 Estimate
	// MeanWaiting is the time-average number of jobs waiting (staged in admission or queued
	// at the workers); MeanInSystem adds the jobs in service.
	MeanWaiting, MeanInSystem Estimate
	// Jain is the mean over windows of Jain's index (1 is fair), and MinJain the worst window.
	Jain, MinJain Estimate
	// Per-worker load (Result.Workers): the time-average queue of the busiest worker, the
	// longest queue any worker had, and the lowest and highest utilisation. With a central
	// queue, the queues are 0.
	BusiestQueue, LongestQueue     Estimate
	MinUtilization, MaxUtilization Estimate
	// Tenants are per tenant, in scenario order (a tenant with Count n is n tenants).
	Tenants []TenantSummary

	workers int // in the first replication
}

// TenantSummary is one tenant's metrics over replications; latencies in seconds.
type TenantSummary struct {
	Name string
	// Throughput is the tenant's measured completions per second, Share its fraction of all.
	Throughput, Share           Estimate
	AdmissionMean, AdmissionP99 Estimate
	QueueMean, QueueP99         Estimate
	TotalMean, TotalP50         Estimate
	TotalP99                    Estimate
}

// Summarize summarises the replications rs of one scenario with confidence intervals at
// level (0.95 if zero). A metric that is NaN in some replication (Jain's index of a run in
// which nothing completed) has a NaN estimate. Results must come from the same scenario, so
// that their tenants line up; Summarize panics if their tenant counts differ.
func Summarize(name string, rs []*Result, level float64) Summary {
	if level == 0 {
		level = 0.95
	}
	est := func(f func(*Result) float64) Estimate {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return EstimateOf(xs, level)
	}
	s := Summary{
		Name: name, Replications: len(rs),
		Throughput:    est(func(r *Result) float64 { return r.Overall.Throughput }),
		AdmissionMean: est(func(r *Result) float64 { return r.Overall.Admission.Mean.Seconds() }),
		QueueMean:     est(func(r *Result) float64 { return r.Overall.Queue.Mean.Seconds() }),
		TotalMean:     est(func(r *Result) float64 { return r.Overall.Total.Mean.Seconds() }),
		TotalP99:      est(func(r *Result) float64 { return r.Overall.Total.P99.Seconds() }),
		MeanWaiting:   est(func(r *Result) float64 { return r.MeanWaiting }),
		MeanInSystem:  est(func(r *Result) float64 { return r.MeanInSystem }),
		Jain:          est(func(r *Result) float64 { return r.Jain }),
		MinJain:       est(func(r *Result) float64 { return r.MinJain }),
	}
	workers := func(f func(WorkerResult) float64, pick func(a, b float64) float64) Estimate {
		return est(func(r *Result) float64 {
			if len(r.Workers) == 0 {
				return math.NaN()
			}
			x := f(r.Workers[0])
			for _, w := range r.Workers[1:] {
				x = pick(x, f(w))
			}
			return x
		})
	}
	s.BusiestQueue = workers(func(w WorkerResult) float64 { return w.MeanQueue }, math.Max)
	s.LongestQueue = workers(func(w WorkerResult) float64 { return float64(w.MaxQueue) }, math.Max)
	s.MinUtilization = workers(func(w WorkerResult) float64 { return w.Utilization }, math.Min)
	s.MaxUtilization = workers(func(w WorkerResult) float64 { return w.Utilization }, math.Max)
	if len(rs) == 0 {
		return s
	}
	s.workers = len(rs[0].Workers)
	n := len(rs[0].Tenants)
	for _, r := range rs {
		if len(r.Tenants) != n {
			panic(fmt.Sprintf("sim: Summarize: replications have %d and %d tenants; they must come from one scenario", n, len(r.Tenants)))
		}
	}
	s.Tenants = make([]TenantSummary, n)
	for i := range s.Tenants {
		tenant := func(f func(*TenantResult) float64) Estimate {
			return est(func(r *Result) float64 { return f(&r.Tenants[i]) })
		}
		secs := func(f func(*TenantResult) time.Duration) Estimate {
			return tenant(func(t *TenantResult) float64 { return f(t).Seconds() })
		}
		s.Tenants[i] = TenantSummary{
			Name:          rs[0].Tenants[i].Name,
			Throughput:    tenant(func(t *TenantResult) float64 { return t.Throughput }),
			Share:         tenant(func(t *TenantResult) float64 { return t.Share }),
			AdmissionMean: secs(func(t *TenantResult) time.Duration { return t.Admission.Mean }),
			AdmissionP99:  secs(func(t *TenantResult) time.Duration { return t.Admission.P99 }),
			QueueMean:     secs(func(t *TenantResult) time.Duration { return t.Queue.Mean }),
			QueueP99:      secs(func(t *TenantResult) time.Duration { return t.Queue.P99 }),
			TotalMean:     secs(func(t *TenantResult) time.Duration { return t.Total.Mean }),
			TotalP50:      secs(func(t *TenantResult) time.Duration { return t.Total.P50 }),
			TotalP99:      secs(func(t *TenantResult) time.Duration { return t.Total.P99 }),
		}
	}
	return s
}

// String formats e as "mean ± half-width" with three significant digits, or just the mean
// when there is no interval (one replication).
func (e Estimate) String() string {
	if math.IsNaN(e.HalfWidth) {
		return fmt.Sprintf("%.3g", e.Mean)
	}
	return fmt.Sprintf("%.3g ± %.2g", e.Mean, e.HalfWidth)
}

// WriteSummaries writes one row per summary: throughput, mean and p99 total latency, mean
// admission lag, jobs waiting, and Jain's index (mean and worst window), each with its
// confidence interval.
func WriteSummaries(w io.Writer, ss []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tjobs/s\tmean total (s)\tp99 total (s)\tmean admission (s)\twaiting\tJain\tworst Jain")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\t%v\t%v\t%v\n", s.Name, s.Throughput, s.TotalMean, s.TotalP99,
			s.AdmissionMean, s.MeanWaiting, s.Jain, s.MinJain)
	}
	return tw.Flush()
}

// WriteWorkers writes one row per summary: the jobs waiting per worker on average, the
// busiest worker's average queue, the longest queue seen, and the utilisation range.
func WriteWorkers(w io.Writer, ss []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\twaiting per worker\tbusiest worker's queue\tlongest queue\tutilisation min\tmax")
	for _, s := range ss {
		perWorker := "-"
		if n := s.workers; n > 0 {
			perWorker = fmt.Sprintf("%.3g", s.MeanWaiting.Mean/float64(n))
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%v\t%v\n", s.Name, perWorker, s.BusiestQueue, s.LongestQueue,
			s.MinUtilization, s.MaxUtilization)
	}
	return tw.Flush()
}

// WriteTenants writes one row per tenant of s: throughput, share, admission lag (mean and
// p99) and total latency (mean, p50, p99), in seconds.
func (s Summary) WriteTenants(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tjobs/s\tshare\tmean admission (s)\tp99 admission (s)\tmean total (s)\tp50 total (s)\tp99 total (s)\n", s.Name)
	for _, t := range s.Tenants {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\t%v\t%v\t%v\n", t.Name, t.Throughput, t.Share,
			t.AdmissionMean, t.AdmissionP99, t.TotalMean, t.TotalP50, t.TotalP99)
	}
	return tw.Flush()
}

// Expected is a simulated estimate beside the exact value a formula gives for it.
type Expected struct {
	Label     string
	Simulated Estimate
	Formula   float64
}

// Covered reports whether the formula's value lies within the simulated confidence interval.
func (e Expected) Covered() bool { return e.Simulated.Covers(e.Formula) }

// WriteExpected writes one row per expectation: its label, the simulated estimate with its
// interval, the formula's value, their relative difference, and whether the interval covers
// the formula. title heads the label column.
func WriteExpected(w io.Writer, title string, es []Expected) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tsimulated\tformula\tdifference\tcovered\n", title)
	for _, e := range es {
		diff := "-"
		if e.Formula != 0 {
			diff = fmt.Sprintf("%+.1f%%", 100*(e.Simulated.Mean-e.Formula)/e.Formula)
		}
		cov := "no"
		if e.Covered() {
			cov = "yes"
		}
		fmt.Fprintf(tw, "%s\t%v\t%.4g\t%s\t%s\n", e.Label, e.Simulated, e.Formula, diff, cov)
	}
	return tw.Flush()
}
