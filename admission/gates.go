package admission

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
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
// records (for gates that hold), its partition function, its partitions' slots, and its
// error count.
type gateBase[C any] struct {
	name   string
	index  int
	bound  bool
	holder bool
	by     func(C) string
	errors uint64
	last   string
	slots  slotMap
	grp    grouper[C]
	bit    uint64 // the gate's bit in partition.seen (0 beyond 64 gates)
}

func (b *gateBase[C]) Name() string { return b.name }

func (b *gateBase[C]) bind(slot, gate int) {
	b.index, b.bound = slot, true
	if gate < 64 {
		b.bit = 1 << gate
	}
}
func (b *gateBase[C]) isBound() bool { return b.bound }
func (b *gateBase[C]) holds() bool   { return b.holder }

func (b *gateBase[C]) apply(kind string, opts []Option[C]) {
	b.name = kind
	for _, o := range opts {
		o(b)
	}
}

// slot returns the slot of c's partition for this gate, -1 for a candidate that did not
// come from the gate's policy (it never passes).
func (b *gateBase[C]) slot(c *Candidate[C]) int32 {
	if b.by != nil {
		return b.slots.intern(b.by(c.Context))
	}
	if c.n == nil {
		return -1
	}
	pt := c.n.part
	if pt.seen&b.bit != 0 { // known: the policy's partition is at hand, the gate's keys are not
		return pt.id
	}
	pt.seen |= b.bit
	return b.slots.part(pt.id, pt.key)
}

// groupKey returns the partition key of slot s, given one of its jobs.
func (b *gateBase[C]) groupKey(s int32, c *Candidate[C]) string {
	if b.by == nil && c.n != nil {
		return c.n.part.key
	}
	return b.slots.key(s)
}

// endTick runs after every tick's commits. Gates that intern slots in Filter for keys that
// may end the tick without state recycle them here.
func (b *gateBase[C]) endTick() { b.slots.temp = b.slots.temp[:0] }

// own reports whether the gate partitions by its own function rather than the policy's.
func (b *gateBase[C]) own() bool { return b.by != nil }

// slotMap numbers a gate's partitions with small integers, slots, so that the gate keeps
// its per-partition state in slices. Under the policy's partitioning a partition's slot is
// the index of the policy's partition: the tick path hashes no string, and slots live as
// long as the policy's partitions. Under the gate's own PartitionBy, slots are interned
// through a map and recycled once the gate keeps no state for the key, so that memory stays
// bounded by the keys with state. Either way, ids maps keys to slots for lookups by key.
type slotMap struct {
	ids  map[string]int32
	keys []slotKey
	free []int32
	temp []int32 // slots interned during the current tick, to sweep if left empty
}

type slotKey struct {
	key  string
	used bool
}

// part returns policy partition id's slot, recording key on first use.
func (m *slotMap) part(id int32, key string) int32 {
	if int(id) < len(m.keys) && m.keys[id].used {
		return id
	}
	for int(id) >= len(m.keys) {
		m.keys = append(m.keys, slotKey{})
	}
	m.keys[id] = slotKey{key: key, used: true}
	if m.ids == nil {
		m.ids = map[string]int32{}
	}
	m.ids[key] = id
	return id
}

// intern returns key's slot under the gate's own partitioning, creating it.
func (m *slotMap) intern(key string) int32 {
	if s, ok := m.ids[key]; ok {
		return s
	}
	var s int32
	if k := len(m.free); k > 0 {
		s, m.free = m.free[k-1], m.free[:k-1]
	} else {
		s = int32(len(m.keys))
		m.keys = append(m.keys, slotKey{})
	}
	m.keys[s] = slotKey{key: key, used: true}
	if m.ids == nil {
		m.ids = map[string]int32{}
	}
	m.ids[key] = s
	m.temp = append(m.temp, s)
	return s
}

// release recycles slot s, whose state the gate has emptied (own partitioning only).
func (m *slotMap) release(s int32) {
	delete(m.ids, m.keys[s].key)
	m.keys[s] = slotKey{}
	m.free = append(m.free, s)
}

// lookup returns key's slot, if the gate has one.
func (m *slotMap) lookup(key string) (int32, bool) {
	s, ok := m.ids[key]
	return s, ok
}

func (m *slotMap) key(s int32) string { return m.keys[s].key }

// len bounds the slots in use: state slices indexed by slot need this length.
func (m *slotMap) len() int { return len(m.keys) }

