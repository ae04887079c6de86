package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/dispatchlab/dispatchlab/admission"
	"github.com/dispatchlab/dispatchlab/strategy"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// event is what the engine schedules: small, stored by value.
type event struct {
	kind uint8
	id   int32 // tenant or worker
	slot int32 // job slot, for done and crash
}

const (
	evArrival uint8 = iota
	evDone
	evCrash
	evTick
	evCapacity
	evWindow
)

// jobCtx is the admission context of a simulated job.
type jobCtx struct {
	tenant int32
	slot   int32
}

// job is a job in the system, in a slot of the job table.
type job struct {
	tenant   int32
	worker   int32
	arrived  time.Duration
	admitted time.Duration
	started  time.Duration
	service  time.Duration // at speed 1; zero means "sample at start"
	failed   bool
	crashed  bool // lost in a worker crash: the lease reaps it
	expired  bool // its lease expired while it was still queued or running
	live     bool
	traced   bool // service came from a trace
}

// tenant is all the per-tenant state of a run, the generator's and the recorder's, in one
// record whose fields are grouped by the event that reads them: with 100,000 tenants every
// event is a cache miss, and an arrival reads the record's first five lines, adjacent,
// instead of lines in two arrays (the recorder's parts are documented in metrics.go). The
// random streams live here too, not behind pointers.
type tenant struct {
	// arrivals, and what the admission policy's callbacks read as the job is staged and
	// admitted (its partition name, throttle limit and concurrency cap)
	arrivals int
	name     string
	limit    tokenbucket.Limit
	maxIn    int
	prio     int
	tenantCounts
	rng      [2]stream // arrivals, service
	gen      arrivalGen
	services []time.Duration // per trace record, if any
	done     bool            // no more arrivals
	// starts
	svc      sampler
	fail     *rand.Rand
	failRate float64
	// completions
	tenantLats
	// the rest
	weight  float64
	hashKey uint64
}

type workerState struct {
	busy   bool
	slot   int32
	speed  float64
	queue  ring // per-worker queue
	active bool
	timer  Timer
	// Time integrals since Warmup, for WorkerResult: of the queue length and of busy time.
	last              time.Duration
	queueArea, busyNs float64
	maxQueue          int
	completed         uint64
}

// ring is a FIFO/LIFO of job slots.
type ring struct {
	buf        []int32
	head, size int
}

func (q *ring) len() int { return q.size }

