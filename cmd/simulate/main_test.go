package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

var update = flag.Bool("update", false, "rewrite testdata/default.golden")

type testEnv struct {
	out, err bytes.Buffer
	vars     map[string]string
}

func (e *testEnv) env() environment {
	return environment{
		stdout: &e.out, stderr: &e.err,
		getenv:     func(k string) string { return e.vars[k] },
		now:        func() time.Time { return time.Unix(0, 0) },
		isTerminal: func() bool { return false },
	}
}

// run runs the command in a fresh temporary directory (or dir, if not empty) and returns
// the exit code and outputs.
func run(t *testing.T, dir string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	t.Chdir(dir)
	e := &testEnv{vars: vars}
	code := Main(args, e.env())
	return code, e.out.String(), e.err.String()
}

// The default command's summary for the default seed is pinned.
func TestDefaultGolden(t *testing.T) {
	code, out, stderr := run(t, "", nil)
	require.Equal(t, 0, code, stderr)
	golden, _ := filepath.Abs(filepath.Join(testdataDir(t), "default.golden"))
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), out)
	for _, f := range []string{"tenants.csv", "windows.csv", "workers.csv", "result.json", "summary.txt", "plots/lag-over-time.png",
		"no-fairness-tenants.csv", "no-fairness-plots/throughput.png"} {
		assert.FileExists(t, filepath.Join("simulate-out", "noisy-neighbour-1", f))
	}
}

var wd, _ = os.Getwd()

func testdataDir(t *testing.T) string { return filepath.Join(wd, "testdata") }

func TestRunBuiltins(t *testing.T) {
	for _, b := range builtins("scenario") {
		t.Run(b.name, func(t *testing.T) {
			code, out, stderr := run(t, "", map[string]string{"CI": "1"}, "run", "--plots", "none", "--format", "csv", b.name)
			require.Equal(t, 0, code, stderr)
			assert.True(t, strings.HasPrefix(out, "scenario,seed,replication,tenant,"), out)
		})
	}
}

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := run(t, dir, nil, "run", "--replications", "3", "--seed", "9", "--out", "o", "--plots", "svg", "throttle-vs-burst")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "means ± 95% intervals over 3 replications")
	assert.FileExists(t, filepath.Join(dir, "o", "plots", "fairness.svg"))
	code, out, _ = run(t, dir, nil, "run", "--format", "json", "--plots", "none", "--replications", "2", "--out", "o", "throttle-vs-burst")
	require.Equal(t, 0, code)
	var reps []struct {
		Replication int `json:"replication"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &reps), "--format json prints one JSON document")
	require.Len(t, reps, 2)
	assert.Equal(t, 1, reps[1].Replication)

	// --warmup overrides the scenario's warmup only when given.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "warm.yaml"), []byte("duration: 20s\nwarmup: 10s\ntenants: [{arrivals: {rate: 20}}]\nworkers: {count: 4}\n"), 0o644))
	measured := func(args ...string) int {
		t.Helper()
		code, out, stderr := run(t, dir, nil, append([]string{"run", "--format", "json", "--plots", "none", "--out", "w"}, append(args, "warm.yaml")...)...)
		require.Equal(t, 0, code, stderr)
		var rs []struct {
			Overall struct {
				Measured int `json:"measured"`
			} `json:"overall"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rs))
		return rs[0].Overall.Measured
	}
	def, ten, zero := measured(), measured("--warmup", "10s"), measured("--warmup", "0s")
	assert.Equal(t, ten, def, "without --warmup the scenario's 10s warmup applies")
	assert.InDelta(t, 200, def, 60, "about 20 jobs/s over the last 10s")
	assert.Less(t, def, zero, "--warmup 0s counts the jobs of the first 10s too")
}

