package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// Result is what one replication of a scenario measured. Latencies count only jobs that
// arrived at or after the scenario's Warmup.
type Result struct {
	Scenario    string         `json:"scenario"`
	Seed        uint64         `json:"seed"`
	Replication int            `json:"replication"`
	Simulated   time.Duration  `json:"simulated"` // virtual time at the end of the run
	Events      uint64         `json:"events"`
	Overall     TenantResult   `json:"overall"`
	Tenants     []TenantResult `json:"tenants"`
	// Windows are consecutive windows of Metrics.Window; per-tenant series cover the first
	// Metrics.SeriesTenants tenants.
	Windows []Window `json:"windows"`
	// MeanInSystem and MeanWaiting are time averages, after Warmup, of the jobs present
	// (arrived and not finished) and of the jobs waiting (not yet started).
	MeanInSystem float64 `json:"mean_in_system"`
	MeanWaiting  float64 `json:"mean_waiting"`
	// Little compares L (MeanInSystem) with λ·W (measured arrival rate × mean time in
	// system): LittleError is |L − λW| / L.
	LittleError float64 `json:"little_error"`
	// Jain is the mean of the measured windows' Jain indices (NaN windows skipped), and
	// MinJain the worst one.
	Jain    float64 `json:"jain"`
	MinJain float64 `json:"min_jain"`
	// Workers are the workers' queue lengths and utilisation after Warmup, in worker order.
	Workers []WorkerResult `json:"workers"`
}

// WorkerResult is one worker's load after Warmup. With a central queue (fifo, lifo) jobs
// never wait at a worker, so MeanQueue and MaxQueue are 0 and Result.MeanWaiting is the
// central queue's time-average length.
type WorkerResult struct {
	// MeanQueue is the time-average number of jobs waiting at the worker (not running).
	MeanQueue float64 `json:"mean_queue"`
	// MaxQueue is the most jobs that waited at the worker at once.
	MaxQueue int `json:"max_queue"`
	// Utilization is the fraction of time the worker was running a job.
	Utilization float64 `json:"utilization"`
	// Completed counts the jobs it finished (crashes excluded).
	Completed uint64 `json:"completed"`
}

// TenantResult is one tenant's (or the whole system's) counts and latencies.
type TenantResult struct {
	Name      string `json:"name"`
	Arrived   uint64 `json:"arrived"`
	Admitted  uint64 `json:"admitted"`
	Started   uint64 `json:"started"`
	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`
	Rejected  uint64 `json:"rejected"`
	Lost      uint64 `json:"lost"` // crashed mid-job
	// Expired counts admitted jobs whose lease ran out before they finished (a lease shorter
	// than queueing plus service): the policy released their gates early, so caps were
	// exceeded in fact while those jobs still ran.
	Expired  uint64 `json:"expired"`
	Measured uint64 `json:"measured"`
	// Throughput is measured completions per second of measured time.
	Throughput float64 `json:"throughput"`
	// Share is this tenant's fraction of all measured completions.
	Share float64 `json:"share"`
	// MeanInSystem is the time-average number of this tenant's jobs present (arrived, not
	// finished), and MeanWaiting of those waiting (arrived, not started: staged in admission
	// or queued at the workers), after Warmup.
	MeanInSystem float64   `json:"mean_in_system"`
	MeanWaiting  float64   `json:"mean_waiting"`
	Admission    Quantiles `json:"admission_lag"`
	Queue        Quantiles `json:"queue_lag"`
	Service      Quantiles `json:"service"`
	Total        Quantiles `json:"total"`
	// TotalCDF is the total latency at probabilities 1%, 2%, ..., 99% (the empirical CDF,
	// within the sketch's accuracy), for the overall result and the series tenants.
	TotalCDF []time.Duration `json:"total_cdf,omitempty"`
	// WaitCDF is the same for the wait, arrival to start (admission lag plus queue lag: the
	// time a job spent not yet running), bounded by the exact maximum wait.
	WaitCDF []time.Duration `json:"wait_cdf,omitempty"`
}

// Quantiles summarise a latency: the exact mean and max, and p50/p95/p99 within the
// sketch's relative accuracy.
type Quantiles struct {
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P95  time.Duration `json:"p95"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
}

