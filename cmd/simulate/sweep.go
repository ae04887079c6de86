package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/goccy/go-yaml"

	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/sim/simplot"
)

// sweepSpec is a sweep file.
type sweepSpec struct {
	// Scenario is a built-in name or a scenario file (relative to the sweep file).
	Scenario     string `yaml:"scenario"`
	Seed         uint64 `yaml:"seed"`
	Replications int    `yaml:"replications"`
	// Design is "grid" (every combination) or "lhs" (a Latin hypercube of Samples points);
	// empty means grid for up to three parameters and lhs above.
	Design     string       `yaml:"design"`
	Samples    int          `yaml:"samples"`
	Parameters []sweepParam `yaml:"parameters"`
}

type sweepParam struct {
	// Path is a scenario field, as in scenario files: admission.concurrency,
	// tenants[0].arrivals.rate.
	Path string `yaml:"path"`
	// Values lists the values, or Range gives [min, max] (numbers or durations): a grid
	// takes Steps values from min to max, a Latin hypercube samples the range. Scale is
	// "linear" (the default) or "log".
	Values []any  `yaml:"values"`
	Range  []any  `yaml:"range"`
	Scale  string `yaml:"scale"`
	Steps  int    `yaml:"steps"`
}

// point is one combination of parameter values.
type point struct {
	index  int
	values []any
	labels []string // the values as written in the outputs
	sc     *sim.Scenario
}

// sweep is an expanded sweep: its points, and an ID that changes with anything that changes
// the results (the spec and the base scenario), so that resuming or merging refuses outputs
// of another sweep.
type sweep struct {
	spec               sweepSpec
	axes               []axis // one per parameter
	name               string
	points             []point
	id                 string
	specData, baseData []byte // the sweep and scenario files, kept in sweep.json for merge
}

const sweepExamples = `  simulate sweep target-lag
  simulate sweep --parallel 2 --out lag-sweep my-sweep.yaml
  simulate sweep --dry-run strategies
  simulate sweep --shard 0/4 --out shard-0 target-lag     # one of four machines
  simulate sweep --shard env/4 --out /out target-lag     # index from $JOB_COMPLETION_INDEX
  simulate merge --out merged shard-0 shard-1 shard-2 shard-3
`

func cmdSweep(args []string, env environment) error {
	fs := newFlags(env, "sweep", "sweep [flags] [sweep]", sweepExamples)
	seed := fs.Uint64("seed", 0, "override the sweep's seed")
	reps := fs.Int("replications", 0, "override the sweep's replications")
	out := fs.String("out", "", "output directory (default: a fresh simulate-out/sweep-<name>-N); an existing sweep output is resumed")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "runs at once; results do not depend on it")
	shardFlag := fs.String("shard", "", "run only shard i of N: the points whose index is i modulo N (i/N; i may be \"env\", read from --shard-env)")
	shardEnv := fs.String("shard-env", "JOB_COMPLETION_INDEX", "the environment variable holding i for --shard env/N (Kubernetes Indexed Jobs; AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID, ...)")
	dry := fs.Bool("dry-run", false, "print the expanded points and exit")
	plots := fs.String("plots", "png", "figures to write: png, svg or none")
	quiet := fs.Bool("quiet", false, "no progress bar")
	lim := limitFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	ref := "target-lag"
	switch fs.NArg() {
	case 0:
	case 1:
		ref = fs.Arg(0)
	default:
		return usagef("sweep takes one sweep, got %d arguments", fs.NArg())
	}
	if *parallel < 1 {
		return usagef("--parallel must be >= 1, got %d", *parallel)
	}
	if *plots != "png" && *plots != "svg" && *plots != "none" {
		return usagef("--plots must be png, svg or none, got %q", *plots)
	}
	shard, shards, err := parseShard(*shardFlag, *shardEnv, env.getenv)
	if err != nil {
		return err
	}
	sw, err := loadSweep(ref, *lim, *seed, *reps)
	if err != nil {
		return err
	}
	if *dry {
		return printPoints(env.stdout, sw, shard, shards)
	}
	dir := *out
	if dir == "" {
		if dir, err = outputDir("", "sweep-"+sw.name); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := runSweep(env, sw, dir, shard, shards, *parallel, *quiet); err != nil {
		return err
	}
	sum, blocks, err := finishSweep(sw, dir, *plots)
	if err != nil {
		return err
	}
	printSweepSummary(env.stdout, sw, sum)
	// Every run of this shard must be in the output; never report a sweep as done without.
	var missing []string
	for _, m := range missingRuns(sw, blocks) {
		var p, r int
		fmt.Sscanf(m, "point %d replication %d", &p, &r)
		if p%shards == shard {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks %d runs after the sweep (first: %s); run the same command again to resume", dir, len(missing), missing[0])
	}
	fmt.Fprintf(env.stdout, "wrote %s\n", dir)
	return nil
}

var shardRE = regexp.MustCompile(`^(\d+|env)/(\d+)$`)

// parseShard parses --shard i/N; i may be "env", read from the variable named by envVar
// ($JOB_COMPLETION_INDEX for Kubernetes Indexed Jobs).
func parseShard(s, envVar string, getenv func(string) string) (int, int, error) {
	if s == "" {
		return 0, 1, nil
	}
	m := shardRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, usagef("--shard must be i/N (or env/N), got %q", s)
	}
	n, _ := strconv.Atoi(m[2])
	is := m[1]
	if is == "env" {
		is = getenv(envVar)
		if is == "" {
			return 0, 0, usagef("--shard env/%d needs %s to be set (or name another variable with --shard-env)", n, envVar)
		}
	}
	i, err := strconv.Atoi(is)
	if err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("--shard needs 0 <= i < N, got %s/%d (the index counts from 0)", is, n)
	}
	return i, n, nil
}