// grow returns s extended with zero values to length n.
func grow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	return append(s, make([]T, n-len(s))...)
}

// peek returns a copy of the gate's record in n, the zero hold if n has none.
func (b *gateBase[C]) peek(n *node[C]) hold {
	if n.holds == nil {
		return hold{}
	}
	return *b.hold(n)
}

// hold returns the gate's record in an admitted (or being admitted) job's node.
func (b *gateBase[C]) hold(n *node[C]) *hold {
	if n.holds == nil { // the policy assigns holds before Commit; this is a safety net
		n.holds = new(holding)
	}
	hs := n.holds
	if b.index < len(hs.h) {
		return &hs.h[b.index]
	}
	if hs.more == nil {
		hs.more = map[int]*hold{}
	}
	h := hs.more[b.index]
	if h == nil {
		h = &hold{}
		hs.more[b.index] = h
	}
	return h
}

func (b *gateBase[C]) fail(err error) {
	b.errors++
	b.last = err.Error()
}

// grouper reorders a batch partition-contiguously, partitions in first-appearance order,
// jobs in batch order within a partition: Ruby's group_by, as dispatch_policy's throttle,
// concurrency and adaptive gates emit their survivors. It groups by slot, searching the
// groups so far in a small batch and with a mark per slot in a larger one, so grouping hashes
// nothing, and reuses its buffers.
type grouper[C any] struct {
	slots  []int32 // group g's slot
	starts []int   // group g is out[starts[g]:starts[g+1]]
	gid    []int32 // per job: its group, -1 if it has no slot
	pos    []int
	out    []Candidate[C] // the groups: buf, or the batch itself when it is one group of one
	buf    []Candidate[C]
	mark   []uint32 // per slot: the call that last saw it
	idx    []int32  // per slot: its group in that call
	call   uint32
}

func (g *grouper[C]) group(batch []Candidate[C], b *gateBase[C]) {
	g.slots, g.gid = g.slots[:0], g.gid[:0]
	if len(batch) == 1 { // the common tick of a busy simulator: one group or none
		if s := b.slot(&batch[0]); s >= 0 {
			g.out = batch[:1:1] // read only, until the next call
			g.slots = append(g.slots, s)
			g.starts = append(g.starts[:0], 0, 1)
		} else {
			g.out, g.starts = g.buf[:0], append(g.starts[:0], 0)
		}
		return
	}
	counts := g.starts[:0]
	if len(batch) <= smallGroup {
		// A few jobs (a busy simulator's usual tick): find each slot among the groups so far,
		// which reads no per-slot mark (with many partitions, a cache miss per job).
		for i := range batch {
			s := b.slot(&batch[i])
			if s < 0 {
				g.gid = append(g.gid, -1)
				continue
			}
			id := int32(slices.Index(g.slots, s))
			if id < 0 {
				id = int32(len(g.slots))
				g.slots = append(g.slots, s)
				counts = append(counts, 0)
			}
			counts[id]++
			g.gid = append(g.gid, id)
		}
		g.place(batch, counts)
		return
	}
	if g.call++; g.call == 0 { // wrapped: old marks could match
		clear(g.mark)
		g.call = 1
	}
	for i := range batch {
		s := b.slot(&batch[i])
		if s < 0 {
			g.gid = append(g.gid, -1)
			continue
		}
		if int(s) >= len(g.mark) {
			g.mark = grow(g.mark, int(s)+1+int(s)/4)
			g.idx = grow(g.idx, len(g.mark))
		}
		if g.mark[s] != g.call {
			g.mark[s], g.idx[s] = g.call, int32(len(g.slots))
			g.slots = append(g.slots, s)
			counts = append(counts, 0)
		}
		id := g.idx[s]
		counts[id]++
		g.gid = append(g.gid, id)
	}
	g.place(batch, counts)
}

// smallGroup is the largest batch that group groups by searching its groups (at most
// smallGroup compares per job) rather than by marking slots.
const smallGroup = 8

// place lays out batch's jobs by group, given each group's count (g.gid holds each job's).
func (g *grouper[C]) place(batch []Candidate[C], counts []int) {
	// counts → starts (prefix sums), then place each job.
	sum := 0
	for i, c := range counts {
		counts[i] = sum
		sum += c
	}
	g.starts = append(counts, sum)
	g.buf = append(g.buf[:0], batch...)[:sum]
	g.out = g.buf
	g.pos = append(g.pos[:0], g.starts[:len(g.slots)]...)
	for i, id := range g.gid {
		if id >= 0 {
			g.out[g.pos[id]] = batch[i]
			g.pos[id]++
		}
	}
}

