package strategy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/strategy"
)

func TestConstructorErrors(t *testing.T) {
	const nilRand = "strategy: Rand must not be nil"
	_, err := strategy.NewBest(nil)
	assert.EqualError(t, err, nilRand)
	_, err = strategy.NewRandom(nil)
	assert.EqualError(t, err, nilRand)
	_, err = strategy.NewNextAvailable(nil)
	assert.EqualError(t, err, nilRand)
	_, err = strategy.NewP2C(nil)
	assert.EqualError(t, err, nilRand)
	_, err = strategy.NewLocked(nil)
	assert.EqualError(t, err, "strategy: Locked needs a Strategy, got nil")
	_, err = strategy.NewEmitterPool(1, nil)
	assert.EqualError(t, err, "strategy: EmitterPool needs a Strategy, got nil")
	for _, size := range []int{0, -1, -1 << 63} {
		_, err = strategy.NewEmitterPool(size, strategy.NewNext())
		assert.EqualError(t, err, fmt.Sprintf("strategy: EmitterPool size must be >= 1, got %d", size))
	}
	_, err = strategy.NewQueue(-1, strategy.FIFO)
	assert.EqualError(t, err, "strategy: Queue workers must be >= 0, got -1")
	_, err = strategy.NewQueue(1, strategy.Order(2))
	assert.EqualError(t, err, "strategy: Queue order must be FIFO or LIFO, got Order(2)")
	_, err = strategy.NewQueue(1, strategy.Order(-1))
	assert.EqualError(t, err, "strategy: Queue order must be FIFO or LIFO, got Order(-1)")
}

// TestEmptyPool pins ErrNoWorkers from every strategy, usable with errors.Is.
func TestEmptyPool(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	all := []strategy.Strategy{
		must(strategy.NewBest(r)), must(strategy.NewRandom(r)), strategy.NewNext(),
		must(strategy.NewNextAvailable(r)), strategy.Hash{}, strategy.Rendezvous{},
		must(strategy.NewP2C(r)), strategy.Custom(nil),
		strategy.Custom(func(strategy.Pool, uint64) (int, error) { panic("called on an empty pool") }),
		must(strategy.NewLocked(strategy.NewNext())),
	}
	for _, s := range all {
		for _, p := range []strategy.Pool{&strategy.Loads{}, new(strategy.Loads), plainPool{}} {
			i, err := s.Pick(p, 7)
			assert.ErrorIs(t, err, strategy.ErrNoWorkers, "%T", s)
			assert.Equal(t, -1, i, "%T", s)
		}
	}
	next := strategy.NewNext()
	_, _ = next.Pick(&strategy.Loads{}, 0)
	assert.Equal(t, uint64(0), next.Picks(), "a failed Pick does not advance round robin")
	assert.Equal(t, -1, next.Peek(0))
}

func TestCustom(t *testing.T) {
	p := &strategy.Loads{3, 1, 2}
	last := strategy.Custom(func(p strategy.Pool, _ uint64) (int, error) { return p.Len() - 1, nil })
	i, err := last.Pick(p, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, i)

	_, err = strategy.Custom(nil).Pick(p, 0)
	assert.EqualError(t, err, "strategy: Custom function is nil")

	out := strategy.Custom(func(p strategy.Pool, _ uint64) (int, error) { return p.Len(), nil })
	i, err = out.Pick(p, 0)
	assert.EqualError(t, err, "strategy: Custom function returned worker 3 for a pool of 3")
	assert.Equal(t, -1, i)
	neg := strategy.Custom(func(strategy.Pool, uint64) (int, error) { return -5, nil })
	_, err = neg.Pick(p, 0)
	assert.EqualError(t, err, "strategy: Custom function returned worker -5 for a pool of 3")

	mine := errors.New("mine")
	failing := strategy.Custom(func(strategy.Pool, uint64) (int, error) { return 1, mine })
	i, err = failing.Pick(p, 0)
	assert.ErrorIs(t, err, mine)
	assert.Equal(t, -1, i)
}