// loadSweep reads a sweep (built-in or file) and its scenario, and expands it.
func loadSweep(ref string, lim limits, seed uint64, reps int) (*sweep, error) {
	data, source, err := readRef("sweep", ref, lim)
	if err != nil {
		return nil, err
	}
	if err := checkTree(source, data); err != nil {
		return nil, err
	}
	var spec sweepSpec
	if err := unmarshal(data, &spec, true); err != nil {
		return nil, usagef("%s", positioned(source, data, err))
	}
	if spec.Scenario == "" {
		return nil, usagef("%s: scenario: must name a built-in scenario or a file", at(source, data, "scenario"))
	}
	scRef := spec.Scenario
	if _, ok := findBuiltin("scenario", scRef); !ok && !strings.HasPrefix(source, "builtin:") && !filepath.IsAbs(scRef) {
		scRef = filepath.Join(filepath.Dir(source), scRef)
	}
	base, scSource, err := readRef("scenario", scRef, lim)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(strings.TrimSuffix(filepath.Base(source), ".yaml"), "builtin:")
	return expandSweep(name, data, source, base, scSource, lim, seed, reps)
}

// expandSweep expands a sweep spec over its base scenario, validating every point.
func expandSweep(name string, data []byte, source string, base []byte, scSource string, lim limits, seed uint64, reps int) (*sweep, error) {
	for _, d := range []struct {
		source string
		data   []byte
	}{{source, data}, {scSource, base}} {
		if err := checkTree(d.source, d.data); err != nil {
			return nil, err
		}
	}
	var spec sweepSpec
	if err := unmarshal(data, &spec, true); err != nil {
		return nil, usagef("%s", positioned(source, data, err))
	}
	if seed != 0 {
		spec.Seed = seed
	}
	if spec.Seed == 0 {
		spec.Seed = 1
	}
	if reps != 0 {
		spec.Replications = reps
	}
	if spec.Replications == 0 {
		spec.Replications = 1
	}
	switch {
	case spec.Replications < 1:
		return nil, usagef("%s: replications: must be >= 1, got %d", at(source, data, "replications"), spec.Replications)
	case len(spec.Parameters) == 0:
		return nil, usagef("%s: parameters: must not be empty", at(source, data, "parameters"))
	}
	if _, err := parseScenario(base, scSource, lim); err != nil {
		return nil, err
	}
	design := spec.Design
	if design == "" {
		design = "grid"
		if len(spec.Parameters) > 3 {
			design = "lhs"
		}
	}
	if design != "grid" && design != "lhs" {
		return nil, usagef("%s: design: must be grid or lhs, got %q", at(source, data, "design"), spec.Design)
	}
	locs := locations(data)
	var axes []axis
	for i, p := range spec.Parameters {
		where := func(field string) string { return position(source, locs, fmt.Sprintf("parameters[%d].%s", i, field)) }
		a, err := newAxis(i, p, design, where)
		if err != nil {
			return nil, err
		}
		axes = append(axes, a)
	}
	// Count the points before expanding them: a grid of four 200-value lists is 1.6e9 points.
	var points float64
	if design == "grid" {
		points = 1
		for _, a := range axes {
			points *= float64(a.n())
		}
	} else {
		if spec.Samples < 1 {
			return nil, usagef("%s: samples: a Latin hypercube needs samples >= 1, got %d", at(source, data, "samples"), spec.Samples)
		}
		points = float64(spec.Samples)
	}
	if n := points * float64(spec.Replications); n > float64(lim.maxPoints) {
		return nil, usagef("%s: the sweep has %.0f points × %d replications = %.0f runs, over the limit of %d; use fewer values (or design: lhs with fewer samples), or raise it with --max-points",
			source, points, spec.Replications, n, lim.maxPoints)
	}
	var combos [][]any // values per point
	if design == "grid" {
		combos = grid(axes)
	} else {
		combos = latinHypercube(axes, spec.Samples, spec.Seed)
	}
	spec.Design = design
	var generic map[string]any
	if err := unmarshal(base, &generic, false); err != nil {
		return nil, usagef("%s: %v", scSource, err)
	}
	if generic == nil {
		generic = map[string]any{} // an empty scenario file: every field takes its default
	}
	if _, ok := generic["name"]; !ok {
		generic["name"] = nameOf(scSource) // not the point's label
	}
	sw := &sweep{spec: spec, axes: axes, name: name, specData: data, baseData: base}
	h := sha256.New()
	h.Write(base)
	for k, combo := range combos {
		pt := point{index: k}
		doc := deepCopy(generic).(map[string]any)
		for i, p := range spec.Parameters {
			v := combo[i]
			if err := setPath(doc, p.Path, v); err != nil {
				return nil, usagef("%s: parameters[%d].path: %s: %v", position(source, locs, fmt.Sprintf("parameters[%d].path", i)), i, p.Path, err)
			}
			pt.values = append(pt.values, v)
			pt.labels = append(pt.labels, fmt.Sprint(v))
		}
		buf, err := yaml.Marshal(doc)
		if err != nil {
			return nil, err
		}
		sc, err := parseScenario(buf, "", lim)
		if err != nil {
			return nil, pointError(source, locs, spec.Parameters, k, pt, err)
		}
		pt.sc = sc
		sw.points = append(sw.points, pt)
		h.Write(buf)
	}
	fmt.Fprintf(h, "seed %d replications %d", spec.Seed, spec.Replications)
	sw.id = hex.EncodeToString(h.Sum(nil))[:16]
	return sw, nil
}