// len returns the number of groups.
func (g *grouper[C]) len() int { return len(g.slots) }

// jobs returns group i.
func (g *grouper[C]) jobs(i int) []Candidate[C] { return g.out[g.starts[i]:g.starts[i+1]] }

// ThrottleGate admits at most as many jobs per partition as its token bucket holds
// (dispatch_policy's :throttle). Buckets are exact (package tokenbucket), start full, and are
// charged at Commit only for jobs actually admitted (dispatch_policy 0.4.3's fix; 0.1 charged
// jobs that a later gate dropped, available with ChargePassed). Tokens are not returned when a
// job completes or is reverted: they refill with time.
//
// The gate behaves exactly as a [tokenbucket.Keyed] over its partitions whose limit function
// returns each partition's latest resolved limit (the first version of the gate was one, and
// the tests hold the gate to it): one clock for all partitions, so that a time earlier than
// the latest charge (or prune) reads as that time, and a partition whose limit changes keeps
// its balance as [tokenbucket.Bucket.SetLimit] converts it. It stores a [tokenbucket.Bucket]
// per partition that is not full, in a slice indexed by the partition's slot, so a decision
// hashes no key and takes no lock; full buckets are kept for reuse.
type ThrottleGate[C any] struct {
	gateBase[C]
	limit        func(C) tokenbucket.Limit
	parts        []throttlePart // by slot
	held         []int32        // slots with state: a known limit or a bucket
	clock        time.Time      // the latest charge or prune; earlier times read as it
	clockSet     bool
	spare        map[tokenbucket.Limit]*[]*tokenbucket.Bucket // full buckets, by limit
	spareLim     tokenbucket.Limit                            // the limit of spareHot
	spareHot     *[]*tokenbucket.Bucket                       // the spare list used last
	exact        map[tokenbucket.Limit]limitInfo              // valid limits seen, for checks
	passed       []int                                        // jobs passed this tick, per group of grp
	commit       grouper[C]                                   // the admitted jobs, by partition
	commits      uint64
	pruneEvery   uint64
	chargePassed bool
	out          []Candidate[C]
}

// throttlePart is a throttle gate's state for one partition.
type throttlePart struct {
	lim     tokenbucket.Limit // the limit resolved last (meaningful while known)
	err     error             // lim's validation error
	blim    tokenbucket.Limit // b's limit
	b       *tokenbucket.Bucket
	known   bool // the gate knows the partition's limit (Delay and Tokens answer)
	held    bool // in ThrottleGate.held
	checked bool // lim and err are set (they outlive known, to save checking again)
}

// limitInfo is a valid limit's exact form, as tokenbucket normalises it.
type limitInfo struct{ norm tokenbucket.Limit }

// Throttle returns a throttle gate whose partitions get the limit resolved for the first
// job of the partition in each tick's batch, as dispatch_policy resolves rate, per and burst.
func Throttle[C any](limit func(C) tokenbucket.Limit, opts ...Option[C]) *ThrottleGate[C] {
	g := &ThrottleGate[C]{limit: limit, pruneEvery: pruneEvery}
	g.apply("throttle", opts)
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
	g.grp.group(batch, &g.gateBase)
	g.parts = grow(g.parts, g.slots.len())
	g.passed = g.passed[:0]
	out := g.out[:0]
	t := g.at(now)
	part := !g.own()
	for gi, s := range g.grp.slots {
		jobs := g.grp.jobs(gi)
		g.passed = append(g.passed, 0)
		p := &g.parts[s]
		g.resolve(s, p, g.limit(jobs[0].Context))
		if p.err != nil {
			g.fail(fmt.Errorf("%w (limit of partition %v)", p.err, g.slots.key(s)))
			continue
		}
		g.sync(t, p)
		n := min(int(math.Floor(g.tokens(t, p))), len(jobs))
		k := g.groupKey(s, &jobs[0])
		for _, c := range jobs[:n] {
			c.record(k, part)
			out = append(out, c)
		}
		g.passed[gi] = n
	}
	g.out = out
	return out
}

// resolve makes l partition s's known limit.
func (g *ThrottleGate[C]) resolve(s int32, p *throttlePart, l tokenbucket.Limit) {
	if !p.checked || p.lim != l || p.err != nil {
		p.lim, p.err, p.checked = l, g.check(l), true
	}
	p.known = true
	g.hold(s, p)
}