func TestBadScenarios(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	ok := "name: x\nduration: 60s\ntenants:\n  - name: a\n    arrivals: {rate: 2}\n    service: {kind: exponential, mean: 1s}\nworkers: {count: 2}\n"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"range.yaml", strings.Replace(ok, "rate: 2", "rate: -2", 1), "range.yaml:5:22: tenants[0].arrivals.rate: arrival Rate must be finite and > 0, got -2"},
		{"duration.yaml", strings.Replace(ok, "mean: 1s", "mean: banana", 1), `duration.yaml:6:40: tenants[0].service.mean: time: invalid duration "banana"`},
		{"unknown.yaml", strings.Replace(ok, "rate: 2", "rate: 2, burstz: 3", 1), `unknown.yaml:5:25: tenants[0].arrivals.burstz: unknown field "burstz"`},
		{"bomb.yaml", laughs(9), "bomb.yaml: YAML aliases expand to more than 1000000 nodes"},
		{"list.yaml", strings.Replace(ok, "count: 2", "count: [2]", 1), "list.yaml:7:18: workers.count: want an integer, got a list"},
		{"mean.yaml", strings.Replace(ok, "mean: 1s", "mean: 3", 1), "mean.yaml:6:40: tenants[0].service.mean: want a duration (e.g. 250ms, 1.5s), got an integer"},
		{"type.yaml", strings.Replace(ok, "count: 2", "count: two", 1), "type.yaml:7:18: workers.count: want an integer, got a string"},
		{"empty.yaml", "name: x\ntenants: []\n", "empty.yaml:2:10: tenants: must not be empty"},
		{"jobs.yaml", strings.Replace(strings.Replace(ok, "duration: 60s", "duration: 20000h", 1), "rate: 2", "rate: 5000", 1),
			"jobs.yaml:2:11: duration: the scenario generates about 3.6e+11 jobs per run, over the limit of 5e+07; raise it with --max-jobs"},
		{"tenants.yaml", strings.Replace(ok, "- name: a", "- name: a\n    count: 300000", 1),
			"tenants.yaml:4:3: tenants: 300000 tenants exceed the limit of 200000; raise it with --max-tenants"},
		{"dup.yaml", ok + "duration: 10s\n", `dup.yaml:8:1: mapping key "duration" already defined at line 2, column 1; keep one`},
		{"docs.yaml", ok + "---\nname: y\n", `docs.yaml:9:1: a second YAML document; a file holds one scenario`},
		{"scalar.yaml", "just words\n", "scalar.yaml:1:1: the file must be a mapping of fields (key: value lines), got a string"},
		{"list-top.yaml", "- name: x\n", "list-top.yaml:1:1: the file must be a mapping of fields (key: value lines), got a list"},
		{"binary.yaml", "\x00\x01\x02\xff", "binary.yaml:1:1: the file must be a mapping of fields"},
		{"want-list.yaml", "tenants: 5\n", "want-list.yaml:1:10: tenants: want a list, got an integer"},
		{"throttle.yaml", ok + "admission: {throttle: {rate: 5, burst: 0}}\n", "throttle.yaml:8:40: admission.throttle.burst: tokenbucket: Burst must be >= 1, got 0"},
		{"trace.yaml", "tenants: [{arrivals: {kind: trace, times: [2s, 1s]}}]\n", "trace.yaml:1:48: tenants[0].arrivals.times[1]: trace Times must be >= 0 and non-decreasing"},
		{"series.yaml", strings.Replace(ok, "- name: a", "- name: a\n    count: 50000", 1) + "metrics: {window: 100ms, series_tenants: 50000}\n",
			"series.yaml:9:19: metrics.window: 1200 windows × 50000 series tenants = 6e+07 series entries, over the limit of 5000000; lengthen metrics.window, lower metrics.series_tenants, or raise it with --max-series"},
		{"unknown-map.json", `{"duration": "10s", "workerz": {"count": 1}}`, `unknown-map.json:1:21: workerz: unknown field "workerz"`},
		{"json.json", `{"name": "j", "duration": "60s", "tenants": [{"name": "a", "arrivals": {"rate": 0}, "service": {"kind": "exponential", "mean": "1s"}}], "workers": {"count": 1}}`,
			"json.json:1:81: tenants[0].arrivals.rate: arrival Rate must be finite and > 0, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, dir, nil, "run", "--plots", "none", write(tc.name, tc.text))
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, tc.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "errors fit on one line: %q", stderr)
		})
	}
	code, _, stderr := run(t, dir, nil, "run", "no-such-scenario")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `scenario "no-such-scenario" is neither a file nor a built-in`)
	code, _, _ = run(t, dir, nil, "frobnicate")
	assert.Equal(t, 2, code)
	code, _, stderr = run(t, dir, nil, "run", "--replications", "0")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--replications must be in [1, 10000], got 0")
	code, _, _ = run(t, dir, nil, "run", "--jobs-per-second", "3")
	assert.Equal(t, 2, code, "unknown flag")
	// A sufficiently raised limit lets the big file through validation (it is not run here).
	_, _, stderr = run(t, dir, nil, "run", "--max-tenants", "400000", "--plots", "none", "--max-jobs", "1", write("t2.yaml", strings.Replace(ok, "- name: a", "- name: a\n    count: 300000", 1)))
	assert.Contains(t, stderr, "raise it with --max-jobs", "the tenant limit is raised; the job limit applies next")
}

