package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/sim/simplot"
)

// runOptions are the flags shared by run and the default command.
type runOptions struct {
	seed         uint64
	replications int
	warmup       time.Duration
	out          string
	format       string
	plots        string
	parallel     int
	quiet        bool
	lim          *limits
}

func runFlags(env environment, name, synopsis, examples string) (*flag.FlagSet, *runOptions) {
	o := &runOptions{warmup: -1} // -1: keep the scenario's warmup
	fs := newFlags(env, name, synopsis, examples)
	fs.Uint64Var(&o.seed, "seed", 1, "random seed; the same seed gives the same results, bit for bit")
	fs.IntVar(&o.replications, "replications", 1, "independent replications (means and 95% intervals over them)")
	fs.Var((*optDuration)(&o.warmup), "warmup", "override the scenario's warmup: a `duration` such as 30s")
	fs.StringVar(&o.out, "out", "", "output directory (default: a fresh simulate-out/<scenario>-N)")
	fs.StringVar(&o.format, "format", "table", "what to print: table, csv or json")
	fs.StringVar(&o.plots, "plots", "png", "figures to write: png, svg or none")
	fs.IntVar(&o.parallel, "parallel", runtime.GOMAXPROCS(0), "replications run at once (results do not depend on it)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	o.lim = limitFlags(fs)
	return fs, o
}

func (o *runOptions) check() error {
	switch {
	case o.replications < 1 || o.replications > 10_000:
		return usagef("--replications must be in [1, 10000], got %d", o.replications)
	case o.format != "table" && o.format != "csv" && o.format != "json":
		return usagef("--format must be table, csv or json, got %q", o.format)
	case o.plots != "png" && o.plots != "svg" && o.plots != "none":
		return usagef("--plots must be png, svg or none, got %q", o.plots)
	case o.parallel < 1:
		return usagef("--parallel must be >= 1, got %d", o.parallel)
	}
	return nil
}

const runExamples = `  simulate run noisy-neighbour
  simulate run --replications 10 --seed 7 my-scenario.yaml
  simulate run --format csv --plots none throttle-vs-burst > tenants.csv
`

func cmdRun(args []string, env environment) error {
	fs, o := runFlags(env, "run", "run [flags] [scenario]", runExamples)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	ref := "noisy-neighbour"
	switch fs.NArg() {
	case 0:
	case 1:
		ref = fs.Arg(0)
	default:
		return usagef("run takes one scenario, got %d arguments", fs.NArg())
	}
	sc, _, err := loadScenario(ref, *o.lim)
	if err != nil {
		return err
	}
	if o.warmup >= 0 {
		sc.Warmup = o.warmup
		if err := checkScenario(sc, "--warmup", nil, *o.lim); err != nil {
			return err
		}
	}
	if err := checkHeld(sc, o); err != nil {
		return err
	}
	results, err := replicate(env, sc, o)
	if err != nil {
		return err
	}
	dir, err := outputDir(o.out, sc.Name)
	if err != nil {
		return err
	}
	if err := writeRun(dir, "", results, o.plots); err != nil {
		return err
	}
	if err := printResults(env.stdout, o.format, results); err != nil {
		return err
	}
	if o.format == "table" {
		fmt.Fprintf(env.stdout, "\nwrote %s\n", dir)
	}
	return nil
}

const defaultExamples = `  simulate
  simulate --seed 7 --replications 5 --out nn
  simulate --plots svg
`

// cmdDefault runs the noisy-neighbour scenario with and without its fairness gates. It takes
// a few of run's flags, all optional.
func cmdDefault(args []string, env environment) error {
	o := &runOptions{warmup: -1, format: "table", lim: &defaultLimits}
	fs := newFlags(env, "simulate", "[flags]   (no command: the default scenario)", defaultExamples)
	fs.Uint64Var(&o.seed, "seed", 1, "random seed; the same seed gives the same results, bit for bit")
	fs.IntVar(&o.replications, "replications", 1, "independent replications (means and 95% intervals over them)")
	fs.StringVar(&o.out, "out", "", "output directory (default: a fresh simulate-out/noisy-neighbour-N)")
	fs.StringVar(&o.plots, "plots", "png", "figures to write: png, svg or none")
	fs.IntVar(&o.parallel, "parallel", runtime.GOMAXPROCS(0), "replications run at once (results do not depend on it)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unknown command %q (see simulate help)", fs.Arg(0))
	}
	if err := o.check(); err != nil {
		return err
	}
	sc, _, err := loadScenario("noisy-neighbour", *o.lim)
	if err != nil {
		return err
	}
	if err := checkHeld(sc, o); err != nil {
		return err
	}
	plain := *sc
	plain.Name = sc.Name + "-no-fairness"
	plain.Admission = nil // jobs queue straight at the workers, first come first served
	with, err := replicate(env, sc, o)
	if err != nil {
		return err
	}
	without, err := replicate(env, &plain, o)
	if err != nil {
		return err
	}
	dir, err := outputDir(o.out, sc.Name)
	if err != nil {
		return err
	}
	if err := writeRun(dir, "", with, o.plots); err != nil {
		return err
	}
	if err := writeRun(dir, "no-fairness-", without, o.plots); err != nil {
		return err
	}
	w := env.stdout
	fmt.Fprintf(w, "%s: ten tenants share 8 workers; \"noisy\" bursts to 100x its rate from 40s to 70s.\n\n", sc.Name)
	fmt.Fprintln(w, "With throttle + concurrency + adaptive + fair-interleave gates:")
	printTable(w, with)
	fmt.Fprintln(w, "\nWithout fairness gates (one FIFO queue in front of the workers):")
	printTable(w, without)
	q := func(rs []*sim.Result) time.Duration { // mean over replications
		var sum time.Duration
		for _, r := range rs {
			var worst time.Duration
			for _, t := range r.Tenants[1:] {
				worst = max(worst, t.Total.P99)
			}
			sum += worst
		}
		return sum / time.Duration(len(rs))
	}
	fmt.Fprintf(w, "\nThe quiet tenants' worst p99 total lag: %v with the gates, %v without.\n", round(q(with)), round(q(without)))
	if th := sc.Admission.Throttle; th != nil {
		var arrived, done float64
		for _, r := range with {
			arrived += float64(r.Tenants[0].Arrived)
			done += float64(r.Tenants[0].Completed)
		}
		fmt.Fprintf(w, "With the gates %q is held to its throttle (%g jobs per %v): %.0f of its %.0f jobs were still waiting at the end,\n"+
			"which is why less work completes; without them its burst fills the shared queue and every tenant waits.\n",
			with[0].Tenants[0].Name, th.Rate, th.Per, (arrived-done)/float64(len(with)), arrived/float64(len(with)))
	}
	fmt.Fprintf(w, "wrote %s\n", dir)
	return nil
}

