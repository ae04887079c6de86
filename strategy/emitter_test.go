package strategy_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/strategy"
)

func TestEmitterPoolRoundRobinResize(t *testing.T) {
	e := must(strategy.NewEmitterPool(3, strategy.NewNext()))
	var got []int
	for range 4 {
		i, err := e.Emit(0)
		require.NoError(t, err)
		got = append(got, i)
	}
	// reckon_db's update_emitter keeps the old size; ours resizes.
	require.NoError(t, e.Resize(5))
	assert.Equal(t, 5, e.Size())
	for range 6 {
		i, _ := e.Emit(0)
		got = append(got, i)
	}
	assert.Equal(t, []int{0, 1, 2, 0, 4, 0, 1, 2, 3, 4}, got)
	assert.EqualError(t, e.Resize(0), "strategy: EmitterPool size must be >= 1, got 0")
	assert.Equal(t, 5, e.Size(), "a rejected resize changes nothing")
}

// TestEmitterPoolHashResize: with Hash, each event key stays on one emitter, growing the
// pool moves only the keys the new emitter takes, and shrinking moves only the keys of
// the removed emitters.
func TestEmitterPoolHashResize(t *testing.T) {
	forAll(t, "emitter pool resizes under Hash move only the necessary keys", *trials/10, func(r *rand.Rand) string {
		n := 1 + r.IntN(64)
		e := must(strategy.NewEmitterPool(n, strategy.Hash{}))
		keys := make([]uint64, 200)
		before := make([]int, len(keys))
		for i := range keys {
			keys[i] = r.Uint64()
			before[i], _ = e.Emit(keys[i])
		}
		m := 1 + r.IntN(64)
		if err := e.Resize(m); err != nil {
			return err.Error()
		}
		for i, k := range keys {
			after, _ := e.Emit(k)
			if after < 0 || after >= m {
				return fmt.Sprintf("Emit = %d after resizing to %d", after, m)
			}
			switch {
			case m > n && after != before[i] && after < n:
				return fmt.Sprintf("growing %d→%d moved key %#x from %d to old emitter %d", n, m, k, before[i], after)
			case m < n && before[i] < m && after != before[i]:
				return fmt.Sprintf("shrinking %d→%d moved key %#x from kept emitter %d to %d", n, m, k, before[i], after)
			}
		}
		return ""
	})
}

func TestEmitterPoolRandom(t *testing.T) {
	a, twin := seededRand(rand.New(rand.NewPCG(1, 2)))
	e := must(strategy.NewEmitterPool(4, must(strategy.NewRandom(a))))
	for range 100 {
		i, err := e.Emit(0)
		require.NoError(t, err)
		require.Equal(t, twin.IntN(4), i)
	}
}

// TestEmitterPoolConcurrent: Emit and Resize may race when the strategy is safe for
// concurrent use; every answer is below the largest size. Run under -race.
func TestEmitterPoolConcurrent(t *testing.T) {
	e := must(strategy.NewEmitterPool(8, strategy.NewNext()))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 500 {
				if g == 0 && k%50 == 0 {
					_ = e.Resize(1 + k%8)
				}
				i, err := e.Emit(uint64(k))
				if err != nil || i < 0 || i >= 8 {
					panic(fmt.Sprint(i, err))
				}
			}
		}()
	}
	wg.Wait()
}

func TestEmitterName(t *testing.T) {
	var names []string
	for i := range 3 {
		names = append(names, strategy.EmitterName("orders", "sub1", i))
	}
	assert.Equal(t, []string{"orders_sub1_emitter", "orders_sub1_emitter_2", "orders_sub1_emitter_3"}, names)
}

func TestEmitterAllocations(t *testing.T) {
	e := must(strategy.NewEmitterPool(1000, strategy.Hash{}))
	var k uint64
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		k++
		_, _ = e.Emit(k)
	}))
}