func (q *ring) push(x int32) {
	if q.size == len(q.buf) {
		nb := make([]int32, max(8, 2*len(q.buf)))
		for i := 0; i < q.size; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = x
	q.size++
}

func (q *ring) popFront() int32 {
	x := q.buf[q.head]
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	return x
}

func (q *ring) popBack() int32 {
	q.size--
	return q.buf[(q.head+q.size)%len(q.buf)]
}

// model is one replication of a scenario.
type model struct {
	sc   *Scenario
	eng  *Engine[event]
	ten  []tenant
	wk   []workerState
	idle idleSet // idle active workers (central queue)
	jobs []job
	ids  []admission.JobID // per slot, created once
	free []int32

	central  ring
	lifo     bool
	perW     bool
	strat    strategy.Strategy
	fallback strategy.Strategy // when strat finds no idle worker (next_available): Best
	pool     workerPool
	active   int // active workers
	inSystem int // jobs waiting or in service at the workers
	capacity int

	policy       *admission.Policy[jobCtx]
	throttle     *admission.ThrottleGate[jobCtx]
	conc         *admission.ConcurrencyGate[jobCtx]
	adaptive     *admission.AdaptiveGate[jobCtx]
	tickEvery    time.Duration
	idleEvery    time.Duration
	eventTicks   bool
	tickQueued   bool
	tickAt       time.Duration // when the queued tick runs
	lastTick     time.Duration
	lastAdmitted bool // the last tick admitted jobs: the loop's next sleep is TickInterval
	tickTimer    Timer
	staged       int     // staged, not yet admitted
	stagedBy     []int32 // per tenant (event-driven ticks only, as stagedSet and inSet)
	stagedSet    []int32 // tenants with staged jobs (event-driven throttle ticks)
	inSet        []bool
	admitBuf     []admission.Admitted[jobCtx]
	reapBuf      []admission.JobID
	// leases mirror the policy's: the sim never heartbeats or reverts, so leases expire in
	// admission order, Lease after admission, and a tick calls Reap only once the oldest
	// admitted job still held can have expired. An entry is stale once its slot is freed.
	leases    []leaseRec
	leaseHead int
	slotGen   []uint32 // per slot: bumped when the slot is freed

	crash      *rand.Rand
	crashRate  float64
	failStream *rand.Rand

	end      time.Duration
	arriving int           // arrival events scheduled and not yet handled
	wallD    time.Duration // the last time wallTime converted, and its instant
	wallAt   time.Time
	wallSet  bool
	rec      *recorder
}

// workerPool adapts the active workers to strategy.Pool.
type workerPool struct{ m *model }

func (p workerPool) Len() int { return p.m.active }
func (p workerPool) QueueLen(i int) int { // strategy.Pool's load: waiting plus running
	w := &p.m.wk[i]
	if w.busy {
		return w.queue.len() + 1
	}
	return w.queue.len()
}
func (p workerPool) Idle(i int) bool { return !p.m.wk[i].busy }

// expand lists the scenario's tenants, replicating those with Count > 1, and the index in
// sc.Tenants of each one's entry. The names of replicas share one backing string, built in
// one allocation: with 100,000 tenants that is 100,000 fewer small allocations, and the
// admission policy, which reads a job's name to find its partition, reads it from a few
// dense pages.
func expand(sc *Scenario) (out []Tenant, groups []int32) {
	n, size := 0, 0
	for _, t := range sc.Tenants {
		n += max(t.Count, 1)
		if t.Count > 1 {
			size += t.Count * (len(t.Name) + 1 + len(strconv.Itoa(t.Count-1)))
		}
	}
	buf := make([]byte, 0, size)
	ends := make([]int, 0, n) // the end in buf of each replica's name
	for _, t := range sc.Tenants {
		for i := 0; t.Count > 1 && i < t.Count; i++ {
			buf = append(buf, t.Name...)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(i), 10)
			ends = append(ends, len(buf))
		}
	}
	names := string(buf)
	out = make([]Tenant, 0, n)
	groups = make([]int32, 0, n)
	k, off := 0, 0
	for g, t := range sc.Tenants {
		if t.Count <= 1 {
			out = append(out, t)
			groups = append(groups, int32(g))
			continue
		}
		for range t.Count {
			c := t
			c.Name, off = names[off:ends[k]], ends[k]
			k++
			out = append(out, c)
			groups = append(groups, int32(g))
		}
	}
	return out, groups
}

