package admission

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// Order is the direction of priority.
type Order int

const (
	// Ascending admits lower Priority values first (ActiveJob, dispatch_policy 0.1).
	Ascending Order = iota
	// Descending admits higher Priority values first (dispatch_policy 0.5).
	Descending
)

// Config configures a Policy. The zero value of every field but Gates is a documented default.
type Config[C any] struct {
	// Gates run in order on every tick. A gate belongs to one Policy. None means every
	// fetched job is admitted.
	Gates []Gate[C]
	// PartitionBy names a job's partition: the unit of Stats and Pause, and the default
	// partition of every gate. Nil puts every job in partition "default".
	PartitionBy func(C) string
	// PartitionIndex, if set, numbers PartitionBy's partitions with small non-negative
	// integers, so that a job's partition is found in a slice by its index instead of by
	// hashing its key (with many partitions the hash table's lines are cache misses). Jobs
	// with the same index must have the same key (several indexes may share a key); a
	// negative index means none, and the key is looked up. The policy keeps a slice as long
	// as the greatest index, so indexes should be dense: an index beyond twice the number of
	// partitions (plus 4096) is not kept, its key is looked up. It requires PartitionBy.
	PartitionIndex func(C) int
	// BatchSize is the most jobs one tick fetches (and so admits). Zero means 500.
	BatchSize int
	// Quantum is how many jobs each round-robin key gets in a tick's first phase. Zero means 50.
	Quantum int
	// Lease is how long an admitted job may run before Reap completes it. Zero means 15 minutes.
	Lease time.Duration
	// Order is the priority direction. The zero value is Ascending.
	Order Order
	// CheckContext, if set, validates each staged job's context; an error rejects the job
	// (use it to refuse a nil context where one is required).
	CheckContext func(C) error
}

// Defaults from dispatch_policy 0.1.
const (
	DefaultBatchSize = 500
	DefaultQuantum   = 50
	DefaultLease     = 15 * time.Minute
)

func (c *Config[C]) validate() error {
	switch {
	case c.BatchSize < 0:
		return fmt.Errorf("admission: BatchSize must be >= 0 (0 means %d), got %d", DefaultBatchSize, c.BatchSize)
	case c.Quantum < 0:
		return fmt.Errorf("admission: Quantum must be >= 0 (0 means %d), got %d", DefaultQuantum, c.Quantum)
	case c.Lease < 0:
		return fmt.Errorf("admission: Lease must be >= 0 (0 means %v), got %v", DefaultLease, c.Lease)
	case c.Order != Ascending && c.Order != Descending:
		return fmt.Errorf("admission: Order must be Ascending or Descending, got %d", c.Order)
	case c.PartitionIndex != nil && c.PartitionBy == nil:
		return errors.New("admission: PartitionIndex requires PartitionBy")
	}
	names := map[string]bool{}
	for i, g := range c.Gates {
		if g == nil {
			return fmt.Errorf("admission: Gates[%d] is nil", i)
		}
		name := g.Name()
		if name == "" {
			return fmt.Errorf("admission: Gates[%d] has an empty name", i)
		}
		if names[name] {
			return fmt.Errorf("admission: Gates[%d]: duplicate gate name %q", i, name)
		}
		names[name] = true
	}
	return nil
}

// state of a job node.
type state uint8

const (
	pending  state = iota // in the ready indexes
	delayed               // NotBefore in the future: in the delayed heap
	parked                // its partition is paused
	admitted              // handed out, holding its gates
	done                  // completed: forgotten by the policy
)

// node is a job the policy holds. Every byte of it counts: a growing backlog is one node
// per job in new memory, whose first touch costs more than the rest of Stage (on the
// benchmark VM about 2.7 ns a byte, page faults). So what only an admitted job needs lives
// in its holding record, and a delayed job's NotBefore in the delay heap: 192 bytes, where
// the first version took 256.
type node[C any] struct {
	job  jobRec[C]
	seq  uint64
	part *partition[C]
	link [2]link[C] // 0: policy order, 1: round-robin key order (its level knows the key)
	// Times are nanoseconds since the policy's epoch (its first Stage): 8 bytes and no
	// pointer each, where a time.Time is 24 bytes and a pointer for the GC to scan.
	stagedAt int64

	// tick scratch
	passed  uint64 // stamp of the last gate passed this tick
	primary string

	// holds is the job's holding record while it is admitted: taken from the policy's free
	// list, so that admitting a job allocates nothing in steady state.
	holds *holding

	// Small fields last, packed.
	leaseGen    uint32
	st          state
	started     bool
	hasPrimary  bool
	primaryPart bool // primary is the job's policy-level partition
}

