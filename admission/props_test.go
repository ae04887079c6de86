package admission

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/interleave"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

var (
	trials = flag.Int("trials", 400, "gopter trials for the state-machine properties")
	seed   = flag.Int64("seed", 1, "gopter seed; CI pins it, change it to explore")
)

func forAll(t *testing.T, name string, n int, check func(seed uint64) string) {
	t.Helper()
	params := gopter.DefaultTestParametersWithSeed(*seed)
	params.MinSuccessfulTests = n
	params.MaxShrinkCount = 0
	props := gopter.NewProperties(params)
	props.Property(name, prop.ForAll(check, gen.UInt64()))
	props.TestingRun(t)
}

// machine drives a Policy with random operations and keeps a model of what it must do.
type machine struct {
	r       *rand.Rand
	p       *Policy[tctx]
	now     time.Time
	nextID  int
	ids     []JobID             // every ID made, in order
	held    map[JobID]Job[tctx] // pending or admitted, per the model
	adm     map[JobID]bool      // admitted, per the model
	started map[JobID]bool      // admitted and started, per the model
	lease   map[JobID]time.Time // admitted: when its lease expires (admission or heartbeat + Lease)
	seqOf   map[JobID]uint64    // stage order of held jobs (Reap's tie-break)
	dedupe  map[string]JobID
	limit   tokenbucket.Limit
	caps    map[string]int
	admits  map[string][]time.Time // per tenant: admission times, for the window bound
	tenants []string
	log     []string

	// The model's view of the controls and counts.
	paused                      map[string]bool
	draining                    bool
	staged, completed, reverted uint64
	lastAdmit                   time.Time
	throttled                   bool
	adaptive                    *AdaptiveGate[tctx]
	fetch                       *fetchOracle // nil unless the machine checks every batch
}

func newMachine(seed uint64) (*machine, error) {
	r := rand.New(rand.NewPCG(seed, 7))
	m := &machine{
		r: r, now: t0,
		held: map[JobID]Job[tctx]{}, adm: map[JobID]bool{}, dedupe: map[string]JobID{},
		started: map[JobID]bool{}, lease: map[JobID]time.Time{}, seqOf: map[JobID]uint64{},
		limit:   tokenbucket.Limit{Rate: float64(1 + r.IntN(5)), Per: time.Duration(1+r.IntN(20)) * time.Second, Burst: 1 + r.IntN(4)},
		caps:    map[string]int{"a": 1 + r.IntN(3), "b": 1 + r.IntN(3), "c": 1 + r.IntN(3)},
		admits:  map[string][]time.Time{},
		tenants: []string{"a", "b", "c"},
		paused:  map[string]bool{},
	}
	gates := []Gate[tctx]{}
	if r.IntN(2) == 0 {
		// A gate that is not built in (so the policy enforces the gate contract on every
		// gate's output) and checks each tick's batch against interleave.Batch.
		m.fetch = &fetchOracle{}
		gates = append(gates, m.fetch)
	}
	if r.IntN(4) > 0 {
		gates = append(gates, Throttle(Const[tctx](m.limit)))
		m.throttled = true
	}
	if r.IntN(4) > 0 {
		gates = append(gates, Concurrency(func(c tctx) int { return m.caps[c.Tenant] }))
	}
	if r.IntN(3) == 0 {
		ad, err := Adaptive[tctx](aimd.Config{Initial: 1 + r.IntN(3), TargetLag: time.Duration(1+r.IntN(5)) * time.Second})
		if err != nil {
			return nil, err
		}
		gates = append(gates, ad)
		m.adaptive = ad
	}
	if r.IntN(3) == 0 {
		gates = append(gates, GlobalCap[tctx](1+r.IntN(4)))
	}
	if r.IntN(3) == 0 {
		gates = append(gates, FairInterleave[tctx]())
	}
	if r.IntN(4) == 0 {
		gates = append(gates, Serial(func(c tctx) string { return fmt.Sprint(c.Max % 2) }))
	}
	order := Ascending
	if r.IntN(2) == 0 {
		order = Descending
	}
	cfg := Config[tctx]{
		Gates: gates, PartitionBy: byTenant, BatchSize: 1 + r.IntN(6), Quantum: 1 + r.IntN(3),
		Lease: time.Duration(10+r.IntN(50)) * time.Second, Order: order,
	}
	if seed%2 == 1 { // (from the seed, not r: the histories stay those of the seed)
		// Partitions numbered by PartitionIndex, "c" without an index (looked up by key):
		// the same behaviour.
		cfg.PartitionIndex = tenantIndex
	}
	var err error
	m.p, err = New(cfg)
	if m.fetch != nil {
		m.fetch.p = m.p
	}
	return m, err
}