func newModel(sc *Scenario, seed uint64, rep int) (*model, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	m := &model{sc: sc, end: sc.Duration + sc.drain()}
	m.eng = NewEngine(m.handle)
	m.eng.far = func(t uint32) event { return event{kind: evArrival, id: int32(t)} }
	tenants, groups := expand(sc)
	m.ten = make([]tenant, len(tenants))
	for i, t := range tenants {
		ts := &m.ten[i]
		ts.name, ts.prio, ts.failRate = t.Name, t.Priority, t.FailureRate
		ts.weight = float64(max(t.Weight, 1))
		// The scenario's entry, not the replica's copy: the copies are dropped after setup.
		a := &sc.Tenants[groups[i]].Arrivals
		ts.gen = newArrivalGen(a, ts.rng[0].init(seed, rep, "arrivals/"+t.Name))
		ts.svc = newSampler(t.Service, ts.rng[1].init(seed, rep, "service/"+t.Name))
		if t.FailureRate > 0 {
			ts.fail = Stream(seed, rep, "failure/"+t.Name)
		}
		ts.hashKey = splitmix(uint64(i))
		ts.maxIn = t.MaxInFlight
		ts.services = t.Arrivals.Services
		if t.Limit != nil {
			ts.limit = *t.Limit
		}
	}
	w := sc.Workers
	m.wk = make([]workerState, w.Count)
	for i := range m.wk {
		m.wk[i].speed = 1
		if i < len(w.Speed) && w.Speed[i] > 0 {
			m.wk[i].speed = w.Speed[i]
		}
		m.wk[i].active = true
	}
	m.active = w.Count
	m.idle = newIdleSet(w.Count)
	for i := range m.wk {
		m.idle.add(int32(i))
	}
	m.capacity = w.Capacity
	m.lifo = w.Queue == "lifo"
	m.perW = w.Queue == "per-worker"
	m.pool = workerPool{m}
	if m.perW {
		var err error
		if m.strat, err = newStrategy(w.Strategy, Stream(seed, rep, "strategy")); err != nil {
			return nil, err
		}
		if w.Strategy == "next_available" {
			if m.fallback, err = strategy.NewBest(Stream(seed, rep, "strategy-fallback")); err != nil {
				return nil, err
			}
		}
	}
	if w.CrashRate > 0 {
		m.crash, m.crashRate = Stream(seed, rep, "crash"), w.CrashRate
	}
	if a := sc.Admission; a != nil {
		if err := m.buildPolicy(a); err != nil {
			return nil, err
		}
	}
	m.rec = newRecorder(sc, m.ten)
	return m, nil
}

// newStrategy returns the named worker-selection strategy.
func newStrategy(name string, r *rand.Rand) (strategy.Strategy, error) {
	switch name {
	case "", "best":
		return strategy.NewBest(r)
	case "random":
		return strategy.NewRandom(r)
	case "next":
		return strategy.NewNext(), nil
	case "p2c":
		return strategy.NewP2C(r)
	case "hash":
		return strategy.Hash{}, nil
	case "next_available":
		return strategy.NewNextAvailable(r)
	}
	return nil, fmt.Errorf("sim: unknown strategy %q", name)
}

func (m *model) buildPolicy(a *Admission) error {
	m.eventTicks = a.EventDriven
	if m.eventTicks {
		m.stagedBy = make([]int32, len(m.ten))
		m.inSet = make([]bool, len(m.ten))
	}
	m.tickEvery = a.TickInterval
	if m.tickEvery == 0 {
		m.tickEvery = 50 * time.Millisecond
	}
	m.idleEvery = a.IdleInterval
	if m.idleEvery == 0 {
		m.idleEvery = m.tickEvery
	}
	var gates []admission.Gate[jobCtx]
	if a.Throttle != nil {
		def := *a.Throttle
		m.throttle = admission.Throttle(func(c jobCtx) tokenbucket.Limit {
			if l := m.ten[c.tenant].limit; l.Burst > 0 {
				return l
			}
			return def
		})
		gates = append(gates, m.throttle)
	}
	if a.Concurrency > 0 {
		def := a.Concurrency
		m.conc = admission.Concurrency(func(c jobCtx) int {
			if n := m.ten[c.tenant].maxIn; n > 0 {
				return n
			}
			return def
		})
		gates = append(gates, m.conc)
	}
	if a.Adaptive != nil {
		g, err := admission.Adaptive[jobCtx](*a.Adaptive)
		if err != nil {
			return err
		}
		m.adaptive = g
		gates = append(gates, g)
	}
	if a.FairInterleave {
		gates = append(gates, admission.FairInterleave[jobCtx]())
	}
	if a.GlobalCap > 0 {
		gates = append(gates, admission.GlobalCap[jobCtx](a.GlobalCap))
	}
	order := admission.Ascending
	if a.Descending {
		order = admission.Descending
	}
	var err error
	m.policy, err = admission.New(admission.Config[jobCtx]{
		Gates:       gates,
		PartitionBy: func(c jobCtx) string { return m.ten[c.tenant].name },
		// A tenant's index determines its name: it numbers its partition, which saves
		// hashing its name per job (with 100,000 tenants, cache misses in the table).
		PartitionIndex: func(c jobCtx) int { return int(c.tenant) },
		BatchSize:      a.BatchSize, Quantum: a.Quantum, Lease: a.Lease, Order: order,
	})
	return err
}

