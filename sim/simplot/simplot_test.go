package simplot_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/sim/simplot"
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