// checkHeld refuses replications whose series, all held until they are written, would
// exceed the series limit.
func checkHeld(sc *sim.Scenario, o *runOptions) error {
	per := windows(sc) * float64(seriesTenants(sc))
	if n := per * float64(o.replications); n > float64(o.lim.maxSeries) {
		return usagef("--replications: %d replications × %.3g series entries each = %.3g, over the limit of %d; run fewer replications, lengthen metrics.window, or raise it with --max-series",
			o.replications, per, n, o.lim.maxSeries)
	}
	return nil
}

// replicate runs the replications on up to o.parallel goroutines, with a progress bar.
func replicate(env environment, sc *sim.Scenario, o *runOptions) ([]*sim.Result, error) {
	results := make([]*sim.Result, o.replications)
	errs := make([]error, o.replications)
	bar := newProgress(env, o.replications, sc.Name, o.quiet)
	defer bar.finish()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.parallel, o.replications) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = sim.Run(sc, o.seed, i)
				bar.add(1)
			}
		}()
	}
	for i := range o.replications {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns a scenario name into a file-name component that cannot leave a directory.
func safeName(s string) string {
	s = strings.Trim(unsafeName.ReplaceAllString(s, "-"), ".-")
	if s == "" {
		return "scenario"
	}
	return s
}

// outputDir returns dir (created), or a fresh simulate-out/<name>-N.
func outputDir(dir, name string) (string, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", dir, err)
		}
		return dir, nil
	}
	base := filepath.Join("simulate-out", safeName(name))
	for i := 1; ; i++ {
		d := fmt.Sprintf("%s-%d", base, i)
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return "", err
		}
		if err := os.Mkdir(d, 0o755); err == nil {
			return d, nil
		} else if !os.IsExist(err) {
			return "", fmt.Errorf("creating %s: %w", d, err)
		}
	}
}

// inside returns dir/name after checking that it stays inside dir.
func inside(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("output %q would leave %s", name, dir)
	}
	return p, nil
}