// start schedules the first events.
func (m *model) start() {
	for i := range m.ten {
		m.nextArrival(int32(i), 0)
	}
	for _, c := range m.sc.Workers.Changes {
		m.eng.At(c.At, event{kind: evCapacity, id: int32(c.Count)})
	}
	m.eng.At(m.rec.window, event{kind: evWindow})
	if m.policy != nil && !m.eventTicks {
		m.scheduleTick(0)
	}
}

func (m *model) nextArrival(t int32, after time.Duration) {
	ts := &m.ten[t]
	at, ok := ts.gen.after(after)
	if !ok || at >= m.sc.Duration {
		ts.done = true
		return
	}
	m.arriving++
	ts.arrivals++
	m.eng.atFar(at, uint32(t))
}

func (m *model) handle(now time.Duration, ev event) {
	switch ev.kind {
	case evArrival:
		m.arrive(now, ev.id)
	case evDone:
		m.done(now, ev.id, false)
	case evCrash:
		m.done(now, ev.id, true)
	case evTick:
		m.tick(now)
	case evCapacity:
		m.setCapacity(now, int(ev.id))
	case evWindow:
		m.rec.closeWindow(now, m)
		if now+m.rec.window <= m.end && (m.eng.Len() > 0 || m.busy()) {
			m.eng.At(now+m.rec.window, event{kind: evWindow})
		}
	}
}

// busy reports whether any job is still in the system or staged.
func (m *model) busy() bool { return m.inSystem > 0 || m.staged > 0 || m.lostJobs() }

func (m *model) lostJobs() bool { return m.policy != nil && m.rec.lostOpen > 0 }

func (m *model) newSlot() int32 {
	if n := len(m.free); n > 0 {
		s := m.free[n-1]
		m.free = m.free[:n-1]
		return s
	}
	m.jobs = append(m.jobs, job{})
	m.slotGen = append(m.slotGen, 0)
	m.ids = append(m.ids, admission.JobID("j"+strconv.Itoa(len(m.jobs)-1)))
	return int32(len(m.jobs) - 1)
}

func (m *model) freeSlot(s int32) {
	m.jobs[s] = job{}
	m.slotGen[s]++
	m.free = append(m.free, s)
}

func (m *model) arrive(now time.Duration, t int32) {
	ts := &m.ten[t]
	k := ts.arrivals - 1 // this arrival's index, before the next is scheduled
	m.arriving--
	m.nextArrival(t, now)
	m.rec.arrive(now, t)
	if m.policy == nil && m.capacity > 0 && m.inSystem >= m.capacity {
		m.rec.reject(now, t)
		return
	}
	s := m.newSlot()
	j := &m.jobs[s]
	*j = job{tenant: t, worker: -1, arrived: now, live: true}
	if ts.services != nil {
		if s := ts.services[k]; s > 0 {
			j.service, j.traced = s, true
		}
	}
	if m.policy == nil {
		j.admitted = now
		m.dispatch(now, s)
		return
	}
	jb := admission.Job[jobCtx]{ID: m.ids[s], Priority: ts.prio, Context: jobCtx{tenant: t, slot: s}}
	if m.sc.Admission.RoundRobin {
		jb.RoundRobinKey = ts.name
	}
	if _, err := m.policy.Stage(m.wallTime(now), jb); err != nil {
		panic(fmt.Sprintf("sim: staging %s: %v", jb.ID, err)) // IDs are unique per slot: a bug
	}
	m.staged++
	if m.eventTicks { // for nextToken, which only event-driven ticks call
		if m.stagedBy[t]++; !m.inSet[t] {
			m.inSet[t] = true
			m.stagedSet = append(m.stagedSet, t)
		}
	}
	switch {
	case m.eventTicks:
		m.scheduleTick(now)
	case !m.tickQueued:
		m.scheduleTick(m.nextLoopTick(now))
	}
}