// tenantIndex numbers the machine's tenants a and b; c has no index.
func tenantIndex(c tctx) int {
	switch c.Tenant {
	case "a":
		return 0
	case "b":
		return 1
	}
	return -1
}

// newJob returns a random job with the next ID.
func (m *machine) newJob() Job[tctx] {
	r := m.r
	id := JobID(fmt.Sprint(m.nextID))
	m.nextID++
	m.ids = append(m.ids, id)
	j := Job[tctx]{ID: id, Priority: r.IntN(3), Context: tctx{Tenant: m.tenants[r.IntN(3)], Max: r.IntN(4)}}
	if r.IntN(3) == 0 {
		j.DedupeKey = fmt.Sprint("d", r.IntN(4))
	}
	if r.IntN(2) == 0 {
		j.RoundRobinKey = j.Context.Tenant
	}
	if r.IntN(6) == 0 {
		j.NotBefore = m.now.Add(time.Duration(r.IntN(10)) * time.Second)
	}
	return j
}

// hold records a job the policy staged.
func (m *machine) hold(j Job[tctx]) {
	m.held[j.ID] = j
	m.seqOf[j.ID] = m.staged
	if j.DedupeKey != "" {
		m.dedupe[j.DedupeKey] = j.ID
	}
	m.staged++
}

