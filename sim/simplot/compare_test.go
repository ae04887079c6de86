package simplot_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"

	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/sim/simplot"
)

// renders checks that p renders to PNG and SVG, twice to the same bytes.
func renders(t *testing.T, p *plot.Plot) {
	t.Helper()
	a, err := simplot.PNG(p)
	require.NoError(t, err)
	b, err := simplot.PNG(p)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(a, []byte("\x89PNG\r\n")), "not a PNG")
	require.True(t, bytes.Equal(a, b), "two renders differ")
	s, err := simplot.SVG(p)
	require.NoError(t, err)
	require.Contains(t, string(s[:200]), "<svg")
}

func est(m, hw float64) sim.Estimate { return sim.Estimate{Mean: m, HalfWidth: hw, Level: 0.95, N: 3} }

func TestSweepPlot(t *testing.T) {
	xs := []float64{0.01, 0.1, 1, 10}
	series := []simplot.Series{
		{Name: "simulated", Values: []sim.Estimate{est(1, 0.1), est(2, 3), est(math.NaN(), 1), est(8, 0.5)}},
		{Name: "theory", Values: simplot.Exact([]float64{1, 0, 4, 8})},
		{Name: "odd intervals", Values: []sim.Estimate{est(1, -1), est(2, math.Inf(1)), est(3, 5), est(4, 0)}},
	}
	for _, axes := range []simplot.Axes{{}, {LogX: true}, {LogX: true, LogY: true}} {
		p, err := simplot.SweepPlot("sweep", "x", "y", xs, series, axes)
		require.NoError(t, err)
		renders(t, p)
	}
	_, err := simplot.SweepPlot("sweep", "x", "y", xs[:2], series, simplot.Axes{})
	assert.EqualError(t, err, `simplot: series "simulated" has 4 values for 2 xs`)
}

func TestExact(t *testing.T) {
	e := simplot.Exact([]float64{1, 2})
	require.Len(t, e, 2)
	assert.Equal(t, 2.0, e[1].Mean)
	assert.True(t, math.IsNaN(e[0].HalfWidth))
}

func TestDots(t *testing.T) {
	series := []simplot.Series{
		{Name: "a", Values: []sim.Estimate{est(0.5, 0.6), est(70, 2)}},
		{Name: "b", Values: []sim.Estimate{est(0.2, 0.01), est(1, math.NaN())}},
	}
	p, err := simplot.Dots("dots", "p99 (s)", []string{"quiet", "noisy"}, series, simplot.Axes{LogY: true})
	require.NoError(t, err)
	renders(t, p)
	_, err = simplot.Dots("dots", "y", []string{"one"}, series, simplot.Axes{})
	assert.EqualError(t, err, `simplot: series "a" has 2 values for 1 categories`)
}

func TestTenantDotsAndFairness(t *testing.T) {
	fifo := scenario()
	fifo.Admission = &sim.Admission{GlobalCap: 3}
	res, err := sim.Compare([]sim.Variant{{Name: "fifo", Scenario: fifo}, {Name: "fair", Scenario: scenario()}}, sim.RunOptions{Seed: 1, Replications: 2})
	require.NoError(t, err)
	p, err := simplot.TenantDots("p99", "seconds", sim.Summaries(res), func(t sim.TenantSummary) sim.Estimate { return t.TotalP99 }, simplot.Axes{LogY: true})
	require.NoError(t, err)
	renders(t, p)
	_, err = simplot.TenantDots("p99", "seconds", nil, nil, simplot.Axes{})
	assert.EqualError(t, err, "simplot: TenantDots needs at least one summary")
	other := res[1].Summary
	other.Tenants = other.Tenants[:1]
	_, err = simplot.TenantDots("p99", "s", []sim.Summary{res[0].Summary, other}, func(t sim.TenantSummary) sim.Estimate { return t.TotalP99 }, simplot.Axes{})
	assert.EqualError(t, err, `simplot: summary "fair" has 1 tenants, "fifo" has 4`)

	f, err := simplot.FairnessOverTime("Jain", []string{"fifo", "fair"}, []*sim.Result{res[0].Results[0], res[1].Results[0]})
	require.NoError(t, err)
	renders(t, f)
	for _, axes := range []simplot.Axes{{}, {LogY: true}} {
		l, err := simplot.TenantLag("noisy", []string{"fifo", "fair"}, []*sim.Result{res[0].Results[0], res[1].Results[0]}, 0, axes)
		require.NoError(t, err)
		renders(t, l)
	}
	_, err = simplot.TenantLag("x", []string{"fifo"}, []*sim.Result{res[0].Results[0]}, 9, simplot.Axes{})
	assert.EqualError(t, err, `simplot: result "fifo" has no series for tenant 9 (Metrics.SeriesTenants)`)
	_, err = simplot.TenantLag("x", nil, []*sim.Result{res[0].Results[0]}, 0, simplot.Axes{})
	assert.EqualError(t, err, "simplot: 0 names for 1 results")
	_, err = simplot.FairnessOverTime("Jain", []string{"fifo"}, nil)
	assert.EqualError(t, err, "simplot: 1 names for 0 results")
}

func TestParetoKnee(t *testing.T) {
	pts := []simplot.ParetoPoint{
		{Label: "10ms", X: 40, Y: 0.5, Colour: 1}, {Label: "100ms", X: 56, Y: 0.6, Colour: 0.9},
		{Label: "1s", X: 74, Y: 2.4, Colour: 0.8}, {Label: "5s", X: 78, Y: 9.4, Colour: 0.5},
		{Label: "bad", X: math.NaN(), Y: 1},
	}
	for _, knee := range []int{2, -1} {
		p, err := simplot.ParetoKnee("front", "jobs/s", "p99 (s)", pts, knee)
		require.NoError(t, err)
		renders(t, p)
	}
}

// Width and Height are what Save writes too.
func TestSizes(t *testing.T) {
	assert.Equal(t, 8*72.0, float64(simplot.Width))
	assert.Equal(t, 4.5*72.0, float64(simplot.Height))
}