// Window is one metrics window.
type Window struct {
	Start     time.Duration `json:"start"`
	End       time.Duration `json:"end"`
	Arrived   uint64        `json:"arrived"`
	Completed uint64        `json:"completed"`
	// Jain is Jain's fairness index of the window's completions normalised by weighted
	// max-min fair shares; NaN when nothing completed.
	Jain     float64        `json:"jain"`
	Measured bool           `json:"measured"` // the window starts at or after Warmup
	Tenants  []TenantWindow `json:"tenants"`
}

// TenantWindow is one series tenant in one window. InFlight, Limit and Tokens come from the
// admission gates (concurrency, adaptive, throttle) and are -1 or NaN without them.
type TenantWindow struct {
	Arrived   uint64        `json:"arrived"`
	Completed uint64        `json:"completed"`
	P50       time.Duration `json:"p50"` // total latency of this window's completions
	P99       time.Duration `json:"p99"`
	InFlight  int           `json:"in_flight"`
	Limit     int           `json:"limit"`
	Tokens    float64       `json:"tokens"`
}

// Run simulates one replication of sc with the given seed and replication number and
// returns its result. The same (scenario, seed, replication) always gives the same result,
// bit for bit.
func Run(sc *Scenario, seed uint64, replication int) (*Result, error) {
	m, err := newModel(sc, seed, replication)
	if err != nil {
		return nil, err
	}
	m.start()
	m.run()
	return m.result(seed, replication), nil
}

// run runs the model until every job has finished (or Duration, if that is later), or
// until Duration + Drain. Measured time ends there, so an early-finished drain does not
// dilute throughput.
func (m *model) run() {
	for m.arriving > 0 || m.busy() {
		at, ok := m.eng.Next()
		if !ok || at > m.end {
			m.eng.RunUntil(m.end)
			return
		}
		m.eng.Step()
	}
	m.eng.RunUntil(max(m.eng.Now(), m.sc.Duration))
}

