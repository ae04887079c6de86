package admission

import (
	"container/heap"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// naivePolicy is the benchmarks' anchor: the straightforward in-memory port of
// dispatch_policy's staged-jobs table and tick, from the standard pieces a Go programmer
// would reach for. Pending jobs are a container/heap ordered by (priority, stage order),
// jobs a map by ID, and each tenant a *rate.Limiter (golang.org/x/time/rate) with an
// in-flight count in a map by tenant. A tick pops up to BatchSize jobs, passes those whose
// tenant has a token and a free slot (charging the token at once, like dispatch_policy
// 0.1), pushes the others back, and interleaves the survivors by tenant with
// interleave.ByKey. It has no round-robin fetch, dedupe, leases, adaptive limits or pause,
// and admits in O(BatchSize · log backlog): it is a floor for the cost of the work, not an
// equivalent.
type naivePolicy struct {
	jobs    map[JobID]*naiveJob
	pending naiveHeap
	parts   map[string]*naivePart
	names   []string
	seq     uint64
	batch   int
	limit   rate.Limit
	burst   int
	maxIn   int
	popped  []*naiveJob
	pass    []*naiveJob
	out     []*naiveJob
	iv      interleave.Interleaver[*naiveJob, string]
}

type naiveJob struct {
	id       JobID
	priority int
	seq      uint64
	tenant   int
	part     *naivePart
	admitted bool
}

type naivePart struct {
	name     string
	lim      *rate.Limiter
	inFlight int
	pending  int
}

type naiveHeap []*naiveJob

func (h naiveHeap) Len() int { return len(h) }
func (h naiveHeap) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority < h[j].priority
	}
	return h[i].seq < h[j].seq
}
func (h naiveHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *naiveHeap) Push(x any)   { *h = append(*h, x.(*naiveJob)) }
func (h *naiveHeap) Pop() any {
	old := *h
	n := len(old) - 1
	x := old[n]
	old[n] = nil
	*h = old[:n]
	return x
}

// newNaive returns the anchor with the benchmarks' gates: Rate per second, burst Burst,
// MaxIn in flight per tenant.
func newNaive(names []string, perSecond float64, burst, maxIn int) *naivePolicy {
	return &naivePolicy{
		jobs: map[JobID]*naiveJob{}, parts: map[string]*naivePart{}, names: names,
		batch: DefaultBatchSize, limit: rate.Limit(perSecond), burst: burst, maxIn: maxIn,
	}
}

func (p *naivePolicy) Stage(now time.Time, id JobID, tenant int) error {
	if id == "" {
		return ErrEmptyID
	}
	if _, dup := p.jobs[id]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateID, id)
	}
	name := p.names[tenant]
	pt := p.parts[name]
	if pt == nil {
		pt = &naivePart{name: name, lim: rate.NewLimiter(p.limit, p.burst)}
		p.parts[name] = pt
	}
	p.seq++
	j := &naiveJob{id: id, seq: p.seq, tenant: tenant, part: pt}
	p.jobs[id] = j
	pt.pending++
	heap.Push(&p.pending, j)
	return nil
}

// TickAppend admits a batch at now and appends the admitted jobs, in order, to dst.
func (p *naivePolicy) TickAppend(now time.Time, dst []*naiveJob) []*naiveJob {
	p.popped, p.pass = p.popped[:0], p.pass[:0]
	for len(p.popped) < p.batch && p.pending.Len() > 0 {
		p.popped = append(p.popped, heap.Pop(&p.pending).(*naiveJob))
	}
	for _, j := range p.popped {
		pt := j.part
		if pt.inFlight < p.maxIn && pt.lim.AllowN(now, 1) {
			pt.inFlight++
			pt.pending--
			j.admitted = true
			p.pass = append(p.pass, j)
		} else {
			heap.Push(&p.pending, j)
		}
	}
	p.out = p.iv.AppendByKey(p.out[:0], p.pass, func(j *naiveJob) string { return j.part.name })
	return append(dst, p.out...)
}

func (p *naivePolicy) Complete(now time.Time, id JobID) error {
	j := p.jobs[id]
	if j == nil || !j.admitted {
		return fmt.Errorf("%w: %q", ErrUnknownJob, id)
	}
	delete(p.jobs, id)
	j.part.inFlight--
	return nil
}
