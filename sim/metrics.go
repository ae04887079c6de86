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
	admission bool                                  // admission lags are recorded
	mapping   *mapping.CubicallyInterpolatedMapping // concrete: index calls it per value without an interface call
	t         []tenant                              // the model's tenants: their records hold the recorder's counts and latencies
	// latLog holds measured jobs' latency indices not yet added to their tenants' bins (see
	// logLat): appending here is sequential, where adding to a tenant's bins writes the end of
	// its own array (with 100,000 tenants, a cache and TLB miss per job in the event loop).
	latLog   []latRec
	lostOpen int // crashed jobs not yet reaped

	// the current window (per tenant: in tenantCounts)
	winStart        time.Duration
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

// tenantCounts are the recorder's counters of a tenant, part of its tenant record: every job
// touches them, in two cache lines, as it arrives, starts and completes (in about a second,
// so that what its arrival brought into the cache is still there when it completes).
type tenantCounts struct {
	present                                  int // arrived, not finished
	inSystem                                 int // at the workers
	area                                     float64
	lastT                                    float64
	arrived, admitted, started, completed, n uint64 // n: measured completions
	measuredArrivals                         uint64
	// waitArea is the time jobs spent waiting (arrival to start) after Warmup, added as each
	// starts (and, at the end, for those still waiting): the integral of the number waiting.
	waitArea float64
	// the current window: completions, arrivals, and jobs present at its start
	winDone, winArrived, backlogStart float64
}

// tenantLats are the recorder's latencies of a tenant (and its rarer counts), part of its
// tenant record: a completion adds to them.
type tenantLats struct {
	sum, mx                         [nLat]float64
	lat                             latBins // sketch bins of the latencies
	failed, rejected, lost, expired uint64
}

func newRecorder(sc *Scenario, ten []tenant) *recorder {
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
		window: sc.window(), warmup: sc.Warmup, admission: sc.Admission != nil, mapping: mp, t: ten,
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

func (r *recorder) tenantArea(now time.Duration, tr *tenant) {
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
	tr.winArrived++
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
	tr.winDone++
	if j.arrived < r.warmup {
		return
	}
	tr.n++
	x := [nLat]int32{noIndex, noIndex, noIndex, noIndex}
	if r.admission { // without admission the lag is always zero: no sketch to feed
		x[latAdmission] = r.record(tr, latAdmission, j.admitted-j.arrived)
	}
	x[latQueue] = r.record(tr, latQueue, j.started-j.admitted)
	x[latService] = r.record(tr, latService, now-j.started)
	x[latTotal] = r.record(tr, latTotal, now-j.arrived)
	r.logLat(j.tenant, x)
	if i := x[latTotal]; i != noIndex && int(j.tenant) < r.nSeries {
		r.winLat[j.tenant].add(i)
	}
	if r.admission {
		v := float64(j.started - j.arrived)
		if i, ok := index(r.mapping, max(v, 1)); ok {
			r.addWait(j.tenant, v, i)
		}
	}
}

// latRec is a measured job's latency indices, for its tenant's bins.
type latRec struct {
	t int32
	x [nLat]int32
}

// latLogLen is how many records latLog holds before they go to the tenants' bins: 80 KB,
// which stays in cache between flushes.
const latLogLen = 4096

// logLat queues tenant t's latency indices x for its bins. The bins get every tenant's
// records in the order they were logged, so they end up as if added directly; flushLat runs
// when the log is full and before the bins are read. A flush adds thousands of records in
// one loop whose iterations do not depend on each other, so their cache misses overlap.
func (r *recorder) logLat(t int32, x [nLat]int32) {
	if len(r.latLog) == cap(r.latLog) {
		r.flushLat()
	}
	r.latLog = append(r.latLog, latRec{t: t, x: x})
}

// flushLat adds the logged records to their tenants' bins.
func (r *recorder) flushLat() {
	for i := range r.latLog {
		e := &r.latLog[i]
		r.t[e.t].lat.add(e.x)
	}
	if r.latLog == nil {
		r.latLog = make([]latRec, 0, latLogLen)
	}
	r.latLog = r.latLog[:0]
}

// record adds a measured job's latency d of kind k to tr's sum and max, and returns its
// sketch index, or noIndex if a sketch refuses it.
func (r *recorder) record(tr *tenant, k int, d time.Duration) int32 {
	v := float64(d)
	tr.sum[k] += v
	tr.mx[k] = max(tr.mx[k], v)
	if i, ok := index(r.mapping, max(v, 1)); ok { // sketches need positive values; 1ns stands for zero
		return i
	}
	return noIndex
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
	for i := 0; i < r.nSeries; i++ {
		tr := &r.t[i]
		ts := TenantWindow{Completed: uint64(tr.winDone), Arrived: uint64(tr.winArrived)}
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
	// One pass over the tenants: the window's totals and, for tenants with something to do,
	// their demands; then the next window starts.
	var capacity float64
	dem, wts, done := r.demand[:0], r.weights2[:0], r.done2[:0]
	for i := range r.t {
		tr := &r.t[i]
		capacity += tr.winDone
		w.Completed += uint64(tr.winDone)
		w.Arrived += uint64(tr.winArrived)
		// Only tenants with something to do have a fair share; passing just those keeps the
		// fair share O(active tenants) when most of 100,000 tenants are idle.
		if d := tr.backlogStart + tr.winArrived; d > 0 || tr.winDone > 0 {
			dem = append(dem, max(d, tr.winDone))
			wts = append(wts, r.weights[i])
			done = append(done, tr.winDone)
		}
		tr.backlogStart = float64(tr.present)
		tr.winDone, tr.winArrived = 0, 0
	}
	r.demand, r.weights2, r.done2 = dem, wts, done
	w.Jain = math.NaN()
	if capacity > 0 {
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
	w.Measured = r.winStart >= r.warmup
	r.windows = append(r.windows, w)
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
