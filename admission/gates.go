package admission

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Option configures a built-in gate.
type Option[C any] func(*gateBase[C])

// WithName names the gate (the default is its kind: "throttle", "concurrency", ...).
// Names must be unique within a Policy.
func WithName[C any](name string) Option[C] { return func(b *gateBase[C]) { b.name = name } }

// PartitionBy sets the gate's own partition function; the default is the policy's
// Config.PartitionBy. A nil result is not possible: return "" for one shared partition.
func PartitionBy[C any](by func(C) string) Option[C] { return func(b *gateBase[C]) { b.by = by } }

// Const returns a function of the job context that always returns v, for gate options that
// are values rather than functions of the context.
func Const[C, V any](v V) func(C) V { return func(C) V { return v } }

// gateBase is what every built-in gate shares: its name, its hold slot in the policy's job
// records (for gates that hold), its partition function, and its error count.
type gateBase[C any] struct {
	name   string
	index  int
	bound  bool
	holder bool
	by     func(C) string
	errors uint64
	last   string
	grp    grouper[C]
}

func (b *gateBase[C]) Name() string { return b.name }

func (b *gateBase[C]) bind(slot int) { b.index, b.bound = slot, true }
func (b *gateBase[C]) isBound() bool { return b.bound }
func (b *gateBase[C]) holds() bool   { return b.holder }

func (b *gateBase[C]) apply(kind string, opts []Option[C]) {
	b.name = kind
	for _, o := range opts {
		o(b)
	}
}

// key returns the gate's partition of c.
func (b *gateBase[C]) key(c *Candidate[C]) string {
	if b.by != nil {
		return b.by(c.Context)
	}
	return c.Partition
}

// peek returns a copy of the gate's record in n, the zero hold if n has none.
func (b *gateBase[C]) peek(n *node[C]) hold {
	if n.holds == nil && n.more == nil {
		return hold{}
	}
	return *b.hold(n)
}

// hold returns the gate's record in an admitted (or being admitted) job's node.
func (b *gateBase[C]) hold(n *node[C]) *hold {
	if b.index < len(n.holds) {
		if n.holds == nil { // the policy assigns holds before Commit; this is a safety net
			n.holds = new([3]hold)
		}
		return &n.holds[b.index]
	}
	if n.more == nil {
		n.more = map[int]*hold{}
	}
	h := n.more[b.index]
	if h == nil {
		h = &hold{}
		n.more[b.index] = h
	}
	return h
}

func (b *gateBase[C]) fail(err error) {
	b.errors++
	b.last = err.Error()
}

// grouper reorders a batch partition-contiguously, partitions in first-appearance order,
// jobs in batch order within a partition: Ruby's group_by, as dispatch_policy's throttle,
// concurrency and adaptive gates emit their survivors. It reuses its buffers.
type grouper[C any] struct {
	idx    map[string]int
	keys   []string
	starts []int // group g is out[starts[g]:starts[g+1]]
	gid    []int
	pos    []int
	out    []Candidate[C]
}

func (g *grouper[C]) group(batch []Candidate[C], key func(*Candidate[C]) string) {
	g.keys, g.gid = g.keys[:0], g.gid[:0]
	counts := g.starts[:0]
	small := len(batch) <= 16 // a linear scan beats clearing and filling a map
	if !small {
		if g.idx == nil {
			g.idx = map[string]int{}
		}
		clear(g.idx)
	}
	for i := range batch {
		k := key(&batch[i])
		id := -1
		if small {
			for j, x := range g.keys {
				if x == k {
					id = j
					break
				}
			}
		} else if v, ok := g.idx[k]; ok {
			id = v
		}
		if id < 0 {
			id = len(g.keys)
			if !small {
				g.idx[k] = id
			}
			g.keys = append(g.keys, k)
			counts = append(counts, 0)
		}
		counts[id]++
		g.gid = append(g.gid, id)
	}
	// counts → starts (prefix sums), then place each job.
	sum := 0
	for i, c := range counts {
		counts[i] = sum
		sum += c
	}
	g.starts = append(counts, sum)
	g.out = append(g.out[:0], batch...)
	g.pos = append(g.pos[:0], g.starts[:len(g.keys)]...)
	for i, id := range g.gid {
		g.out[g.pos[id]] = batch[i]
		g.pos[id]++
	}
}

// len returns the number of groups.
func (g *grouper[C]) len() int { return len(g.keys) }

// jobs returns group i.
func (g *grouper[C]) jobs(i int) []Candidate[C] { return g.out[g.starts[i]:g.starts[i+1]] }