// nextLoopTick returns when the tick loop, stopped since its last tick because nothing was
// staged, next ticks at or after now. The loop sleeps TickInterval after a tick that admitted
// jobs and IdleInterval after one that did not, so its ticks since lastTick are lastTick +
// TickInterval (or + IdleInterval) and then every IdleInterval; the empty ones are not
// simulated, only their phase. An arrival at the instant of the last tick counts as caught by
// it (simultaneous events), so that tick runs again.
func (m *model) nextLoopTick(now time.Duration) time.Duration {
	if now <= m.lastTick {
		return m.lastTick
	}
	first := m.lastTick + m.idleEvery
	if m.lastAdmitted {
		first = m.lastTick + m.tickEvery
	}
	if now <= first {
		return first
	}
	return first + m.idleEvery*((now-first+m.idleEvery-1)/m.idleEvery)
}

// scheduleTick makes sure a tick runs at at (or earlier).
func (m *model) scheduleTick(at time.Duration) {
	if m.tickQueued {
		if m.tickAt <= at {
			return
		}
		m.eng.Cancel(m.tickTimer)
	}
	m.tickQueued, m.tickAt = true, at
	m.tickTimer = m.eng.At(at, event{kind: evTick})
}

// epoch is the wall-clock instant of virtual time zero, for the algorithm packages.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// wallTime converts virtual time d to a wall-clock instant. Consecutive calls share their
// instant (a tick, the starts it causes), so the last conversion is kept.
func (m *model) wallTime(d time.Duration) time.Time {
	if d != m.wallD || !m.wallSet {
		m.wallD, m.wallAt, m.wallSet = d, epoch.Add(d), true
	}
	return m.wallAt
}

func (m *model) tick(now time.Duration) {
	m.tickQueued, m.lastTick = false, now
	wall := m.wallTime(now)
	m.reapBuf = m.reapBuf[:0]
	if m.leaseDue(now) {
		m.reapBuf = m.policy.ReapAppend(wall, m.reapBuf)
	}
	for _, id := range m.reapBuf {
		s, _ := strconv.Atoi(string(id[1:])) // IDs are "j<slot>"
		if j := &m.jobs[s]; !j.crashed {
			// The lease ran out while the job still waits at a worker or runs, as a lease
			// shorter than queue plus service time does in a real dispatcher: the policy
			// has released its gates, and the job finishes without a Complete.
			j.expired = true
			m.rec.expireLive(j)
			continue
		}
		m.rec.expire(now)
		m.freeSlot(int32(s))
	}
	m.admitBuf = m.policy.TickAppend(wall, m.admitBuf[:0])
	for _, a := range m.admitBuf {
		s := a.Context.slot
		t := m.jobs[s].tenant
		m.jobs[s].admitted = now
		m.leases = append(m.leases, leaseRec{at: now, slot: s, gen: m.slotGen[s]})
		m.staged--
		if m.eventTicks {
			m.stagedBy[t]--
		}
		m.rec.admit(now, t)
		m.dispatch(now, s)
	}
	m.lastAdmitted = len(m.admitBuf) > 0
	if m.staged == 0 && !m.lostJobs() {
		return
	}
	if m.eventTicks {
		// Arrivals and completions tick by themselves; what else can change is a throttled
		// tenant's next token, and a crashed job's lease.
		if next, ok := m.nextToken(now, wall); ok {
			m.scheduleTick(next)
		}
		return
	}
	next := m.idleEvery
	if len(m.admitBuf) > 0 {
		next = m.tickEvery
	}
	if now+next <= m.end {
		m.scheduleTick(now + next)
	}
}

