// Package strategytest checks that an implementation of strategy.Strategy keeps the
// contract of package strategy, in the manner of testing/fstest and
// golang.org/x/net/nettest.
//
// [Run] runs one subtest per property, each on a fresh strategy from the caller's factory:
//
//   - EmptyPool: Pick on a pool with no workers returns -1 and strategy.ErrNoWorkers.
//   - InRange: on pools of 1 to 1000 workers with random loads, Pick returns an index in
//     [0, Len()), or -1 and strategy.ErrNoAvailableWorkers; no other error.
//   - ReadsOnlyItsWorkers: Pick calls QueueLen and Idle only with 0 <= i < Len().
//   - Deterministic: two strategies from the factory, given the same pools and keys, pick
//     the same workers. A factory must therefore build each strategy in the same state,
//     with a *rand.Rand seeded the same way each time.
//   - Contract: for a strategy that implements strategy.Contract, every pick is allowed by
//     Allows, ErrNoAvailableWorkers comes only when no worker is allowed, and calling
//     Allows does not change what Pick returns. Skipped otherwise.
//   - Concurrent: for a strategy that implements strategy.Concurrent and reports
//     ConcurrentSafe, Pick from several goroutines at once returns indices in range (run
//     with -race to make this meaningful). Skipped otherwise.
//
// The pools are generated from a fixed seed, so a run is reproducible. As with nettest,
// the suite should produce no false positives but may produce false negatives: a passing
// run is evidence, not proof. Run it under the race detector.
package strategytest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/dispatchlab/dispatchlab/strategy"
)

