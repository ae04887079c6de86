// Package simplot draws a simulation's results with gonum/plot: latency percentiles over
// time per tenant, stacked throughput, fairness over time, limiter trajectories, and CDFs of
// the total latency and of the wait. The same result always gives the same bytes (PNG and SVG), so figures can be
// committed and compared.
package simplot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dispatchlab/dispatchlab/sim"
)

// Figure names, as SaveAll writes them (with the format's extension).
const (
	LagOverTime     = "lag-over-time"
	Throughput      = "throughput"
	Fairness        = "fairness"
	Limits          = "limits"
	LatencyCDF      = "latency-cdf"
	WaitCDF         = "wait-cdf"
	maxSeriesInPlot = 10
)

func mid(w sim.Window) float64 { return (w.Start + w.End).Seconds() / 2 }

// seriesNames returns the names of the series tenants, at most maxSeriesInPlot.
func seriesNames(r *sim.Result) []string {
	n := 0
	if len(r.Windows) > 0 {
		n = len(r.Windows[0].Tenants)
	}
	n = min(n, maxSeriesInPlot, len(r.Tenants))
	names := make([]string, n)
	for i := range names {
		names[i] = r.Tenants[i].Name
	}
	return names
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// LagPlot draws each series tenant's p99 total latency per window (seconds), with p50
// dashed.
func LagPlot(r *sim.Result) (*plot.Plot, error) {
	p := newPlot(r.Scenario+": latency per window", "time (s)", "total latency (s)")
	for i, name := range seriesNames(r) {
		var p99, p50 plotter.XYs
		for _, w := range r.Windows {
			if t := w.Tenants[i]; t.Completed > 0 {
				p99 = append(p99, plotter.XY{X: mid(w), Y: t.P99.Seconds()})
				p50 = append(p50, plotter.XY{X: mid(w), Y: t.P50.Seconds()})
			}
		}
		if len(p99) == 0 {
			continue
		}
		l99, err := plotter.NewLine(p99)
		if err != nil {
			return nil, err
		}
		l50, err := plotter.NewLine(p50)
		if err != nil {
			return nil, err
		}
		l99.Color, l50.Color = plotutil.Color(i), plotutil.Color(i)
		l50.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(l99, l50)
		p.Legend.Add(name+" p99", l99)
	}
	return p, nil
}

// ThroughputPlot draws completions per second per window, stacked by series tenant, with
// the remaining tenants as "others".
func ThroughputPlot(r *sim.Result) (*plot.Plot, error) {
	p := newPlot(r.Scenario+": throughput", "time (s)", "completions per second")
	names := seriesNames(r)
	n := len(r.Windows)
	if n == 0 {
		return p, nil
	}
	width := vg.Points(max(1, 400/float64(n)))
	var below *plotter.BarChart
	stack := func(name string, vals plotter.Values, i int) error {
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		b.LineStyle.Width = 0
		b.Color = plotutil.Color(i)
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(name, b)
		return nil
	}
	others := make(plotter.Values, n)
	for wi, w := range r.Windows {
		others[wi] = float64(w.Completed) / (w.End - w.Start).Seconds()
	}
	for i, name := range names {
		vals := make(plotter.Values, n)
		for wi, w := range r.Windows {
			vals[wi] = float64(w.Tenants[i].Completed) / (w.End - w.Start).Seconds()
			others[wi] -= vals[wi]
		}
		if err := stack(name, vals, i); err != nil {
			return nil, err
		}
	}
	if len(names) < len(r.Tenants) {
		for i := range others {
			others[i] = max(others[i], 0)
		}
		if err := stack("others", others, len(names)); err != nil {
			return nil, err
		}
	}
	p.X.Label.Text = fmt.Sprintf("window (%v each)", r.Windows[0].End-r.Windows[0].Start)
	return p, nil
}

// FairnessPlot draws Jain's index of each window (throughput normalised by weighted max-min
// fair shares; 1 is perfectly fair).
func FairnessPlot(r *sim.Result) (*plot.Plot, error) {
	p := newPlot(r.Scenario+": fairness per window", "time (s)", "Jain's index")
	var xy plotter.XYs
	for _, w := range r.Windows {
		if w.Jain == w.Jain { // skip NaN (nothing completed)
			xy = append(xy, plotter.XY{X: mid(w), Y: w.Jain})
		}
	}
	p.Y.Min, p.Y.Max = 0, 1.05
	if len(xy) == 0 {
		return p, nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	l.Color = color.RGBA{B: 200, A: 255}
	p.Add(l)
	return p, nil
}

// LimitsPlot draws, per series tenant, the adaptive limit (solid), the jobs in flight under
// the concurrency gate (dashed) and the throttle's tokens (dotted), each sampled at the end
// of every window, for the gates the scenario has.
func LimitsPlot(r *sim.Result) (*plot.Plot, error) {
	p := newPlot(r.Scenario+": limiter trajectories", "time (s)", "jobs")
	for i, name := range seriesNames(r) {
		var lim, in, tok plotter.XYs
		for _, w := range r.Windows {
			t := w.Tenants[i]
			if t.Limit >= 0 {
				lim = append(lim, plotter.XY{X: mid(w), Y: float64(t.Limit)})
			}
			if t.InFlight >= 0 {
				in = append(in, plotter.XY{X: mid(w), Y: float64(t.InFlight)})
			}
			if !math.IsNaN(t.Tokens) && !math.IsInf(t.Tokens, 0) {
				tok = append(tok, plotter.XY{X: mid(w), Y: t.Tokens})
			}
		}
		for k, xy := range []plotter.XYs{lim, in, tok} {
			if len(xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, err
			}
			l.Color = plotutil.Color(i)
			label := name + " limit"
			switch k {
			case 1:
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
				label = name + " in flight"
			case 2:
				l.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
				label = name + " tokens"
				p.Y.Label.Text = "jobs, or tokens"
			}
			p.Add(l)
			p.Legend.Add(label, l)
		}
	}
	return p, nil
}

// CDFPlot draws the total-latency CDF of the whole system and of each series tenant.
func CDFPlot(r *sim.Result) (*plot.Plot, error) {
	return cdfPlot(r, r.Scenario+": latency CDF", "total latency (s)",
		func(t *sim.TenantResult) []time.Duration { return t.TotalCDF })
}

// WaitCDFPlot draws the CDF of the wait (arrival to start: admission lag plus queue lag) of
// the whole system and of each series tenant.
func WaitCDFPlot(r *sim.Result) (*plot.Plot, error) {
	return cdfPlot(r, r.Scenario+": wait CDF", "wait before service (s)",
		func(t *sim.TenantResult) []time.Duration { return t.WaitCDF })
}

// cdfPlot draws the CDF of(t) (values at 1%, 2%, ..., 99%) of the system, bold, and of
// each series tenant.
func cdfPlot(r *sim.Result, title, x string, of func(*sim.TenantResult) []time.Duration) (*plot.Plot, error) {
	p := newPlot(title, x, "fraction of jobs")
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top = false // CDFs rise on the left and run along the top: the lower right is free
	add := func(name string, cdf []time.Duration, i int, bold bool) error {
		if len(cdf) == 0 {
			return nil
		}
		xy := make(plotter.XYs, len(cdf))
		for k, d := range cdf {
			xy[k] = plotter.XY{X: d.Seconds(), Y: float64(k+1) / 100}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		if bold {
			l.Color, l.Width = color.Black, vg.Points(2)
		}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := add("overall", of(&r.Overall), 0, true); err != nil {
		return nil, err
	}
	for i, name := range seriesNames(r) {
		if err := add(name, of(&r.Tenants[i]), i, false); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// All returns every figure of r by name.
func All(r *sim.Result) (map[string]*plot.Plot, error) {
	out := map[string]*plot.Plot{}
	for name, f := range map[string]func(*sim.Result) (*plot.Plot, error){
		LagOverTime: LagPlot, Throughput: ThroughputPlot, Fairness: FairnessPlot, Limits: LimitsPlot, LatencyCDF: CDFPlot,
		WaitCDF: WaitCDFPlot,
	} {
		p, err := f(r)
		if err != nil {
			return nil, fmt.Errorf("simplot: %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

// SaveAll writes every figure of r into dir as name.format for each format ("png", "svg")
// and returns the paths written, in a fixed order.
func SaveAll(r *sim.Result, dir string, formats ...string) ([]string, error) {
	figs, err := All(r)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, name := range []string{LagOverTime, Throughput, Fairness, Limits, LatencyCDF, WaitCDF} {
		for _, f := range formats {
			if f != "png" && f != "svg" {
				return nil, fmt.Errorf("simplot: unknown format %q (want png or svg)", f)
			}
			path := filepath.Join(dir, name+"."+f)
			if err := figs[name].Save(Width, Height, path); err != nil {
				return nil, fmt.Errorf("simplot: saving %s: %w", path, err)
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// Save writes p to path; the extension (.png or .svg) picks the format.
func Save(p *plot.Plot, path string) error {
	if err := p.Save(Width, Height, path); err != nil {
		return fmt.Errorf("simplot: saving %s: %w", path, err)
	}
	return nil
}

// ParetoPoint is one sweep point: X is better larger (throughput), Y better smaller
// (latency), Colour in [0, 1] (Jain's index).
type ParetoPoint struct {
	Label  string
	X, Y   float64
	Colour float64
}

// Pareto draws every point coloured by Colour (red 0 to blue 1) and a line through the
// non-dominated points (sim.ParetoFront): no other point has both a larger X and a smaller Y.
func Pareto(title, x, y string, pts []ParetoPoint) (*plot.Plot, error) {
	p := newPlot(title, x, y)
	cm := moreland.SmoothBlueRed()
	cm.SetMin(0)
	cm.SetMax(1)
	for _, pt := range pts {
		if math.IsNaN(pt.X) || math.IsNaN(pt.Y) {
			continue
		}
		s, err := plotter.NewScatter(plotter.XYs{{X: pt.X, Y: pt.Y}})
		if err != nil {
			return nil, err
		}
		c := pt.Colour
		if math.IsNaN(c) {
			c = 0
		}
		col, err := cm.At(1 - math.Min(math.Max(c, 0), 1)) // blue is fair
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color = col
		s.GlyphStyle.Radius = vg.Points(4)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
	}
	xs, ys := make([]float64, len(pts)), make([]float64, len(pts))
	for i, pt := range pts {
		xs[i], ys[i] = pt.X, pt.Y
	}
	var front plotter.XYs
	for _, i := range sim.ParetoFront(xs, ys) { // in increasing X
		front = append(front, plotter.XY{X: xs[i], Y: ys[i]})
	}
	if len(front) > 1 {
		l, err := plotter.NewLine(front)
		if err != nil {
			return nil, err
		}
		l.Color = color.Black
		p.Add(l)
		p.Legend.Add("Pareto front", l)
	}
	return p, nil
}

// indexGrid is a heat map grid over value indices.
type indexGrid struct{ z [][]float64 } // z[row][col]

func (g indexGrid) Dims() (c, r int)   { return len(g.z[0]), len(g.z) }
func (g indexGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g indexGrid) X(c int) float64    { return float64(c) }
func (g indexGrid) Y(r int) float64    { return float64(r) }

// Heatmap draws z[row][col] over two parameters' values (xs for columns, ys for rows), with
// cells at equal spacing whatever the values, labelled by the values; NaN cells are left
// blank. The colour scale runs from the smallest to the largest value (blue to red).
func Heatmap(title, x, y string, xs, ys []string, z [][]float64) (*plot.Plot, error) {
	p := newPlot(title, x, y)
	if len(z) == 0 || len(z[0]) == 0 {
		return p, nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range z {
		for _, v := range row {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return p, nil
	}
	if hi == lo {
		hi = lo + 1
	}
	pal := moreland.SmoothBlueRed()
	pal.SetMin(lo)
	pal.SetMax(hi)
	h := plotter.NewHeatMap(indexGrid{z}, pal.Palette(64))
	h.NaN = color.Transparent
	h.Min, h.Max = lo, hi
	p.Add(h)
	ticks := func(labels []string) plot.ConstantTicks {
		t := make(plot.ConstantTicks, len(labels))
		for i, l := range labels {
			t[i] = plot.Tick{Value: float64(i), Label: l}
		}
		return t
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks(xs), ticks(ys)
	p.Title.Text = fmt.Sprintf("%s — %.3g (blue) to %.3g (red)", title, lo, hi)
	return p, nil
}