// jobRec is a held job: its Job without NotBefore, which only the delay heap reads.
type jobRec[C any] struct {
	ID            JobID
	DedupeKey     string
	RoundRobinKey string
	Priority      int
	Context       C
}

// holding is what an admitted job needs and a pending one does not: when it was admitted
// and started, when its lease expires, and the holding gates' records of it (concurrency,
// global cap, adaptive) by holding-gate index, more for a fourth holding gate and beyond.
type holding struct {
	h                               [3]hold
	more                            map[int]*hold
	admittedAt, startedAt, leaseExp int64
}

// rk returns the round-robin key whose order holds n, nil if none does.
func (n *node[C]) rk() *rrKey[C] {
	if lv := n.link[1].lv; lv != nil {
		return lv.rk
	}
	return nil
}

// hold is a holding gate's record of one job: its partition (the gate's slot for it), an
// adaptive token, and whether the job holds the gate (set at commit, cleared at release).
type hold struct {
	tok  aimd.Token
	slot int32
	ok   bool
}

// partition is a policy-level partition.
type partition[C any] struct {
	key        string
	id         int32      // its index in partList: the slot of built-in gates' state
	seen       uint64     // bit i: gate i has recorded the partition's slot
	parkedJobs []*node[C] // while paused: its parked jobs
	pending    int
	delayed    int
	parked     int
	admitted   int
	started    int
	completed  uint64
	paused     bool
}

// rrKey is one round-robin key with pending jobs.
type rrKey[C any] struct {
	key        string
	visit      int // position in this tick's phase 1
	ord        order[C]
	prev, next *rrKey[C] // the ring of keys with pending jobs
	inRing     bool
}

// Policy holds staged jobs and admits them through its gates. It is the in-memory,
// storage-free equivalent of dispatch_policy's staged-jobs table and tick.
//
// A Policy is safe for concurrent use: every method takes one mutex, so many goroutines
// may stage while one ticks. Gates run under that mutex and must not call back into the
// Policy.
type Policy[C any] struct {
	mu  sync.Mutex
	cfg Config[C]

	seq      uint64
	ticks    uint64
	jobs     jobTable[C]
	dedupe   map[string]JobID
	ord      order[C] // every pending job
	keys     map[string]*rrKey[C]
	ring     *rrKey[C] // next key to serve in phase 1
	ringLen  int
	delay    heapOf[delayEntry[C]]
	leases   heapOf[leaseEntry[C]]
	parts    map[string]*partition[C]
	byIndex  []*partition[C] // by Config.PartitionIndex, nil where not yet seen
	partList []*partition[C] // first-appearance order, for Stats
	byKey    []int32         // partition ids sorted by key, for Stats (see partitionsByKey)
	paused   map[string]bool
	draining bool

	staged, completedN, expiredN, revertedN uint64
	// Jobs in each state now: the sums of the partitions' counts (see count).
	pendingN, delayedN, parkedN, admittedN, startedN int
	lastAdmit                                        time.Time

	buf      [2][]Candidate[C] // the batch, and the next gate's output
	visited  []*rrKey[C]       // this tick's phase-1 keys, in order
	holdFree []*holding
	nodeFree []*node[C]
	epoch    time.Time // virtual zero of the job times: the first Stage
	epochSet bool
	lastNow  time.Time // the last time converted by off, and its offset
	lastOff  int64
	lastSet  bool
	leaseOff int64 // the last lease expiry converted by leaseWall
	leaseAt  time.Time
	leaseSet bool
	// stagedAt says some gate is not built in: only such a gate may read a candidate's
	// StagedAt, which costs a time conversion per candidate, or break the gate contract,
	// which sanitize then enforces.
	stagedAt bool
	cur      int
	gates    []gateInfo[C]
}

type gateInfo[C any] struct {
	g      Gate[C]
	t      Tracker[C]  // nil if the gate keeps no state
	b      binder      // nil for a gate that is not built in
	r      releaser[C] // a built-in tracker's Release, without a Candidate
	errors uint64
	last   string
}