// TestCustomContract: whatever the function answers, Custom returns it when it is a
// worker of the pool, passes the function's error through, turns an out-of-range answer
// into an error with -1, and never calls the function on an empty pool.
func TestCustomContract(t *testing.T) {
	mine := errors.New("mine")
	forAll(t, "Custom keeps the contract whatever its function does", *trials, func(r *rand.Rand) string {
		for step := range 20 {
			n := r.IntN(6)
			answer := r.IntN(n+4) - 2
			var fail error
			if r.IntN(5) == 0 {
				fail = mine
			}
			calls := 0
			c := strategy.Custom(func(p strategy.Pool, key uint64) (int, error) {
				calls++
				return answer, fail
			})
			got, err := c.Pick(zeros(n), r.Uint64())
			switch {
			case n == 0 && (calls != 0 || !errors.Is(err, strategy.ErrNoWorkers) || got != -1):
				return fmt.Sprintf("step %d: empty pool: Pick = %d, %v after %d calls", step, got, err, calls)
			case n == 0:
			case fail != nil && (!errors.Is(err, mine) || got != -1):
				return fmt.Sprintf("step %d: function failed, Pick = %d, %v", step, got, err)
			case fail == nil && (answer < 0 || answer >= n) && (err == nil || got != -1):
				return fmt.Sprintf("step %d: answer %d of %d accepted: %d, %v", step, answer, n, got, err)
			case fail == nil && answer >= 0 && answer < n && (err != nil || got != answer):
				return fmt.Sprintf("step %d: answer %d of %d became %d, %v", step, answer, n, got, err)
			}
		}
		return ""
	})
}

// cyclicFirst returns the first index visited cyclically from start for which ok holds,
// or -1: the specification of Best and NextAvailable, written as a plain loop.
func cyclicFirst(n, start int, ok func(i int) bool) int {
	for k := range n {
		if i := (start + k) % n; ok(i) {
			return i
		}
	}
	return -1
}

// TestBestIsFirstMinimum: Best returns a minimum of QueueLen, and exactly the first
// minimum visited cyclically from its random start (wpool's strict < tie rule), on both
// the SlicePool and the plain path.
func TestBestIsFirstMinimum(t *testing.T) {
	forAll(t, "Best returns the first minimum from its random start", *trials, func(r *rand.Rand) string {
		a, twin := seededRand(r)
		b := must(strategy.NewBest(a))
		for step := range 20 {
			p := genPool(r, []int{3, 16, 40, 200}[r.IntN(4)])
			var pool strategy.Pool = p
			if r.IntN(2) == 0 {
				l := strategy.Loads(p.loads)
				pool = &l
			}
			got, err := b.Pick(pool, r.Uint64())
			if err != nil {
				return fmt.Sprintf("step %d: %v", step, err)
			}
			m := p.loads[0]
			for _, q := range p.loads {
				m = min(m, q)
			}
			if p.loads[got] != m {
				return fmt.Sprintf("step %d: Pick(%v) = %d with load %d, minimum %d", step, p.loads, got, p.loads[got], m)
			}
			start := twin.IntN(len(p.loads))
			if want := cyclicFirst(len(p.loads), start, func(i int) bool { return p.loads[i] == m }); got != want {
				return fmt.Sprintf("step %d: Pick(%v) = %d, want the first minimum from %d: %d", step, p.loads, got, start, want)
			}
		}
		return ""
	})
}

// readPool is a Pool (not a SlicePool) that records which queues a strategy reads.
type readPool struct {
	loads []int
	reads []int
}

func (p *readPool) Len() int           { return len(p.loads) }
func (p *readPool) QueueLen(i int) int { p.reads = append(p.reads, i); return p.loads[i] }
func (p *readPool) Idle(i int) bool    { return p.loads[i] == 0 }

// TestBestStopsAtEmptyQueue pins Best's early exit: it reads the queues once each, in
// cyclic order from its random start, and stops right after the first empty one; with no
// empty queue it reads every worker exactly once (wpool looks at its start twice).
func TestBestStopsAtEmptyQueue(t *testing.T) {
	forAll(t, "Best reads each queue once from its start and stops at the first empty one", *trials, func(r *rand.Rand) string {
		a, twin := seededRand(r)
		b := must(strategy.NewBest(a))
		for step := range 20 {
			p := &readPool{loads: genPool(r, []int{1, 3, 16, 40}[r.IntN(4)]).loads}
			n := len(p.loads)
			if _, err := b.Pick(p, 0); err != nil {
				return fmt.Sprintf("step %d: %v", step, err)
			}
			start := twin.IntN(n)
			var want []int
			for k := range n {
				i := (start + k) % n
				want = append(want, i)
				if p.loads[i] == 0 {
					break
				}
			}
			if !slices.Equal(p.reads, want) {
				return fmt.Sprintf("step %d: Pick(%v) from %d read %v, want %v", step, p.loads, start, p.reads, want)
			}
		}
		return ""
	})
}