func TestHelpAndInfo(t *testing.T) {
	for _, cmd := range []string{"run", "sweep", "merge", "validate", "scenarios", "version"} {
		code, out, _ := run(t, "", nil, cmd, "-help")
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, out, "Usage: simulate "+cmd, cmd)
	}
	_, out, _ := run(t, "", nil, "run", "-help")
	assert.Contains(t, out, "Examples:")
	code, out, _ := run(t, "", nil, "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Exit codes")
	code, out, _ = run(t, "", nil, "version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "simulate ")
	code, out, _ = run(t, "", nil, "scenarios")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "noisy-neighbour")
	assert.Contains(t, out, "target-lag")
}

// A sweep split into shards and merged is byte-for-byte the unsharded sweep; so is a sweep
// resumed in a directory that holds part of it.
func TestSweepShardsMergeAndResume(t *testing.T) {
	dir := t.TempDir()
	// Figures are drawn only for the unsharded and the merged sweep (slow under the race
	// detector); the other outputs are compared everywhere.
	args := func(extra ...string) []string {
		return append([]string{"sweep", "--replications", "2", "--quiet", "--plots", "none"}, append(extra, "strategies")...)
	}
	code, _, stderr := run(t, dir, nil, args("--out", "full", "--parallel", "1", "--plots", "png")...)
	require.Equal(t, 0, code, stderr)
	for i := range 3 {
		code, _, stderr = run(t, dir, map[string]string{"JOB_COMPLETION_INDEX": "x"}, args("--out", "shard-"+string(rune('0'+i)), "--shard", string(rune('0'+i))+"/3", "--parallel", "2")...)
		require.Equal(t, 0, code, stderr)
	}
	code, _, stderr = run(t, dir, nil, "merge", "--out", "merged", "shard-0", "shard-1", "shard-2")
	require.Equal(t, 0, code, stderr)
	// Resume: shard-0's directory, run whole.
	code, _, stderr = run(t, dir, nil, args("--out", "shard-0")...)
	require.Equal(t, 0, code, stderr)
	for _, f := range []string{"rows.csv", "rows.jsonl", "summary.csv", "sweep.json", "pareto.png"} {
		full, err := os.ReadFile(filepath.Join(dir, "full", f))
		require.NoError(t, err)
		for _, other := range []string{"merged", "shard-0"} {
			if other == "shard-0" && f == "pareto.png" {
				continue
			}
			got, err := os.ReadFile(filepath.Join(dir, other, f))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(full, got), "%s/%s differs from the unsharded sweep", other, f)
		}
	}
	// Shard index from the environment (Kubernetes Indexed Jobs).
	code, _, stderr = run(t, dir, map[string]string{"JOB_COMPLETION_INDEX": "1"}, args("--out", "env-1", "--shard", "env/3")...)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = run(t, dir, nil, args("--shard", "env/3")...)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "JOB_COMPLETION_INDEX")
	// A merge with a shard missing fails and says what is missing, unless asked for.
	code, _, stderr = run(t, dir, nil, "merge", "--plots", "none", "--out", "partial", "shard-1", "shard-2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "runs are missing (first: point 0 replication 0)")
	code, _, stderr = run(t, dir, nil, "merge", "--allow-partial", "--plots", "none", "--out", "partial", "shard-1", "shard-2")
	assert.Equal(t, 0, code, stderr)
	// Merging another sweep's output is refused.
	code, _, stderr = run(t, dir, nil, "sweep", "--replications", "1", "--seed", "5", "--quiet", "--plots", "none", "--out", "other", "strategies")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = run(t, dir, nil, "merge", "--out", "bad", "full", "other")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "cannot be merged")
}