type leaseRec struct {
	at   time.Duration
	slot int32
	gen  uint32
}

// leaseDue reports whether the oldest admitted job the policy still holds has a lease that
// expired before now, dropping the entries of jobs that finished.
func (m *model) leaseDue(now time.Duration) bool {
	if h := m.leaseHead; h >= 1024 && 2*h >= len(m.leases) { // keep the queue O(held)
		m.leases = m.leases[:copy(m.leases, m.leases[h:])]
		m.leaseHead = 0
	}
	for m.leaseHead < len(m.leases) {
		e := m.leases[m.leaseHead]
		if m.slotGen[e.slot] == e.gen && !m.jobs[e.slot].expired {
			return now-e.at > m.lease() // the policy reaps exp < now, exp = admitted + Lease
		}
		m.leaseHead++
	}
	m.leases, m.leaseHead = m.leases[:0], 0
	return false
}

// nextToken returns the earliest time after now at which a tenant with staged jobs gets a
// throttle token, pruning tenants with nothing staged from the set.
func (m *model) nextToken(now time.Duration, wall time.Time) (time.Duration, bool) {
	if m.throttle == nil {
		return 0, false
	}
	best, found := time.Duration(0), false
	live := m.stagedSet[:0]
	for _, t := range m.stagedSet {
		if m.stagedBy[t] == 0 {
			m.inSet[t] = false
			continue
		}
		live = append(live, t)
		if d, ok := m.throttle.Delay(wall, m.ten[t].name); ok && d > 0 && (!found || d < best) {
			best, found = d, true
		}
	}
	m.stagedSet = live
	return now + best, found
}

// lease is the admission lease in force.
func (m *model) lease() time.Duration {
	if l := m.sc.Admission.Lease; l > 0 {
		return l
	}
	return admission.DefaultLease
}

// dispatch hands an admitted job to the workers.
func (m *model) dispatch(now time.Duration, s int32) {
	m.inSystem++
	m.rec.enterSystem(now, m.jobs[s].tenant)
	if m.perW {
		m.place(now, s)
		return
	}
	if i, ok := m.idle.first(); ok {
		m.begin(now, i, s)
		return
	}
	m.central.push(s)
}

// place gives job s to the worker the strategy picks, starting it or queueing it there.
func (m *model) place(now time.Duration, s int32) {
	key := m.ten[m.jobs[s].tenant].hashKey
	i, err := m.strat.Pick(m.pool, key)
	if errors.Is(err, strategy.ErrNoAvailableWorkers) && m.fallback != nil {
		// wpool's next_available_worker fails when no worker is idle; a dispatcher then
		// queues the job somewhere: at the shortest queue.
		i, err = m.fallback.Pick(m.pool, key)
	}
	if err != nil {
		// No active worker: queue at worker 0 until capacity returns.
		i = 0
	}
	w := &m.wk[i]
	if !w.busy && w.active {
		m.begin(now, int32(i), s)
	} else {
		m.touch(now, int32(i))
		w.queue.push(s)
		if now >= m.rec.warmup {
			w.maxQueue = max(w.maxQueue, w.queue.len())
		}
	}
}

// touch brings worker i's time integrals up to now, before its queue or state changes.
func (m *model) touch(now time.Duration, i int32) {
	w := &m.wk[i]
	if from := max(w.last, m.rec.warmup); now > from {
		d := float64(now - from)
		w.queueArea += float64(d * float64(w.queue.len())) // float64(): no FMA
		if w.busy {
			w.busyNs += d
		}
	}
	w.last = now
}

