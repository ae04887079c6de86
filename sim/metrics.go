package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// The four latencies recorded for every measured job.
const (
	latAdmission = iota // arrived → admitted (zero without admission)
	latQueue            // admitted → started
	latService          // started → finished
	latTotal            // arrived → finished
	nLat
)

// recorder collects a run's metrics in memory bounded by tenants + windows: counters, exact
// sums for means, and DDSketch quantile sketches (relative accuracy Metrics.Accuracy), kept
// per tenant as their bins (see bins) and made into sketches for the result.
type recorder struct {
	window    time.Duration
	warmup    time.Duration
	admission bool // admission lags are recorded
	mapping   mapping.IndexMapping
	t         []tenantRec
	lostOpen  int // crashed jobs not yet reaped

	// the current window
	winStart        time.Duration
	winDone         []float64 // completions per tenant in this window
	winArrived      []float64
	backlogStart    []float64 // jobs present per tenant at the window's start
	demand, fair    []float64 // scratch, active tenants only
	weights2, done2 []float64
	weights         []float64
	nSeries         int
	winLat          []windowBins // per series tenant: total latency in this window, as sketch bins
	winSketcher     *sketcher    // makes winLat into a sketch at the window's end
	// The wait (arrival to start: admission lag plus queue lag) of every measured job, and of
	// each series tenant's, for the wait CDFs. Only with admission: without it the wait is the
	// queue lag, whose bins every tenant keeps.
	waitAll       bins
	waitSeries    []bins
	waitMax       float64 // exact, ns
	waitMaxSeries []float64
	windows       []Window

	// whole-system areas, for time-average queue lengths
	present, waiting                int
	areaPresent, areaWaiting, lastT float64
}

type tenantRec struct {
	// waitArea is the time jobs spent waiting (arrival to start) after Warmup, added as each
	// starts (and, at the end, for those still waiting): the integral of the number waiting,
	// kept beside started so that a start touches one line of the record.
	waitArea                                                               float64
	arrived, admitted, started, completed, failed, rejected, lost, expired uint64
	present                                                                int // arrived, not finished
	inSystem                                                               int // at the workers
	area, lastT                                                            float64
	n                                                                      uint64 // measured completions
	sum, mx                                                                [nLat]float64
	lat                                                                    [nLat]bins // sketch bins of the latencies
	measuredArrivals                                                       uint64
}

func newRecorder(sc *Scenario, ten []tenantState) *recorder {
	acc := sc.Metrics.Accuracy
	if acc == 0 {
		acc = 0.01
	}
	mp, err := mapping.NewCubicallyInterpolatedMapping(acc)
	if err != nil {
		panic(err) // Validate bounds Accuracy to (0, 1)
	}
	n := len(ten)
	r := &recorder{
		window: sc.window(), warmup: sc.Warmup, admission: sc.Admission != nil, mapping: mp, t: make([]tenantRec, n),
		winDone: make([]float64, n), winArrived: make([]float64, n), backlogStart: make([]float64, n),
		weights: make([]float64, n),
	}
	for i := range ten {
		r.weights[i] = ten[i].weight
	}
	r.nSeries = sc.Metrics.SeriesTenants
	if r.nSeries == 0 {
		r.nSeries = 20
	}
	r.nSeries = min(r.nSeries, n)
	r.winLat = make([]windowBins, r.nSeries)
	r.waitSeries = make([]bins, r.nSeries)
	r.waitMaxSeries = make([]float64, r.nSeries)
	r.winSketcher = newSketcher(mp)
	return r
}

// system updates the time-average areas before a change of the whole-system counts.
func (r *recorder) system(now time.Duration) {
	t := float64(now)
	if now > r.warmup {
		from := max(r.lastT, float64(r.warmup))
		// float64(x*y) keeps the compiler from fusing x*y + z (FMA on arm64, ppc64le, s390x):
		// the same sums on every architecture.
		r.areaPresent += float64(float64(r.present) * (t - from))
		r.areaWaiting += float64(float64(r.waiting) * (t - from))
	}
	r.lastT = t
}

