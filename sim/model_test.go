package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArrivalRates(t *testing.T) {
	const horizon = 20000 * time.Second
	for _, tc := range []struct {
		name string
		a    Arrivals
		want float64 // mean arrivals per second over the horizon
	}{
		{"poisson", Poisson(2), 2},
		{"constant", Arrivals{Kind: "constant", Rate: 4}, 4},
		{"burst", Arrivals{Rate: 1, Bursts: []Burst{{Start: 5000 * time.Second, For: 1000 * time.Second, Factor: 11}}}, 1.5},
		{"onoff", Arrivals{Rate: 1, OnOff: &OnOff{On: 10 * time.Second, Off: 30 * time.Second, Factor: 5}}, 2},
		{"diurnal", Arrivals{Kind: "diurnal", Rate: 3, Amplitude: 0.8, Period: 1000 * time.Second}, 3},
	} {
		require.NoError(t, tc.a.Validate(), tc.name)
		g := newArrivalGen(&tc.a, Stream(1, 0, tc.name))
		n, at := 0, time.Duration(0)
		for {
			next, ok := g.after(at)
			if !ok || next >= horizon {
				break
			}
			require.GreaterOrEqual(t, next, at, tc.name)
			at = next
			n++
		}
		got := float64(n) / horizon.Seconds()
		assert.InDelta(t, tc.want, got, 0.03*tc.want, tc.name)
	}
}

func TestDistMeans(t *testing.T) {
	for _, d := range []Dist{
		Exp(time.Second), Det(time.Second),
		{Kind: "lognormal", Mean: time.Second, Sigma: 0.5},
		{Kind: "pareto", Mean: time.Second, Alpha: 3},
		{Kind: "uniform", Min: 0, Max: 2 * time.Second},
		{Kind: "empirical", Values: []time.Duration{0, time.Second, 2 * time.Second}},
	} {
		require.NoError(t, d.Validate(), d.Kind)
		s := newSampler(d, Stream(3, 0, d.Kind))
		var sum float64
		n := 200_000
		if raceEnabled {
			n = 40_000 // still a standard error under 0.5% of the mean
		}
		for range n {
			x := s.sample()
			require.GreaterOrEqual(t, x, time.Duration(0))
			sum += float64(x)
		}
		assert.InDelta(t, float64(d.MeanDuration()), sum/float64(n), 0.02*float64(time.Second), d.Kind)
	}
}

func TestValidationErrors(t *testing.T) {
	ok := func() *Scenario {
		return &Scenario{Name: "x", Duration: time.Minute, Tenants: []Tenant{{Name: "a", Arrivals: Poisson(1), Service: Exp(time.Second)}}, Workers: Workers{Count: 1}}
	}
	require.NoError(t, ok().Validate())
	for _, tc := range []struct {
		mod  func(*Scenario)
		want string
	}{
		{func(s *Scenario) { s.Duration = 0 }, "sim: duration: must be in (0, 24000h0m0s], got 0s"},
		{func(s *Scenario) { s.Warmup = 2 * time.Minute }, "sim: warmup: must be in [0, duration 1m0s), got 2m0s"},
		{func(s *Scenario) { s.Tenants = nil }, "sim: tenants: must not be empty"},
		{func(s *Scenario) { s.Tenants = append(s.Tenants, s.Tenants[0]) }, `sim: tenants[1].name: duplicate tenant name "a"`},
		{func(s *Scenario) { s.Tenants[0].Arrivals.Rate = -1 }, "sim: tenants[0].arrivals: arrival Rate must be finite and > 0, got -1"},
		{func(s *Scenario) { s.Tenants[0].Service = Dist{Kind: "gamma"} }, `sim: tenants[0].service: unknown distribution Kind "gamma" (want exponential, deterministic, lognormal, pareto, uniform or empirical)`},
		{func(s *Scenario) { s.Tenants[0].FailureRate = 1.5 }, "sim: tenants[0].failure_rate: must be in [0, 1], got 1.5"},
		{func(s *Scenario) { s.Workers.Count = 0 }, "sim: workers.count: must be in [1, 1000000], got 0"},
		{func(s *Scenario) { s.Workers.Queue = "stack" }, `sim: workers.queue: must be fifo, lifo or per-worker, got "stack"`},
		{func(s *Scenario) { s.Workers.Capacity = -1 }, "sim: workers.capacity: must be 0 (unbounded) or >= workers.count 1, got -1"},
		{func(s *Scenario) { s.Workers.CrashRate = 1 }, "sim: workers.crash_rate: needs admission (its lease reaps crashed jobs)"},
		{func(s *Scenario) { s.Workers.Capacity = 2; s.Admission = &Admission{} }, "sim: workers.capacity: applies to direct queueing only; with admission, bound the jobs in flight with admission.global_cap"},
		{func(s *Scenario) { s.Tenants[0].Count = MaxTenants + 1 }, "sim: tenants[0].count: more than 1000000 tenants in all (the limit sim.MaxTenants protects memory)"},
		{func(s *Scenario) { s.Metrics.Window = time.Nanosecond }, "sim: metrics.window: 1ns makes more than 1000000 windows over the run; raise it"},
	} {
		s := ok()
		tc.mod(s)
		err := s.Validate()
		assert.EqualError(t, err, tc.want)
		var fe *FieldError
		assert.ErrorAs(t, err, &fe)
	}
	assert.InDelta(t, 60.0, ok().ExpectedJobs(), 1e-9)
}