// begin starts job s on worker i.
func (m *model) begin(now time.Duration, i int32, s int32) {
	m.touch(now, i)
	m.idle.remove(i)
	w := &m.wk[i]
	j := &m.jobs[s]
	w.busy, w.slot = true, s
	j.worker, j.started = i, now
	ts := &m.ten[j.tenant]
	if !j.traced {
		j.service = ts.svc.sample()
	}
	if ts.fail != nil {
		j.failed = ts.fail.Float64() < ts.failRate
	}
	d := time.Duration(float64(j.service) * w.speed)
	m.rec.start(now, j)
	if m.policy != nil && !j.expired {
		if err := m.policy.Start(m.wallTime(now), m.ids[s]); err != nil {
			panic(fmt.Sprintf("sim: starting %s: %v", m.ids[s], err))
		}
	}
	if m.crash != nil {
		if c := time.Duration(m.crash.ExpFloat64() / m.crashRate * 1e9); c < d {
			w.timer = m.eng.At(now+c, event{kind: evCrash, id: i, slot: s})
			return
		}
	}
	w.timer = m.eng.At(now+d, event{kind: evDone, id: i, slot: s})
}

// done finishes worker i's job (or loses it in a crash) and starts the next one.
func (m *model) done(now time.Duration, i int32, crashed bool) {
	m.touch(now, i)
	w := &m.wk[i]
	s := w.slot
	j := &m.jobs[s]
	w.busy = false
	if w.active {
		m.idle.add(i)
	}
	if !crashed && now >= m.rec.warmup {
		w.completed++
	}
	m.inSystem--
	m.rec.leaveSystem(now, j.tenant)
	switch {
	case crashed && j.expired:
		// Lost after its lease already expired: nothing holds it any more.
		m.rec.lose(now, j)
		m.rec.expire(now)
		m.freeSlot(s)
	case crashed:
		// The job is lost; its slot stays taken until the lease reaps it (its ID is still
		// held by the policy), and a tick is due then.
		j.crashed = true
		m.rec.lose(now, j)
		m.scheduleTick(max(now, j.admitted+m.lease()+1)) // now, if the lease already ran out unreaped
	case j.expired: // the policy forgot it when its lease expired
		m.rec.complete(now, j)
		m.freeSlot(s)
	case m.policy != nil:
		m.rec.complete(now, j)
		if err := m.policy.Complete(m.wallTime(now), m.ids[s], j.failed); err != nil {
			panic(fmt.Sprintf("sim: completing %s: %v", m.ids[s], err))
		}
		m.freeSlot(s)
		if m.eventTicks && m.staged > 0 {
			m.scheduleTick(now)
		}
	default:
		m.rec.complete(now, j)
		m.freeSlot(s)
	}
	m.next(now, i)
}

// next gives an idle active worker its next job.
func (m *model) next(now time.Duration, i int32) {
	w := &m.wk[i]
	if !w.active || w.busy {
		return
	}
	var s int32 = -1
	switch {
	case m.perW && w.queue.len() > 0:
		m.touch(now, i)
		s = w.queue.popFront()
	case !m.perW && m.central.len() > 0:
		if m.lifo {
			s = m.central.popBack()
		} else {
			s = m.central.popFront()
		}
	}
	if s >= 0 {
		m.begin(now, i, s)
	}
}

// setCapacity activates the first n workers and deactivates the rest; a deactivated busy
// worker finishes its job first, and its queued jobs move to the central queue or to worker 0.
func (m *model) setCapacity(now time.Duration, n int) {
	m.active = n
	for i := range m.wk {
		w := &m.wk[i]
		was := w.active
		w.active = i < n
		if w.active && !w.busy {
			m.idle.add(int32(i))
		} else {
			m.idle.remove(int32(i))
		}
		if w.active && !was {
			m.next(now, int32(i))
		}
	}
	if !m.perW || n == 0 {
		return
	}
	// The queues of removed workers go back through the strategy, in worker order.
	for i := n; i < len(m.wk); i++ {
		w := &m.wk[i]
		if w.queue.len() > 0 {
			m.touch(now, int32(i))
		}
		for w.queue.len() > 0 {
			m.place(now, w.queue.popFront())
		}
	}
}