// New returns a Policy with configuration c, or an error naming the bad field and value.
// Built-in gates are bound to the new policy; binding one gate to two policies is an error.
func New[C any](c Config[C]) (*Policy[C], error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Quantum == 0 {
		c.Quantum = DefaultQuantum
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	p := &Policy[C]{
		cfg:    c,
		dedupe: map[string]JobID{},
		keys:   map[string]*rrKey[C]{},
		parts:  map[string]*partition[C]{},
		paused: map[string]bool{},
	}
	p.ord.desc = c.Order == Descending
	p.delay.less = lessDelay[C]
	p.leases.less = lessLease[C]
	for i, g := range c.Gates {
		if v, ok := g.(interface{ validate() error }); ok {
			if err := v.validate(); err != nil {
				return nil, fmt.Errorf("admission: Gates[%d] (%s): %w", i, g.Name(), err)
			}
		}
		if b, ok := g.(binder); ok && b.isBound() {
			return nil, fmt.Errorf("admission: Gates[%d] (%s): gate is already used by another Policy", i, g.Name())
		}
	}
	holding := 0
	for i, g := range c.Gates {
		if b, ok := g.(binder); ok {
			b.bind(holding, i)
			if b.holds() {
				holding++
			}
		}
		gi := gateInfo[C]{g: g}
		gi.t, _ = g.(Tracker[C])
		gi.b, _ = g.(binder)
		gi.r, _ = g.(releaser[C])
		if gi.b == nil {
			p.stagedAt = true
		}
		p.gates = append(p.gates, gi)
	}
	return p, nil
}

// releaser is implemented by built-in trackers: their Release of a job record, which the
// policy calls without building a Candidate.
type releaser[C any] interface {
	releaseJob(now time.Time, n *node[C], e End)
}

// binder is implemented by built-in gates, which keep their per-job holds in the node.
type binder interface {
	bind(slot, gate int)
	isBound() bool
	holds() bool // whether the gate keeps a record per admitted job
	endTick()    // called after every tick's commits
}

// Stage adds a job at now. It reports false, with no error, when the job is deduplicated (its
// DedupeKey is held by a pending or admitted job). An empty or duplicate ID, or a context
// that Config.CheckContext rejects, is an error. Cost: O(1) amortised, one allocation.
func (p *Policy[C]) Stage(now time.Time, j Job[C]) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check(j); err != nil {
		return false, err
	}
	if j.DedupeKey != "" {
		if _, held := p.dedupe[j.DedupeKey]; held {
			return false, nil
		}
	}
	p.stage(now, j)
	return true, nil
}

// StageMany stages jobs in order and returns how many it staged; duplicates, within the
// batch or of held jobs, are dropped. If any job is invalid, nothing is staged and the error
// names the first bad one.
func (p *Policy[C]) StageMany(now time.Time, jobs []Job[C]) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make(map[JobID]bool, len(jobs))
	for i, j := range jobs {
		if err := p.check(j); err != nil {
			return 0, fmt.Errorf("jobs[%d]: %w", i, err)
		}
		if ids[j.ID] {
			return 0, fmt.Errorf("jobs[%d]: %w: %q", i, ErrDuplicateID, j.ID)
		}
		ids[j.ID] = true
	}
	n := 0
	for _, j := range jobs {
		if j.DedupeKey != "" {
			if _, held := p.dedupe[j.DedupeKey]; held {
				continue
			}
		}
		p.stage(now, j)
		n++
	}
	return n, nil
}

func (p *Policy[C]) check(j Job[C]) error {
	if j.ID == "" {
		return ErrEmptyID
	}
	if p.jobs.get(j.ID) != nil {
		return fmt.Errorf("%w: %q", ErrDuplicateID, j.ID)
	}
	if p.cfg.CheckContext != nil {
		if err := p.cfg.CheckContext(j.Context); err != nil {
			return fmt.Errorf("%w %q: %w", ErrInvalidJob, j.ID, err)
		}
	}
	return nil
}

// stage adds a validated, non-duplicate job. It requires p.mu.
func (p *Policy[C]) stage(now time.Time, j Job[C]) {
	p.seq++
	var n *node[C]
	rec := jobRec[C]{ID: j.ID, DedupeKey: j.DedupeKey, RoundRobinKey: j.RoundRobinKey, Priority: j.Priority, Context: j.Context}
	if k := len(p.nodeFree); k > 0 {
		n, p.nodeFree = p.nodeFree[k-1], p.nodeFree[:k-1]
		n.job, n.seq, n.stagedAt = rec, p.seq, p.off(now)
	} else {
		n = &node[C]{job: rec, seq: p.seq, stagedAt: p.off(now)}
	}
	n.part = p.partition(j.Context)
	p.jobs.put(n)
	if j.DedupeKey != "" {
		p.dedupe[j.DedupeKey] = j.ID
	}
	p.staged++
	if j.NotBefore.After(now) {
		n.st = delayed
		p.count(n.part, delayed, 1)
		p.delay.push(delayEntry[C]{at: j.NotBefore, n: n})
		return
	}
	p.ready(n)
}