func TestTrace(t *testing.T) {
	csvText := "at,tenant,service\n0.5,a,1s\n0.1,b,\n1.5,a,0.25\n2,b,2s\n"
	recs, err := ReadTrace(strings.NewReader(csvText))
	require.NoError(t, err)
	require.Len(t, recs, 4)
	assert.Equal(t, TraceRecord{At: 100 * time.Millisecond, Tenant: "b"}, recs[0], "sorted by time")
	tenants := TraceTenants(recs, Det(time.Second))
	require.Len(t, tenants, 2)
	assert.Equal(t, []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond}, tenants[1].Arrivals.Times)
	sc := &Scenario{Name: "trace", Duration: 10 * time.Second, Tenants: tenants, Workers: Workers{Count: 1}}
	r, err := Run(sc, 1, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), r.Overall.Completed)
	// a's jobs take 1s and 250ms as traced; b's first has no traced service and takes 1s.
	a := r.Tenants[1]
	assert.Equal(t, 625*time.Millisecond, a.Service.Mean)

	for _, bad := range []string{"time,who\n1,a\n", "at,tenant\nx,a\n", "at,tenant\n1,\n", "at,tenant,service\n1,a,-3\n"} {
		_, err := ReadTrace(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func TestResultWriters(t *testing.T) {
	r, err := Run(goldenScenarios()[2], 1, 0)
	require.NoError(t, err)
	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	var back map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &back), "valid JSON even with NaN fields")
	var tenants, windows bytes.Buffer
	require.NoError(t, r.WriteTenantsCSV(&tenants, true))
	require.NoError(t, r.WriteWindowsCSV(&windows, true))
	lines := strings.Split(strings.TrimSpace(tenants.String()), "\n")
	assert.Len(t, lines, 1+len(r.Tenants)+1, "header, tenants, overall")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "noisy-neighbour,1,0,overall,"))
	assert.Greater(t, strings.Count(windows.String(), "\n"), len(r.Windows))
}

// Conservation: every arrival is rejected, completed, lost in a crash, or still present at
// the end; in a run that drains, nothing is left.
func TestConservation(t *testing.T) {
	for _, sc := range goldenScenarios() {
		r, err := Run(sc, 3, 0)
		require.NoError(t, err)
		ov := r.Overall
		assert.LessOrEqual(t, ov.Completed+ov.Rejected+ov.Lost, ov.Arrived, sc.Name)
		assert.LessOrEqual(t, ov.Completed, ov.Started, sc.Name)
		if sc.Name == "direct-mm2" {
			assert.Equal(t, ov.Arrived, ov.Completed, "a stable M/M/2 drains")
			assert.Less(t, r.LittleError, 0.005)
		}
		for _, w := range r.Windows {
			if !math.IsNaN(w.Jain) {
				assert.True(t, w.Jain > 0 && w.Jain <= 1+1e-12, "Jain %v", w.Jain)
			}
		}
	}
}