func (m *model) result(seed uint64, rep int) *Result {
	now := m.eng.Now()
	r := m.rec
	r.flushLat()
	r.system(now)
	if len(r.windows) == 0 || r.windows[len(r.windows)-1].End < now {
		r.closeWindow(now, m)
	}
	res := &Result{Scenario: m.sc.Name, Seed: seed, Replication: rep, Simulated: now, Events: m.eng.Handled()}
	res.Tenants = make([]TenantResult, 0, len(r.t))
	measured := float64(now - r.warmup)
	sks := newSketcher(r.mapping)
	var allBins [nLat]*store.DenseStore // every tenant's bins, for the overall quantiles
	ov := &res.Overall
	ov.Name = "overall"
	var sum, mx [nLat]float64
	var arrivedMeasured uint64
	for s := range m.jobs { // jobs still waiting (staged or queued) have waited until now
		if j := &m.jobs[s]; j.live && j.worker < 0 {
			r.t[j.tenant].waitArea += r.waitedSince(now, j.arrived)
		}
	}
	for i := range r.t {
		tr := &r.t[i]
		r.tenantArea(now, tr)
		t := TenantResult{
			Name: m.ten[i].name, Arrived: tr.arrived, Admitted: tr.admitted, Started: tr.started,
			Completed: tr.completed, Failed: tr.failed, Rejected: tr.rejected, Lost: tr.lost, Expired: tr.expired, Measured: tr.n,
		}
		if measured > 0 {
			t.Throughput = float64(tr.n) / (measured / 1e9)
			t.MeanInSystem = tr.area / measured
			t.MeanWaiting = tr.waitArea / measured
		}
		qs := [nLat]*Quantiles{&t.Admission, &t.Queue, &t.Service, &t.Total}
		for k := range nLat {
			sk := sks.ofLat(&tr.lat, k)
			if k == latTotal && i < r.nSeries {
				t.TotalCDF = cdf(sk, time.Duration(tr.mx[latTotal]))
			}
			fill(qs[k], sk, tr.sum[k], tr.mx[k], tr.n)
			sum[k] += tr.sum[k]
			mx[k] = math.Max(mx[k], tr.mx[k])
			if !tr.lat.empty(k) {
				if allBins[k] == nil {
					allBins[k] = store.NewDenseStore()
				}
				tr.lat.addTo(k, allBins[k])
			}
		}
		if i < r.nSeries {
			if r.admission {
				t.WaitCDF = cdf(sks.of(&r.waitSeries[i]), time.Duration(r.waitMaxSeries[i]))
			} else {
				t.WaitCDF = cdf(sks.ofLat(&tr.lat, latQueue), time.Duration(tr.mx[latQueue]))
			}
		}
		ov.Arrived += t.Arrived
		ov.Admitted += t.Admitted
		ov.Started += t.Started
		ov.Completed += t.Completed
		ov.Failed += t.Failed
		ov.Rejected += t.Rejected
		ov.Lost += t.Lost
		ov.Expired += t.Expired
		ov.Measured += t.Measured
		ov.MeanInSystem += t.MeanInSystem
		ov.MeanWaiting += t.MeanWaiting
		arrivedMeasured += tr.measuredArrivals
		res.Tenants = append(res.Tenants, t)
	}
	qs := [nLat]*Quantiles{&ov.Admission, &ov.Queue, &ov.Service, &ov.Total}
	var all [nLat]*ddsketch.DDSketch
	for k := range nLat {
		if allBins[k] != nil {
			all[k] = ddsketch.NewDDSketch(r.mapping, allBins[k], store.NewDenseStore())
		}
		fill(qs[k], all[k], sum[k], mx[k], ov.Measured)
	}
	ov.TotalCDF = cdf(all[latTotal], time.Duration(mx[latTotal]))
	if r.admission {
		ov.WaitCDF = cdf(sks.of(&r.waitAll), time.Duration(r.waitMax))
	} else {
		ov.WaitCDF = cdf(all[latQueue], time.Duration(mx[latQueue]))
	}
	for i := range res.Tenants {
		if ov.Measured > 0 {
			res.Tenants[i].Share = float64(res.Tenants[i].Measured) / float64(ov.Measured)
		}
	}
	if measured > 0 {
		ov.Throughput = float64(ov.Measured) / (measured / 1e9)
		ov.Share = 1
		res.Workers = make([]WorkerResult, len(m.wk))
		for i := range m.wk {
			m.touch(now, int32(i))
			w := &m.wk[i]
			res.Workers[i] = WorkerResult{MeanQueue: w.queueArea / measured, MaxQueue: w.maxQueue,
				Utilization: w.busyNs / measured, Completed: w.completed}
		}
		res.MeanInSystem = r.areaPresent / measured
		res.MeanWaiting = r.areaWaiting / measured
		lambda := float64(arrivedMeasured) / measured // per ns
		if res.MeanInSystem > 0 {
			res.LittleError = math.Abs(res.MeanInSystem-float64(lambda*float64(ov.Total.Mean))) / res.MeanInSystem
		}
	}
	res.Windows = r.windows
	res.Jain, res.MinJain = math.NaN(), math.NaN()
	var js float64
	var jn int
	for _, w := range r.windows {
		if w.Measured && !math.IsNaN(w.Jain) {
			js += w.Jain
			jn++
			if math.IsNaN(res.MinJain) || w.Jain < res.MinJain {
				res.MinJain = w.Jain
			}
		}
	}
	if jn > 0 {
		res.Jain = js / float64(jn)
	}
	return res
}

func fill(q *Quantiles, sk *ddsketch.DDSketch, sum, mx float64, n uint64) {
	if n == 0 {
		return
	}
	q.Mean = time.Duration(math.Round(sum / float64(n)))
	q.Max = time.Duration(mx)
	if sk != nil && !sk.IsEmpty() {
		vs, _ := sk.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99})
		q.P50, q.P95, q.P99 = sketchValue(vs[0], q.Max), sketchValue(vs[1], q.Max), sketchValue(vs[2], q.Max)
	}
}

// sketchValue converts a sketch quantile back to a duration: sketches hold zero as 1ns, and a
// quantile never exceeds the exact maximum (the sketch's relative error could).
func sketchValue(v float64, mx time.Duration) time.Duration {
	if v < 2 {
		return 0
	}
	return min(time.Duration(math.Round(v)), mx)
}

// cdfProbs are the probabilities of TotalCDF.
var cdfProbs = func() []float64 {
	ps := make([]float64, 99)
	for i := range ps {
		ps[i] = float64(i+1) / 100
	}
	return ps
}()

func cdf(sk *ddsketch.DDSketch, mx time.Duration) []time.Duration {
	if sk == nil || sk.IsEmpty() {
		return nil
	}
	vs, _ := sk.GetValuesAtQuantiles(cdfProbs)
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = sketchValue(v, mx)
	}
	return out
}

