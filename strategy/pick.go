package strategy

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
)

// Best picks a worker with the shortest queue: wpool's best_worker. It starts at a random
// worker and visits all of them cyclically, keeping the first one strictly shorter than the
// best so far (ties keep the earlier visited worker), and stops as soon as it holds a
// worker with an empty queue. The result is always a minimum of QueueLen.
//
// Cost: O(n) QueueLen reads, fewer when an empty queue is met early; one random draw.
// Concurrency: a Best owns its *rand.Rand, which is not safe for concurrent use, so a Best
// is owned by one goroutine at a time; wrap it with [NewLocked] to share it.
type Best struct{ r *rand.Rand }

// NewBest returns a Best drawing its start index from r. A nil r is an error.
func NewBest(r *rand.Rand) (*Best, error) {
	if r == nil {
		return nil, errNilRand
	}
	return &Best{r: r}, nil
}

// Pick returns a worker with the shortest queue, or ErrNoWorkers.
func (b *Best) Pick(p Pool, _ uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	start := b.r.IntN(n)
	if s, ok := p.(SlicePool); ok {
		if l := s.QueueLens(); len(l) == n {
			return bestSlice(l, start), nil
		}
	}
	best, bl := start, p.QueueLen(start)
	// Visit start+1..n-1, then 0..start-1: the cyclic order of wpool without its
	// second look at start.
	for i := start + 1; i < n && bl > 0; i++ {
		if q := p.QueueLen(i); q < bl {
			best, bl = i, q
		}
	}
	for i := 0; i < start && bl > 0; i++ {
		if q := p.QueueLen(i); q < bl {
			best, bl = i, q
		}
	}
	return best, nil
}

// bestSlice is Pick's scan over a slice, in the same order with the same tie rule.
func bestSlice(l []int, start int) int {
	best, bl := start, l[start]
	if len(l) < 32 {
		// Few workers: the plain loops, whose cost is their exit mispredictions.
		for i := start + 1; i < len(l) && bl > 0; i++ {
			if q := l[i]; q < bl {
				best, bl = i, q
			}
		}
		for i := 0; i < start && bl > 0; i++ {
			if q := l[i]; q < bl {
				best, bl = i, q
			}
		}
		return best
	}
	best, bl = scanBlocks(l, start+1, len(l), best, bl)
	best, _ = scanBlocks(l, 0, start, best, bl)
	return best
}

// scanBlocks continues Best's scan over l[lo:hi] from the best worker so far, best with
// queue bl, and returns the new best and its queue. It reads eight queues at a time and
// takes their minimum as a tree, which the CPU computes in parallel, instead of one
// compare-and-move chain through bl per worker; that halves the cost at n = 1024. Only a
// block holding a queue shorter than bl can change the best worker or stop the scan, and
// such a block is rescanned worker by worker, so the answer and the stopping point are
// exactly those of the plain loop.
func scanBlocks(l []int, lo, hi, best, bl int) (int, int) {
	i := lo
	for ; hi-i >= 8 && bl > 0; i += 8 {
		c := l[i : i+8 : i+8]
		m := min(min(c[0], c[4]), min(c[1], c[5]))
		m = min(m, min(min(c[2], c[6]), min(c[3], c[7])))
		if m < bl {
			for j := 0; j < 8 && bl > 0; j++ {
				if q := c[j]; q < bl {
					best, bl = i+j, q
				}
			}
		}
	}
	for ; i < hi && bl > 0; i++ {
		if q := l[i]; q < bl {
			best, bl = i, q
		}
	}
	return best, bl
}

// Allows reports whether worker i has the shortest queue.
func (b *Best) Allows(p Pool, _ uint64, i int) bool {
	n := p.Len()
	if i < 0 || i >= n {
		return false
	}
	qi := p.QueueLen(i)
	for j := range n {
		if p.QueueLen(j) < qi {
			return false
		}
	}
	return true
}

// Random picks a worker uniformly at random: wpool's random_worker.
//
// Cost: one random draw. Concurrency: owned by one goroutine at a time (it owns its
// *rand.Rand); wrap it with [NewLocked] to share it.
type Random struct{ r *rand.Rand }

// NewRandom returns a Random drawing from r. A nil r is an error.
func NewRandom(r *rand.Rand) (*Random, error) {
	if r == nil {
		return nil, errNilRand
	}
	return &Random{r: r}, nil
}

// Pick returns r.IntN(p.Len()), or ErrNoWorkers.
func (s *Random) Pick(p Pool, _ uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	return s.r.IntN(n), nil
}

// Allows reports whether i is a worker of p: any worker may be drawn.
func (*Random) Allows(p Pool, _ uint64, i int) bool { return 0 <= i && i < p.Len() }

// Next picks workers in strict round robin: 0, 1, ..., n-1, 0, ... It is wpool's
// next_worker without its race: wpool reads the index and then compare-and-swaps it,
// ignoring a lost swap, so two concurrent callers can get the same worker. Next takes a
// ticket with one atomic add instead, so the k-th Pick overall returns k mod n exactly,
// however many goroutines call it. If the pool's size changes, the sequence continues
// from the same counter modulo the new size. The zero Next is ready to use.
//
// The counter is a uint64: after 2^64 picks it wraps, which breaks the cycle once unless n
// is a power of two (at a billion picks a second, after 584 years).
//
// Cost: one atomic add and one division. Concurrency: safe for concurrent use.
type Next struct {
	n atomic.Uint64
}

// NewNext returns a Next whose first Pick returns worker 0.
func NewNext() *Next { return &Next{} }