// A run whose drain finishes early ends with its last job: measured time does not include
// the unused rest of Drain, so throughput equals the arrival rate of a stable system.
func TestRunEndsWhenDrained(t *testing.T) {
	sc := &Scenario{
		Name: "drains", Duration: 4000 * time.Second, Drain: 4000 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(1), Service: Exp(500 * time.Millisecond)}},
		Workers: Workers{Count: 2},
	}
	r, err := Run(sc, 5, 0)
	require.NoError(t, err)
	assert.Equal(t, r.Overall.Arrived, r.Overall.Completed)
	assert.GreaterOrEqual(t, r.Simulated, sc.Duration)
	assert.Less(t, r.Simulated, sc.Duration+time.Minute, "the run ends when the last job finishes")
	want := float64(r.Overall.Arrived) / sc.Duration.Seconds()
	assert.InEpsilon(t, want, r.Overall.Throughput, 0.02)
	last := r.Windows[len(r.Windows)-1]
	assert.Equal(t, r.Simulated, last.End, "the last window closes at the end of the run")

	// A run that is still busy at Duration + Drain stops there.
	sc.Drain = time.Second
	sc.Tenants[0].Arrivals = Poisson(5) // ρ = 1.25
	r, err = Run(sc, 5, 0)
	require.NoError(t, err)
	assert.Equal(t, sc.Duration+sc.Drain, r.Simulated)
	assert.Less(t, r.Overall.Completed, r.Overall.Arrived)
}

// A lease shorter than queueing plus service expires jobs that are still waiting at a
// worker or running: the policy forgets them (releasing their gates), they still finish,
// and they are counted as expired. With crashes too, nothing is lost twice or left behind.
func TestLeaseShorterThanSojourn(t *testing.T) {
	for _, crash := range []float64{0, 0.5} {
		sc := &Scenario{
			Name: "short-lease", Duration: 600 * time.Second,
			Tenants:   []Tenant{{Name: "t", Arrivals: Poisson(1.8), Service: Exp(500 * time.Millisecond)}},
			Workers:   Workers{Count: 1, CrashRate: crash},
			Admission: &Admission{EventDriven: true, Lease: 2 * time.Second, Concurrency: 3},
		}
		r, err := Run(sc, 4, 0)
		require.NoError(t, err)
		ov := r.Overall
		assert.Positive(t, ov.Expired, "crash rate %v", crash)
		assert.Equal(t, ov.Arrived, ov.Completed+ov.Lost, "crash rate %v: every job finishes or is lost", crash)
		if crash == 0 {
			assert.Zero(t, ov.Lost)
		} else {
			assert.Positive(t, ov.Lost)
		}
	}
}

// next_available takes an idle worker when there is one and otherwise the shortest queue, so
// that at high load it behaves like best, not like a pile-up at one worker.
func TestNextAvailableFallsBackToShortestQueue(t *testing.T) {
	sc := &Scenario{
		Name: "na", Duration: 2000 * time.Second, Warmup: 200 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(7.2), Service: Exp(time.Second)}},
		Workers: Workers{Count: 8, Queue: "per-worker", Strategy: "next_available"},
	}
	na, err := Run(sc, 2, 0)
	require.NoError(t, err)
	sc.Workers.Strategy = "random"
	random, err := Run(sc, 2, 0)
	require.NoError(t, err)
	// Random is 8 M/M/1 queues at ρ = 0.9: mean sojourn 10 s. Joining the shortest queue
	// is within a small factor of M/M/8 (1.9 s).
	assert.Less(t, na.Overall.Total.Mean, 4*time.Second)
	assert.Greater(t, random.Overall.Total.Mean, 2*na.Overall.Total.Mean)
}