func (g *ThrottleGate[C]) hold(s int32, p *throttlePart) {
	if !p.held {
		p.held = true
		g.held = append(g.held, s)
	}
}

// check validates l, remembering valid limits (exact conversion is not cheap).
func (g *ThrottleGate[C]) check(l tokenbucket.Limit) error {
	if _, ok := g.exact[l]; ok {
		return nil
	}
	d, err := tokenbucket.NewDense(l, 0)
	if err != nil {
		return err
	}
	if g.exact == nil {
		g.exact = map[tokenbucket.Limit]limitInfo{}
	}
	g.exact[l] = limitInfo{norm: d.Limit()}
	return nil
}

// same reports whether valid limits a and b are the same once exact (0.5 per 1s, 1 per 2s
// and 2 per 4s are): a Keyed keeps such partitions in one group, so that switching between
// them changes nothing.
func (g *ThrottleGate[C]) same(a, b tokenbucket.Limit) bool {
	if a == b {
		return true
	}
	x, y := g.exact[a].norm, g.exact[b].norm
	if x.Burst != y.Burst {
		return false
	}
	// Exact rates are integer tokens (< 2^53) per integer nanoseconds: compare x.Rate/x.Per
	// with y.Rate/y.Per by cross-multiplying in 128 bits.
	h1, l1 := bits.Mul64(uint64(x.Rate), uint64(y.Per))
	h2, l2 := bits.Mul64(uint64(y.Rate), uint64(x.Per))
	return h1 == h2 && l1 == l2
}

// at returns the effective time of now: the clock if now is earlier.
func (g *ThrottleGate[C]) at(now time.Time) time.Time {
	if g.clockSet && g.clock.After(now) {
		return g.clock
	}
	return now
}

// advance moves the clock to t, a charge's (or prune's) effective time.
func (g *ThrottleGate[C]) advance(t time.Time) {
	if !g.clockSet || t.After(g.clock) {
		g.clock, g.clockSet = t, true
	}
}

// sync moves partition p's bucket to its known (valid) limit at effective time t, as Keyed
// does when a partition's limit changes: a full bucket carries nothing over, any other keeps
// its balance as SetLimit converts it, which is a change of state at t.
func (g *ThrottleGate[C]) sync(t time.Time, p *throttlePart) {
	if p.b == nil || p.blim == p.lim {
		return
	}
	if g.same(p.blim, p.lim) {
		p.blim = p.lim
		return
	}
	if g.full(t, p) {
		g.drop(p)
		return
	}
	_ = p.b.SetLimit(t, p.lim) // p.lim is valid
	p.blim = p.lim
	g.advance(t)
}

// full reports whether p's bucket holds Burst tokens at t, exactly.
func (g *ThrottleGate[C]) full(t time.Time, p *throttlePart) bool {
	d, ok := p.b.Delay(t, p.blim.Burst)
	return ok && d == 0
}

// drop keeps p's full bucket for reuse: a full bucket is the same as a new one.
func (g *ThrottleGate[C]) drop(p *throttlePart) {
	l := g.spares(p.blim)
	*l = append(*l, p.b)
	p.b = nil
}

// spares returns the list of spare buckets of limit l (most partitions share a limit, so
// the list used last is kept at hand).
func (g *ThrottleGate[C]) spares(l tokenbucket.Limit) *[]*tokenbucket.Bucket {
	if g.spareHot != nil && g.spareLim == l {
		return g.spareHot
	}
	if g.spare == nil {
		g.spare = map[tokenbucket.Limit]*[]*tokenbucket.Bucket{}
	}
	sp := g.spare[l]
	if sp == nil {
		sp = new([]*tokenbucket.Bucket)
		g.spare[l] = sp
	}
	g.spareLim, g.spareHot = l, sp
	return sp
}

// tokens returns the tokens p holds at effective time t; p's limit is valid and synced.
func (g *ThrottleGate[C]) tokens(t time.Time, p *throttlePart) float64 {
	if p.b == nil {
		return float64(p.lim.Burst)
	}
	return p.b.Tokens(t)
}

func (g *ThrottleGate[C]) Commit(now time.Time, admitted []Candidate[C]) {
	t := g.at(now)
	if g.chargePassed {
		for gi, s := range g.grp.slots {
			g.charge(t, s, g.passed[gi])
		}
	} else {
		g.commit.group(admitted, &g.gateBase)
		g.parts = grow(g.parts, g.slots.len()) // (a PartitionBy that changes its mind)
		for gi, s := range g.commit.slots {
			g.charge(t, s, len(g.commit.jobs(gi)))
		}
	}
	if g.commits++; g.commits%g.pruneEvery == 0 {
		g.prune(now)
	}
}