// partition returns the partition of context c, creating it. It requires p.mu.
func (p *Policy[C]) partition(c C) *partition[C] {
	if p.cfg.PartitionIndex != nil {
		if i := p.cfg.PartitionIndex(c); i >= 0 {
			if i < len(p.byIndex) && p.byIndex[i] != nil {
				return p.byIndex[i]
			}
			pt := p.partitionByKey(p.cfg.PartitionBy(c))
			// The slice stays O(partitions): an index far beyond them (a sparse or
			// mistaken numbering) is looked up by key instead of growing it.
			if i < len(p.byIndex) || i < 2*len(p.partList)+4096 {
				p.byIndex = grow(p.byIndex, i+1)
				p.byIndex[i] = pt
			}
			return pt
		}
	}
	key := "default"
	if p.cfg.PartitionBy != nil {
		key = p.cfg.PartitionBy(c)
	}
	return p.partitionByKey(key)
}

// partitionByKey returns the partition of key, creating it. It requires p.mu.
func (p *Policy[C]) partitionByKey(key string) *partition[C] {
	pt := p.parts[key]
	if pt == nil {
		pt = &partition[C]{key: key, id: int32(len(p.partList)), paused: p.paused[key]}
		p.parts[key] = pt
		p.partList = append(p.partList, pt)
	}
	return pt
}

// count adds d to partition pt's count of jobs in state st, and to the policy's. Every
// change of these counts goes through count and countStarted, so that the totals are the
// sums of the partitions' (the tests check it after every step). It requires p.mu.
func (p *Policy[C]) count(pt *partition[C], st state, d int) {
	switch st {
	case pending:
		pt.pending += d
		p.pendingN += d
	case delayed:
		pt.delayed += d
		p.delayedN += d
	case parked:
		pt.parked += d
		p.parkedN += d
	case admitted:
		pt.admitted += d
		p.admittedN += d
	}
}

// countStarted adds d to pt's and the policy's count of started jobs. It requires p.mu.
func (p *Policy[C]) countStarted(pt *partition[C], d int) {
	pt.started += d
	p.startedN += d
}

// ready makes n pending (or parked, if its partition is paused). It requires p.mu.
func (p *Policy[C]) ready(n *node[C]) {
	pt := n.part
	if pt.paused {
		n.st = parked
		p.count(pt, parked, 1)
		pt.parkedJobs = append(pt.parkedJobs, n)
		return
	}
	n.st = pending
	p.count(pt, pending, 1)
	p.index(n)
}

// index adds a pending node to the orders.
func (p *Policy[C]) index(n *node[C]) {
	p.ord.insert(n)
	if k := n.job.RoundRobinKey; k != "" {
		rk := p.keys[k]
		if rk == nil {
			rk = &rrKey[C]{key: k, ord: order[C]{w: 1, desc: p.ord.desc}}
			rk.ord.rk = rk
			p.keys[k] = rk
		}
		rk.ord.insert(n)
		if !rk.inRing {
			p.ringAdd(rk)
		}
	}
}

// unindex takes a pending node out of the orders.
func (p *Policy[C]) unindex(n *node[C]) {
	p.ord.remove(n)
	if rk := n.rk(); rk != nil {
		rk.ord.remove(n)
		if rk.ord.len() == 0 {
			p.ringRemove(rk)
			delete(p.keys, rk.key)
		}
	}
}

// ringAdd puts a key at the end of the ring, just before the next key to serve, so that a
// key that becomes active waits for the current round (as in deficit round robin).
func (p *Policy[C]) ringAdd(rk *rrKey[C]) {
	rk.inRing = true
	p.ringLen++
	if p.ring == nil {
		rk.prev, rk.next, p.ring = rk, rk, rk
		return
	}
	last := p.ring.prev
	rk.prev, rk.next = last, p.ring
	last.next = rk
	p.ring.prev = rk
}

func (p *Policy[C]) ringRemove(rk *rrKey[C]) {
	rk.inRing = false
	p.ringLen--
	if rk.next == rk {
		p.ring = nil
	} else {
		rk.prev.next, rk.next.prev = rk.next, rk.prev
		if p.ring == rk {
			p.ring = rk.next
		}
	}
	rk.prev, rk.next = nil, nil
}

