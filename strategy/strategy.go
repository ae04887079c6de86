package strategy

import (
	"errors"
	"strconv"
	"sync"
)

// Pool is the read-only view of a worker pool that a [Strategy] picks from. Workers are
// numbered 0..Len()-1.
//
// QueueLen(i) is worker i's load: the jobs waiting at it, and by convention the one it is
// running. It must be >= 0; a worker that cannot take work (dead, draining) reports a large
// value such as math.MaxInt, as wpool's best_worker treats a dead worker's queue as
// infinite. Idle(i) reports whether worker i can start a job at once: wpool's "available",
// alive with an empty mailbox and no current task.
//
// A strategy calls QueueLen and Idle only with 0 <= i < Len(), and only during Pick.
//
// Pick allocates nothing, but converting a value to a Pool may: pass a pointer (or another
// pointer-shaped value), as in best.Pick(&loads, key), rather than a slice or a struct,
// whose boxing allocates on every call.
type Pool interface {
	Len() int
	QueueLen(i int) int
	Idle(i int) bool
}

// SlicePool is an optional interface for pools that keep every worker's queue length in
// one slice. Strategies that scan all workers ([Best]) read the slice instead of calling
// QueueLen once per worker, which makes the scan about five times faster at n = 1024.
// QueueLens must return a slice of length Len() that the strategy only reads; a slice of
// another length is ignored and the strategy falls back to QueueLen.
type SlicePool interface {
	Pool
	QueueLens() []int
}

// Strategy picks one worker of a pool. key is the job's 64-bit key: keyed strategies
// ([Hash], [Rendezvous]) map it to a worker, the others ignore it. Pick returns an index in
// [0, p.Len()) or -1 and an error: [ErrNoWorkers] for an empty pool, from every strategy in
// this package, and [ErrNoAvailableWorkers] from [NextAvailable] when no worker is idle.
type Strategy interface {
	Pick(p Pool, key uint64) (int, error)
}

// Contract is an optional interface: a strategy that implements it states which workers
// its next Pick may return, and the conformance suite (package strategytest) checks every
// pick against it. Allows(p, key, i) reports whether the next Pick(p, key) may return
// worker i, given the pool and the strategy's state now; it must not change that state.
// A strategy that may fail with [ErrNoAvailableWorkers] does so only when it allows no
// worker.
type Contract interface {
	Strategy
	Allows(p Pool, key uint64, i int) bool
}

// Concurrent is an optional interface: ConcurrentSafe reports whether Pick may be called
// from several goroutines at once. Strategies that do not implement it are assumed to be
// owned by one goroutine at a time.
type Concurrent interface {
	Strategy
	ConcurrentSafe() bool
}

var (
	// ErrNoWorkers is returned by every strategy for a pool with no workers.
	ErrNoWorkers = errors.New("strategy: no workers")
	// ErrNoAvailableWorkers is returned by [NextAvailable] when no worker is idle.
	ErrNoAvailableWorkers = errors.New("strategy: no available workers")
	// ErrTimeout is returned by [Queue.Request] for a deadline that is not after now.
	ErrTimeout = errors.New("strategy: timeout")
)

var errNilRand = errors.New("strategy: Rand must not be nil")

// Loads is a [Pool] over a slice of queue lengths: worker i has (*l)[i] jobs and is idle
// when it has none. It implements [SlicePool]. Its methods have pointer receivers so that
// passing &loads as a Pool allocates nothing (boxing a slice header would), and the pool
// sees every later change to the slice.
type Loads []int

// Len returns len(*l).
func (l *Loads) Len() int { return len(*l) }

// QueueLen returns (*l)[i].
func (l *Loads) QueueLen(i int) int { return (*l)[i] }

// Idle reports whether (*l)[i] == 0.
func (l *Loads) Idle(i int) bool { return (*l)[i] == 0 }

// QueueLens returns *l itself.
func (l *Loads) QueueLens() []int { return *l }

// Locked serialises a strategy that is owned by one goroutine (those drawing from a
// *rand.Rand, which is not safe for concurrent use) so that it can be shared: every Pick
// and Allows runs under one mutex. It is the thin locked wrapper over an unsynchronised
// core, as in hashicorp/golang-lru's simplelru; a dispatcher that picks from one goroutine,
// such as the simulator, does not need it.
type Locked struct {
	mu sync.Mutex
	s  Strategy
}

// NewLocked wraps s. A nil s is an error.
func NewLocked(s Strategy) (*Locked, error) {
	if s == nil {
		return nil, errors.New("strategy: Locked needs a Strategy, got nil")
	}
	return &Locked{s: s}, nil
}

// Pick calls the wrapped strategy's Pick under the lock.
func (l *Locked) Pick(p Pool, key uint64) (int, error) {
	l.mu.Lock()
	i, err := l.s.Pick(p, key)
	l.mu.Unlock()
	return i, err
}

// Allows calls the wrapped strategy's Allows under the lock; a strategy without a
// [Contract] allows every worker.
func (l *Locked) Allows(p Pool, key uint64, i int) bool {
	c, ok := l.s.(Contract)
	if !ok {
		return 0 <= i && i < p.Len()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return c.Allows(p, key, i)
}

// ConcurrentSafe reports true: a Locked strategy is safe for concurrent use.
func (*Locked) ConcurrentSafe() bool { return true }

// Custom adapts a function to a [Strategy], as wpool's custom strategy fun does. Pick
// returns [ErrNoWorkers] for an empty pool without calling the function, and an error if
// the function returns an index out of range without an error, so a Custom strategy keeps
// the package's contract whatever the function does. Custom's concurrency is the
// function's.
type Custom func(p Pool, key uint64) (int, error)

// Pick calls c unless the pool is empty, and checks its answer.
func (c Custom) Pick(p Pool, key uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	if c == nil {
		return -1, errors.New("strategy: Custom function is nil")
	}
	i, err := c(p, key)
	if err != nil {
		return -1, err
	}
	if i < 0 || i >= n {
		return -1, &rangeError{i: i, n: n}
	}
	return i, nil
}

// rangeError reports a custom function's out-of-range answer. It is built only on that
// error path, so Pick stays allocation-free otherwise.
type rangeError struct{ i, n int }

func (e *rangeError) Error() string {
	return "strategy: Custom function returned worker " + strconv.Itoa(e.i) + " for a pool of " + strconv.Itoa(e.n)
}