// charge takes n tokens from partition s at effective time t.
func (g *ThrottleGate[C]) charge(t time.Time, s int32, n int) {
	if n <= 0 {
		return
	}
	p := &g.parts[s]
	lerr := p.err
	if !p.known { // Filter did not resolve it (a PartitionBy that changes its mind): no limit
		lerr = g.check(tokenbucket.Limit{})
	}
	if lerr != nil {
		err := fmt.Errorf("%w (limit of partition %v)", lerr, g.slots.key(s))
		g.fail(fmt.Errorf("charging %d tokens to partition %q failed (%v)", n, g.slots.key(s), err))
		return
	}
	g.sync(t, p)
	if p.b == nil {
		g.hold(s, p)
		if l := g.spares(p.lim); len(*l) > 0 {
			p.b, *l = (*l)[len(*l)-1], (*l)[:len(*l)-1]
		} else {
			p.b, _ = tokenbucket.New(p.lim, t) // p.lim is valid
		}
		p.blim = p.lim
	}
	if p.b.AllowN(t, n) {
		g.advance(t)
		return
	}
	g.fail(fmt.Errorf("charging %d tokens to partition %q failed (%v)", n, g.slots.key(s), error(nil)))
}

// pruneEvery is how many commits pass between sweeps of full buckets.
const pruneEvery = 64

// prune forgets partitions whose buckets are full at now: a full bucket is the same as a new
// one, so this is lossless, and it keeps memory bounded by the partitions recently charged.
// It moves the clock to now. Cost: O(partitions with state), once every pruneEvery commits.
func (g *ThrottleGate[C]) prune(now time.Time) {
	t := g.at(now)
	live := g.held[:0]
	for _, s := range g.held {
		p := &g.parts[s]
		if p.known && p.err == nil {
			g.sync(t, p)
		}
		if p.b != nil && g.full(t, p) {
			g.drop(p) // and a full bucket holds Burst tokens: forgotten below
		}
		if p.known && p.err == nil && (p.b == nil || p.b.Tokens(t) >= float64(p.lim.Burst)) {
			p.known = false
		}
		if p.known || p.b != nil {
			live = append(live, s)
			continue
		}
		p.held = false
		if g.own() {
			*p = throttlePart{}
			g.slots.release(s)
		}
	}
	clear(g.held[len(live):])
	g.held = live
	g.advance(t)
}

// endTick recycles slots interned this tick that got no state (own partitioning; only a
// PartitionBy that changes its mind between Filter and Commit leaves any).
func (g *ThrottleGate[C]) endTick() {
	for _, s := range g.slots.temp {
		if g.slots.keys[s].used && (int(s) >= len(g.parts) || !g.parts[s].held) {
			if int(s) < len(g.parts) {
				g.parts[s] = throttlePart{}
			}
			g.slots.release(s)
		}
	}
	g.slots.temp = g.slots.temp[:0]
}

func (g *ThrottleGate[C]) Release(time.Time, Candidate[C], End) {}

func (g *ThrottleGate[C]) releaseJob(time.Time, *node[C], End) {}

// known returns partition key's state if the gate knows its limit.
func (g *ThrottleGate[C]) known(key string) *throttlePart {
	s, ok := g.slots.lookup(key)
	if !ok || int(s) >= len(g.parts) || !g.parts[s].known {
		return nil
	}
	return &g.parts[s]
}

// Delay returns how long after now partition key will hold one token, absent other calls:
// zero if it holds one. It reports false if the partition's limit is not known (the gate
// has not seen it, or has forgotten it because its bucket was full) or is invalid.
// Event-driven callers use it to tick exactly when a throttled partition can admit again.
func (g *ThrottleGate[C]) Delay(now time.Time, key string) (time.Duration, bool) {
	p := g.known(key)
	if p == nil || p.err != nil {
		return 0, false
	}
	t := g.at(now)
	g.sync(t, p)
	if p.b == nil {
		return 0, true
	}
	d, _ := p.b.Delay(t, 1)
	if d > 0 {
		// Time before the clock reads as the clock, so the caller also waits that out.
		if d += t.Sub(now); d < 0 {
			d = math.MaxInt64
		}
	}
	return d, true
}