// writeRun writes the results' CSV and JSON, and replication 0's figures, into dir with
// prefix on every file name.
func writeRun(dir, prefix string, results []*sim.Result, plots string) error {
	write := func(name string, f func(io.Writer) error) error {
		p, err := inside(dir, prefix+name)
		if err != nil {
			return err
		}
		file, err := os.Create(p)
		if err != nil {
			return err
		}
		bw := bufio.NewWriter(file)
		err = f(bw)
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if err := write("tenants.csv", func(w io.Writer) error {
		for i, r := range results {
			if err := r.WriteTenantsCSV(w, i == 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := write("windows.csv", func(w io.Writer) error {
		for i, r := range results {
			if err := r.WriteWindowsCSV(w, i == 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := write("workers.csv", func(w io.Writer) error {
		for i, r := range results {
			if err := r.WriteWorkersCSV(w, i == 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := write("result.json", results[0].WriteJSON); err != nil {
		return err
	}
	if err := write("summary.txt", func(w io.Writer) error { printTable(w, results); return nil }); err != nil {
		return err
	}
	if plots == "none" {
		return nil
	}
	figDir, err := inside(dir, prefix+"plots")
	if err != nil {
		return err
	}
	_, err = simplot.SaveAll(results[0], figDir, plots)
	return err
}

func printResults(w io.Writer, format string, results []*sim.Result) error {
	switch format {
	case "csv":
		for i, r := range results {
			if err := r.WriteTenantsCSV(w, i == 0); err != nil {
				return err
			}
		}
		return nil
	case "json":
		// One JSON document: the list of replications, each as result.json holds replication 0.
		bw := bufio.NewWriter(w)
		bw.WriteString("[\n")
		for i, r := range results {
			if i > 0 {
				bw.WriteString(",\n")
			}
			if err := r.WriteJSON(bw); err != nil {
				return err
			}
		}
		bw.WriteString("]\n")
		return bw.Flush()
	}
	printTable(w, results)
	return nil
}

// maxTableTenants is how many tenants the table lists; the rest are summed up in one line.
const maxTableTenants = 20

// printTable prints the per-tenant summary (means over replications) and the overall line.
func printTable(out io.Writer, results []*sim.Result) {
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant\tjobs\tadmission p50\tadmission p99\ttotal p50\ttotal p99\tshare\t")
	n := len(results)
	mean := func(f func(*sim.Result) float64) float64 {
		var s float64
		for _, r := range results {
			s += f(r)
		}
		return s / float64(n)
	}
	dur := func(f func(*sim.Result) time.Duration) string {
		return round(time.Duration(mean(func(r *sim.Result) float64 { return float64(f(r)) }))).String()
	}
	tenants := results[0].Tenants
	shown := min(len(tenants), maxTableTenants)
	for i := range shown {
		t := func(r *sim.Result) *sim.TenantResult { return &r.Tenants[i] }
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%.1f%%\t\n", tenants[i].Name,
			mean(func(r *sim.Result) float64 { return float64(t(r).Measured) }),
			dur(func(r *sim.Result) time.Duration { return t(r).Admission.P50 }),
			dur(func(r *sim.Result) time.Duration { return t(r).Admission.P99 }),
			dur(func(r *sim.Result) time.Duration { return t(r).Total.P50 }),
			dur(func(r *sim.Result) time.Duration { return t(r).Total.P99 }),
			100*mean(func(r *sim.Result) float64 { return t(r).Share }))
	}
	if len(tenants) > shown {
		fmt.Fprintf(tw, "(%d more tenants)\t\t\t\t\t\t\t\n", len(tenants)-shown)
	}
	ov := func(r *sim.Result) *sim.TenantResult { return &r.Overall }
	fmt.Fprintf(tw, "overall\t%.0f\t%s\t%s\t%s\t%s\t100%%\t\n",
		mean(func(r *sim.Result) float64 { return float64(ov(r).Measured) }),
		dur(func(r *sim.Result) time.Duration { return ov(r).Admission.P50 }),
		dur(func(r *sim.Result) time.Duration { return ov(r).Admission.P99 }),
		dur(func(r *sim.Result) time.Duration { return ov(r).Total.P50 }),
		dur(func(r *sim.Result) time.Duration { return ov(r).Total.P99 }))
	tw.Flush()
	tput := make([]float64, n)
	jain := make([]float64, n)
	for i, r := range results {
		tput[i], jain[i] = r.Overall.Throughput, r.Jain
	}
	fmt.Fprintf(bw, "throughput %s jobs/s, Jain's index %s (mean of windows; 1 is fair)",
		withCI(tput, "%.2f"), withCI(jain, "%.3f"))
	if n > 1 {
		fmt.Fprintf(bw, " — means ± 95%% intervals over %d replications", n)
	}
	fmt.Fprintln(bw)
}

func withCI(xs []float64, f string) string {
	e := sim.EstimateOf(xs, 0.95)
	if math.IsNaN(e.HalfWidth) {
		return fmt.Sprintf(f, e.Mean)
	}
	return fmt.Sprintf(f+" ± "+f, e.Mean, e.HalfWidth)
}

// round makes a duration readable: 3 significant digits.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Second:
		return d.Round(time.Second)
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// optDuration is a duration flag whose unset value (-1) is not shown as a default.
type optDuration time.Duration

func (d *optDuration) String() string {
	if d == nil || *d < 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *optDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("must be >= 0, got %v", v)
	}
	*d = optDuration(v)
	return nil
}