// Tick admits what the gates allow at now and returns the admitted jobs in order.
// See TickAppend.
func (p *Policy[C]) Tick(now time.Time) []Admitted[C] { return p.TickAppend(now, nil) }

// TickAppend is Tick appending into dst, which it returns, so that a caller reusing dst
// allocates nothing per tick.
//
// A tick makes due delayed jobs pending, then fetches a batch of at most BatchSize pending
// jobs: in priority order, or, when round-robin keys are pending, in dispatch_policy's two
// phases (up to Quantum jobs from each key in turn, then a top-up in priority order). Keys are
// visited in a rotating order: each tick starts with the key after the last key that had a
// job admitted in the previous tick, so that keys take turns even when a tick admits a single
// job, and no key waits behind others forever when keys × Quantum > BatchSize.
// The batch passes the gates in order, trackers commit the survivors, and the survivors are
// admitted with a lease of Config.Lease. A draining policy admits nothing.
// Cost: O(BatchSize + keys visited + due delayed jobs·log) plus the gates' own cost; it does
// not grow with the backlog.
func (p *Policy[C]) TickAppend(now time.Time, dst []Admitted[C]) []Admitted[C] {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.delay.len() > 0 && !p.delay.h[0].at.After(now) {
		n := p.delay.pop().n
		p.count(n.part, delayed, -1)
		p.ready(n)
	}
	if p.draining {
		return dst
	}
	p.ticks++
	p.cur = 0
	batch := p.fetch(p.buf[0][:0])
	p.buf[0] = batch
	for i := range p.gates {
		if len(batch) == 0 {
			break
		}
		if p.stagedAt {
			batch = p.sanitize(i, p.gates[i].g.Filter(now, batch))
		} else {
			// Built-in gates keep the contract by construction: their output is used as is
			// (each gate writes its own buffer and only reads the previous one's).
			batch = p.gates[i].g.Filter(now, batch)
		}
	}
	for _, c := range batch {
		if c.n.holds == nil {
			if k := len(p.holdFree); k > 0 {
				c.n.holds, p.holdFree = p.holdFree[k-1], p.holdFree[:k-1]
			} else {
				c.n.holds = new(holding)
			}
		}
	}
	for i := range p.gates {
		if t := p.gates[i].t; t != nil && len(batch) > 0 {
			t.Commit(now, batch)
		}
	}
	p.rotate(batch)
	for _, c := range batch {
		dst = append(dst, p.admit(now, c.n))
	}
	if len(batch) > 0 {
		p.lastAdmit = now
	}
	for i := range p.gates {
		if b := p.gates[i].b; b != nil {
			b.endTick()
		}
	}
	clear(p.buf[0])
	clear(p.buf[1]) // drop references to contexts until the next tick
	return dst
}

// fetch appends the tick's batch of candidates to dst.
func (p *Policy[C]) fetch(dst []Candidate[C]) []Candidate[C] {
	size := p.cfg.BatchSize
	take := func(n *node[C]) bool {
		if len(dst) >= size {
			return false
		}
		if stamp := p.stamp(-1); n.passed != stamp {
			n.passed = stamp
			n.hasPrimary, n.primaryPart, n.primary = false, false, ""
			dst = append(dst, p.candidate(n))
		}
		return true
	}
	p.visited = p.visited[:0]
	if p.ringLen > 0 {
		// Phase 1: up to Quantum per key, keys in ring order from the rotating start.
		rk := p.ring
		for len(p.visited) < p.ringLen && len(dst) < size {
			q := 0
			rk.visit = len(p.visited)
			p.visited = append(p.visited, rk)
			rk.ord.each(func(n *node[C]) bool {
				if q >= p.cfg.Quantum {
					return false
				}
				q++
				return take(n)
			})
			rk = rk.next
		}
	}
	// Phase 2 (or the plain fetch): top up in priority order.
	p.ord.each(take)
	return dst
}

// rotate moves the start of the next tick's phase 1 to the key after the last key (in this
// tick's visiting order) that had a job admitted, so that keys take turns across ticks even
// when a tick admits only a few jobs. A tick that admits no keyed job leaves it in place.
func (p *Policy[C]) rotate(admitted []Candidate[C]) {
	last := -1
	for _, c := range admitted {
		if rk := c.n.rk(); rk != nil && rk.visit < len(p.visited) && p.visited[rk.visit] == rk {
			last = max(last, rk.visit)
		}
	}
	if last >= 0 {
		p.ring = p.visited[last].next
	}
	clear(p.visited)
}