// Pick returns the next worker in round-robin order, or ErrNoWorkers (without advancing).
func (r *Next) Pick(p Pool, _ uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	return int((r.n.Add(1) - 1) % uint64(n)), nil
}

// Peek returns the worker that the next Pick on a pool of n workers returns, absent
// concurrent calls, or -1 if n <= 0. It is wpool's stats next_worker, numbered from 0.
func (r *Next) Peek(n int) int {
	if n <= 0 {
		return -1
	}
	return int(r.n.Load() % uint64(n))
}

// Picks returns the number of successful Picks so far.
func (r *Next) Picks() uint64 { return r.n.Load() }

// Allows reports whether i is the worker the next Pick returns.
func (r *Next) Allows(p Pool, _ uint64, i int) bool { return i >= 0 && i == r.Peek(p.Len()) }

// ConcurrentSafe reports true.
func (*Next) ConcurrentSafe() bool { return true }

// NextAvailable picks the first idle worker visited cyclically from a random start:
// wpool's next_available_worker. It fails fast with [ErrNoAvailableWorkers] when no worker
// is idle, and returns that error only then.
//
// Cost: O(n) Idle reads in the worst case; one random draw. Concurrency: owned by one
// goroutine at a time; wrap it with [NewLocked] to share it. Note that the answer is only
// as fresh as the pool's Idle: a caller racing others for the same worker must still
// claim it atomically (wpool PR #51).
type NextAvailable struct{ r *rand.Rand }

// NewNextAvailable returns a NextAvailable drawing its start index from r. A nil r is an
// error.
func NewNextAvailable(r *rand.Rand) (*NextAvailable, error) {
	if r == nil {
		return nil, errNilRand
	}
	return &NextAvailable{r: r}, nil
}

// Pick returns an idle worker, or ErrNoWorkers, or ErrNoAvailableWorkers.
func (s *NextAvailable) Pick(p Pool, _ uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	start := s.r.IntN(n)
	for i := start; i < n; i++ {
		if p.Idle(i) {
			return i, nil
		}
	}
	for i := 0; i < start; i++ {
		if p.Idle(i) {
			return i, nil
		}
	}
	return -1, ErrNoAvailableWorkers
}

// Allows reports whether worker i is idle.
func (*NextAvailable) Allows(p Pool, _ uint64, i int) bool {
	return 0 <= i && i < p.Len() && p.Idle(i)
}

// P2C is the power of two choices: it draws two distinct workers uniformly and picks the
// one with the shorter queue, the first drawn on a tie. With n workers and m = n jobs its
// maximum load is ln ln n / ln 2 + O(1) against ln n / ln ln n for one random choice
// (Azar, Broder, Karlin and Upfal 1994), and it stays robust when loads are stale, where
// [Best] herds onto one worker (Mitzenmacher 2000). It never picks a worker whose queue is
// strictly longer than every other worker's.
//
// Cost: one 64-bit random draw and two QueueLen reads, independent of n. Concurrency:
// owned by one goroutine at a time; wrap it with [NewLocked] to share it.
type P2C struct{ r *rand.Rand }

// NewP2C returns a P2C drawing from r. A nil r is an error.
func NewP2C(r *rand.Rand) (*P2C, error) {
	if r == nil {
		return nil, errNilRand
	}
	return &P2C{r: r}, nil
}

// Pick returns the less loaded of two distinct random workers, or ErrNoWorkers.
//
// It draws i uniform over [0, n) and j uniform over the other n-1 workers. For n < 2^32
// both come from one 64-bit draw by Lemire's multiply-shift with rejection ("Fast Random
// Integer Generation in an Interval", 2019), which stays exactly uniform and needs
// another draw only with probability below n/2^32. The draw is written out here rather
// than in a function of its own, which the compiler would not inline.
func (s *P2C) Pick(p Pool, _ uint64) (int, error) {
	n := p.Len()
	if n <= 1 {
		if n == 1 {
			return 0, nil
		}
		return -1, ErrNoWorkers
	}
	var i, j int
	if uint64(n) > math.MaxUint32 {
		i, j = s.r.IntN(n), s.r.IntN(n-1)
	} else {
		x := s.r.Uint64()
		mi := uint64(uint32(x)) * uint64(n)
		mj := (x >> 32) * uint64(n-1)
		if uint32(mi) < uint32(n) || uint32(mj) < uint32(n-1) {
			// Possibly biased: settle i, then j, drawing again as Lemire's method says.
			mi, mj = s.reject(mi, uint32(n)), s.reject(mj, uint32(n-1))
		}
		i, j = int(mi>>32), int(mj>>32)
	}
	j += b2i(j >= i)
	// A select, not two returns: which queue is shorter is a coin toss that a branch
	// would mispredict half the time.
	if p.QueueLen(j) < p.QueueLen(i) {
		i = j
	}
	return i, nil
}

// reject returns m = x·n for the first 32 random bits x, this one or later draws, whose
// product's low half is at least 2^32 mod n, so that m>>32 is uniform over [0, n).
func (s *P2C) reject(m uint64, n uint32) uint64 {
	if uint32(m) < n {
		for t := -n % n; uint32(m) < t; {
			m = uint64(s.r.Uint32()) * uint64(n)
		}
	}
	return m
}

// b2i returns 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}

// Allows reports whether some other worker's queue is at least as long as worker i's: only
// a strict, unique maximum is never picked.
func (*P2C) Allows(p Pool, _ uint64, i int) bool {
	n := p.Len()
	if i < 0 || i >= n {
		return false
	}
	if n == 1 {
		return true
	}
	qi := p.QueueLen(i)
	for j := range n {
		if j != i && p.QueueLen(j) >= qi {
			return true
		}
	}
	return false
}