// ThrottleGate admits at most as many jobs per partition as its token bucket holds
// (dispatch_policy's :throttle). Buckets are exact (package tokenbucket), start full, and are
// charged at Commit only for jobs actually admitted (dispatch_policy 0.4.3's fix; 0.1 charged
// jobs that a later gate dropped, available with ChargePassed). Tokens are not returned when a
// job completes or is reverted: they refill with time.
type ThrottleGate[C any] struct {
	gateBase[C]
	limit        func(C) tokenbucket.Limit
	buckets      *tokenbucket.Keyed[string]
	cur          map[string]tokenbucket.Limit // latest limit resolved per partition
	passed       []int                        // jobs passed this tick, per group of grp
	commit       grouper[C]                   // the admitted jobs, by partition
	commits      uint64
	chargePassed bool
	out          []Candidate[C]
}

// Throttle returns a throttle gate whose partitions get the limit resolved for the first
// job of the partition in each tick's batch, as dispatch_policy resolves rate, per and burst.
func Throttle[C any](limit func(C) tokenbucket.Limit, opts ...Option[C]) *ThrottleGate[C] {
	g := &ThrottleGate[C]{limit: limit, cur: map[string]tokenbucket.Limit{}}
	g.apply("throttle", opts)
	g.buckets = tokenbucket.NewKeyed(func(k string) tokenbucket.Limit { return g.cur[k] })
	return g
}

// ChargePassed makes the gate charge tokens for every job it passes, even if a later gate
// drops it (dispatch_policy 0.1's behaviour). It returns g.
func (g *ThrottleGate[C]) ChargePassed() *ThrottleGate[C] { g.chargePassed = true; return g }

func (g *ThrottleGate[C]) validate() error {
	if g.limit == nil {
		return errors.New("limit function is nil")
	}
	return nil
}

func (g *ThrottleGate[C]) Filter(now time.Time, batch []Candidate[C]) []Candidate[C] {
	g.grp.group(batch, g.key)
	g.passed = g.passed[:0]
	out := g.out[:0]
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
		for _, c := range jobs[:n] {
			c.record(k)
			out = append(out, c)
		}
		g.passed[gi] = n
	}
	g.out = out
	return out
}

func (g *ThrottleGate[C]) Commit(now time.Time, admitted []Candidate[C]) {
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
	if g.commits++; g.commits%pruneEvery == 0 {
		g.prune(now)
	}
}

// pruneEvery is how many commits pass between sweeps of full buckets.
const pruneEvery = 64

// prune forgets partitions whose buckets are full at now: a full bucket is the same as a new
// one, so this is lossless, and it keeps memory bounded by the partitions recently charged.
// It visits every partition, so the result does not depend on map order. Cost: O(partitions),
// once every pruneEvery commits.
func (g *ThrottleGate[C]) prune(now time.Time) {
	for k, l := range g.cur {
		if tk, err := g.buckets.Tokens(now, k); err == nil && tk >= float64(l.Burst) {
			delete(g.cur, k)
		}
	}
	g.buckets.Prune(now, math.MaxInt)
}

func (g *ThrottleGate[C]) Release(time.Time, Candidate[C], End) {}

// Delay returns how long after now partition key will hold one token, absent other calls:
// zero if it holds one. It reports false if the partition's limit is not known (the gate
// has not seen it, or has forgotten it because its bucket was full). Event-driven callers
// use it to tick exactly when a throttled partition can admit again.
func (g *ThrottleGate[C]) Delay(now time.Time, key string) (time.Duration, bool) {
	if _, ok := g.cur[key]; !ok {
		return 0, false
	}
	d, ok, err := g.buckets.Delay(now, key, 1)
	return d, ok && err == nil
}

// Tokens returns the tokens partition key holds at now, for stats.
func (g *ThrottleGate[C]) Tokens(now time.Time, key string) float64 {
	if _, ok := g.cur[key]; !ok {
		return math.NaN() // never seen: its limit is not known
	}
	tk, _ := g.buckets.Tokens(now, key)
	return tk
}

// ConcurrencyGate caps the jobs in flight per partition (dispatch_policy's :concurrency). The
// cap is resolved per job, so jobs of one partition may carry different caps; a job passes
// while its partition's in-flight count (admitted, plus passed earlier in this tick) is below
// its cap. In-flight counts are released exactly once per admitted job.
type ConcurrencyGate[C any] struct {
	gateBase[C]
	max      func(C) int
	inflight map[string]int
	out      []Candidate[C]
}

// Concurrency returns a concurrency gate with per-job cap max.
func Concurrency[C any](max func(C) int, opts ...Option[C]) *ConcurrencyGate[C] {
	g := &ConcurrencyGate[C]{max: max, inflight: map[string]int{}}
	g.holder = true
	g.apply("concurrency", opts)
	return g
}