func TestSweepDryRunAndLHS(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := run(t, dir, nil, "sweep", "--dry-run", "target-lag")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "grid design, 15 points × 3 replications")
	spec := "scenario: throttle-vs-burst\ndesign: lhs\nsamples: 6\nparameters:\n" +
		"  - {path: admission.throttle.rate, values: [5, 10, 20]}\n" +
		"  - {path: admission.throttle.burst, values: [1, 10, 50]}\n" +
		"  - {path: workers.count, values: [2, 4, 8]}\n" +
		"  - {path: \"tenants[0].arrivals.rate\", values: [2, 5]}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lhs.yaml"), []byte(spec), 0o644))
	code, out, stderr = run(t, dir, nil, "sweep", "--dry-run", "lhs.yaml")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "lhs design, 6 points × 1 replications")
	assert.Equal(t, 7, strings.Count(out, "\n"))
	bad := strings.Replace(spec, "workers.count", "workers.cuont", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644))
	code, _, stderr = run(t, dir, nil, "sweep", "--dry-run", "bad.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `workers.cuont: unknown field "cuont"`)
}

func TestValidateCommand(t *testing.T) {
	code, out, stderr := run(t, "", nil, "validate", "--jobs", "5000", "--replications", "4", "--quiet")
	require.Equal(t, 0, code, stderr+out)
	assert.Contains(t, out, "13 checks, 4 replications of about 5000 jobs each: 0 failed")
}

func TestOutputsStayInside(t *testing.T) {
	// A scenario's name makes the default directory's name, and cannot move it.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "evil.yaml"), []byte("name: ../../../evil\nduration: 5s\n"), 0o644))
	code, out, stderr := run(t, dir, nil, "run", "--plots", "none", "evil.yaml")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "wrote simulate-out/evil-1\n")
	assert.FileExists(t, filepath.Join(dir, "simulate-out", "evil-1", "tenants.csv"))
	// An output directory that cannot be made is a runtime failure: exit 1, one line.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	code, _, stderr = run(t, dir, nil, "run", "--plots", "none", "--out", "file/sub", "evil.yaml")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "simulate: creating file/sub:")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)

	assert.Equal(t, "x", safeName("../../x"))
	assert.Equal(t, "scenario", safeName("../.."))
	_, err := inside("out", "../escape")
	assert.Error(t, err)
	p, err := inside("out", "plots")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("out", "plots"), p)
}