func (p *Policy[C]) candidate(n *node[C]) Candidate[C] {
	c := Candidate[C]{
		ID: n.job.ID, Context: n.job.Context, Priority: n.job.Priority,
		RoundRobinKey: n.job.RoundRobinKey, Partition: n.part.key, n: n,
	}
	if p.stagedAt { // built-in gates do not read it
		c.StagedAt = p.wall(n.stagedAt)
	}
	return c
}

// sanitize copies gate i's output into the buffer the batch is not in, enforcing the gate
// contract: only candidates of this tick's batch that passed every earlier gate, each once.
// The policy never keeps a slice a gate returned, so gates may reuse their own buffers.
func (p *Policy[C]) sanitize(i int, out []Candidate[C]) []Candidate[C] {
	gi := &p.gates[i]
	prev, stamp := p.stamp(i-1), p.stamp(i)
	p.cur = 1 - p.cur
	keep := p.buf[p.cur][:0]
	for _, c := range out {
		n := c.n
		if n == nil || n.passed != prev {
			gi.errors++
			gi.last = fmt.Sprintf("Filter returned a job that was not in its batch, or returned it twice (job %q)", c.ID)
			continue
		}
		n.passed = stamp
		keep = append(keep, c)
	}
	p.buf[p.cur] = keep
	return keep
}

// stamp is unique per (tick, gate): a node carries the stamp of the last gate it passed,
// stamp(−1) meaning "fetched this tick".
func (p *Policy[C]) stamp(i int) uint64 {
	return p.ticks*uint64(len(p.gates)+1) + uint64(i+1)
}

// admit marks a surviving candidate admitted. It requires p.mu.
func (p *Policy[C]) admit(now time.Time, n *node[C]) Admitted[C] {
	p.unindex(n)
	p.count(n.part, pending, -1)
	p.count(n.part, admitted, 1)
	n.st = admitted
	h := n.holds
	h.admittedAt = p.off(now)
	n.started = false
	h.leaseExp = h.admittedAt + int64(p.cfg.Lease)
	n.leaseGen++
	p.pushLease(n)
	return Admitted[C]{
		ID: n.job.ID, Context: n.job.Context, Priority: n.job.Priority,
		RoundRobinKey: n.job.RoundRobinKey, Partition: n.part.key,
		StagedAt: p.wall(n.stagedAt), AdmittedAt: now, LeaseExpires: p.leaseWall(h.leaseExp),
	}
}

// leaseWall is wall for lease expiries, which a tick's admissions share.
func (p *Policy[C]) leaseWall(o int64) time.Time {
	if !p.leaseSet || o != p.leaseOff {
		p.leaseOff, p.leaseAt, p.leaseSet = o, p.wall(o), true
	}
	return p.leaseAt
}

// off returns now as nanoseconds since the policy's epoch, fixing the epoch on first use.
// Times more than 292 years from the epoch saturate (time.Time.Sub does). Callers pass the
// same now to several calls in a row (a tick, then the starts it causes), so the last
// conversion is kept.
func (p *Policy[C]) off(now time.Time) int64 {
	if !p.epochSet {
		p.epoch, p.epochSet = now, true
	}
	if now != p.lastNow || !p.lastSet {
		p.lastNow, p.lastOff, p.lastSet = now, int64(now.Sub(p.epoch)), true
	}
	return p.lastOff
}

// wall converts an offset back to a time.
func (p *Policy[C]) wall(o int64) time.Time { return p.epoch.Add(time.Duration(o)) }

// pushLease records n's lease. Entries of completed, reverted or renewed admissions stay in
// the heap until Reap reaches them; when they outnumber the live ones the heap is rebuilt, so
// its size stays O(admitted) even if Reap is never called. Amortised O(log admitted).
func (p *Policy[C]) pushLease(n *node[C]) {
	p.leases.push(leaseEntry[C]{exp: n.holds.leaseExp, seq: n.seq, n: n, gen: n.leaseGen})
	if len(p.leases.h) < 64 || len(p.leases.h) < 2*p.admittedN {
		return
	}
	live := p.leases.h[:0]
	for _, e := range p.leases.h {
		if e.n.st == admitted && e.n.leaseGen == e.gen {
			live = append(live, e)
		}
	}
	clear(p.leases.h[len(live):])
	p.leases.h = live
	slices.SortFunc(live, func(a, b leaseEntry[C]) int { // a sorted slice is a heap
		if lessLease(&a, &b) {
			return -1
		}
		if lessLease(&b, &a) {
			return 1
		}
		return 0
	})
}