func (r *recorder) tenantArea(now time.Duration, tr *tenantRec) {
	t := float64(now)
	if now > r.warmup {
		from := max(tr.lastT, float64(r.warmup))
		tr.area += float64(float64(tr.present) * (t - from)) // float64(): no FMA, as in system
	}
	tr.lastT = t
}

func (r *recorder) arrive(now time.Duration, t int32) {
	tr := &r.t[t]
	r.system(now)
	r.tenantArea(now, tr)
	tr.arrived++
	tr.present++
	r.present++
	r.waiting++
	r.winArrived[t]++
	if now >= r.warmup {
		tr.measuredArrivals++
	}
}

func (r *recorder) reject(now time.Duration, t int32) {
	tr := &r.t[t]
	r.system(now)
	r.tenantArea(now, tr)
	if now >= r.warmup {
		tr.measuredArrivals-- // Little's law counts the arrivals that enter the system
	}
	tr.rejected++
	tr.present--
	r.present--
	r.waiting--
}

func (r *recorder) admit(now time.Duration, t int32) { r.t[t].admitted++ }

func (r *recorder) enterSystem(now time.Duration, t int32) { r.t[t].inSystem++ }

func (r *recorder) start(now time.Duration, j *job) {
	tr := &r.t[j.tenant]
	r.system(now)
	r.waiting--
	tr.started++
	tr.waitArea += r.waitedSince(now, j.arrived)
}

// waitedSince returns the part after Warmup of a wait from arrived to now, in ns.
func (r *recorder) waitedSince(now, arrived time.Duration) float64 {
	return float64(max(now-max(arrived, r.warmup), 0))
}

func (r *recorder) leaveSystem(now time.Duration, t int32) { r.t[t].inSystem-- }

func (r *recorder) complete(now time.Duration, j *job) {
	tr := &r.t[j.tenant]
	r.system(now)
	r.tenantArea(now, tr)
	tr.present--
	r.present--
	tr.completed++
	if j.failed {
		tr.failed++
	}
	r.winDone[j.tenant]++
	if j.arrived < r.warmup {
		return
	}
	tr.n++
	if r.admission { // without admission the lag is always zero: no sketch to feed
		r.record(tr, latAdmission, j.admitted-j.arrived)
	}
	r.record(tr, latQueue, j.started-j.admitted)
	r.record(tr, latService, now-j.started)
	if i, ok := r.record(tr, latTotal, now-j.arrived); ok && int(j.tenant) < r.nSeries {
		r.winLat[j.tenant].add(i)
	}
	if r.admission {
		v := float64(j.started - j.arrived)
		if i, ok := index(r.mapping, max(v, 1)); ok {
			r.addWait(j.tenant, v, i)
		}
	}
}

// record adds a measured job's latency d of kind k to tr, and returns its sketch index and
// whether a sketch takes it.
func (r *recorder) record(tr *tenantRec, k int, d time.Duration) (int32, bool) {
	v := float64(d)
	tr.sum[k] += v
	tr.mx[k] = max(tr.mx[k], v)
	i, ok := index(r.mapping, max(v, 1)) // sketches need positive values; 1ns stands for zero
	if ok {
		tr.lat[k].add(i)
	}
	return i, ok
}

// addWait records a measured job's wait v (ns), whose sketch index is i.
func (r *recorder) addWait(t int32, v float64, i int32) {
	r.waitAll.add(i)
	r.waitMax = max(r.waitMax, v)
	if int(t) < r.nSeries {
		r.waitSeries[t].add(i)
		r.waitMaxSeries[t] = max(r.waitMaxSeries[t], v)
	}
}

