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
// [Check] runs the same properties without a *testing.T and returns their failures as one
// error, as testing/fstest.TestFS does.
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
	"slices"
	"sync"
	"testing"

	"github.com/dispatchlab/dispatchlab/strategy"
)

// Run checks the strategies that newStrategy returns, one subtest per property.
// newStrategy is called twice per property and must return a new strategy in the same
// initial state every time.
func Run(t *testing.T, newStrategy func() strategy.Strategy) {
	t.Helper()
	for _, prop := range properties {
		t.Run(prop.name, func(t *testing.T) {
			a, b := newStrategy(), newStrategy()
			if a == nil || b == nil {
				t.Fatal("the factory returned a nil Strategy")
			}
			switch err := prop.check(a, b); {
			case errors.Is(err, errSkip):
				t.Skip(err)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

// Check is Run without a *testing.T, shaped like fstest.TestFS: it checks every property
// and returns an error describing each that fails, or nil. Skipped properties (optional
// capabilities that the strategy does not have) are not errors.
func Check(newStrategy func() strategy.Strategy) error {
	var errs []error
	for _, prop := range properties {
		a, b := newStrategy(), newStrategy()
		if a == nil || b == nil {
			return errors.New("strategytest: the factory returned a nil Strategy")
		}
		if err := prop.check(a, b); err != nil && !errors.Is(err, errSkip) {
			errs = append(errs, fmt.Errorf("%s: %w", prop.name, err))
		}
	}
	return errors.Join(errs...)
}

// errSkip marks a property that does not apply to the strategy.
var errSkip = errors.New("skipped")

// properties lists the checks in order. Each gets two fresh strategies; most use one.
var properties = []struct {
	name  string
	check func(s, twin strategy.Strategy) error
}{
	{"EmptyPool", func(s, _ strategy.Strategy) error { return checkEmptyPool(s) }},
	{"InRange", func(s, _ strategy.Strategy) error { return checkInRange(s) }},
	{"ReadsOnlyItsWorkers", func(s, _ strategy.Strategy) error { return checkReads(s) }},
	{"Deterministic", checkDeterministic},
	{"Contract", checkContract},
	{"Concurrent", func(s, _ strategy.Strategy) error { return checkConcurrent(s) }},
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

func checkEmptyPool(s strategy.Strategy) error {
	for _, key := range []uint64{0, 1, 42, math.MaxUint64} {
		p := &pool{}
		i, err := s.Pick(p, key)
		switch {
		case !errors.Is(err, strategy.ErrNoWorkers):
			return fmt.Errorf("Pick(empty pool, key %#x) error = %v, want ErrNoWorkers", key, err)
		case i != -1:
			return fmt.Errorf("Pick(empty pool, key %#x) = %d, want -1", key, i)
		case len(p.bad) > 0:
			return fmt.Errorf("Pick(empty pool) read workers: %v", p.bad)
		}
	}
	return nil
}

func checkInRange(s strategy.Strategy) error {
	for k, st := range genSteps(1, 3000) {
		if msg := checkResult(st, pick(s, st)); msg != "" {
			return fmt.Errorf("step %d: %s", k, msg)
		}
	}
	return nil
}

func checkReads(s strategy.Strategy) error {
	for k, st := range genSteps(2, 2000) {
		pick(s, st)
		if len(st.p.bad) > 0 {
			return fmt.Errorf("step %d: Pick read outside its %d workers: %v", k, st.p.Len(), st.p.bad)
		}
	}
	return nil
}

func checkDeterministic(a, b strategy.Strategy) error {
	for k, st := range genSteps(3, 2000) {
		ra, rb := pick(a, st), pick(b, st)
		if ra.i != rb.i || !errors.Is(ra.err, rb.err) && !errors.Is(rb.err, ra.err) {
			return fmt.Errorf("step %d: two fresh strategies disagree on Pick(%v, key %#x): %d, %v and %d, %v",
				k, st.p, st.key, ra.i, ra.err, rb.i, rb.err)
		}
	}
	return nil
}

func checkContract(s, twin strategy.Strategy) error {
	c, ok := s.(strategy.Contract)
	if !ok {
		return fmt.Errorf("%w: %T does not implement strategy.Contract", errSkip, s)
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
				return fmt.Errorf("step %d: Allows(%v, key %#x, %d) = true for a worker out of range", k, st.p, st.key, i)
			}
		}
		r := pick(s, st)
		if msg := checkResult(st, r); msg != "" {
			return fmt.Errorf("step %d: %s", k, msg)
		}
		switch {
		case r.err != nil && len(allowed) > 0:
			return fmt.Errorf("step %d: Pick(%v, key %#x) failed with %v but Allows admits workers %v", k, st.p, st.key, r.err, allowed)
		case r.err == nil && !slices.Contains(allowed, r.i):
			return fmt.Errorf("step %d: Pick(%v, key %#x) = %d, which Allows excludes (allowed %v)", k, st.p, st.key, r.i, allowed)
		}
		// A twin that never calls Allows must pick the same: Allows changes no state.
		if rt := pick(twin, st); rt.i != r.i {
			return fmt.Errorf("step %d: calling Allows changed the next Pick(%v, key %#x): %d, without Allows %d", k, st.p, st.key, r.i, rt.i)
		}
	}
	return nil
}

func checkConcurrent(s strategy.Strategy) error {
	c, ok := s.(strategy.Concurrent)
	if !ok || !c.ConcurrentSafe() {
		return fmt.Errorf("%w: %T does not report itself safe for concurrent use", errSkip, s)
	}
	const goroutines, picks = 8, 500
	steps := genSteps(5, picks)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine reads its own copy of the pools: the pools are not under test.
			for k, st := range steps {
				own := step{p: &pool{loads: st.p.loads, idle: st.p.idle}, key: st.key}
				if msg := checkResult(own, pick(s, own)); msg != "" {
					errs <- fmt.Errorf("goroutine %d, step %d: %s", g, k, msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // the first, or nil
}