var generatedPosRE = regexp.MustCompile(`^(:\d+:\d+)?: `)

// pointError reports a point that is not a valid scenario. Its line and column are in the
// generated scenario, of no use to the reader: the error points instead at the parameter that
// sets the field (or at parameters), and names the point and its values.
func pointError(source string, locs []loc, params []sweepParam, k int, pt point, err error) error {
	msg := generatedPosRE.ReplaceAllString(err.Error(), "")
	field := "parameters"
	for i, p := range params {
		if strings.HasPrefix(msg, p.Path+":") || strings.HasPrefix(msg, p.Path+".") || strings.HasPrefix(msg, p.Path+"[") {
			field = fmt.Sprintf("parameters[%d]", i)
			for j, v := range p.Values {
				if fmt.Sprint(v) == pt.labels[i] {
					field = fmt.Sprintf("parameters[%d].values[%d]", i, j)
					break
				}
			}
		}
	}
	var kv []string
	for i, p := range params {
		kv = append(kv, p.Path+"="+pt.labels[i])
	}
	return usagef("%s: point %d (%s) is not a valid scenario: %s", position(source, locs, field), k, strings.Join(kv, " "), msg)
}

// grid returns every combination of the axes' values, the last parameter varying fastest.
func grid(axes []axis) [][]any {
	out := [][]any{{}}
	for _, a := range axes {
		var next [][]any
		for _, c := range out {
			for _, v := range a.values {
				next = append(next, append(slices.Clone(c), v))
			}
		}
		out = next
	}
	return out
}