// Serial returns a gate that lets at most one job per execution key run at a time; the others
// wait in order (Roger's execution keys). It is a concurrency gate with cap 1 partitioned by key.
func Serial[C any](key func(C) string, opts ...Option[C]) *ConcurrencyGate[C] {
	g := Concurrency(Const[C](1), append([]Option[C]{WithName[C]("serial"), PartitionBy(key)}, opts...)...)
	return g
}

func (g *ConcurrencyGate[C]) validate() error {
	if g.max == nil {
		return errors.New("max function is nil")
	}
	return nil
}

func (g *ConcurrencyGate[C]) Filter(now time.Time, batch []Candidate[C]) []Candidate[C] {
	g.grp.group(batch, g.key)
	out := g.out[:0]
	for gi, k := range g.grp.keys {
		used := g.inflight[k]
		for _, c := range g.grp.out[g.grp.starts[gi]:g.grp.starts[gi+1]] {
			m := g.max(c.Context)
			if m < 0 {
				g.fail(fmt.Errorf("max for job %q must be >= 0, got %d", c.ID, m))
				continue
			}
			if used < m { // no break: the next job may have a larger cap
				used++
				c.record(k)
				out = append(out, c)
			}
		}
	}
	g.out = out
	return out
}

func (g *ConcurrencyGate[C]) Commit(now time.Time, admitted []Candidate[C]) {
	for i := range admitted {
		h := g.hold(admitted[i].n)
		h.key, h.ok = g.key(&admitted[i]), true
		g.inflight[h.key]++
	}
}

func (g *ConcurrencyGate[C]) Release(now time.Time, c Candidate[C], e End) {
	h := g.hold(c.n)
	if !h.ok {
		return
	}
	h.ok = false
	switch n := g.inflight[h.key]; {
	case n > 1:
		g.inflight[h.key] = n - 1
	case n == 1:
		delete(g.inflight, h.key) // zero is the same as absent: memory stays bounded
	default:
		g.fail(fmt.Errorf("in-flight count of partition %q would go below zero", h.key))
	}
}

// InFlight returns the jobs in flight in partition key.
func (g *ConcurrencyGate[C]) InFlight(key string) int { return g.inflight[key] }

// GlobalCapGate caps the jobs in flight across the whole policy (dispatch_policy's
// :global_cap): each tick passes the first max − inFlight jobs of the batch, in order.
type GlobalCapGate[C any] struct {
	gateBase[C]
	max      int
	inflight int
}

// GlobalCap returns a global cap gate. max must be >= 0.
func GlobalCap[C any](max int, opts ...Option[C]) *GlobalCapGate[C] {
	g := &GlobalCapGate[C]{max: max}
	g.holder = true
	g.apply("global_cap", opts)
	return g
}

func (g *GlobalCapGate[C]) validate() error {
	if g.max < 0 {
		return fmt.Errorf("max must be >= 0, got %d", g.max)
	}
	return nil
}

func (g *GlobalCapGate[C]) Filter(now time.Time, batch []Candidate[C]) []Candidate[C] {
	room := max(g.max-g.inflight, 0)
	head := batch[:min(room, len(batch))]
	for _, c := range head {
		c.record("default")
	}
	return head
}

func (g *GlobalCapGate[C]) Commit(now time.Time, admitted []Candidate[C]) {
	for _, c := range admitted {
		g.hold(c.n).ok = true
	}
	g.inflight += len(admitted)
}

func (g *GlobalCapGate[C]) Release(now time.Time, c Candidate[C], e End) {
	if h := g.hold(c.n); h.ok {
		h.ok = false
		g.inflight--
	}
}

// InFlight returns the jobs in flight across the policy.
func (g *GlobalCapGate[C]) InFlight() int { return g.inflight }

// Built-in gates are bound to a policy, and the stateful ones track admitted jobs.
var (
	_ binder        = (*ThrottleGate[int])(nil)
	_ binder        = (*ConcurrencyGate[int])(nil)
	_ binder        = (*GlobalCapGate[int])(nil)
	_ binder        = (*AdaptiveGate[int])(nil)
	_ Tracker[int]  = (*ThrottleGate[int])(nil)
	_ Tracker[int]  = (*ConcurrencyGate[int])(nil)
	_ Tracker[int]  = (*GlobalCapGate[int])(nil)
	_ Tracker[int]  = (*AdaptiveGate[int])(nil)
	_ statsReporter = (*ThrottleGate[int])(nil)
	_ statsReporter = (*ConcurrencyGate[int])(nil)
	_ statsReporter = (*GlobalCapGate[int])(nil)
	_ statsReporter = (*AdaptiveGate[int])(nil)
)