// Run checks the strategies that newStrategy returns. newStrategy is called once or twice
// per property and must return a new strategy in the same initial state every time.
func Run(t *testing.T, newStrategy func() strategy.Strategy) {
	t.Helper()
	fresh := func(t *testing.T) strategy.Strategy {
		t.Helper()
		s := newStrategy()
		if s == nil {
			t.Fatal("the factory returned a nil Strategy")
		}
		return s
	}
	t.Run("EmptyPool", func(t *testing.T) { testEmptyPool(t, fresh(t)) })
	t.Run("InRange", func(t *testing.T) { testInRange(t, fresh(t)) })
	t.Run("ReadsOnlyItsWorkers", func(t *testing.T) { testReads(t, fresh(t)) })
	t.Run("Deterministic", func(t *testing.T) { testDeterministic(t, fresh(t), fresh(t)) })
	t.Run("Contract", func(t *testing.T) { testContract(t, fresh(t), fresh(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, fresh(t)) })
}

// pool is a strategy.Pool that records calls outside its workers instead of panicking.
type pool struct {
	loads []int
	idle  []bool
	bad   []string // the first out-of-range calls
}

func (p *pool) Len() int { return len(p.loads) }

func (p *pool) QueueLen(i int) int {
	if i < 0 || i >= len(p.loads) {
		p.record("QueueLen", i)
		return 0
	}
	return p.loads[i]
}

func (p *pool) Idle(i int) bool {
	if i < 0 || i >= len(p.idle) {
		p.record("Idle", i)
		return false
	}
	return p.idle[i]
}

func (p *pool) record(method string, i int) {
	if len(p.bad) < 5 {
		p.bad = append(p.bad, fmt.Sprintf("%s(%d) on a pool of %d", method, i, len(p.loads)))
	}
}

func (p *pool) String() string {
	if len(p.loads) > 12 {
		return fmt.Sprintf("pool of %d workers", len(p.loads))
	}
	return fmt.Sprintf("pool loads %v idle %v", p.loads, p.idle)
}

// step is one generated Pick: a pool and a key.
type step struct {
	p   *pool
	key uint64
}

// sizes the generator draws from, beyond the random small ones.
var sizes = []int{1, 2, 3, 16, 64, 1000}

// genSteps returns n picks over pools of varied sizes and loads: all idle, all busy,
// one idle worker, ties, dead workers (QueueLen math.MaxInt), and random loads.
func genSteps(seed uint64, n int) []step {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	keys := []uint64{0, 1, math.MaxUint64, 1 << 63}
	steps := make([]step, n)
	for k := range steps {
		size := 1 + r.IntN(20)
		if r.IntN(4) == 0 {
			size = sizes[r.IntN(len(sizes))]
		}
		p := &pool{loads: make([]int, size), idle: make([]bool, size)}
		mode := r.IntN(6)
		for i := range p.loads {
			switch mode {
			case 0: // all idle
			case 1: // all busy, equal
				p.loads[i] = 3
			case 2: // ties among a few values
				p.loads[i] = r.IntN(3)
			case 3: // some dead
				p.loads[i] = r.IntN(5)
				if r.IntN(4) == 0 {
					p.loads[i] = math.MaxInt
				}
			default:
				p.loads[i] = r.IntN(50)
			}
			p.idle[i] = p.loads[i] == 0 && r.IntN(5) > 0
		}
		if mode == 1 && r.IntN(2) == 0 { // exactly one idle worker
			w := r.IntN(size)
			p.loads[w], p.idle[w] = 0, true
		}
		key := r.Uint64()
		if r.IntN(8) == 0 {
			key = keys[r.IntN(len(keys))]
		}
		steps[k] = step{p: p, key: key}
	}
	return steps
}

// result is one Pick's answer.
type result struct {
	i   int
	err error
}

func pick(s strategy.Strategy, st step) result {
	i, err := s.Pick(st.p, st.key)
	return result{i, err}
}

// checkResult reports what is wrong with r as an answer on st, or "".
func checkResult(st step, r result) string {
	n := st.p.Len()
	switch {
	case r.err == nil && (r.i < 0 || r.i >= n):
		return fmt.Sprintf("Pick(%v, key %#x) = %d, outside [0, %d)", st.p, st.key, r.i, n)
	case r.err != nil && !errors.Is(r.err, strategy.ErrNoAvailableWorkers):
		return fmt.Sprintf("Pick(%v, key %#x) failed with %v, want a worker or ErrNoAvailableWorkers", st.p, st.key, r.err)
	case r.err != nil && r.i != -1:
		return fmt.Sprintf("Pick(%v, key %#x) = %d, %v; want -1 with an error", st.p, st.key, r.i, r.err)
	}
	return ""
}

func testEmptyPool(t *testing.T, s strategy.Strategy) {
	for _, key := range []uint64{0, 1, 42, math.MaxUint64} {
		p := &pool{}
		i, err := s.Pick(p, key)
		if !errors.Is(err, strategy.ErrNoWorkers) {
			t.Errorf("Pick(empty pool, key %#x) error = %v, want ErrNoWorkers", key, err)
		}
		if i != -1 {
			t.Errorf("Pick(empty pool, key %#x) = %d, want -1", key, i)
		}
		if len(p.bad) > 0 {
			t.Errorf("Pick(empty pool) read workers: %v", p.bad)
		}
	}
}

func testInRange(t *testing.T, s strategy.Strategy) {
	for k, st := range genSteps(1, 3000) {
		if msg := checkResult(st, pick(s, st)); msg != "" {
			t.Fatalf("step %d: %s", k, msg)
		}
	}
}

func testReads(t *testing.T, s strategy.Strategy) {
	for k, st := range genSteps(2, 2000) {
		pick(s, st)
		if len(st.p.bad) > 0 {
			t.Fatalf("step %d: Pick read outside its %d workers: %v", k, st.p.Len(), st.p.bad)
		}
	}
}

func testDeterministic(t *testing.T, a, b strategy.Strategy) {
	for k, st := range genSteps(3, 2000) {
		ra, rb := pick(a, st), pick(b, st)
		if ra.i != rb.i || !errors.Is(ra.err, rb.err) && !errors.Is(rb.err, ra.err) {
			t.Fatalf("step %d: two fresh strategies disagree on Pick(%v, key %#x): %d, %v and %d, %v",
				k, st.p, st.key, ra.i, ra.err, rb.i, rb.err)
		}
	}
}

func testContract(t *testing.T, s, twin strategy.Strategy) {
	c, ok := s.(strategy.Contract)
	if !ok {
		t.Skipf("%T does not implement strategy.Contract", s)
	}
	var allowed []int
	for k, st := range genSteps(4, 2000) {
		n := st.p.Len()
		allowed = allowed[:0]
		for i := range n {
			if c.Allows(st.p, st.key, i) {
				allowed = append(allowed, i)
			}
		}
		for _, i := range []int{-1, n} {
			if c.Allows(st.p, st.key, i) {
				t.Fatalf("step %d: Allows(%v, key %#x, %d) = true for a worker out of range", k, st.p, st.key, i)
			}
		}
		r := pick(s, st)
		if msg := checkResult(st, r); msg != "" {
			t.Fatalf("step %d: %s", k, msg)
		}
		switch {
		case r.err != nil && len(allowed) > 0:
			t.Fatalf("step %d: Pick(%v, key %#x) failed with %v but Allows admits workers %v", k, st.p, st.key, r.err, allowed)
		case r.err == nil && !contains(allowed, r.i):
			t.Fatalf("step %d: Pick(%v, key %#x) = %d, which Allows excludes (allowed %v)", k, st.p, st.key, r.i, allowed)
		}
		// A twin that never calls Allows must pick the same: Allows changes no state.
		if rt := pick(twin, st); rt.i != r.i {
			t.Fatalf("step %d: calling Allows changed the next Pick(%v, key %#x): %d, without Allows %d", k, st.p, st.key, r.i, rt.i)
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func testConcurrent(t *testing.T, s strategy.Strategy) {
	c, ok := s.(strategy.Concurrent)
	if !ok || !c.ConcurrentSafe() {
		t.Skipf("%T does not report itself safe for concurrent use", s)
	}
	const goroutines, picks = 8, 500
	steps := genSteps(5, picks)
	errs := make(chan string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine reads its own copy of the pools: the pools are not under test.
			for k, st := range steps {
				own := step{p: &pool{loads: st.p.loads, idle: st.p.idle}, key: st.key}
				if msg := checkResult(own, pick(s, own)); msg != "" {
					errs <- fmt.Sprintf("goroutine %d, step %d: %s", g, k, msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}