// FuzzParseScenario feeds arbitrary bytes to the scenario parser: it never panics, every
// refusal is a usage error on one line, and memory stays bounded (aliases cannot blow a small
// file up into gigabytes).
func FuzzParseScenario(f *testing.F) {
	for _, b := range builtins("scenario") {
		f.Add(b.data)
	}
	f.Add([]byte("a: &a [*a, *a]\nb: [*a, *a, *a]\n"))
	f.Add([]byte(`{"duration": "1s"}`))
	f.Add([]byte(laughs(7)))
	f.Add([]byte("tenants:\n  - &t {name: a, arrivals: {kind: trace, times: &ts [0s, 1s, 2s]}}\n  - *t\n"))
	f.Add([]byte("duration: 10s\n---\nduration: 20s\n"))
	f.Add([]byte("\x00\x01\xff"))
	f.Add([]byte("tenants:\n  " + strings.Repeat("- ", 20_000) + "x\n")) // 2 GB to parse before maxNesting
	f.Add([]byte("a: " + strings.Repeat("[a: ", 8_000) + "1" + strings.Repeat("]", 8_000)))
	lim := limits{maxJobs: 1e6, maxTenants: 1000, maxPoints: 100, maxSeries: 1e6, maxFileMiB: 1}
	const maxAlloc = 256 << 20 // bytes allocated while parsing one input of at most 64 KiB
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sc, err := parseScenario(data, "fuzz", lim)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxAlloc {
			t.Fatalf("parsing %d bytes allocated %d MiB", len(data), n>>20)
		}
		if err != nil {
			var ue *usageError
			if !errorsAs(err, &ue) {
				t.Fatalf("not a usage error: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on several lines: %q", err)
			}
			return
		}
		if sc.ExpectedJobs() > lim.maxJobs {
			t.Fatalf("accepted a scenario over the job limit")
		}
		if err := sc.Validate(); err != nil {
			t.Fatalf("accepted an invalid scenario: %v", err)
		}
	})
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// Fields a file leaves out take documented defaults; explicit values, even invalid zeros,
// are kept and rejected.
func TestScenarioDefaults(t *testing.T) {
	sc, err := parseScenario([]byte(""), "dir/empty.yaml", defaultLimits)
	require.NoError(t, err)
	assert.Equal(t, "empty", sc.Name)
	assert.Equal(t, 60*time.Second, sc.Duration)
	require.Len(t, sc.Tenants, 1)
	assert.Equal(t, sim.Tenant{Name: "tenant-0", Arrivals: sim.Arrivals{Rate: 1}, Service: sim.Exp(100 * time.Millisecond)}, sc.Tenants[0])
	assert.Equal(t, 1, sc.Workers.Count)

	sc, err = parseScenario([]byte(`
tenants:
  - arrivals: {kind: diurnal, amplitude: 0.5, bursts: [{start: 5s}], onoff: {on: 1s}}
    service: {kind: pareto, mean: 1s}
    limit: {rate: 2.5}
  - name: b
    service: {kind: lognormal}
admission:
  throttle: {rate: 20, burst: 5}
  adaptive: {max: 8}
`), "partial.yaml", defaultLimits)
	require.NoError(t, err)
	a := sc.Tenants[0].Arrivals
	assert.Equal(t, 1.0, a.Rate)
	assert.Equal(t, 60*time.Second, a.Period, "a diurnal period defaults to the run")
	assert.Equal(t, sim.Burst{Start: 5 * time.Second, For: 10 * time.Second, Factor: 10}, a.Bursts[0])
	assert.Equal(t, sim.OnOff{On: time.Second, Off: 50 * time.Second, Factor: 10}, *a.OnOff)
	assert.Equal(t, sim.Dist{Kind: "pareto", Mean: time.Second, Alpha: 2}, sc.Tenants[0].Service)
	assert.Equal(t, tokenbucket.Limit{Rate: 2.5, Per: time.Second, Burst: 3}, *sc.Tenants[0].Limit)
	assert.Equal(t, sim.Dist{Kind: "lognormal", Mean: 100 * time.Millisecond, Sigma: 1}, sc.Tenants[1].Service)
	assert.Equal(t, tokenbucket.Limit{Rate: 20, Per: time.Second, Burst: 5}, *sc.Admission.Throttle)
	assert.Equal(t, aimd.Config{Initial: 1, Max: 8, TargetLag: time.Second}, *sc.Admission.Adaptive)

	for text, want := range map[string]string{
		"duration: 0s\n":                        "duration: must be in",
		"workers: {count: 0}\n":                 "workers.count: must be in [1,",
		"tenants: [{arrivals: {rate: 0}}]\n":    "tenants[0].arrivals.rate: arrival Rate must be finite and > 0, got 0",
		"tenants: [{service: {mean: 0s}}]\n":    "tenants[0].service.mean: exponential Mean must be > 0, got 0s",
		"admission: {throttle: {per: 0s}}\n":    "admission.throttle.per: tokenbucket: Per must be > 0, got 0s",
		"admission: {adaptive: {initial: 0}}\n": "admission.adaptive.initial: aimd: Initial",
	} {
		_, err := parseScenario([]byte(text), "zero.yaml", defaultLimits)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}

// laughs is a "billion laughs" document: levels of lists of ten aliases of the level below,
// 10^levels strings when expanded, in a few hundred bytes.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	fmt.Fprintf(&b, "name: *l%d\n", levels-1)
	return b.String()
}
