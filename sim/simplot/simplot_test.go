package simplot_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/sim/simplot"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

func scenario() *sim.Scenario {
	return &sim.Scenario{
		Name: "plot", Duration: 300 * time.Second,
		Tenants: []sim.Tenant{
			{Name: "noisy", Arrivals: sim.Arrivals{Rate: 1, Bursts: []sim.Burst{{Start: 100 * time.Second, For: 50 * time.Second, Factor: 10}}}, Service: sim.Exp(300 * time.Millisecond)},
			{Name: "quiet", Count: 3, Arrivals: sim.Poisson(0.5), Service: sim.Exp(300 * time.Millisecond)},
		},
		Workers:   sim.Workers{Count: 3},
		Admission: &sim.Admission{Concurrency: 3, FairInterleave: true, Adaptive: &aimd.Config{Initial: 2, Max: 10, TargetLag: time.Second}},
		Metrics:   sim.Metrics{Window: 10 * time.Second},
	}
}

// Every figure renders, in both formats, and the same result gives the same bytes.
func TestSaveAllDeterministic(t *testing.T) {
	r, err := sim.Run(scenario(), 1, 0)
	require.NoError(t, err)
	a, b := t.TempDir(), t.TempDir()
	pa, err := simplot.SaveAll(r, a, "png", "svg")
	require.NoError(t, err)
	require.Len(t, pa, 12)
	pb, err := simplot.SaveAll(r, b, "png", "svg")
	require.NoError(t, err)
	for i := range pa {
		x, err := os.ReadFile(pa[i])
		require.NoError(t, err)
		y, err := os.ReadFile(pb[i])
		require.NoError(t, err)
		require.Greater(t, len(x), 1000, filepath.Base(pa[i]))
		require.True(t, bytes.Equal(x, y), "%s differs between two renders", filepath.Base(pa[i]))
	}
	_, err = simplot.SaveAll(r, a, "gif")
	require.EqualError(t, err, `simplot: unknown format "gif" (want png or svg)`)
}

// The limiter figure draws every gate's trajectory the scenario has: a throttle's tokens, the
// concurrency gate's jobs in flight, the adaptive limit.
func TestLimitsPlotTrajectories(t *testing.T) {
	throttled := &sim.Scenario{
		Name: "throttled", Duration: 60 * time.Second,
		Tenants:   []sim.Tenant{{Name: "bursty", Arrivals: sim.Arrivals{Rate: 5, Bursts: []sim.Burst{{Start: 20 * time.Second, For: 10 * time.Second, Factor: 10}}}, Service: sim.Exp(50 * time.Millisecond)}},
		Workers:   sim.Workers{Count: 4},
		Admission: &sim.Admission{EventDriven: true, Throttle: &tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 50}},
		Metrics:   sim.Metrics{Window: 2 * time.Second},
	}
	for _, tc := range []struct {
		sc        *sim.Scenario
		want, not []string
	}{
		{throttled, []string{"bursty tokens"}, []string{"bursty limit", "bursty in flight"}},
		{scenario(), []string{"noisy limit", "noisy in flight", "quiet-2 limit"}, []string{"noisy tokens"}},
	} {
		r, err := sim.Run(tc.sc, 1, 0)
		require.NoError(t, err)
		p, err := simplot.LimitsPlot(r)
		require.NoError(t, err)
		svg, err := simplot.SVG(p)
		require.NoError(t, err)
		for _, s := range tc.want {
			assert.Contains(t, string(svg), s, tc.sc.Name)
		}
		for _, s := range tc.not {
			assert.NotContains(t, string(svg), s, tc.sc.Name)
		}
	}
}