// TestBestEvensOut is wpool's best_worker suite test: N picks into N equally loaded
// workers, each pick adding a job, leave every worker with exactly one more job.
func TestBestEvensOut(t *testing.T) {
	for _, n := range []int{1, 2, 5, 16, 100} {
		b := must(strategy.NewBest(rand.New(rand.NewPCG(uint64(n), 3))))
		loads := make(strategy.Loads, n)
		for round := 1; round <= 3; round++ {
			for range n {
				i, err := b.Pick(&loads, 0)
				require.NoError(t, err)
				loads[i]++
			}
			for i, l := range loads {
				require.Equal(t, round, l, "n=%d round %d worker %d: %v", n, round, i, loads)
			}
		}
	}
}

// TestNextAvailableIdleOrError: NextAvailable returns an idle worker, the first from its
// random start, and ErrNoAvailableWorkers exactly when no worker is idle.
func TestNextAvailableIdleOrError(t *testing.T) {
	forAll(t, "NextAvailable returns an idle worker, or the error only when none is", *trials, func(r *rand.Rand) string {
		a, twin := seededRand(r)
		s := must(strategy.NewNextAvailable(a))
		for step := range 20 {
			p := genPool(r, []int{1, 4, 64}[r.IntN(3)])
			if r.IntN(3) == 0 { // make idle workers rare
				for i := range p.idle {
					p.idle[i] = r.IntN(len(p.idle)+1) == 0
				}
			}
			got, err := s.Pick(p, 0)
			start := twin.IntN(len(p.loads))
			want := cyclicFirst(len(p.idle), start, func(i int) bool { return p.idle[i] })
			switch {
			case want == -1 && (!errors.Is(err, strategy.ErrNoAvailableWorkers) || got != -1):
				return fmt.Sprintf("step %d: no idle worker in %v, Pick = %d, %v", step, p.idle, got, err)
			case want >= 0 && err != nil:
				return fmt.Sprintf("step %d: idle workers in %v, Pick failed: %v", step, p.idle, err)
			case want >= 0 && !p.idle[got]:
				return fmt.Sprintf("step %d: Pick(%v) = %d, not idle", step, p.idle, got)
			case got != want:
				return fmt.Sprintf("step %d: Pick(%v) = %d, want the first idle from %d: %d", step, p.idle, got, start, want)
			}
		}
		return ""
	})
}

// TestNextAvailableSuite is wpool's next_available_worker suite test: all busy gives the
// error, one freed worker is used, busy again gives the error again.
func TestNextAvailableSuite(t *testing.T) {
	s := must(strategy.NewNextAvailable(rand.New(rand.NewPCG(1, 1))))
	loads := strategy.Loads{1, 1, 1, 1}
	_, err := s.Pick(&loads, 0)
	assert.ErrorIs(t, err, strategy.ErrNoAvailableWorkers)
	loads[2] = 0
	for range 10 {
		i, err := s.Pick(&loads, 0)
		require.NoError(t, err)
		assert.Equal(t, 2, i)
	}
	loads[2] = 1
	_, err = s.Pick(&loads, 0)
	assert.ErrorIs(t, err, strategy.ErrNoAvailableWorkers)
}

// p2cDraw is the draw P2C documents: one 64-bit value split into two 32-bit halves, each
// mapped to its range by Lemire's multiply-shift with rejection.
func p2cDraw(r *rand.Rand, n int) (int, int) {
	bounded := func(x, n uint32) int {
		for {
			m := uint64(x) * uint64(n)
			if uint32(m) >= uint32((1<<32)%uint64(n)) {
				return int(m >> 32)
			}
			x = r.Uint32()
		}
	}
	x := r.Uint64()
	i, j := bounded(uint32(x), uint32(n)), bounded(uint32(x>>32), uint32(n-1))
	if j >= i {
		j++
	}
	return i, j
}

// TestP2C: P2C draws two distinct workers exactly as specified and keeps the shorter
// queue (the first on a tie), so it never picks a strict, unique maximum.
func TestP2C(t *testing.T) {
	forAll(t, "P2C picks the shorter of two distinct draws", *trials, func(r *rand.Rand) string {
		a, twin := seededRand(r)
		s := must(strategy.NewP2C(a))
		for step := range 20 {
			p := genPool(r, []int{2, 3, 50}[r.IntN(3)])
			got, err := s.Pick(p, 0)
			if err != nil {
				return err.Error()
			}
			n := len(p.loads)
			if n == 1 { // no draws
				if got != 0 {
					return fmt.Sprintf("step %d: Pick of one worker = %d", step, got)
				}
				continue
			}
			i, j := p2cDraw(twin, n)
			want := i
			if p.loads[j] < p.loads[i] {
				want = j
			}
			if got != want {
				return fmt.Sprintf("step %d: Pick(%v) = %d, want %d (draws %d, %d)", step, p.loads, got, want, i, j)
			}
			unique := true
			for k, l := range p.loads {
				if k != got && l >= p.loads[got] {
					unique = false
				}
			}
			if unique && n > 1 {
				return fmt.Sprintf("step %d: Pick(%v) = %d, the unique maximum", step, p.loads, got)
			}
		}
		return ""
	})
	one, err := must(strategy.NewP2C(rand.New(rand.NewPCG(1, 1)))).Pick(&strategy.Loads{9}, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, one)
}

