package admission

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/dispatchlab/dispatchlab/aimd"
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
	held    map[JobID]Job[tctx] // pending or admitted, per the model
	adm     map[JobID]bool      // admitted, per the model
	dedupe  map[string]JobID
	limit   tokenbucket.Limit
	caps    map[string]int
	admits  map[string][]time.Time // per tenant: admission times, for the window bound
	tenants []string
	log     []string
}

func newMachine(seed uint64) (*machine, error) {
	r := rand.New(rand.NewPCG(seed, 7))
	m := &machine{
		r: r, now: t0,
		held: map[JobID]Job[tctx]{}, adm: map[JobID]bool{}, dedupe: map[string]JobID{},
		limit:   tokenbucket.Limit{Rate: float64(1 + r.IntN(5)), Per: time.Duration(1+r.IntN(20)) * time.Second, Burst: 1 + r.IntN(4)},
		caps:    map[string]int{"a": 1 + r.IntN(3), "b": 1 + r.IntN(3), "c": 1 + r.IntN(3)},
		admits:  map[string][]time.Time{},
		tenants: []string{"a", "b", "c"},
	}
	gates := []Gate[tctx]{}
	if r.IntN(4) > 0 {
		gates = append(gates, Throttle(Const[tctx](m.limit)))
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
	var err error
	m.p, err = New(Config[tctx]{
		Gates: gates, PartitionBy: byTenant, BatchSize: 1 + r.IntN(6), Quantum: 1 + r.IntN(3),
		Lease: time.Duration(10+r.IntN(50)) * time.Second, Order: order,
	})
	return m, err
}

// pick returns a random held job ID satisfying f, in a deterministic order.
func (m *machine) pick(f func(JobID) bool) (JobID, bool) {
	var ids []JobID
	for i := 0; i < m.nextID; i++ {
		id := JobID(fmt.Sprint(i))
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
	case x < 35: // stage
		id := JobID(fmt.Sprint(m.nextID))
		m.nextID++
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
		ok, err := m.p.Stage(m.now, j)
		if err != nil {
			return err
		}
		_, dup := m.dedupe[j.DedupeKey]
		if want := j.DedupeKey == "" || !dup; ok != want {
			return fmt.Errorf("Stage(%s, dedupe %q) = %v, want %v", id, j.DedupeKey, ok, want)
		}
		if ok {
			m.held[id] = j
			if j.DedupeKey != "" {
				m.dedupe[j.DedupeKey] = id
			}
		}
		m.log = append(m.log, fmt.Sprintf("stage %s %+v -> %v", id, j, ok))
	case x < 60: // tick
		out := m.p.Tick(m.now)
		for _, a := range out {
			if _, ok := m.held[a.ID]; !ok || m.adm[a.ID] {
				return fmt.Errorf("tick admitted %s, which is not pending", a.ID)
			}
			j := m.held[a.ID]
			if j.NotBefore.After(m.now) {
				return fmt.Errorf("tick admitted %s before its NotBefore", a.ID)
			}
			m.adm[a.ID] = true
			m.admits[j.Context.Tenant] = append(m.admits[j.Context.Tenant], m.now)
		}
		m.log = append(m.log, fmt.Sprintf("tick -> %d", len(out)))
	case x < 68:
		if id, ok := m.pick(func(id JobID) bool { return m.adm[id] }); ok {
			err := m.p.Start(m.now, id)
			m.log = append(m.log, fmt.Sprintf("start %s -> %v", id, err))
		}
	case x < 85:
		if id, ok := m.pick(func(id JobID) bool { return m.adm[id] }); ok {
			if err := m.p.Complete(m.now, id, r.IntN(4) == 0); err != nil {
				return err
			}
			m.forget(id)
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
			delete(m.adm, id)
			m.log = append(m.log, fmt.Sprintf("revert %s", id))
		}
	case x < 93:
		for _, id := range m.p.Reap(m.now) {
			if !m.adm[id] {
				return fmt.Errorf("reaped %s, which is not admitted", id)
			}
			m.forget(id)
		}
	case x < 97:
		t := m.tenants[r.IntN(3)]
		if r.IntN(2) == 0 {
			m.p.Pause(t)
		} else {
			m.p.Resume(t)
		}
	default:
		if r.IntN(2) == 0 {
			m.p.Drain()
		} else {
			m.p.Undrain()
		}
	}
	return checkInvariants(m.p)
}

func (m *machine) forget(id JobID) {
	j := m.held[id]
	delete(m.held, id)
	delete(m.adm, id)
	if j.DedupeKey != "" {
		delete(m.dedupe, j.DedupeKey)
	}
}

// windowBound checks the throttle's arrival curve per tenant: admissions in any window
// [ti, tj] are at most Burst + Rate·(tj − ti)/Per.
func (m *machine) windowBound() error {
	for tenant, ts := range m.admits {
		for i := range ts {
			for j := i; j < len(ts); j++ {
				span := ts[j].Sub(ts[i])
				bound := float64(m.limit.Burst) + m.limit.Rate*float64(span)/float64(m.limit.Per)
				if float64(j-i+1) > bound+1e-9 {
					return fmt.Errorf("tenant %s: %d admissions in %v, bound %.3f", tenant, j-i+1, span, bound)
				}
			}
		}
	}
	return nil
}

func TestPolicyStateMachine(t *testing.T) {
	forAll(t, "conservation, caps, dedupe and throttle bounds hold after every step", *trials, func(seed uint64) string {
		m, err := newMachine(seed)
		if err != nil {
			return err.Error()
		}
		for i := range 150 {
			if err := m.step(); err != nil {
				return fmt.Sprintf("step %d: %v\nlast ops: %v", i, err, m.log[max(0, len(m.log)-5):])
			}
		}
		if len(m.p.gates) > 0 {
			if _, ok := m.p.gates[0].g.(*ThrottleGate[tctx]); ok {
				if err := m.windowBound(); err != nil {
					return err.Error()
				}
			}
		}
		return ""
	})
}