// latinHypercube returns n points: for each parameter, every one of n strata of [0, 1) is
// used once, in a random order (seeded), at a random place within the stratum. A range maps
// it onto [min, max]; a list maps it to a value, in the order given, so a list sorted by size
// stands for a range.
func latinHypercube(axes []axis, n int, seed uint64) [][]any {
	r := rand.New(rand.NewPCG(seed, 0x4c4853))
	out := make([][]any, n)
	for i := range out {
		out[i] = make([]any, len(axes))
	}
	for j, a := range axes {
		perm := r.Perm(n)
		for i := range n {
			u := (float64(perm[i]) + r.Float64()) / float64(n)
			if a.isRange {
				out[i][j] = a.at(u)
			} else {
				out[i][j] = a.values[min(int(u*float64(a.n())), a.n()-1)]
			}
		}
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

var segRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$`)

// setPath sets a field (a.b[2].c) in a decoded YAML document, creating maps on the way.
func setPath(doc map[string]any, path string, v any) error {
	segs := strings.Split(path, ".")
	var cur any = doc
	for i, seg := range segs {
		m := segRE.FindStringSubmatch(seg)
		if m == nil {
			return fmt.Errorf("bad path segment %q", seg)
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not a mapping", strings.Join(segs[:i], "."))
		}
		var idx []int
		for _, s := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(s)
			idx = append(idx, n)
		}
		last := i == len(segs)-1
		if len(idx) == 0 {
			if last {
				obj[m[1]] = v
				return nil
			}
			if obj[m[1]] == nil {
				obj[m[1]] = map[string]any{}
			}
			cur = obj[m[1]]
			continue
		}
		cur = obj[m[1]]
		for k, n := range idx {
			list, ok := cur.([]any)
			if !ok || n >= len(list) {
				return fmt.Errorf("%s has no element [%d]", m[1], n)
			}
			if last && k == len(idx)-1 {
				list[n] = v
				return nil
			}
			cur = list[n]
		}
	}
	return nil
}

func printPoints(w io.Writer, sw *sweep, shard, shards int) error {
	fmt.Fprintf(w, "sweep %s: %s design, %d points × %d replications, seed %d, id %s\n",
		sw.name, sw.spec.Design, len(sw.points), sw.spec.Replications, sw.spec.Seed, sw.id)
	for _, pt := range sw.points {
		if pt.index%shards != shard {
			continue
		}
		var kv []string
		for i, p := range sw.spec.Parameters {
			kv = append(kv, p.Path+"="+pt.labels[i])
		}
		fmt.Fprintf(w, "point %d: %s\n", pt.index, strings.Join(kv, " "))
	}
	return nil
}

// The tidy metrics of each tenant (and of "overall") in every point × replication.
var rowMetrics = []struct {
	name string
	f    func(*sim.TenantResult) float64
}{
	{"arrived", func(t *sim.TenantResult) float64 { return float64(t.Arrived) }},
	{"completed", func(t *sim.TenantResult) float64 { return float64(t.Completed) }},
	{"throughput", func(t *sim.TenantResult) float64 { return t.Throughput }},
	{"share", func(t *sim.TenantResult) float64 { return t.Share }},
	{"admission_mean_s", func(t *sim.TenantResult) float64 { return t.Admission.Mean.Seconds() }},
	{"admission_p99_s", func(t *sim.TenantResult) float64 { return t.Admission.P99.Seconds() }},
	{"queue_mean_s", func(t *sim.TenantResult) float64 { return t.Queue.Mean.Seconds() }},
	{"total_mean_s", func(t *sim.TenantResult) float64 { return t.Total.Mean.Seconds() }},
	{"total_p50_s", func(t *sim.TenantResult) float64 { return t.Total.P50.Seconds() }},
	{"total_p99_s", func(t *sim.TenantResult) float64 { return t.Total.P99.Seconds() }},
}

// block is the rows of one point × replication: tenant × metric values, in a fixed order.
type block struct {
	point, rep int
	rows       []row
}

type row struct {
	tenant, metric string
	value          float64
}

// rowsOf turns a result into its block: the first series tenants, "overall", and the
// overall Jain index.
func rowsOf(pt point, rep int, r *sim.Result) block {
	b := block{point: pt.index, rep: rep}
	nt := seriesTenants(pt.sc)
	add := func(t *sim.TenantResult) {
		for _, m := range rowMetrics {
			b.rows = append(b.rows, row{t.Name, m.name, m.f(t)})
		}
	}
	for i := range min(nt, len(r.Tenants)) {
		add(&r.Tenants[i])
	}
	add(&r.Overall)
	b.rows = append(b.rows, row{"overall", "jain", r.Jain}, row{"overall", "min_jain", r.MinJain})
	return b
}

// seriesTenants is how many tenants a point reports (the scenario's series tenants).
func seriesTenants(sc *sim.Scenario) int {
	n := 0
	for _, t := range sc.Tenants {
		n += max(t.Count, 1)
	}
	s := sc.Metrics.SeriesTenants
	if s == 0 {
		s = 20
	}
	return min(n, s)
}

func expectedRows(pt point) int { return (seriesTenants(pt.sc)+1)*len(rowMetrics) + 2 }

func fmtFloat(x float64) string {
	if math.IsNaN(x) {
		return "NaN"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// runSweep runs this shard's missing point × replications (resuming what dir already holds)
// and appends their blocks to dir/rows.csv as they finish.
func runSweep(env environment, sw *sweep, dir string, shard, shards, parallel int, quiet bool) error {
	have, err := readBlocks(dir, sw)
	if err != nil {
		return err
	}
	done := map[[2]int]bool{}
	for _, b := range have {
		done[[2]int{b.point, b.rep}] = true
	}
	type job struct {
		pt  point
		rep int
	}
	var todo []job
	for _, pt := range sw.points {
		if pt.index%shards != shard {
			continue
		}
		for rep := range sw.spec.Replications {
			if !done[[2]int{pt.index, rep}] {
				todo = append(todo, job{pt, rep})
			}
		}
	}
	if err := writeMeta(dir, sw); err != nil {
		return err
	}
	// Rewrite rows.csv with just the complete blocks, so that runs appended next never follow
	// a partial line or block left by an interrupted run.
	var clean bytes.Buffer
	clean.WriteString(rowsHeader(sw))
	for _, b := range have {
		writeBlock(&clean, sw, b)
	}
	if err := writeFileAtomic(filepath.Join(dir, "rows.csv"), clean.Bytes()); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "rows.csv"), os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	bar := newProgress(env, len(todo), "sweep "+sw.name, quiet)
	defer bar.finish()
	var (
		mu      sync.Mutex
		firstEr error
		wg      sync.WaitGroup
		next    = make(chan job)
	)
	for range min(parallel, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				r, err := sim.Run(j.pt.sc, sw.spec.Seed, j.rep)
				mu.Lock()
				if err != nil && firstEr == nil {
					firstEr = err
				}
				if err == nil {
					var b bytes.Buffer
					writeBlock(&b, sw, rowsOf(j.pt, j.rep, r))
					if _, err := f.Write(b.Bytes()); err != nil && firstEr == nil {
						firstEr = err
					}
				}
				mu.Unlock()
				bar.add(1)
			}
		}()
	}
	for _, j := range todo {
		next <- j
	}
	close(next)
	wg.Wait()
	return firstEr
}

func rowsHeader(sw *sweep) string {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	h := []string{"point", "replication"}
	for _, p := range sw.spec.Parameters {
		h = append(h, p.Path)
	}
	cw.Write(append(h, "tenant", "metric", "value"))
	cw.Flush()
	return b.String()
}

func writeBlock(w io.Writer, sw *sweep, b block) {
	cw := csv.NewWriter(w)
	pt := sw.points[b.point]
	for _, r := range b.rows {
		rec := []string{strconv.Itoa(b.point), strconv.Itoa(b.rep)}
		rec = append(rec, pt.labels...)
		cw.Write(append(rec, r.tenant, r.metric, fmtFloat(r.value)))
	}
	cw.Flush()
}

// meta is what dir/sweep.json records about the sweep, to refuse mixing outputs.
type meta struct {
	ID           string     `json:"id"`
	Sweep        string     `json:"sweep"`    // the sweep file
	Scenario     string     `json:"scenario"` // its scenario file
	Name         string     `json:"name"`
	Design       string     `json:"design"`
	Seed         uint64     `json:"seed"`
	Replications int        `json:"replications"`
	Parameters   []string   `json:"parameters"`
	Points       [][]string `json:"points"`
}

func metaOf(sw *sweep) meta {
	m := meta{ID: sw.id, Sweep: string(sw.specData), Scenario: string(sw.baseData), Name: sw.name,
		Design: sw.spec.Design, Seed: sw.spec.Seed, Replications: sw.spec.Replications}
	for _, p := range sw.spec.Parameters {
		m.Parameters = append(m.Parameters, p.Path)
	}
	for _, pt := range sw.points {
		m.Points = append(m.Points, pt.labels)
	}
	return m
}

func writeMeta(dir string, sw *sweep) error {
	p := filepath.Join(dir, "sweep.json")
	if old, err := os.ReadFile(p); err == nil {
		var m meta
		if json.Unmarshal(old, &m) != nil || m.ID != sw.id {
			return usagef("%s holds the output of another sweep (id %s, this one is %s); choose another --out", dir, m.ID, sw.id)
		}
		return nil
	}
	b, err := json.MarshalIndent(metaOf(sw), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, append(b, '\n'), 0o644)
}

// readBlocks reads the complete blocks of dir/rows.csv. A run cut short may leave a partial
// block, or a partial line, at the end: they are dropped (and the run is done again). A
// block is a contiguous run of rows of one point × replication; a later run of the same key
// replaces an earlier one.
func readBlocks(dir string, sw *sweep) ([]block, error) {
	data, err := os.ReadFile(filepath.Join(dir, "rows.csv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m, err := os.ReadFile(filepath.Join(dir, "sweep.json")); err == nil {
		var mm meta
		if json.Unmarshal(m, &mm) != nil || mm.ID != sw.id {
			return nil, usagef("%s holds the output of another sweep (id %s, this one is %s); choose another --out", dir, mm.ID, sw.id)
		}
	}
	// Drop a trailing partial line.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	header := rowsHeader(sw)
	if len(data) > 0 && !bytes.HasPrefix(data, []byte(header)) {
		return nil, usagef("%s/rows.csv is not this sweep's (its header differs); choose another --out", dir)
	}
	cr := csv.NewReader(bytes.NewReader(data[min(len(header), len(data)):]))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	np := len(sw.spec.Parameters)
	byKey := map[[2]int]block{}
	var order [][2]int
	var cur *block
	flush := func() {
		if cur == nil {
			return
		}
		k := [2]int{cur.point, cur.rep}
		if _, seen := byKey[k]; !seen {
			order = append(order, k)
		}
		byKey[k] = *cur
		cur = nil
	}
	for {
		rec, err := cr.Read()
		if err != nil {
			break // io.EOF, or a damaged line: what follows it is dropped
		}
		if len(rec) != np+5 {
			continue
		}
		p, err1 := strconv.Atoi(rec[0])
		rep, err2 := strconv.Atoi(rec[1])
		v, err3 := strconv.ParseFloat(rec[np+4], 64)
		if err1 != nil || err2 != nil || err3 != nil || p < 0 || p >= len(sw.points) || rep < 0 || rep >= sw.spec.Replications {
			continue
		}
		if cur == nil || cur.point != p || cur.rep != rep {
			flush()
			cur = &block{point: p, rep: rep}
		}
		cur.rows = append(cur.rows, row{rec[np+2], rec[np+3], v})
	}
	flush()
	var out []block
	for _, k := range order {
		if b := byKey[k]; len(b.rows) == expectedRows(sw.points[b.point]) {
			out = append(out, b)
		}
	}
	return out, nil
}

// finishSweep rewrites dir's outputs in canonical order from its blocks: rows.csv and
// rows.jsonl sorted by point and replication, summary.csv, and the figures. Any set of shards
// holding the same blocks gives the same bytes.
func finishSweep(sw *sweep, dir, plots string) ([]pointSummary, []block, error) {
	blocks, err := readBlocks(dir, sw)
	if err != nil {
		return nil, nil, err
	}
	sum, err := writeSweep(sw, dir, blocks, plots)
	return sum, blocks, err
}

// writeSweep writes the outputs of blocks into dir and returns the points' summaries.
func writeSweep(sw *sweep, dir string, blocks []block, plots string) ([]pointSummary, error) {
	seen := map[[2]int]bool{}
	var uniq []block
	for _, b := range blocks {
		if k := [2]int{b.point, b.rep}; !seen[k] {
			seen[k] = true
			uniq = append(uniq, b)
		}
	}
	slices.SortFunc(uniq, func(a, b block) int {
		if a.point != b.point {
			return a.point - b.point
		}
		return a.rep - b.rep
	})
	var rows, jsonl bytes.Buffer
	rows.WriteString(rowsHeader(sw))
	for _, b := range uniq {
		writeBlock(&rows, sw, b)
		pt := sw.points[b.point]
		for _, r := range b.rows {
			obj := map[string]any{"point": b.point, "replication": b.rep, "tenant": r.tenant, "metric": r.metric}
			params := map[string]string{}
			for i, p := range sw.spec.Parameters {
				params[p.Path] = pt.labels[i]
			}
			obj["parameters"] = params
			if math.IsNaN(r.value) {
				obj["value"] = nil
			} else {
				obj["value"] = r.value
			}
			line, _ := json.Marshal(obj) // map keys marshal sorted
			jsonl.Write(append(line, '\n'))
		}
	}
	if err := writeMeta(dir, sw); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"rows.csv", rows.Bytes()}, {"rows.jsonl", jsonl.Bytes()}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return nil, err
		}
	}
	sum := summarize(sw, uniq)
	if err := writeFileAtomic(filepath.Join(dir, "summary.csv"), summaryCSV(sw, sum)); err != nil {
		return nil, err
	}
	if plots == "none" {
		return sum, nil
	}
	return sum, sweepPlots(sw, dir, sum, plots)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// pointSummary is a point's overall metrics over its replications.
type pointSummary struct {
	pt                     point
	n                      int
	throughput, p99, jain  sim.Estimate
	mean, admissionP99Mean sim.Estimate
}

func summarize(sw *sweep, blocks []block) []pointSummary {
	per := map[int]map[string][]float64{}
	for _, b := range blocks {
		m := per[b.point]
		if m == nil {
			m = map[string][]float64{}
			per[b.point] = m
		}
		for _, r := range b.rows {
			if r.tenant == "overall" {
				m[r.metric] = append(m[r.metric], r.value)
			}
		}
	}
	var out []pointSummary
	for _, pt := range sw.points {
		m, ok := per[pt.index]
		if !ok {
			continue
		}
		out = append(out, pointSummary{
			pt: pt, n: len(m["throughput"]),
			throughput: sim.EstimateOf(m["throughput"], 0.95), p99: sim.EstimateOf(m["total_p99_s"], 0.95),
			jain: sim.EstimateOf(m["jain"], 0.95), mean: sim.EstimateOf(m["total_mean_s"], 0.95),
			admissionP99Mean: sim.EstimateOf(m["admission_p99_s"], 0.95),
		})
	}
	return out
}

// maxSummaryPoints is how many points the printed summary lists; above it, only the Pareto
// front (summary.csv has them all).
const maxSummaryPoints = 40

// printSweepSummary prints each point's throughput, p99 total lag and Jain's index (means ±
// 95% intervals over the replications), marks the Pareto front and names its knee.
func printSweepSummary(out io.Writer, sw *sweep, sum []pointSummary) {
	if len(sum) == 0 {
		return
	}
	xs, ys := make([]float64, len(sum)), make([]float64, len(sum))
	for i, s := range sum {
		xs[i], ys[i] = s.throughput.Mean, s.p99.Mean
	}
	front := sim.ParetoFront(xs, ys)
	onFront := map[int]bool{}
	for _, i := range front {
		onFront[i] = true
	}
	knee, hasKnee := sim.Knee(xs, ys)
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	fmt.Fprintf(bw, "sweep %s: %d points × %d replications, seed %d; means ± 95%% intervals\n\n",
		sw.name, len(sum), sw.spec.Replications, sw.spec.Seed)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	h := []string{"point"}
	for _, p := range sw.spec.Parameters {
		h = append(h, p.Path)
	}
	h = append(h, "throughput (jobs/s)", "p99 total lag (s)", "Jain", "")
	fmt.Fprintln(tw, strings.Join(h, "\t"))
	ci := func(e sim.Estimate) string {
		if math.IsNaN(e.HalfWidth) {
			return fmt.Sprintf("%.4g", e.Mean)
		}
		return fmt.Sprintf("%.4g ± %.2g", e.Mean, e.HalfWidth)
	}
	shown := 0
	for i, s := range sum {
		if len(sum) > maxSummaryPoints && !onFront[i] {
			continue
		}
		mark := ""
		switch {
		case hasKnee && i == knee:
			mark = "front, knee"
		case onFront[i]:
			mark = "front"
		}
		rec := append([]string{strconv.Itoa(s.pt.index)}, s.pt.labels...)
		rec = append(rec, ci(s.throughput), ci(s.p99), ci(s.jain), mark)
		fmt.Fprintln(tw, strings.Join(rec, "\t"))
		shown++
	}
	tw.Flush()
	if shown < len(sum) {
		fmt.Fprintf(bw, "(%d points off the Pareto front not shown; summary.csv has them all)\n", len(sum)-shown)
	}
	if hasKnee {
		fmt.Fprintf(bw, "knee of the throughput / p99 front: point %d\n", sum[knee].pt.index)
	}
}

func summaryCSV(sw *sweep, sum []pointSummary) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	h := []string{"point"}
	for _, p := range sw.spec.Parameters {
		h = append(h, p.Path)
	}
	h = append(h, "replications")
	for _, m := range []string{"throughput", "total_mean_s", "total_p99_s", "admission_p99_s", "jain"} {
		h = append(h, m, m+"_ci95")
	}
	cw.Write(h)
	for _, s := range sum {
		rec := []string{strconv.Itoa(s.pt.index)}
		rec = append(rec, s.pt.labels...)
		rec = append(rec, strconv.Itoa(s.n))
		for _, e := range []sim.Estimate{s.throughput, s.mean, s.p99, s.admissionP99Mean, s.jain} {
			rec = append(rec, fmtFloat(e.Mean), fmtFloat(e.HalfWidth))
		}
		cw.Write(rec)
	}
	cw.Flush()
	return b.Bytes()
}

// sweepPlots draws the Pareto front (throughput vs p99, Jain as colour, points labelled by
// index, its knee ringed) and, for a two-parameter grid, a heatmap of p99 total latency.
func sweepPlots(sw *sweep, dir string, sum []pointSummary, format string) error {
	var pts []simplot.ParetoPoint
	xs, ys := make([]float64, len(sum)), make([]float64, len(sum))
	// The palette spans [0, 1]; a sweep's Jain indices often span a few hundredths (0.93 to
	// 0.99), which would all come out the same blue. Stretch them over the palette and say
	// what its ends stand for.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range sum {
		if j := s.jain.Mean; !math.IsNaN(j) {
			lo, hi = min(lo, j), max(hi, j)
		}
	}
	scale := func(j float64) float64 {
		if math.IsNaN(j) || !(hi > lo) {
			return j
		}
		return (j - lo) / (hi - lo)
	}
	for i, s := range sum {
		pts = append(pts, simplot.ParetoPoint{Label: strconv.Itoa(s.pt.index), X: s.throughput.Mean, Y: s.p99.Mean, Colour: scale(s.jain.Mean)})
		xs[i], ys[i] = s.throughput.Mean, s.p99.Mean
	}
	colour := "colour: Jain"
	if hi > lo {
		colour = fmt.Sprintf("colour: Jain %.3g (red) to %.3g (blue)", lo, hi)
	}
	knee, _ := sim.Knee(xs, ys) // -1 when the front has no knee
	p, err := simplot.ParetoKnee(sw.name+": throughput vs p99 latency ("+colour+"; labels: point)", "throughput (jobs/s)", "p99 total latency (s)", pts, knee)
	if err != nil {
		return err
	}
	if err := simplot.Save(p, filepath.Join(dir, "pareto."+format)); err != nil {
		return err
	}
	params := sw.spec.Parameters
	if len(params) != 2 || sw.spec.Design != "grid" {
		return nil
	}
	ax := sw.axes
	z := make([][]float64, ax[1].n())
	for i := range z {
		z[i] = make([]float64, ax[0].n())
		for j := range z[i] {
			z[i][j] = math.NaN()
		}
	}
	for _, s := range sum {
		k := s.pt.index
		z[k%ax[1].n()][k/ax[1].n()] = s.p99.Mean
	}
	labels := func(vs []any) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = fmt.Sprint(v)
		}
		return out
	}
	h, err := simplot.Heatmap(sw.name+": p99 total latency (s)", params[0].Path, params[1].Path, labels(ax[0].values), labels(ax[1].values), z)
	if err != nil {
		return err
	}
	return simplot.Save(h, filepath.Join(dir, "heatmap."+format))
}

const mergeExamples = `  simulate merge --out merged shard-0 shard-1 shard-2 shard-3
`

// cmdMerge combines the outputs of sweep shards into one directory, byte for byte what an
// unsharded sweep writes.
func cmdMerge(args []string, env environment) error {
	fs := newFlags(env, "merge", "merge [flags] DIR...", mergeExamples)
	out := fs.String("out", "", "output directory (required)")
	plots := fs.String("plots", "png", "figures to write: png, svg or none")
	partial := fs.Bool("allow-partial", false, "merge even if some point × replication runs are missing")
	lim := limitFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return usagef("merge needs --out and at least one shard directory")
	}
	var sw *sweep
	var blocks []block
	for _, dir := range fs.Args() {
		m, err := os.ReadFile(filepath.Join(dir, "sweep.json"))
		if err != nil {
			return usagef("%s is not a sweep output: %v", dir, err)
		}
		var mm meta
		if err := json.Unmarshal(m, &mm); err != nil {
			return usagef("%s/sweep.json: %v", dir, err)
		}
		if sw == nil {
			if sw, err = sweepFromMeta(mm, *lim); err != nil {
				return err
			}
		} else if mm.ID != sw.id {
			return usagef("%s holds sweep %s, the others %s: they cannot be merged", dir, mm.ID, sw.id)
		}
		bs, err := readBlocks(dir, sw)
		if err != nil {
			return err
		}
		blocks = append(blocks, bs...)
	}
	if missing := missingRuns(sw, blocks); len(missing) > 0 && !*partial {
		return fmt.Errorf("%d of %d runs are missing (first: %s); run the missing shards (or resume them) and merge again, or pass --allow-partial",
			len(missing), len(sw.points)*sw.spec.Replications, missing[0])
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(*out)
	if err != nil {
		return err
	}
	defer unlock()
	sum, err := writeSweep(sw, *out, blocks, *plots)
	if err != nil {
		return err
	}
	printSweepSummary(env.stdout, sw, sum)
	fmt.Fprintf(env.stdout, "merged %d runs of %d points into %s\n", len(blocks), len(sw.points), *out)
	return nil
}

// sweepFromMeta rebuilds a sweep from a shard's sweep.json, which holds its sweep and
// scenario files, and checks that it is the sweep the shard ran.
func sweepFromMeta(m meta, lim limits) (*sweep, error) {
	sw, err := expandSweep(m.Name, []byte(m.Sweep), m.Name+" (sweep.json)", []byte(m.Scenario), m.Name+" scenario (sweep.json)", lim, m.Seed, m.Replications)
	if err != nil {
		return nil, err
	}
	if sw.id != m.ID {
		return nil, usagef("sweep.json of %q is inconsistent: its content gives id %s, it records %s", m.Name, sw.id, m.ID)
	}
	return sw, nil
}

// missingRuns lists the point × replication runs that no block holds.
func missingRuns(sw *sweep, blocks []block) []string {
	have := map[[2]int]bool{}
	for _, b := range blocks {
		have[[2]int{b.point, b.rep}] = true
	}
	var out []string
	for _, pt := range sw.points {
		for r := range sw.spec.Replications {
			if !have[[2]int{pt.index, r}] {
				out = append(out, fmt.Sprintf("point %d replication %d", pt.index, r))
			}
		}
	}
	return out
}