// TestRandom: Random is r.IntN(n), and 20·n picks hit every worker (wpool's suite test).
func TestRandom(t *testing.T) {
	forAll(t, "Random draws r.IntN(n)", *trials/10, func(r *rand.Rand) string {
		a, twin := seededRand(r)
		s := must(strategy.NewRandom(a))
		for step := range 50 {
			n := 1 + r.IntN(100)
			got, err := s.Pick(zeros(n), 0)
			if want := twin.IntN(n); err != nil || got != want {
				return fmt.Sprintf("step %d: Pick(n=%d) = %d, %v, want %d", step, n, got, err, want)
			}
		}
		return ""
	})
	for _, n := range []int{1, 7, 64} {
		s := must(strategy.NewRandom(rand.New(rand.NewPCG(uint64(n), 9))))
		hit := make([]bool, n)
		for range 20 * n {
			i, err := s.Pick(zeros(n), 0)
			require.NoError(t, err)
			hit[i] = true
		}
		assert.NotContains(t, hit, false, "n=%d", n)
	}
}

// TestNextSequence is wpool's next_worker suite test: N sequential calls return N distinct
// workers in order, the next N repeat them, and Peek is stats' next_worker.
func TestNextSequence(t *testing.T) {
	s := strategy.NewNext()
	p := zeros(5)
	var got []int
	for range 12 {
		assert.Equal(t, len(got)%5, s.Peek(5))
		i, err := s.Pick(p, 0)
		require.NoError(t, err)
		got = append(got, i)
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1}, got)
	assert.Equal(t, uint64(12), s.Picks())
	// The pool shrinks to 3: the cycle continues from the same counter.
	i, _ := s.Pick(zeros(3), 0)
	assert.Equal(t, 12%3, i)
	var zero strategy.Next
	i, err := zero.Pick(p, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, i, "the zero Next starts at worker 0")
}

// TestNextStrictUnderConcurrency: with G goroutines calling Pick in parallel, the K picks
// return every worker exactly K/n times (⌊K/n⌋ or ⌈K/n⌉ when n does not divide K): strict
// round robin, which wpool's ignored compare-and-swap breaks. Run under -race.
func TestNextStrictUnderConcurrency(t *testing.T) {
	forAll(t, "parallel Picks of Next are a strict cycle", max(*trials/20, 20), func(r *rand.Rand) string {
		n := 1 + r.IntN(17)
		g := 2 + r.IntN(7)
		per := 1 + r.IntN(300)
		s := strategy.NewNext()
		p := zeros(n)
		counts := make([][]int, g)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range g {
			counts[k] = make([]int, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range per {
					i, err := s.Pick(p, 0)
					if err != nil {
						panic(err)
					}
					counts[k][i]++
				}
			}()
		}
		close(start)
		wg.Wait()
		total := g * per
		for i := range n {
			c := 0
			for k := range g {
				c += counts[k][i]
			}
			// The first total mod n workers of the cycle get one more.
			want := total / n
			if i < total%n {
				want++
			}
			if c != want {
				return fmt.Sprintf("n=%d, %d goroutines × %d: worker %d picked %d times, want %d", n, g, per, i, c, want)
			}
		}
		if s.Picks() != uint64(total) {
			return fmt.Sprintf("Picks() = %d, want %d", s.Picks(), total)
		}
		return ""
	})
}

// TestLocked: a Locked strategy is the wrapped one, shared safely.
func TestLocked(t *testing.T) {
	a, twin := seededRand(rand.New(rand.NewPCG(5, 5)))
	l := must(strategy.NewLocked(must(strategy.NewP2C(a))))
	plain := must(strategy.NewP2C(twin))
	p := &strategy.Loads{4, 1, 3, 0, 2}
	for range 100 {
		x, err := l.Pick(p, 0)
		require.NoError(t, err)
		y, _ := plain.Pick(p, 0)
		require.Equal(t, y, x)
	}
	custom := must(strategy.NewLocked(strategy.Custom(func(strategy.Pool, uint64) (int, error) { return 0, nil })))
	assert.True(t, custom.Allows(p, 0, 4), "a strategy without a Contract allows every worker")
	assert.False(t, custom.Allows(p, 0, 5))
	assert.True(t, custom.ConcurrentSafe())
}