// lookup returns the admitted node of id. It requires p.mu.
func (p *Policy[C]) lookup(id JobID) (*node[C], error) {
	n := p.jobs.get(id)
	switch {
	case n == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownJob, id)
	case n.st != admitted:
		return nil, fmt.Errorf("%w: %q", ErrNotAdmitted, id)
	}
	return n, nil
}

// Start records that an admitted job started running at now: its queue lag (admitted →
// started) feeds adaptive gates when it completes. Starting a pending, unknown or already
// started job is an error.
func (p *Policy[C]) Start(now time.Time, id JobID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.lookup(id)
	if err != nil {
		return err
	}
	if n.started {
		return fmt.Errorf("%w: %q", ErrStarted, id)
	}
	n.started, n.holds.startedAt = true, p.off(now)
	p.countStarted(n.part, 1)
	return nil
}

// Complete records that an admitted job finished at now (failed if it raised): its gates are
// released exactly once, adaptive gates observe its queue lag and outcome, its dedupe key is
// freed, and the policy forgets it. A job completed without Start is treated as started at
// now. Completing an unknown, pending or already completed job is an error and changes nothing.
func (p *Policy[C]) Complete(now time.Time, id JobID, failed bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.lookup(id)
	if err != nil {
		return err
	}
	// A clock that went backwards between admission, start and completion is no time passing.
	e, h := End{Kind: Completed, Failed: failed, Started: true}, n.holds
	if n.started {
		e.QueueLag, e.Service = time.Duration(max(h.startedAt-h.admittedAt, 0)), time.Duration(max(p.off(now)-h.startedAt, 0))
	} else {
		e.QueueLag = time.Duration(max(p.off(now)-h.admittedAt, 0))
	}
	p.end(now, n, e)
	p.completedN++
	return nil
}

// Revert undoes the admission of a job whose hand-off failed: its gates are released (a
// throttle's tokens are not refunded: they refill with time, as in dispatch_policy) and it is
// pending again, in its original place in the order.
func (p *Policy[C]) Revert(now time.Time, id JobID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.lookup(id)
	if err != nil {
		return err
	}
	p.release(now, n, End{Kind: Reverted, Started: n.started})
	p.count(n.part, admitted, -1)
	if n.started {
		p.countStarted(n.part, -1)
	}
	n.started = false
	n.leaseGen++
	p.revertedN++
	p.ready(n)
	return nil
}

// Heartbeat extends an admitted job's lease to now + Lease, for jobs that run longer than
// one lease.
func (p *Policy[C]) Heartbeat(now time.Time, id JobID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.lookup(id)
	if err != nil {
		return err
	}
	n.holds.leaseExp = p.off(now) + int64(p.cfg.Lease)
	n.leaseGen++
	p.pushLease(n)
	return nil
}

// Reap completes every admitted job whose lease expired before now (its worker presumably
// crashed), releasing its gates without an adaptive observation, and returns their IDs in
// order of expiry. See ReapAppend.
func (p *Policy[C]) Reap(now time.Time) []JobID { return p.ReapAppend(now, nil) }

// ReapAppend is Reap appending into dst. Cost: O(expired·log admitted).
func (p *Policy[C]) ReapAppend(now time.Time, dst []JobID) []JobID {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.off(now)
	for p.leases.len() > 0 && p.leases.h[0].exp < t {
		le := p.leases.pop()
		n := le.n
		if n.st != admitted || n.leaseGen != le.gen || p.jobs.get(n.job.ID) != n {
			continue // completed, reverted or renewed since
		}
		id := n.job.ID
		p.end(now, n, End{Kind: Expired, Started: n.started})
		p.expiredN++
		dst = append(dst, id)
	}
	return dst
}

// end finishes an admitted job. It requires p.mu.
func (p *Policy[C]) end(now time.Time, n *node[C], e End) {
	p.release(now, n, e)
	p.count(n.part, admitted, -1)
	if n.started {
		p.countStarted(n.part, -1)
	}
	n.part.completed++
	n.leaseGen++
	p.jobs.remove(n)
	if k := n.job.DedupeKey; k != "" && p.dedupe[k] == n.job.ID {
		delete(p.dedupe, k)
	}
	n.st = done
	// Recycle the record: a policy in steady state stages without allocating. A Candidate
	// is valid only during its tick, so nothing outside may still refer to it.
	if len(p.nodeFree) < maxFreeNodes {
		gen := n.leaseGen // keeps growing across reuses, so stale lease entries never match
		*n = node[C]{leaseGen: gen}
		p.nodeFree = append(p.nodeFree, n)
	}
}