// pick returns a random held job ID satisfying f, in a deterministic order.
func (m *machine) pick(f func(JobID) bool) (JobID, bool) {
	var ids []JobID
	for _, id := range m.ids {
		if _, ok := m.held[id]; ok && f(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", false
	}
	return ids[m.r.IntN(len(ids))], true
}

func (m *machine) step() error {
	r := m.r
	m.now = m.now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
	switch x := r.IntN(100); {
	case x < 28: // stage
		j := m.newJob()
		ok, err := m.p.Stage(m.now, j)
		if err != nil {
			return err
		}
		_, dup := m.dedupe[j.DedupeKey]
		if want := j.DedupeKey == "" || !dup; ok != want {
			return fmt.Errorf("Stage(%s, dedupe %q) = %v, want %v", j.ID, j.DedupeKey, ok, want)
		}
		if ok {
			m.hold(j)
		}
		m.log = append(m.log, fmt.Sprintf("stage %s %+v -> %v", j.ID, j, ok))
	case x < 35: // stage many: dedupe keys repeat within the batch; sometimes one ID is bad
		jobs := make([]Job[tctx], 1+r.IntN(4))
		for i := range jobs {
			jobs[i] = m.newJob()
		}
		bad := r.IntN(8) == 0
		if bad { // an empty ID, an ID twice in the batch, or the ID of a held job
			i := r.IntN(len(jobs))
			switch held, ok := m.pick(func(JobID) bool { return true }); {
			case r.IntN(3) == 0 && ok:
				jobs[i].ID = held
			case i > 0:
				jobs[i].ID = jobs[0].ID
			default:
				jobs[i].ID = ""
			}
		}
		n, err := m.p.StageMany(m.now, jobs)
		if bad {
			if err == nil || n != 0 {
				return fmt.Errorf("StageMany with a bad ID = %d, %v; want an error", n, err)
			}
			m.log = append(m.log, "stage many (bad) -> error")
			break
		}
		if err != nil {
			return err
		}
		want := 0
		for _, j := range jobs {
			_, dup := m.dedupe[j.DedupeKey]
			staged := j.DedupeKey == "" || !dup // the first of a key in the batch wins
			if got := m.p.jobs.get(j.ID) != nil; got != staged {
				return fmt.Errorf("StageMany: job %s (dedupe %q) staged %v, want %v", j.ID, j.DedupeKey, got, staged)
			}
			if staged {
				m.hold(j)
				want++
			}
		}
		if n != want {
			return fmt.Errorf("StageMany staged %d, want %d", n, want)
		}
		m.log = append(m.log, fmt.Sprintf("stage many %d -> %d", len(jobs), n))
	case x < 60: // tick
		var avail map[string]int // the adaptive gate's free slots per tenant, before the tick
		if m.adaptive != nil {
			avail = map[string]int{}
			for _, t := range m.tenants {
				avail[t] = m.adaptive.Available(m.now, t)
			}
		}
		var calls uint64
		if m.fetch != nil {
			calls = m.fetch.calls
		}
		out := m.p.Tick(m.now)
		perTenant := map[string]int{}
		for _, a := range out {
			if _, ok := m.held[a.ID]; !ok || m.adm[a.ID] {
				return fmt.Errorf("tick admitted %s, which is not pending", a.ID)
			}
			j := m.held[a.ID]
			switch t := j.Context.Tenant; {
			case j.NotBefore.After(m.now):
				return fmt.Errorf("tick admitted %s before its NotBefore", a.ID)
			case m.paused[t]:
				return fmt.Errorf("tick admitted %s of paused partition %s", a.ID, t)
			case m.draining:
				return fmt.Errorf("tick admitted %s while draining", a.ID)
			case a.AdmittedAt != m.now || a.LeaseExpires != m.now.Add(m.p.cfg.Lease) || a.Partition != t:
				return fmt.Errorf("tick admitted %+v at %v", a, m.now)
			}
			m.adm[a.ID] = true
			m.lease[a.ID] = a.LeaseExpires
			m.admits[j.Context.Tenant] = append(m.admits[j.Context.Tenant], m.now)
			perTenant[j.Context.Tenant]++
		}
		if len(out) > 0 {
			m.lastAdmit = m.now
		}
		for t, n := range perTenant {
			if avail != nil && n > avail[t] {
				return fmt.Errorf("tick admitted %d of partition %s, whose adaptive limit had %d free", n, t, avail[t])
			}
			if m.throttled {
				if err := m.windowBound(t); err != nil {
					return err
				}
			}
		}
		if m.fetch != nil {
			if m.fetch.err != nil {
				return m.fetch.err
			}
			if m.fetch.calls == calls && !m.draining {
				// No gate ran: the fetch was empty, so the oracle must find nothing.
				m.p.mu.Lock()
				want := m.fetch.expected()
				m.p.mu.Unlock()
				if len(want) > 0 {
					return fmt.Errorf("tick fetched nothing, want %v", want)
				}
			}
		}
		m.log = append(m.log, fmt.Sprintf("tick -> %d", len(out)))
	case x < 66: // start, sometimes a job already started (an error that changes nothing)
		if id, ok := m.pick(func(id JobID) bool { return m.adm[id] }); ok {
			err := m.p.Start(m.now, id)
			if m.started[id] != errors.Is(err, ErrStarted) || (!m.started[id] && err != nil) {
				return fmt.Errorf("Start(%s) = %v, model started %v", id, err, m.started[id])
			}
			m.started[id] = true
			m.log = append(m.log, fmt.Sprintf("start %s -> %v", id, err))
		}
		if id, ok := m.pick(func(id JobID) bool { return !m.adm[id] }); ok {
			if err := m.p.Start(m.now, id); !errors.Is(err, ErrNotAdmitted) {
				return fmt.Errorf("Start(%s) of a pending job = %v, want ErrNotAdmitted", id, err)
			}
		}
	case x < 69: // heartbeat: the lease runs from now
		if id, ok := m.pick(func(id JobID) bool { return m.adm[id] }); ok {
			if err := m.p.Heartbeat(m.now, id); err != nil {
				return err
			}
			m.lease[id] = m.now.Add(m.p.cfg.Lease)
			m.log = append(m.log, fmt.Sprintf("heartbeat %s", id))
		}
		if err := m.p.Heartbeat(m.now, "never"); !errors.Is(err, ErrUnknownJob) {
			return fmt.Errorf("Heartbeat of an unknown job = %v, want ErrUnknownJob", err)
		}
	case x < 85:
		if id, ok := m.pick(func(id JobID) bool { return m.adm[id] }); ok {
			if err := m.p.Complete(m.now, id, r.IntN(4) == 0); err != nil {
				return err
			}
			m.forget(id)
			m.completed++
			if err := m.p.Complete(m.now, id, false); err == nil {
				return fmt.Errorf("completing %s twice succeeded", id)
			}
			m.log = append(m.log, fmt.Sprintf("complete %s", id))
		}
		if err := m.p.Complete(m.now, "never", false); err == nil {
			return fmt.Errorf("completing an unknown job succeeded")
		}
	case x < 89:
		if id, ok := m.pick(func(id JobID) bool { return m.adm[id] }); ok {
			if err := m.p.Revert(m.now, id); err != nil {
				return err
			}
			if err := m.p.Revert(m.now, id); !errors.Is(err, ErrNotAdmitted) {
				return fmt.Errorf("reverting %s twice = %v, want ErrNotAdmitted", id, err)
			}
			delete(m.adm, id)
			delete(m.started, id)
			delete(m.lease, id)
			m.reverted++
			m.log = append(m.log, fmt.Sprintf("revert %s", id))
		}
	case x < 93: // reap: exactly the admitted jobs whose lease ended before now, by expiry
		var want []JobID
		for id, exp := range m.lease {
			if exp.Before(m.now) {
				want = append(want, id)
			}
		}
		slices.SortFunc(want, func(a, b JobID) int {
			if c := m.lease[a].Compare(m.lease[b]); c != 0 {
				return c
			}
			return cmp.Compare(m.seqOf[a], m.seqOf[b])
		})
		got := m.p.Reap(m.now)
		if !slices.Equal(got, want) {
			return fmt.Errorf("Reap(t+%v) = %v, want %v", m.now.Sub(t0), got, want)
		}
		for _, id := range got {
			m.forget(id)
			m.completed++
		}
		m.log = append(m.log, fmt.Sprintf("reap -> %v", got))
	case x < 97:
		t := m.tenants[r.IntN(3)]
		if r.IntN(2) == 0 {
			m.p.Pause(t)
			m.paused[t] = true
		} else {
			m.p.Resume(t)
			delete(m.paused, t)
		}
	default:
		if m.draining = r.IntN(2) == 0; m.draining {
			m.p.Drain()
		} else {
			m.p.Undrain()
		}
	}
	if err := checkInvariants(m.p); err != nil {
		return err
	}
	return m.checkStats()
}

// checkStats compares Stats with the model: totals, their sums over partitions, the
// paused flags, the last admission, and Drained.
func (m *machine) checkStats() error {
	s := m.p.Stats(m.now)
	if tot := m.p.Totals(); !reflect.DeepEqual(tot, Stats{
		Staged: s.Staged, Completed: s.Completed, Expired: s.Expired, Reverted: s.Reverted,
		Pending: s.Pending, Delayed: s.Delayed, Parked: s.Parked, Admitted: s.Admitted, Started: s.Started,
		LastAdmission: s.LastAdmission, Draining: s.Draining,
	}) {
		return fmt.Errorf("Totals() = %+v, Stats %+v", tot, s)
	}
	if s.Staged != m.staged || s.Completed+s.Expired != m.completed || s.Reverted != m.reverted {
		return fmt.Errorf("stats count %d staged, %d+%d completed, %d reverted; model %d, %d, %d",
			s.Staged, s.Completed, s.Expired, s.Reverted, m.staged, m.completed, m.reverted)
	}
	if s.Admitted != len(m.adm) || s.Started != len(m.started) || s.Pending+s.Delayed+s.Parked != len(m.held)-len(m.adm) {
		return fmt.Errorf("stats: %d admitted (%d started), %d+%d+%d waiting; model %d admitted (%d started) of %d held",
			s.Admitted, s.Started, s.Pending, s.Delayed, s.Parked, len(m.adm), len(m.started), len(m.held))
	}
	var sum [5]int
	var completed uint64
	for _, ps := range s.Partitions {
		sum[0] += ps.Pending
		sum[1] += ps.Delayed
		sum[2] += ps.Parked
		sum[3] += ps.Admitted
		sum[4] += ps.Started
		completed += ps.Completed
		if ps.Paused != m.paused[ps.Key] {
			return fmt.Errorf("stats: partition %s paused %v, model %v", ps.Key, ps.Paused, m.paused[ps.Key])
		}
		if ps.Paused && ps.Pending > 0 {
			return fmt.Errorf("stats: paused partition %s has %d pending", ps.Key, ps.Pending)
		}
	}
	if sum != [5]int{s.Pending, s.Delayed, s.Parked, s.Admitted, s.Started} || completed != s.Completed+s.Expired {
		return fmt.Errorf("stats: partitions sum to %v and %d completed, totals %+v", sum, completed, s)
	}
	if s.LastAdmission != m.lastAdmit || s.Draining != m.draining {
		return fmt.Errorf("stats: last admission %v, draining %v; model %v, %v", s.LastAdmission, s.Draining, m.lastAdmit, m.draining)
	}
	if want := m.draining && len(m.adm) == 0; m.p.Drained() != want {
		return fmt.Errorf("Drained() = %v, want %v", !want, want)
	}
	return nil
}

// fetchOracle is a pass-through gate that checks the batch a tick fetched against a model
// built from the policy's job records alone (not its indexes): the pending jobs in priority
// order, phase 1 as interleave.Batch selects it with the keys in the ring's order, then the
// top-up in priority order.
type fetchOracle struct {
	p     *Policy[tctx]
	calls uint64
	err   error
}

func (g *fetchOracle) Name() string { return "fetch_oracle" }

func (g *fetchOracle) Filter(now time.Time, batch []Candidate[tctx]) []Candidate[tctx] {
	g.calls++
	want := g.expected()
	got := make([]JobID, len(batch))
	for i, c := range batch {
		got[i] = c.ID
	}
	if !slices.Equal(got, want) && g.err == nil {
		g.err = fmt.Errorf("tick fetched %v, want %v", got, want)
	}
	return batch
}

// expected returns the IDs of the batch the policy should fetch now. It requires p.mu.
func (g *fetchOracle) expected() []JobID {
	p := g.p
	var pend []*node[tctx]
	p.jobs.each(func(n *node[tctx]) {
		if n.st == pending {
			pend = append(pend, n)
		}
	})
	slices.SortFunc(pend, func(a, b *node[tctx]) int {
		if a.job.Priority != b.job.Priority {
			if p.ord.before(a.job.Priority, b.job.Priority) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.seq, b.seq)
	})
	ring := map[string]int{}
	if rk := p.ring; rk != nil {
		for i := 0; i == 0 || rk != p.ring; i++ {
			ring[rk.key] = i
			rk = rk.next
		}
	}
	var keyed []*node[tctx]
	for _, n := range pend {
		if n.job.RoundRobinKey != "" {
			keyed = append(keyed, n)
		}
	}
	slices.SortStableFunc(keyed, func(a, b *node[tctx]) int {
		return cmp.Compare(ring[a.job.RoundRobinKey], ring[b.job.RoundRobinKey])
	})
	sel, st, err := interleave.BatchWith(keyed, func(n *node[tctx]) string { return n.job.RoundRobinKey },
		interleave.BatchConfig[string]{Size: p.cfg.BatchSize, Quantum: p.cfg.Quantum})
	if err != nil {
		panic(err)
	}
	var out []JobID
	in := map[*node[tctx]]bool{}
	for _, n := range sel[:st.Phase1] {
		out = append(out, n.job.ID)
		in[n] = true
	}
	for _, n := range pend {
		if len(out) < p.cfg.BatchSize && !in[n] {
			out = append(out, n.job.ID)
		}
	}
	return out
}

func (m *machine) forget(id JobID) {
	j := m.held[id]
	delete(m.held, id)
	delete(m.adm, id)
	delete(m.started, id)
	delete(m.lease, id)
	delete(m.seqOf, id)
	if j.DedupeKey != "" {
		delete(m.dedupe, j.DedupeKey)
	}
}

// windowBound checks the throttle's arrival curve for tenant after a tick: the admissions
// in every window [ti, tj] ending at its latest admission are at most Burst +
// Rate·(tj − ti)/Per. Called after every tick that admits, it covers every window.
func (m *machine) windowBound(tenant string) error {
	ts := m.admits[tenant]
	j := len(ts) - 1
	for i := j; i >= 0; i-- {
		span := ts[j].Sub(ts[i])
		bound := float64(m.limit.Burst) + m.limit.Rate*float64(span)/float64(m.limit.Per)
		if float64(j-i+1) > bound+1e-9 {
			return fmt.Errorf("tenant %s: %d admissions in %v, bound %.3f", tenant, j-i+1, span, bound)
		}
	}
	return nil
}

// TestPolicyStateMachine runs random histories of Stage, StageMany, Tick, Start, Heartbeat,
// Complete, Revert, Reap, Pause/Resume and Drain/Undrain with advancing time, and checks
// after every step the invariants (conservation, counters, caps), the model (dedupe, what a
// tick may admit, Start's errors, Reap returning exactly the expired leases in order), the
// throttle's window bound and the stats.
func TestPolicyStateMachine(t *testing.T) {
	forAll(t, "conservation, caps, dedupe, leases and throttle bounds hold after every step", *trials, func(seed uint64) string {
		m, err := newMachine(seed)
		if err != nil {
			return err.Error()
		}
		for i := range 150 {
			if err := m.step(); err != nil {
				return fmt.Sprintf("step %d: %v\nlast ops: %v", i, err, m.log[max(0, len(m.log)-5):])
			}
		}
		return ""
	})
}