// Tokens returns the tokens partition key holds at now, for stats: NaN if its limit is not
// known, zero if it is invalid.
func (g *ThrottleGate[C]) Tokens(now time.Time, key string) float64 {
	p := g.known(key)
	if p == nil {
		return math.NaN() // never seen: its limit is not known
	}
	return g.tokensOf(now, p)
}

// tokensOf is Tokens of a partition whose limit the gate knows.
func (g *ThrottleGate[C]) tokensOf(now time.Time, p *throttlePart) float64 {
	if p.err != nil {
		return 0
	}
	t := g.at(now)
	g.sync(t, p)
	return g.tokens(t, p)
}

// ConcurrencyGate caps the jobs in flight per partition (dispatch_policy's :concurrency). The
// cap is resolved per job, so jobs of one partition may carry different caps; a job passes
// while its partition's in-flight count (admitted, plus passed earlier in this tick) is below
// its cap. In-flight counts are released exactly once per admitted job.
type ConcurrencyGate[C any] struct {
	gateBase[C]
	max      func(C) int
	inflight []int // by slot
	out      []Candidate[C]
}

// Concurrency returns a concurrency gate with per-job cap max.
func Concurrency[C any](max func(C) int, opts ...Option[C]) *ConcurrencyGate[C] {
	g := &ConcurrencyGate[C]{max: max}
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
	g.grp.group(batch, &g.gateBase)
	g.inflight = grow(g.inflight, g.slots.len())
	out := g.out[:0]
	part := !g.own()
	for gi, s := range g.grp.slots {
		used := g.inflight[s]
		jobs := g.grp.jobs(gi)
		k := g.groupKey(s, &jobs[0])
		for _, c := range jobs {
			m := g.max(c.Context)
			if m < 0 {
				g.fail(fmt.Errorf("max for job %q must be >= 0, got %d", c.ID, m))
				continue
			}
			if used < m { // no break: the next job may have a larger cap
				used++
				c.record(k, part)
				out = append(out, c)
			}
		}
	}
	g.out = out
	return out
}

func (g *ConcurrencyGate[C]) endTick() { sweep(&g.slots, g.inflight) }

// sweep recycles the slots the tick interned for keys that ended it with nothing in flight
// (own partitioning).
func sweep(m *slotMap, inflight []int) {
	for _, s := range m.temp {
		if m.keys[s].used && (int(s) >= len(inflight) || inflight[s] == 0) {
			m.release(s)
		}
	}
	m.temp = m.temp[:0]
}

func (g *ConcurrencyGate[C]) Commit(now time.Time, admitted []Candidate[C]) {
	for i := range admitted {
		s := g.slot(&admitted[i])
		if int(s) >= len(g.inflight) { // (a PartitionBy that changes its mind)
			g.inflight = grow(g.inflight, g.slots.len())
		}
		h := g.hold(admitted[i].n)
		h.slot, h.ok = s, true
		g.inflight[s]++
	}
}

func (g *ConcurrencyGate[C]) Release(now time.Time, c Candidate[C], e End) {
	g.releaseJob(now, c.n, e)
}

func (g *ConcurrencyGate[C]) releaseJob(now time.Time, n *node[C], e End) {
	h := g.hold(n)
	if !h.ok {
		return
	}
	h.ok = false
	switch n := g.inflight[h.slot]; {
	case n > 1:
		g.inflight[h.slot] = n - 1
	case n == 1:
		g.inflight[h.slot] = 0
		if g.own() {
			g.slots.release(h.slot) // memory stays bounded by the keys in flight
		}
	default:
		g.fail(fmt.Errorf("in-flight count of partition %q would go below zero", g.slots.key(h.slot)))
	}
}

// InFlight returns the jobs in flight in partition key.
func (g *ConcurrencyGate[C]) InFlight(key string) int {
	if s, ok := g.slots.lookup(key); ok && int(s) < len(g.inflight) {
		return g.inflight[s]
	}
	return 0
}

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
		c.record("default", false)
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
	g.releaseJob(now, c.n, e)
}

func (g *GlobalCapGate[C]) releaseJob(now time.Time, n *node[C], e End) {
	if h := g.hold(n); h.ok {
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

	_ releaser[int] = (*ThrottleGate[int])(nil)
	_ releaser[int] = (*ConcurrencyGate[int])(nil)
	_ releaser[int] = (*GlobalCapGate[int])(nil)
	_ releaser[int] = (*AdaptiveGate[int])(nil)
)