// Per-worker results: utilisations sum to the work done, queue averages to the time-average
// number waiting, and shortest-queue routing spreads queues far more evenly than random.
func TestWorkerResults(t *testing.T) {
	sc := &Scenario{
		Name: "workers", Duration: 4000 * time.Second, Warmup: 400 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(7.2), Service: Exp(time.Second)}},
		Workers: Workers{Count: 8, Queue: "per-worker", Strategy: "random"},
	}
	spread := map[string]float64{}
	for _, st := range []string{"random", "best"} {
		sc.Workers.Strategy = st
		r, err := Run(sc, 3, 0)
		require.NoError(t, err)
		require.Len(t, r.Workers, 8)
		var util, queue, lo, hi float64
		lo = math.Inf(1)
		var done uint64
		for _, w := range r.Workers {
			util += w.Utilization
			queue += w.MeanQueue
			lo, hi = math.Min(lo, w.MeanQueue), math.Max(hi, w.MeanQueue)
			assert.GreaterOrEqual(t, float64(w.MaxQueue), w.MeanQueue)
			assert.True(t, w.Utilization >= 0 && w.Utilization <= 1)
			done += w.Completed
		}
		assert.InDelta(t, 7.2, util, 0.4, "%s: total utilisation is λ·E[S]", st)
		assert.InDelta(t, r.MeanWaiting, queue, 1e-6*r.MeanWaiting+1e-9, "%s: worker queues add up to the jobs waiting", st)
		assert.InDelta(t, float64(r.Overall.Completed), float64(done), 0.2*float64(done))
		spread[st] = hi - lo
	}
	assert.Less(t, spread["best"], spread["random"]/3)
	var csvOut bytes.Buffer
	r0, err := Run(sc, 3, 0)
	require.NoError(t, err)
	require.NoError(t, r0.WriteWorkersCSV(&csvOut, true))
	assert.Equal(t, 1+8, strings.Count(csvOut.String(), "\n"))

	sc.Workers.Queue = "fifo"
	r, err := Run(sc, 3, 0)
	require.NoError(t, err)
	for _, w := range r.Workers {
		assert.Zero(t, w.MeanQueue, "a central queue never queues at a worker")
	}
}

func TestSummaryWorkers(t *testing.T) {
	sc := &Scenario{
		Name: "w", Duration: 2000 * time.Second, Warmup: 200 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(7.2), Service: Exp(time.Second)}},
		Workers: Workers{Count: 8, Queue: "per-worker", Strategy: "random"},
	}
	vs := []Variant{{Name: "random", Scenario: sc}}
	best := sc.Clone()
	best.Workers.Strategy = "best"
	vs = append(vs, Variant{Name: "best", Scenario: best})
	res, err := Compare(vs, RunOptions{Seed: 1, Replications: 3})
	require.NoError(t, err)
	ss := Summaries(res)
	assert.Less(t, ss[1].BusiestQueue.Mean, ss[0].BusiestQueue.Mean/3)
	assert.LessOrEqual(t, ss[0].MinUtilization.Mean, ss[0].MaxUtilization.Mean)
	assert.GreaterOrEqual(t, ss[0].LongestQueue.Mean, ss[0].BusiestQueue.Mean)
	var out bytes.Buffer
	require.NoError(t, WriteWorkers(&out, ss))
	assert.Contains(t, out.String(), "busiest worker's queue")
	assert.Equal(t, 3, strings.Count(out.String(), "\n"))
}

// Per-tenant time-average queue lengths add up to the system's, and each obeys Little's law
// for waiting: L_q = λ·W_q, with W_q the tenant's admission lag plus queue lag.
func TestTenantQueueLengths(t *testing.T) {
	sc := &Scenario{
		Name: "queues", Duration: 20000 * time.Second, Drain: 20000 * time.Second, Warmup: 2000 * time.Second,
		Tenants: []Tenant{
			{Name: "a", Arrivals: Poisson(1.6), Service: Exp(time.Second), MaxInFlight: 2},
			{Name: "b", Arrivals: Poisson(2.2), Service: Exp(time.Second), MaxInFlight: 3},
			{Name: "c", Arrivals: Poisson(0.5), Service: Exp(time.Second)},
		},
		Workers:   Workers{Count: 5},
		Admission: &Admission{EventDriven: true, Concurrency: 4},
	}
	if raceEnabled {
		sc.Duration, sc.Warmup = 5000*time.Second, 500*time.Second
	}
	r, err := Run(sc, 1, 0)
	require.NoError(t, err)
	var sum float64
	measured := (r.Simulated - sc.Warmup).Seconds()
	for _, tr := range r.Tenants {
		sum += tr.MeanWaiting
		assert.Less(t, tr.MeanWaiting, tr.MeanInSystem, tr.Name)
		lambda := float64(tr.Measured) / measured
		w := (tr.Admission.Mean + tr.Queue.Mean).Seconds()
		assert.InEpsilon(t, lambda*w, tr.MeanWaiting, 0.01, "%s: Little's law for the jobs waiting", tr.Name)
	}
	assert.InEpsilon(t, r.MeanWaiting, sum, 1e-9, "tenants' queues add up to the system's")
	assert.InEpsilon(t, r.MeanWaiting, r.Overall.MeanWaiting, 1e-9)

	// Overloaded and cut off with jobs still waiting, staged and queued: those count too.
	sc.Workers.Count, sc.Duration, sc.Warmup, sc.Drain = 3, 1000*time.Second, 100*time.Second, time.Second
	r, err = Run(sc, 1, 0)
	require.NoError(t, err)
	require.Less(t, r.Overall.Started, r.Overall.Arrived, "jobs are still waiting at the end")
	sum = 0
	for _, tr := range r.Tenants {
		sum += tr.MeanWaiting
	}
	assert.InEpsilon(t, r.MeanWaiting, sum, 1e-9, "with a backlog at the end")
}

