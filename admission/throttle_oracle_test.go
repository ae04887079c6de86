package admission

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// oracleThrottle is the throttle gate as it was first written, over a tokenbucket.Keyed
// keyed by partition name: the reference the ThrottleGate must match decision for decision,
// token for token and error for error, including with time going backwards, limits that
// change, limits that are equal once exact, and invalid limits.
type oracleThrottle[C any] struct {
	limit        func(C) tokenbucket.Limit
	by           func(C) string
	buckets      *tokenbucket.Keyed[string]
	cur          map[string]tokenbucket.Limit
	passed       []int
	grp, commit  strGrouper[C]
	commits      uint64
	pruneEvery   uint64
	chargePassed bool
	errors       uint64
	last         string
}

func newOracleThrottle[C any](limit func(C) tokenbucket.Limit, by func(C) string) *oracleThrottle[C] {
	g := &oracleThrottle[C]{limit: limit, by: by, cur: map[string]tokenbucket.Limit{}, pruneEvery: pruneEvery}
	g.buckets = tokenbucket.NewKeyed(func(k string) tokenbucket.Limit { return g.cur[k] })
	return g
}

func (g *oracleThrottle[C]) Name() string { return "oracle" }

func (g *oracleThrottle[C]) key(c *Candidate[C]) string {
	if g.by != nil {
		return g.by(c.Context)
	}
	return c.Partition
}

func (g *oracleThrottle[C]) fail(err error) { g.errors++; g.last = err.Error() }

func (g *oracleThrottle[C]) Filter(now time.Time, batch []Candidate[C]) []Candidate[C] {
	g.grp.group(batch, g.key)
	g.passed = g.passed[:0]
	var out []Candidate[C]
	for gi, k := range g.grp.keys {
		jobs := g.grp.jobs(gi)
		g.cur[k] = g.limit(jobs[0].Context)
		g.passed = append(g.passed, 0)
		tk, err := g.buckets.Tokens(now, k)
		if err != nil {
			g.fail(err)
			continue
		}
		n := min(int(math.Floor(tk)), len(jobs))
		out = append(out, jobs[:n]...)
		g.passed[gi] = n
	}
	return out
}

func (g *oracleThrottle[C]) Commit(now time.Time, admitted []Candidate[C]) {
	charge := func(k string, n int) {
		if ok, err := g.buckets.AllowN(now, k, n); n > 0 && (!ok || err != nil) {
			g.fail(fmt.Errorf("charging %d tokens to partition %q failed (%v)", n, k, err))
		}
	}
	if g.chargePassed {
		for gi, k := range g.grp.keys {
			charge(k, g.passed[gi])
		}
	} else {
		g.commit.group(admitted, g.key)
		for gi, k := range g.commit.keys {
			charge(k, len(g.commit.jobs(gi)))
		}
	}
	if g.commits++; g.commits%g.pruneEvery == 0 {
		for k, l := range g.cur {
			if tk, err := g.buckets.Tokens(now, k); err == nil && tk >= float64(l.Burst) {
				delete(g.cur, k)
			}
		}
		g.buckets.Prune(now, math.MaxInt)
	}
}

func (g *oracleThrottle[C]) Release(time.Time, Candidate[C], End) {}

func (g *oracleThrottle[C]) Delay(now time.Time, key string) (time.Duration, bool) {
	if _, ok := g.cur[key]; !ok {
		return 0, false
	}
	d, ok, err := g.buckets.Delay(now, key, 1)
	return d, ok && err == nil
}

func (g *oracleThrottle[C]) Tokens(now time.Time, key string) float64 {
	if _, ok := g.cur[key]; !ok {
		return math.NaN()
	}
	tk, _ := g.buckets.Tokens(now, key)
	return tk
}