// maxFreeNodes bounds the recycled job records kept for reuse.
const maxFreeNodes = 4096

// release calls every tracking gate's Release for n, exactly once per admission.
func (p *Policy[C]) release(now time.Time, n *node[C], e End) {
	var c Candidate[C]
	for i := range p.gates {
		gi := &p.gates[i]
		switch {
		case gi.r != nil:
			gi.r.releaseJob(now, n, e)
		case gi.t != nil:
			if c.n == nil {
				c = p.candidate(n)
			}
			gi.t.Release(now, c, e)
		}
	}
	if n.holds != nil {
		*n.holds = holding{}
		p.holdFree = append(p.holdFree, n.holds)
		n.holds = nil
	}
}

// Pause stops admitting the pending jobs of partition key, now and as they are staged, until
// Resume; admitted jobs are not affected. Pausing a partition with no jobs yet is allowed.
// Pause is an administrative action: it scans the pending jobs, O(pending), so that the tick
// path keeps no per-partition list.
func (p *Policy[C]) Pause(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused[key] = true
	pt := p.parts[key]
	if pt == nil || pt.paused {
		return
	}
	pt.paused = true
	if pt.pending == 0 {
		return
	}
	var out []*node[C]
	p.ord.each(func(n *node[C]) bool {
		if n.part == pt {
			out = append(out, n)
		}
		return len(out) < pt.pending
	})
	for _, n := range out {
		p.unindex(n)
		n.st = parked
		p.count(pt, pending, -1)
		p.count(pt, parked, 1)
	}
	pt.parkedJobs = append(pt.parkedJobs, out...)
}

// Resume undoes Pause. Cost: O(parked jobs of the partition · log).
func (p *Policy[C]) Resume(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.paused, key)
	pt := p.parts[key]
	if pt == nil || !pt.paused {
		return
	}
	pt.paused = false
	back := pt.parkedJobs
	pt.parkedJobs = nil
	slices.SortFunc(back, func(a, b *node[C]) int { return cmp.Compare(a.seq, b.seq) })
	for _, n := range back {
		n.st = pending
		p.count(pt, parked, -1)
		p.count(pt, pending, 1)
		p.index(n)
	}
}

// Drain stops admitting anything until Undrain; admitted jobs run to completion. Drained
// reports when none is left.
func (p *Policy[C]) Drain() {
	p.mu.Lock()
	p.draining = true
	p.mu.Unlock()
}

// Undrain resumes admission after Drain.
func (p *Policy[C]) Undrain() {
	p.mu.Lock()
	p.draining = false
	p.mu.Unlock()
}

// Drained reports whether the policy is draining and no admitted job is left.
func (p *Policy[C]) Drained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.draining && p.admittedN == 0
}

// heapOf is a binary min-heap over a value slice: no interface boxing, no allocation per
// operation once grown.
type heapOf[T any] struct {
	h    []T
	less func(a, b *T) bool
}

func (q *heapOf[T]) len() int { return len(q.h) }

func (q *heapOf[T]) push(x T) {
	q.h = append(q.h, x)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(&q.h[i], &q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *heapOf[T]) pop() T {
	h := q.h
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	var zero T
	h[n] = zero
	q.h = h[:n]
	h = q.h
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && q.less(&h[l], &h[m]) {
			m = l
		}
		if r := l + 1; r < n && q.less(&h[r], &h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top
}

// leaseEntry is an admitted job's lease; entries are invalidated lazily by gen.
type leaseEntry[C any] struct {
	exp int64 // since the policy's epoch
	seq uint64
	n   *node[C]
	gen uint32
}

// delayEntry is a delayed job and its NotBefore.
type delayEntry[C any] struct {
	at time.Time
	n  *node[C]
}

func lessDelay[C any](a, b *delayEntry[C]) bool {
	return a.at.Before(b.at) || (a.at.Equal(b.at) && a.n.seq < b.n.seq)
}

func lessLease[C any](a, b *leaseEntry[C]) bool {
	return a.exp < b.exp || (a.exp == b.exp && a.seq < b.seq)
}