// The quantiles keep the documented error: within Metrics.Accuracy (relative) of the exact
// value at their rank, here for traced service times that nobody waits behind.
func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 2000
	times := make([]time.Duration, n)
	services := make([]time.Duration, n)
	for i := range times {
		times[i] = time.Duration(i) * time.Millisecond
		services[i] = time.Duration(math.Exp(r.NormFloat64()*1.5) * 1e8)
	}
	sorted := slices.Clone(services)
	slices.Sort(sorted)
	for _, acc := range []float64{0.001, 0.01, 0.05} {
		sc := &Scenario{
			Name: "accuracy", Duration: 10 * time.Second, Drain: time.Hour,
			Tenants: []Tenant{{Name: "t", Arrivals: Arrivals{Kind: "trace", Times: times, Services: services}, Service: Det(0)}},
			Workers: Workers{Count: n},
			Metrics: Metrics{Accuracy: acc},
		}
		res, err := Run(sc, 1, 0)
		require.NoError(t, err)
		for _, q := range []struct {
			p   float64
			got time.Duration
		}{{0.5, res.Overall.Service.P50}, {0.95, res.Overall.Service.P95}, {0.99, res.Overall.Service.P99}} {
			rank := q.p * (n - 1)
			lo, hi := float64(sorted[int(math.Floor(rank))]), float64(sorted[int(math.Ceil(rank))])
			g := float64(q.got)
			assert.True(t, g >= lo*(1-acc)-1 && g <= hi*(1+acc)+1,
				"accuracy %v: p%v = %v, exact between %v and %v", acc, q.p, q.got, time.Duration(lo), time.Duration(hi))
		}
		assert.Equal(t, sorted[n-1], res.Overall.Service.Max, "the maximum is exact")
		var sum float64
		for _, s := range services {
			sum += float64(s)
		}
		assert.Equal(t, time.Duration(math.Round(sum/n)), res.Overall.Service.Mean, "the mean is exact")
	}
}

// The periodic tick loop: after a tick that admitted jobs it sleeps TickInterval, after one
// that admitted nothing IdleInterval, and it keeps that phase while nothing is staged (the
// empty ticks are not simulated). Each arrival is its own tenant, so each tenant's mean
// admission lag is that job's wait for its tick.
func TestTickLoop(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name       string
		busy, idle time.Duration
		arrivals   []time.Duration
		lags       []time.Duration
	}{
		{
			name: "busy 10ms, idle 100ms", busy: 10 * ms, idle: 100 * ms,
			arrivals: []time.Duration{35 * ms, 105 * ms, 125 * ms, 221 * ms, 500 * ms, 530 * ms},
			// idle ticks 100, 200: the first job at 100; busy 110: the second; 120 is empty,
			// idle 220: the third; busy 230: the fourth; then 240 empty, 340, 440, 540: both
			// the fifth and the sixth (the tick at 530 is in no cadence).
			lags: []time.Duration{65 * ms, 5 * ms, 95 * ms, 9 * ms, 40 * ms, 10 * ms},
		},
		{
			name: "busy = idle = 50ms", busy: 50 * ms, idle: 50 * ms,
			arrivals: []time.Duration{10 * ms, 50 * ms, 120 * ms},
			// ticks at 50 (the first job; the second arrives at that instant and is caught
			// by it too), 100 empty, 150: the third.
			lags: []time.Duration{40 * ms, 0, 30 * ms},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tenants []Tenant
			for i, at := range tc.arrivals {
				tenants = append(tenants, Tenant{Name: fmt.Sprint("j", i), Arrivals: Arrivals{Kind: "trace", Times: []time.Duration{at}}, Service: Det(ms)})
			}
			sc := &Scenario{
				Name: "ticks", Duration: time.Second, Tenants: tenants, Workers: Workers{Count: 10},
				Admission: &Admission{TickInterval: tc.busy, IdleInterval: tc.idle},
			}
			r, err := Run(sc, 1, 0)
			require.NoError(t, err)
			for i, want := range tc.lags {
				assert.Equal(t, want, r.Tenants[i].Admission.Mean, "job %d, arrived at %v", i, tc.arrivals[i])
			}
		})
	}
}