// TestP2CDistribution: over workers with distinct loads, the worker of rank k (0 the least
// loaded) is picked with probability 2(n-1-k)/(n(n-1)), the chance that it is drawn with a
// more loaded partner. 200,000 seeded picks over 8 workers stay within 1.5% of it.
func TestP2CDistribution(t *testing.T) {
	const n, picks = 8, 200_000
	loads := strategy.Loads{50, 10, 70, 0, 30, 60, 20, 40} // ranks 5 1 7 0 3 6 2 4
	s := must(strategy.NewP2C(rand.New(rand.NewPCG(3, 3))))
	counts := make([]int, n)
	for range picks {
		i, err := s.Pick(&loads, 0)
		require.NoError(t, err)
		counts[i]++
	}
	for i, l := range loads {
		rank := l / 10
		want := float64(picks) * 2 * float64(n-1-rank) / (n * (n - 1))
		assert.InDelta(t, want, float64(counts[i]), 0.015*picks/n, "worker %d (rank %d): %v", i, rank, counts)
	}
}

// hugePool is a pool of n workers whose loads are computed, for sizes no slice can hold.
type hugePool struct{ n int }

func (p *hugePool) Len() int           { return p.n }
func (p *hugePool) QueueLen(i int) int { return int(uint64(i) * 0x9e3779b97f4a7c15 >> 60) }
func (p *hugePool) Idle(i int) bool    { return false }

// TestP2CHugePools exercises the rejection step of the draw (n = 3·2^30 rejects a quarter
// of the 32-bit values) and the path for n >= 2^32.
func TestP2CHugePools(t *testing.T) {
	for _, n := range []int{3 << 30, 1<<32 - 1, 1 << 32, 1 << 40} {
		a, twin := seededRand(rand.New(rand.NewPCG(uint64(n), 1)))
		s := must(strategy.NewP2C(a))
		p := &hugePool{n}
		for range 2000 {
			got, err := s.Pick(p, 0)
			require.NoError(t, err)
			var i, j int
			if n > 1<<32-1 {
				i, j = twin.IntN(n), twin.IntN(n-1)
				if j >= i {
					j++
				}
			} else {
				i, j = p2cDraw(twin, n)
			}
			want := i
			if p.QueueLen(j) < p.QueueLen(i) {
				want = j
			}
			require.Equal(t, want, got, "n=%d", n)
		}
	}
}

// TestPickAllocations pins the package doc's "Pick allocates nothing": every strategy, on
// a SlicePool and on a plain pool passed by pointer, and on the error paths that return a
// sentinel (an empty pool, no idle worker).
func TestPickAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	all := map[string]strategy.Strategy{
		"Best": must(strategy.NewBest(r)), "Random": must(strategy.NewRandom(r)), "Next": strategy.NewNext(),
		"NextAvailable": must(strategy.NewNextAvailable(r)), "Hash": strategy.Hash{}, "Rendezvous": strategy.Rendezvous{},
		"P2C": must(strategy.NewP2C(r)), "Locked(P2C)": must(strategy.NewLocked(must(strategy.NewP2C(r)))),
		"Custom": strategy.Custom(func(p strategy.Pool, key uint64) (int, error) { return int(key % uint64(p.Len())), nil }),
	}
	loads := strategy.Loads{3, 0, 5, 1, 0, 2, 7, 1, 4, 0, 6, 2, 3, 8, 1, 2, 5, 0, 9, 4}
	busy := strategy.Loads{3, 1, 5}
	plain := &plainPool{loads: []int(loads), idle: make([]bool, len(loads))}
	for i, l := range loads {
		plain.idle[i] = l == 0
	}
	empty := &strategy.Loads{}
	for name, s := range all {
		var key uint64
		for _, p := range []strategy.Pool{&loads, plain, empty, &busy} {
			if a := testing.AllocsPerRun(100, func() {
				key += 0x9e3779b97f4a7c15
				_, _ = s.Pick(p, key)
			}); a != 0 {
				t.Errorf("%s: Pick on %T (len %d) allocates %v times", name, p, p.Len(), a)
			}
		}
	}
}
