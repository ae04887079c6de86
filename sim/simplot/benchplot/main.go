// Command benchplot draws how cost grows with size from `go test -bench` output: pick cost
// against pool size, admission tick cost against backlog, and simulator throughput against
// tenants and jobs in flight. It reads the per-package result files that .ci/bench writes
// (tokenbucket.txt, strategy.txt, ...), takes the median of repeated runs, and writes SVG
// figures for BENCHMARKS.md.
//
//	go run ./sim/simplot/benchplot -in bench-results -out sim/simplot/benchplot/figures
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a figure: the results of file whose name matches re (its group "x"
// is the size), in unit.
type series struct {
	label, file string
	re          *regexp.Regexp
	unit        string
}

type figure struct {
	name, title, x, y string
	logY              bool
	legend            string // corner: "tl", "tr", "bl" or "br"
	series            []series
}

func s(label, file, re, unit string) series {
	return series{label, file, regexp.MustCompile("^" + re + "$"), unit}
}

var figures = []figure{
	{
		name: "pick-cost", title: "Cost of one pick against pool size", x: "members or workers", y: "ns per pick", logY: true, legend: "br",
		series: []series{
			s("wdrr SWRR.Next, with predicate", "wdrr", `Next/n=(?P<x>\d+)/impl=dispatchlab`, "ns/op"),
			s("strategy Best (shortest queue)", "strategy", `Best/n=(?P<x>\d+)/impl=dispatchlab`, "ns/op"),
			s("strategy NextAvailable", "strategy", `NextAvailable/n=(?P<x>\d+)`, "ns/op"),
			s("strategy P2C", "strategy", `P2C/n=(?P<x>\d+)/impl=dispatchlab`, "ns/op"),
			s("strategy Hash (jump hash)", "strategy", `Hash/n=(?P<x>\d+)/impl=dispatchlab`, "ns/op"),
		},
	},
	{
		name: "tick-cost", title: "admission: tick cost per admitted job against backlog", x: "pending jobs (10,000 tenants)", y: "ns per admitted job", legend: "tl",
		series: []series{
			s("Tick", "admission", `Tick/backlog=(?P<x>\d+)/tenants=10000/impl=dispatchlab`, "ns/job"),
			s("Tick, anchor (naive heap)", "admission", `Tick/backlog=(?P<x>\d+)/tenants=10000/impl=naive-heap`, "ns/job"),
		},
	},
	{
		name: "sim-throughput", title: "Simulator throughput against size", x: "tenants, or workers (jobs in flight)", y: "jobs per second", logY: true, legend: "bl",
		series: []series{
			s("admission, against tenants", "sim", `Size/tenants=(?P<x>\d+)`, "jobs/s"),
			s("direct M/M/c, against workers", "sim", `Size/workers=(?P<x>\d+)`, "jobs/s"),
		},
	},
}

func main() {
	in := flag.String("in", "bench-results", "directory of <package>.txt benchmark outputs")
	out := flag.String("out", filepath.Join("sim", "simplot", "benchplot", "figures"), "directory for the SVG figures")
	format := flag.String("format", "svg", "svg or png")
	flag.Parse()
	if err := run(*in, *out, *format, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

func run(in, out, format string, w io.Writer) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cache := map[string]map[string][]float64{}
	for _, f := range figures {
		p := plot.New()
		p.Title.Text = f.title
		p.X.Label.Text = f.x
		p.Y.Label.Text = f.y
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		if f.logY {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		p.Add(plotter.NewGrid())
		p.Legend.Top = f.legend[0] == 't'
		p.Legend.Left = f.legend[1] == 'l'
		drawn := 0
		for i, sr := range f.series {
			if _, ok := cache[sr.file]; !ok {
				m, err := read(filepath.Join(in, sr.file+".txt"))
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				cache[sr.file] = m // nil if the package was not benchmarked
			}
			xys := points(cache[sr.file], sr)
			if len(xys) == 0 {
				fmt.Fprintf(w, "%s: no results for %q in %s.txt\n", f.name, sr.label, sr.file)
				continue
			}
			line, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color = plotutil.Color(i)
			pts.Color = plotutil.Color(i)
			pts.Shape = plotutil.Shape(i)
			p.Add(line, pts)
			p.Legend.Add(sr.label, line, pts)
			for _, xy := range xys {
				fmt.Fprintf(w, "%s\t%s\t%g\t%.4g\n", f.name, sr.label, xy.X, xy.Y)
			}
			drawn++
		}
		if drawn == 0 {
			continue
		}
		p.X.Min /= 1.5
		p.X.Max *= 1.5
		if !f.logY {
			p.Y.Min = 0 // a linear axis from zero, so that ratios read as heights
		}
		path := filepath.Join(out, f.name+"."+format)
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return err
		}
	}
	return nil
}

var procsRE = regexp.MustCompile(`-\d+$`)

// read returns every value of every benchmark in file, by "name unit" (the name without its
// -GOMAXPROCS suffix, the unit as printed).
func read(file string) (map[string][]float64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]float64{}
	r := benchfmt.NewReader(f, file)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		name := procsRE.ReplaceAllString(res.Name.String(), "")
		for _, v := range res.Values {
			// The units as the benchmark printed them: benchfmt tidies ns/op and ns/job into
			// sec/op and sec/job, which the figures do not want.
			unit, val := v.OrigUnit, v.OrigValue
			if unit == "" {
				unit, val = v.Unit, v.Value
			}
			out[name+" "+unit] = append(out[name+" "+unit], val)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no benchmark results")
	}
	return out, nil
}

// points returns the median of each size's values, sorted by size.
func points(m map[string][]float64, sr series) plotter.XYs {
	var xys plotter.XYs
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name, unit, _ := strings.Cut(k, " ")
		if unit != sr.unit {
			continue
		}
		mm := sr.re.FindStringSubmatch(name)
		if mm == nil {
			continue
		}
		x, err := strconv.ParseFloat(mm[sr.re.SubexpIndex("x")], 64)
		if err != nil {
			continue
		}
		vals := slices.Clone(m[k])
		slices.Sort(vals)
		xys = append(xys, plotter.XY{X: x, Y: stat.Quantile(0.5, stat.Empirical, vals, nil)})
	}
	slices.SortFunc(xys, func(a, b plotter.XY) int {
		switch {
		case a.X < b.X:
			return -1
		case a.X > b.X:
			return 1
		}
		return 0
	})
	return xys
}