// Capacity changes at given times: with 4 workers of 1s jobs and 3 arrivals a second, the
// drop to 1 worker at 100s caps completions at 1 a second until the pool returns at 200s,
// then the backlog drains at 4 a second; a removed busy worker finishes its job first.
func TestCapacityChanges(t *testing.T) {
	for _, queue := range []string{"fifo", "per-worker"} {
		sc := &Scenario{
			Name: "capacity", Duration: 300 * time.Second, Drain: time.Hour,
			Tenants: []Tenant{{Name: "t", Arrivals: Arrivals{Kind: "constant", Rate: 3}, Service: Det(time.Second)}},
			Workers: Workers{Count: 4, Queue: queue, Strategy: "best",
				Changes: []CapacityChange{{At: 100 * time.Second, Count: 1}, {At: 200 * time.Second, Count: 4}}},
			Metrics: Metrics{Window: 10 * time.Second},
		}
		r, err := Run(sc, 1, 0)
		require.NoError(t, err)
		for _, w := range r.Windows {
			rate := float64(w.Completed) / (w.End - w.Start).Seconds()
			switch {
			case w.Start >= 110*time.Second && w.End <= 200*time.Second:
				assert.InDelta(t, 1, rate, 0.11, "%s: window %v-%v, one worker", queue, w.Start, w.End)
			case w.Start >= 10*time.Second && w.End <= 100*time.Second:
				assert.InDelta(t, 3, rate, 0.11, "%s: window %v-%v, below capacity", queue, w.Start, w.End)
			case w.Start >= 210*time.Second && w.End <= 300*time.Second:
				assert.InDelta(t, 4, rate, 0.11, "%s: window %v-%v, draining the backlog", queue, w.Start, w.End)
			}
		}
		assert.Equal(t, r.Overall.Arrived, r.Overall.Completed, "%s: every job finishes", queue)
	}
}

// A worker's speed multiplies its service times; a missing or zero entry means 1.
func TestWorkerSpeed(t *testing.T) {
	sc := &Scenario{
		Name: "speed", Duration: 1000 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(0.5), Service: Det(time.Second)}},
		Workers: Workers{Count: 3, Queue: "per-worker", Strategy: "next", Speed: []float64{0.5, 0}},
	}
	r, err := Run(sc, 1, 0)
	require.NoError(t, err)
	// Round robin gives each worker a third of the jobs: (0.5 + 1 + 1)/3 seconds each on average.
	assert.InDelta(t, (0.5+1+1)/3, r.Overall.Service.Mean.Seconds(), 0.01)
	assert.InDelta(t, 0.5, r.Workers[0].Utilization/r.Workers[1].Utilization, 0.05, "the fast worker is busy half as long")
	assert.Equal(t, time.Second, r.Overall.Service.Max)
}

