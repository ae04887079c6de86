package simplot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/dispatchlab/dispatchlab/sim"
)

// Width and Height are the size of every figure this package renders (Save, SaveAll, PNG,
// SVG).
const (
	Width  = 8 * vg.Inch
	Height = 4.5 * vg.Inch
)

// PNG renders p as PNG bytes at Width × Height, for notebooks (gonbui.DisplayPNG) and
// writers. The same plot gives the same bytes.
func PNG(p *plot.Plot) ([]byte, error) { return render(p, "png") }

// SVG renders p as SVG bytes at Width × Height.
func SVG(p *plot.Plot) ([]byte, error) { return render(p, "svg") }

func render(p *plot.Plot, format string) ([]byte, error) {
	w, err := p.WriterTo(Width, Height, format)
	if err != nil {
		return nil, fmt.Errorf("simplot: rendering %s: %w", format, err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("simplot: rendering %s: %w", format, err)
	}
	return b.Bytes(), nil
}

// Series is a named sequence of estimates, one per x value or category, drawn with its
// confidence interval as an error bar (none where HalfWidth is NaN, as for a formula's
// value). Points whose mean is NaN are left out.
type Series struct {
	Name   string
	Values []sim.Estimate
}

// Exact returns values without an interval (a formula's, say) as estimates, to draw as a
// Series beside simulated ones.
func Exact(xs []float64) []sim.Estimate {
	out := make([]sim.Estimate, len(xs))
	for i, x := range xs {
		out[i] = sim.Estimate{Mean: x, HalfWidth: math.NaN()}
	}
	return out
}

// Axes say which axes of a figure are logarithmic. On a log axis, points at or below zero
// are left out and an interval reaching zero is cut at the axis.
type Axes struct {
	LogX, LogY bool
}

// SweepPlot draws each series against the numeric values xs (a sweep's parameter): a line
// through the means, a marker per point and an error bar for each confidence interval.
func SweepPlot(title, xLabel, yLabel string, xs []float64, series []Series, axes Axes) (*plot.Plot, error) {
	p := newPlot(title, xLabel, yLabel)
	for i, s := range series {
		if len(s.Values) != len(xs) {
			return nil, fmt.Errorf("simplot: series %q has %d values for %d xs", s.Name, len(s.Values), len(xs))
		}
		if err := addSeries(p, s, xs, i, axes, true); err != nil {
			return nil, err
		}
	}
	setAxes(p, axes)
	headroom(p, axes.LogY)
	return p, nil
}

// Dots draws each series over named categories (tenants, variants, strategies): a marker per
// category and series, side by side, with an error bar for each confidence interval.
func Dots(title, yLabel string, categories []string, series []Series, axes Axes) (*plot.Plot, error) {
	p := newPlot(title, "", yLabel)
	m := float64(len(series))
	for i, s := range series {
		if len(s.Values) != len(categories) {
			return nil, fmt.Errorf("simplot: series %q has %d values for %d categories", s.Name, len(s.Values), len(categories))
		}
		xs := make([]float64, len(categories))
		for k := range xs {
			xs[k] = float64(k) + (float64(i)-(m-1)/2)*0.6/m
		}
		if err := addSeries(p, s, xs, i, Axes{LogY: axes.LogY}, false); err != nil {
			return nil, err
		}
	}
	ticks := make(plot.ConstantTicks, len(categories))
	for k, c := range categories {
		ticks[k] = plot.Tick{Value: float64(k), Label: c}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	setAxes(p, Axes{LogY: axes.LogY})
	headroom(p, axes.LogY)
	return p, nil
}

// TenantDots draws one tenant metric of several summaries (variants of one scenario): the
// tenants as categories, one series per summary. metric picks the estimate, for example
// func(t sim.TenantSummary) sim.Estimate { return t.TotalP99 }.
func TenantDots(title, yLabel string, ss []sim.Summary, metric func(sim.TenantSummary) sim.Estimate, axes Axes) (*plot.Plot, error) {
	if len(ss) == 0 {
		return nil, errors.New("simplot: TenantDots needs at least one summary")
	}
	var names []string
	for _, t := range ss[0].Tenants {
		names = append(names, t.Name)
	}
	series := make([]Series, len(ss))
	for i, s := range ss {
		if len(s.Tenants) != len(names) {
			return nil, fmt.Errorf("simplot: summary %q has %d tenants, %q has %d", s.Name, len(s.Tenants), ss[0].Name, len(names))
		}
		series[i].Name = s.Name
		for _, t := range s.Tenants {
			series[i].Values = append(series[i].Values, metric(t))
		}
	}
	return Dots(title, yLabel, names, series, axes)
}

// FairnessOverTime draws Jain's index per window of several results (one replication of
// each variant) on one figure.
func FairnessOverTime(title string, names []string, rs []*sim.Result) (*plot.Plot, error) {
	if len(names) != len(rs) {
		return nil, fmt.Errorf("simplot: %d names for %d results", len(names), len(rs))
	}
	p := newPlot(title, "time (s)", "Jain's index")
	p.Y.Min, p.Y.Max = 0, 1.05
	for i, r := range rs {
		var xy plotter.XYs
		for _, w := range r.Windows {
			if !math.IsNaN(w.Jain) {
				xy = append(xy, plotter.XY{X: mid(w), Y: w.Jain})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i)
		p.Add(l)
		p.Legend.Add(names[i], l)
	}
	p.Legend.Top, p.Legend.Left = false, true
	return p, nil
}

// TenantLag draws one tenant's p99 total latency per window in several results (one
// replication of each variant), one line per result, to compare how variants treat it.
func TenantLag(title string, names []string, rs []*sim.Result, tenant int, axes Axes) (*plot.Plot, error) {
	if len(names) != len(rs) {
		return nil, fmt.Errorf("simplot: %d names for %d results", len(names), len(rs))
	}
	p := newPlot(title, "time (s)", "p99 total latency (s)")
	for i, r := range rs {
		var xy plotter.XYs
		for _, w := range r.Windows {
			if tenant < 0 || tenant >= len(w.Tenants) {
				return nil, fmt.Errorf("simplot: result %q has no series for tenant %d (Metrics.SeriesTenants)", names[i], tenant)
			}
			if t := w.Tenants[tenant]; t.Completed > 0 && (!axes.LogY || t.P99 > 0) {
				xy = append(xy, plotter.XY{X: mid(w), Y: t.P99.Seconds()})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i)
		p.Add(l)
		p.Legend.Add(names[i], l)
	}
	setAxes(p, Axes{LogY: axes.LogY})
	headroom(p, axes.LogY)
	return p, nil
}

// addSeries adds one series at xs: markers, a line through them if line, and error bars.
func addSeries(p *plot.Plot, s Series, xs []float64, i int, axes Axes, line bool) error {
	var pts plotter.XYs
	var errs plotter.YErrors
	for k, e := range s.Values {
		if math.IsNaN(e.Mean) || (axes.LogY && e.Mean <= 0) || (axes.LogX && xs[k] <= 0) {
			continue
		}
		pts = append(pts, plotter.XY{X: xs[k], Y: e.Mean})
		hw := e.HalfWidth
		if !(hw >= 0) || math.IsInf(hw, 0) { // no interval
			hw = 0
		}
		low := hw
		if axes.LogY && e.Mean-low <= 0 {
			low = e.Mean * 0.9 // cut at the axis: a log axis cannot reach zero
		}
		errs = append(errs, struct{ Low, High float64 }{low, hw})
	}
	if len(pts) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = plotutil.Color(i)
	sc.GlyphStyle.Shape = plotutil.Shape(i)
	sc.GlyphStyle.Radius = vg.Points(3)
	p.Add(sc)
	var thumb plot.Thumbnailer = sc
	if line && len(pts) > 1 {
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		p.Add(l)
		thumb = lineAndGlyph{l, sc}
	}
	eb, err := plotter.NewYErrorBars(struct {
		plotter.XYs
		plotter.YErrors
	}{pts, errs})
	if err != nil {
		return err
	}
	eb.Color = plotutil.Color(i)
	p.Add(eb)
	p.Legend.Add(s.Name, thumb)
	return nil
}

// lineAndGlyph draws a legend entry with both the line and the marker.
type lineAndGlyph struct {
	l *plotter.Line
	s *plotter.Scatter
}

func (t lineAndGlyph) Thumbnail(c *draw.Canvas) {
	t.l.Thumbnail(c)
	t.s.Thumbnail(c)
}

// headroom raises the top of the y axis by a quarter of its span (on a log axis, of its
// decades), so that the legend in the top corner does not hide the highest points.
func headroom(p *plot.Plot, logY bool) {
	if p.Y.Max <= p.Y.Min {
		return
	}
	if logY && p.Y.Min > 0 {
		p.Y.Max *= math.Pow(p.Y.Max/p.Y.Min, 0.25)
		return
	}
	p.Y.Max += (p.Y.Max - p.Y.Min) / 4
}

func setAxes(p *plot.Plot, axes Axes) {
	if axes.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if axes.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
}

// ParetoKnee draws what Pareto draws, labels every point with its Label, and rings the point
// at index knee (if knee >= 0), so that a sweep's trade-off reads at a glance.
func ParetoKnee(title, x, y string, pts []ParetoPoint, knee int) (*plot.Plot, error) {
	p, err := Pareto(title, x, y, pts)
	if err != nil {
		return nil, err
	}
	var lx plotter.XYLabels
	for _, pt := range pts {
		if pt.Label != "" && !math.IsNaN(pt.X) && !math.IsNaN(pt.Y) {
			lx.XYs = append(lx.XYs, plotter.XY{X: pt.X, Y: pt.Y})
			lx.Labels = append(lx.Labels, pt.Label)
		}
	}
	if len(lx.XYs) > 0 {
		labels, err := plotter.NewLabels(lx)
		if err != nil {
			return nil, err
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i].XAlign = draw.XLeft
			labels.TextStyle[i].YAlign = draw.YBottom
		}
		labels.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(labels)
	}
	if knee >= 0 && knee < len(pts) {
		s, err := plotter.NewScatter(plotter.XYs{{X: pts[knee].X, Y: pts[knee].Y}})
		if err != nil {
			return nil, err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(8), Shape: draw.RingGlyph{}}
		p.Add(s)
		p.Legend.Add("knee", s)
	}
	return p, nil
}