func (g *oracleThrottle[C]) partitions(now time.Time) []GatePartitionStats {
	var out []GatePartitionStats
	for k := range g.cur {
		tk, _ := g.buckets.Tokens(now, k)
		out = append(out, GatePartitionStats{Key: k, Tokens: tk})
	}
	slices.SortFunc(out, func(a, b GatePartitionStats) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// strGrouper is the reference group-by: partitions in first-appearance order, jobs in batch
// order within a partition.
type strGrouper[C any] struct {
	keys   []string
	groups [][]Candidate[C]
}

func (g *strGrouper[C]) group(batch []Candidate[C], key func(*Candidate[C]) string) {
	g.keys, g.groups = g.keys[:0], g.groups[:0]
	for i := range batch {
		k := key(&batch[i])
		j := slices.Index(g.keys, k)
		if j < 0 {
			j = len(g.keys)
			g.keys = append(g.keys, k)
			g.groups = append(g.groups, nil)
		}
		g.groups[j] = append(g.groups[j], batch[i])
	}
}

func (g *strGrouper[C]) jobs(i int) []Candidate[C] { return g.groups[i] }

// octx is the oracle test's job context: a tenant, an index into oracleLimits and a group
// for the gate's own partitioning.
type octx struct {
	Tenant string
	Lim    int
	Group  string
}

// oracleLimits cover equal-once-exact limits (0.5/1s, 1/2s, 2/4s), different bursts, a large
// rate, a token period beyond 2^53 ns (whose fractional token counts round), and invalid
// limits (negative, NaN).
var oracleLimits = []tokenbucket.Limit{
	{Rate: 1, Per: time.Second, Burst: 2},
	{Rate: 0.5, Per: time.Second, Burst: 2},
	{Rate: 1, Per: 2 * time.Second, Burst: 2},
	{Rate: 2, Per: 4 * time.Second, Burst: 2},
	{Rate: 3, Per: time.Second, Burst: 5},
	{Rate: 1, Per: 2 * time.Second, Burst: 3},
	{Rate: 1e9, Per: time.Second, Burst: 1000},
	{Rate: 1, Per: 300 * 24 * time.Hour, Burst: 2},
	{Rate: -1, Per: time.Second, Burst: 1},
	{Rate: math.NaN(), Per: time.Second, Burst: 1},
}

// throttlePair drives a policy with the ThrottleGate and one with the oracle through the same
// history and compares everything observable after every step.
type throttlePair struct {
	r            *rand.Rand
	now          time.Time
	gate         *ThrottleGate[octx]
	oracle       *oracleThrottle[octx]
	a, b         *Policy[octx]
	adm          []JobID // admitted, by both
	next         int
	tenants      []string
	limitChoices map[string][]int
	log          []string
}

func newThrottlePair(seed uint64) (*throttlePair, error) {
	r := rand.New(rand.NewPCG(seed, 11))
	m := &throttlePair{r: r, now: t0, tenants: []string{"a", "b", "c", "d"}, limitChoices: map[string][]int{}}
	for _, t := range m.tenants {
		// Most tenants keep one limit; some switch among a few.
		n := 1
		if r.IntN(2) == 0 {
			n = 1 + r.IntN(3)
		}
		for range n {
			m.limitChoices[t] = append(m.limitChoices[t], r.IntN(len(oracleLimits)))
		}
	}
	limit := func(c octx) tokenbucket.Limit { return oracleLimits[c.Lim] }
	var by func(octx) string
	var opts []Option[octx]
	if r.IntN(3) == 0 {
		by = func(c octx) string { return c.Group }
		opts = append(opts, PartitionBy(by))
	}
	m.gate = Throttle(limit, opts...)
	m.oracle = newOracleThrottle(limit, by)
	// Prune often, so that histories forget and recreate partitions.
	m.gate.pruneEvery = uint64(1 + r.IntN(8))
	m.oracle.pruneEvery = m.gate.pruneEvery
	if r.IntN(3) == 0 {
		m.gate.ChargePassed()
		m.oracle.chargePassed = true
	}
	tail := func() []Gate[octx] {
		switch r.IntN(3) {
		case 0:
			return []Gate[octx]{GlobalCap[octx](1 + r.IntN(4))}
		case 1:
			return []Gate[octx]{Concurrency(Const[octx](1 + r.IntN(3)))}
		}
		return nil
	}
	t1 := tail()
	// The same tail again for the oracle's policy (a gate belongs to one policy).
	var t2 []Gate[octx]
	for _, g := range t1 {
		switch g := g.(type) {
		case *GlobalCapGate[octx]:
			t2 = append(t2, GlobalCap[octx](g.max))
		case *ConcurrencyGate[octx]:
			t2 = append(t2, Concurrency(g.max))
		}
	}
	byTen := func(c octx) string { return c.Tenant }
	var err error
	batch := 1 + r.IntN(8)
	if m.a, err = New(Config[octx]{PartitionBy: byTen, BatchSize: batch, Gates: append([]Gate[octx]{m.gate}, t1...)}); err != nil {
		return nil, err
	}
	if m.b, err = New(Config[octx]{PartitionBy: byTen, BatchSize: batch, Gates: append([]Gate[octx]{m.oracle}, t2...)}); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *throttlePair) step() error {
	r := m.r
	switch x := r.IntN(100); {
	case x < 12: // time goes backwards
		m.now = m.now.Add(-time.Duration(r.IntN(5000)) * time.Millisecond)
	case x < 20: // a long jump
		m.now = m.now.Add(time.Duration(r.IntN(100)) * time.Hour)
	default:
		m.now = m.now.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
	}
	switch x := r.IntN(100); {
	case x < 40:
		// Batches hold at most 8 jobs of 4 tenants: a backlog beyond maxOracleBacklog adds no
		// gate behaviour, only work for the invariant checks after every step.
		for range 1 + r.IntN(3) {
			if m.a.jobs.len() >= maxOracleBacklog {
				break
			}
			t := m.tenants[r.IntN(len(m.tenants))]
			ch := m.limitChoices[t]
			j := Job[octx]{ID: JobID(fmt.Sprint(m.next)), Context: octx{Tenant: t, Lim: ch[r.IntN(len(ch))], Group: fmt.Sprint("g", r.IntN(3))}}
			m.next++
			if _, err := m.a.Stage(m.now, j); err != nil {
				return err
			}
			if _, err := m.b.Stage(m.now, j); err != nil {
				return err
			}
		}
		m.log = append(m.log, "stage")
	case x < 75:
		got, want := idList(m.a.Tick(m.now)), idList(m.b.Tick(m.now))
		if got != want {
			return fmt.Errorf("tick at %v admitted %q, oracle %q", m.now.Sub(t0), got, want)
		}
		if got != "" {
			for _, id := range strings.Split(got, " ") {
				m.adm = append(m.adm, JobID(id))
			}
		}
		m.log = append(m.log, "tick "+got)
	default:
		if len(m.adm) > 0 {
			i := r.IntN(len(m.adm))
			id := m.adm[i]
			m.adm = slices.Delete(m.adm, i, i+1)
			if err := m.a.Complete(m.now, id, false); err != nil {
				return err
			}
			if err := m.b.Complete(m.now, id, false); err != nil {
				return err
			}
			m.log = append(m.log, "complete "+string(id))
		}
	}
	return m.compare()
}

func idList[C any](as []Admitted[C]) string {
	var s []string
	for _, a := range as {
		s = append(s, string(a.ID))
	}
	return strings.Join(s, " ")
}

// compare checks the gate against the oracle: tokens and delays of every key at now and a
// little before it, partition stats, and errors.
func (m *throttlePair) compare() error {
	keys := append(slices.Clone(m.tenants), "g0", "g1", "g2", "never")
	for _, at := range []time.Time{m.now, m.now.Add(-700 * time.Millisecond)} {
		for _, k := range keys {
			got, want := m.gate.Tokens(at, k), m.oracle.Tokens(at, k)
			if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				return fmt.Errorf("Tokens(%v, %q) = %v, oracle %v", at.Sub(t0), k, got, want)
			}
			gd, gok := m.gate.Delay(at, k)
			wd, wok := m.oracle.Delay(at, k)
			if gd != wd || gok != wok {
				return fmt.Errorf("Delay(%v, %q) = %v %v, oracle %v %v", at.Sub(t0), k, gd, gok, wd, wok)
			}
		}
	}
	gs := m.a.Stats(m.now).Gates[0]
	if gs.Errors != m.oracle.errors || gs.LastError != m.oracle.last {
		return fmt.Errorf("errors %d %q, oracle %d %q", gs.Errors, gs.LastError, m.oracle.errors, m.oracle.last)
	}
	if want := m.oracle.partitions(m.now); !slices.EqualFunc(gs.Partitions, want, sameGatePartition) {
		return fmt.Errorf("partitions %v, oracle %v", gs.Partitions, want)
	}
	return checkInvariants(m.a)
}

// maxOracleBacklog bounds the jobs a throttle pair holds (4 tenants × the largest batch).
const maxOracleBacklog = 32

// sameGatePartition reports whether a and b are equal, NaN tokens equal to NaN.
func sameGatePartition(a, b GatePartitionStats) bool {
	tokens := a.Tokens == b.Tokens || (math.IsNaN(a.Tokens) && math.IsNaN(b.Tokens))
	return tokens && a.Key == b.Key && a.InFlight == b.InFlight && a.Limit == b.Limit && a.EWMA == b.EWMA
}

func TestThrottleMatchesKeyedOracle(t *testing.T) {
	forAll(t, "the throttle gate decides, counts tokens, delays and fails as the Keyed oracle", *trials, func(seed uint64) string {
		m, err := newThrottlePair(seed)
		if err != nil {
			return err.Error()
		}
		for i := range 500 {
			if err := m.step(); err != nil {
				return fmt.Sprintf("step %d: %v\nlast ops: %v", i, err, m.log[max(0, len(m.log)-6):])
			}
		}
		return ""
	})
}