// lose records a job lost in a worker crash (the lease will reap it).
func (r *recorder) lose(now time.Duration, j *job) {
	tr := &r.t[j.tenant]
	r.system(now)
	r.tenantArea(now, tr)
	tr.present--
	r.present--
	tr.lost++
	r.lostOpen++
}

// expireLive counts a job whose lease expired before it finished.
func (r *recorder) expireLive(j *job) { r.t[j.tenant].expired++ }

func (r *recorder) expire(now time.Duration) {
	if r.lostOpen > 0 {
		r.lostOpen--
	}
}

// closeWindow records the window ending at now: throughput per tenant, Jain's index of
// throughput normalised by each tenant's weighted max-min fair share of what was completed
// (given what each tenant had to do: its backlog at the window's start plus its arrivals),
// and per-series-tenant latency and limiter state.
func (r *recorder) closeWindow(now time.Duration, m *model) {
	w := Window{Start: r.winStart, End: now}
	var capacity float64
	for i := range r.winDone {
		capacity += r.winDone[i]
		w.Completed += uint64(r.winDone[i])
		w.Arrived += uint64(r.winArrived[i])
	}
	w.Jain = math.NaN()
	if capacity > 0 {
		// Only tenants with something to do have a fair share; passing just those keeps the
		// window O(active tenants) when most of 100,000 tenants are idle.
		dem, wts, done := r.demand[:0], r.weights2[:0], r.done2[:0]
		for i := range r.winDone {
			if d := r.backlogStart[i] + r.winArrived[i]; d > 0 || r.winDone[i] > 0 {
				dem = append(dem, max(d, r.winDone[i]))
				wts = append(wts, r.weights[i])
				done = append(done, r.winDone[i])
			}
		}
		r.demand, r.weights2, r.done2 = dem, wts, done
		fair, err := interleave.MaxMinFair(dem, capacity, wts)
		if err != nil {
			panic(fmt.Sprintf("sim: max-min fair share: %v", err)) // demands and weights are >= 0 by construction
		}
		norm := r.fair[:0]
		for i, f := range fair {
			if f > 0 {
				norm = append(norm, done[i]/f)
			}
		}
		r.fair = norm
		if len(norm) > 0 {
			w.Jain, _ = interleave.Jain(norm) // norm is non-empty and >= 0
		}
	}
	for i := 0; i < r.nSeries; i++ {
		ts := TenantWindow{Completed: uint64(r.winDone[i]), Arrived: uint64(r.winArrived[i])}
		if wb := &r.winLat[i]; wb.n > 0 {
			qs, _ := r.winSketcher.of(&wb.bins).GetValuesAtQuantiles(winProbs)
			ts.P50, ts.P99 = time.Duration(qs[0]), time.Duration(qs[1])
			wb.reset()
		}
		ts.InFlight, ts.Limit, ts.Tokens = -1, -1, math.NaN()
		if m != nil {
			m.limiterState(now, int32(i), &ts)
		}
		w.Tenants = append(w.Tenants, ts)
	}
	w.Measured = r.winStart >= r.warmup
	r.windows = append(r.windows, w)
	for i := range r.winDone {
		r.backlogStart[i] = float64(r.t[i].present)
		r.winDone[i], r.winArrived[i] = 0, 0
	}
	r.winStart = now
}

// winProbs are the quantiles of a series tenant's window: TenantWindow's P50 and P99.
var winProbs = []float64{0.5, 0.99}

// limiterState fills the admission gates' state for tenant t, when they exist.
func (m *model) limiterState(now time.Duration, t int32, ts *TenantWindow) {
	name := m.ten[t].name
	wall := m.wallTime(now)
	if m.conc != nil {
		ts.InFlight = m.conc.InFlight(name)
	}
	if m.throttle != nil {
		ts.Tokens = m.throttle.Tokens(wall, name)
	}
	if m.adaptive != nil {
		ts.Limit = m.adaptive.Limit(name)
	}
}