// Jain's index per window is taken over throughput normalised by weighted max-min fair
// shares: tenants that get what they ask for score 1 however unequal their demands, and
// equal service to unequal weights scores what the formula says.
func TestWindowJain(t *testing.T) {
	const ms = time.Millisecond
	// Demands 1/s and 9/s, all served: raw throughputs would give Jain 0.61.
	served := &Scenario{
		Name: "served", Duration: 200 * time.Second, Warmup: 10 * time.Second,
		Tenants: []Tenant{
			{Name: "small", Arrivals: Arrivals{Kind: "constant", Rate: 1}, Service: Det(10 * ms)},
			{Name: "large", Arrivals: Arrivals{Kind: "constant", Rate: 9}, Service: Det(10 * ms)},
		},
		Workers: Workers{Count: 100},
		Metrics: Metrics{Window: 10 * time.Second},
	}
	r, err := Run(served, 1, 0)
	require.NoError(t, err)
	assert.InDelta(t, 1, r.MinJain, 0.01, "every tenant gets its demand")

	// One worker of 10 jobs/s, both tenants ask for 10/s and alternate in the queue: each
	// gets 5/s, but weights 1 and 3 make the fair shares 2.5/s and 7.5/s, so the normalised
	// throughputs are 2 and 2/3 and Jain's index is (2 + 2/3)² / (2·(4 + 4/9)) = 0.8.
	weighted := &Scenario{
		Name: "weighted", Duration: 200 * time.Second, Warmup: 10 * time.Second,
		Tenants: []Tenant{
			{Name: "light", Weight: 1, Arrivals: Arrivals{Kind: "constant", Rate: 10}, Service: Det(100 * ms)},
			{Name: "heavy", Weight: 3, Arrivals: Arrivals{Kind: "constant", Rate: 10}, Service: Det(100 * ms)},
		},
		Workers: Workers{Count: 1},
		Metrics: Metrics{Window: 10 * time.Second},
	}
	r, err = Run(weighted, 1, 0)
	require.NoError(t, err)
	for _, w := range r.Windows {
		if w.Measured && w.End <= weighted.Duration {
			assert.InDelta(t, 0.8, w.Jain, 0.01, "window %v-%v", w.Start, w.End)
		}
	}
}

// A central LIFO queue serves the newest job first. With exponential service drawn in start
// order, LIFO and FIFO have the same number of jobs waiting at every instant (only who waits
// changes), so their time-average queues are equal and, by Little's law, so are their mean
// waits; LIFO's wait distribution has the longer tail.
func TestLIFO(t *testing.T) {
	sc := &Scenario{
		Name: "lifo", Duration: 20000 * time.Second, Warmup: 2000 * time.Second,
		Tenants: []Tenant{{Name: "t", Arrivals: Poisson(1.6), Service: Exp(time.Second)}},
		Workers: Workers{Count: 2},
	}
	fifo, err := Run(sc, 1, 0)
	require.NoError(t, err)
	sc.Workers.Queue = "lifo"
	lifo, err := Run(sc, 1, 0)
	require.NoError(t, err)
	assert.Equal(t, fifo.MeanWaiting, lifo.MeanWaiting, "the same jobs wait at every instant")
	assert.Equal(t, fifo.Overall.Completed, lifo.Overall.Completed)
	assert.InEpsilon(t, fifo.Overall.Queue.Mean.Seconds(), lifo.Overall.Queue.Mean.Seconds(), 0.02, "equal mean waits")
	// FIFO's waits are M/M/2's: p99 = ln(C/0.01)/(cμ−λ); LIFO's tail is much longer.
	assert.InEpsilon(t, math.Log(ErlangC(2, 1.6)/0.01)/(2-1.6), fifo.Overall.Queue.P99.Seconds(), 0.08)
	assert.Greater(t, lifo.Overall.Queue.P99, 2*fifo.Overall.Queue.P99)
	assert.Greater(t, lifo.Overall.Queue.Max, 3*fifo.Overall.Queue.Max)
	// LIFO serves the newest: with two jobs queued behind busy workers, the later one starts first.
	trace := &Scenario{
		Name: "lifo-order", Duration: 10 * time.Second,
		Tenants: []Tenant{
			{Name: "busy", Arrivals: Arrivals{Kind: "trace", Times: []time.Duration{0}}, Service: Det(3 * time.Second)},
			{Name: "older", Arrivals: Arrivals{Kind: "trace", Times: []time.Duration{time.Second}}, Service: Det(time.Second)},
			{Name: "newer", Arrivals: Arrivals{Kind: "trace", Times: []time.Duration{2 * time.Second}}, Service: Det(time.Second)},
		},
		Workers: Workers{Count: 1, Queue: "lifo"},
	}
	r, err := Run(trace, 1, 0)
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, r.Tenants[1].Queue.Mean, "older (arrived at 1s): starts at 4s, after newer")
	assert.Equal(t, time.Second, r.Tenants[2].Queue.Mean, "newer (arrived at 2s): starts at 3s")
}
