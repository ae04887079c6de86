package strategy_test

import (
	"math/rand/v2"
	"testing"

	"github.com/dispatchlab/dispatchlab/strategy"
	"github.com/dispatchlab/dispatchlab/strategy/strategytest"
)

// seeded returns a *rand.Rand in the same state on every call, as the suite requires.
func seeded() *rand.Rand { return rand.New(rand.NewPCG(7, 11)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConformance runs the exported suite against every strategy of the package, as
// nettest.TestTestConn runs nettest against real connections.
func TestConformance(t *testing.T) {
	factories := map[string]func() strategy.Strategy{
		"Best":          func() strategy.Strategy { return must(strategy.NewBest(seeded())) },
		"Random":        func() strategy.Strategy { return must(strategy.NewRandom(seeded())) },
		"Next":          func() strategy.Strategy { return strategy.NewNext() },
		"NextAvailable": func() strategy.Strategy { return must(strategy.NewNextAvailable(seeded())) },
		"Hash":          func() strategy.Strategy { return strategy.Hash{} },
		"Rendezvous":    func() strategy.Strategy { return strategy.Rendezvous{} },
		"P2C":           func() strategy.Strategy { return must(strategy.NewP2C(seeded())) },
		"Custom": func() strategy.Strategy {
			return strategy.Custom(func(p strategy.Pool, key uint64) (int, error) {
				return int(key % uint64(p.Len())), nil
			})
		},
		"Locked(P2C)":  func() strategy.Strategy { return must(strategy.NewLocked(must(strategy.NewP2C(seeded())))) },
		"Locked(Best)": func() strategy.Strategy { return must(strategy.NewLocked(must(strategy.NewBest(seeded())))) },
	}
	for _, name := range []string{"Best", "Random", "Next", "NextAvailable", "Hash", "Rendezvous", "P2C", "Custom", "Locked(P2C)", "Locked(Best)"} {
		t.Run(name, func(t *testing.T) { strategytest.Run(t, factories[name]) })
	}
}