// WriteJSON writes r as indented JSON: durations in nanoseconds, and NaN or ±Inf (which
// JSON cannot carry: a Jain index of a window where nothing completed, say) as -1.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonSafe(r))
}

// jsonSafe replaces NaN and ±Inf, which JSON cannot carry, by -1 in a copy of r.
func jsonSafe(r *Result) *Result {
	c := *r
	fix := func(x float64) float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return -1
		}
		return x
	}
	c.Jain, c.MinJain, c.LittleError = fix(c.Jain), fix(c.MinJain), fix(c.LittleError)
	c.Windows = make([]Window, len(r.Windows))
	for i, w := range r.Windows {
		w.Jain = fix(w.Jain)
		w.Tenants = append([]TenantWindow(nil), w.Tenants...)
		for k := range w.Tenants {
			w.Tenants[k].Tokens = fix(w.Tenants[k].Tokens)
		}
		c.Windows[i] = w
	}
	return &c
}

// TenantCSVHeader is the header of WriteTenantsCSV.
var TenantCSVHeader = []string{
	"scenario", "seed", "replication", "tenant", "arrived", "admitted", "completed", "failed",
	"rejected", "lost", "throughput", "share", "mean_in_system",
	"admission_mean_ms", "admission_p50_ms", "admission_p99_ms",
	"queue_mean_ms", "queue_p50_ms", "queue_p99_ms",
	"total_mean_ms", "total_p50_ms", "total_p95_ms", "total_p99_ms", "total_max_ms", "mean_waiting",
}

// WriteTenantsCSV writes one row per tenant plus an "overall" row; header if asked.
func (r *Result) WriteTenantsCSV(w io.Writer, header bool) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write(TenantCSVHeader); err != nil {
			return err
		}
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'g', 10, 64) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 10, 64) }
	u := func(x uint64) string { return strconv.FormatUint(x, 10) }
	for _, t := range append(append([]TenantResult(nil), r.Tenants...), r.Overall) {
		rec := []string{
			r.Scenario, u(r.Seed), strconv.Itoa(r.Replication), t.Name, u(t.Arrived), u(t.Admitted),
			u(t.Completed), u(t.Failed), u(t.Rejected), u(t.Lost), f(t.Throughput), f(t.Share), f(t.MeanInSystem),
			ms(t.Admission.Mean), ms(t.Admission.P50), ms(t.Admission.P99),
			ms(t.Queue.Mean), ms(t.Queue.P50), ms(t.Queue.P99),
			ms(t.Total.Mean), ms(t.Total.P50), ms(t.Total.P95), ms(t.Total.P99), ms(t.Total.Max), f(t.MeanWaiting),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteWindowsCSV writes one row per window and series tenant (tidy form).
func (r *Result) WriteWindowsCSV(w io.Writer, header bool) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write([]string{"scenario", "seed", "replication", "start_s", "end_s", "jain", "tenant", "arrived", "completed", "p50_ms", "p99_ms", "in_flight", "limit", "tokens"}); err != nil {
			return err
		}
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 10, 64) }
	for _, win := range r.Windows {
		for i, t := range win.Tenants {
			name := fmt.Sprint(i)
			if i < len(r.Tenants) {
				name = r.Tenants[i].Name
			}
			rec := []string{r.Scenario, strconv.FormatUint(r.Seed, 10), strconv.Itoa(r.Replication),
				f(win.Start.Seconds()), f(win.End.Seconds()), f(win.Jain), name,
				strconv.FormatUint(t.Arrived, 10), strconv.FormatUint(t.Completed, 10),
				f(float64(t.P50) / 1e6), f(float64(t.P99) / 1e6), strconv.Itoa(t.InFlight), strconv.Itoa(t.Limit), f(t.Tokens)}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteWorkersCSV writes one row per worker (queue length, utilisation, completions);
// header if asked.
func (r *Result) WriteWorkersCSV(w io.Writer, header bool) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write([]string{"scenario", "seed", "replication", "worker", "mean_queue", "max_queue", "utilization", "completed"}); err != nil {
			return err
		}
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 10, 64) }
	for i, wr := range r.Workers {
		if err := cw.Write([]string{r.Scenario, strconv.FormatUint(r.Seed, 10), strconv.Itoa(r.Replication), strconv.Itoa(i),
			f(wr.MeanQueue), strconv.Itoa(wr.MaxQueue), f(wr.Utilization), strconv.FormatUint(wr.Completed, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
