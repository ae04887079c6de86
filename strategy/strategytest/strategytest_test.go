package strategytest_test

import (
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/strategy"
	"github.com/dispatchlab/dispatchlab/strategy/strategytest"
)

// TestRunOnNext shows the suite's use.
func TestRunOnNext(t *testing.T) {
	strategytest.Run(t, func() strategy.Strategy { return strategy.NewNext() })
}

// broken strategies, each breaking one property.

type offByOne struct{}

func (offByOne) Pick(p strategy.Pool, _ uint64) (int, error) {
	if p.Len() == 0 {
		return -1, strategy.ErrNoWorkers
	}
	return p.Len(), nil // one past the end
}

type noEmptyCheck struct{}

func (noEmptyCheck) Pick(strategy.Pool, uint64) (int, error) { return 0, nil }

type readsPastEnd struct{}

func (readsPastEnd) Pick(p strategy.Pool, _ uint64) (int, error) {
	n := p.Len()
	if n == 0 {
		return -1, strategy.ErrNoWorkers
	}
	p.QueueLen(n) // out of range
	return 0, nil
}

// shared draws from state shared by every instance: not reproducible from a factory.
type shared struct{ c *atomic.Int64 }

func (s shared) Pick(p strategy.Pool, _ uint64) (int, error) {
	n := p.Len()
	if n == 0 {
		return -1, strategy.ErrNoWorkers
	}
	return int(s.c.Add(1)) % n, nil
}

// liar claims to pick a least-loaded worker but picks the most loaded.
type liar struct{ strategy.Best }

func (liar) Pick(p strategy.Pool, _ uint64) (int, error) {
	n := p.Len()
	if n == 0 {
		return -1, strategy.ErrNoWorkers
	}
	w := 0
	for i := range n {
		if p.QueueLen(i) > p.QueueLen(w) {
			w = i
		}
	}
	return w, nil
}

func (l liar) Allows(p strategy.Pool, key uint64, i int) bool { return l.Best.Allows(p, key, i) }

// nosy's Allows advances its round robin.
type nosy struct{ *strategy.Next }

func (n nosy) Allows(p strategy.Pool, _ uint64, i int) bool {
	_, _ = n.Next.Pick(p, 0)
	return true
}

// grumpy fails with an error the contract does not allow.
type grumpy struct{}

func (grumpy) Pick(p strategy.Pool, _ uint64) (int, error) {
	if p.Len() == 0 {
		return -1, strategy.ErrNoWorkers
	}
	if p.Len() > 3 {
		return -1, strategy.ErrTimeout
	}
	return 0, nil
}

// TestCheckFindsBrokenStrategies: each broken strategy fails exactly the property it breaks.
func TestCheckFindsBrokenStrategies(t *testing.T) {
	var counter atomic.Int64
	cases := []struct {
		name    string
		factory func() strategy.Strategy
		want    []string // failing properties
	}{
		{"off by one", func() strategy.Strategy { return offByOne{} }, []string{"InRange"}},
		{"no empty check", func() strategy.Strategy { return noEmptyCheck{} }, []string{"EmptyPool"}},
		{"reads past the end", func() strategy.Strategy { return readsPastEnd{} }, []string{"ReadsOnlyItsWorkers"}},
		{"shared state", func() strategy.Strategy { return shared{&counter} }, []string{"Deterministic"}},
		{"liar", func() strategy.Strategy {
			return liar{*must(strategy.NewBest(rand.New(rand.NewPCG(1, 1))))}
		}, []string{"Contract"}},
		{"nosy Allows", func() strategy.Strategy { return nosy{strategy.NewNext()} }, []string{"Contract"}},
		{"unexpected error", func() strategy.Strategy { return grumpy{} }, []string{"InRange"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := strategytest.Check(c.factory)
			require.Error(t, err)
			var failed []string
			for _, line := range strings.Split(err.Error(), "\n") {
				failed = append(failed, strings.SplitN(line, ":", 2)[0])
			}
			assert.Equal(t, c.want, failed, err.Error())
		})
	}
	assert.EqualError(t, strategytest.Check(func() strategy.Strategy { return nil }), "strategytest: the factory returned a nil Strategy")
	assert.NoError(t, strategytest.Check(func() strategy.Strategy { return strategy.Hash{} }))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
