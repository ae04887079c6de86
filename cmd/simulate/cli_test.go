package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The default command takes run's main flags; anything else is a usage error.
func TestDefaultFlags(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := run(t, dir, nil, "--seed", "2", "--out", "nn", "--plots", "none", "--quiet")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Without fairness gates")
	assert.Contains(t, out, "wrote nn\n")
	assert.FileExists(t, filepath.Join(dir, "nn", "no-fairness-tenants.csv"))
	assert.NoDirExists(t, filepath.Join(dir, "nn", "plots"))
	code, _, stderr = run(t, dir, nil, "--seed", "2", "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "extra"`)
	code, _, stderr = run(t, dir, nil, "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "see simulate -help")
	code, out, _ = run(t, dir, nil, "--version")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^simulate .*built-in scenarios [0-9a-f]{12}, go`, out)
}

// Every command's -help shows its flags and examples.
func TestHelpExamples(t *testing.T) {
	for _, cmd := range [][]string{{"run"}, {"sweep"}, {"merge"}, {"validate"}, {"scenarios"}, {"version"}, {"-seed", "1", "-help"}} {
		args := cmd
		if len(cmd) == 1 {
			args = append(cmd, "-help")
		}
		code, out, _ := run(t, "", nil, args...)
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, out, "Examples:\n  simulate", cmd)
	}
	_, out, _ := run(t, "", nil, "--help")
	assert.Contains(t, out, "Examples:\n  simulate ")
}

// The progress bar appears on a terminal for work lasting more than a second, and never for
// shorter work, with CI set, with --quiet, or when stderr is not a terminal.
func TestProgress(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(0, 0)
	slow := func() time.Time { // every reading is two seconds after the last
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(2 * time.Second)
		return clock
	}
	fast := func() time.Time { return time.Unix(0, 0) } // the work takes no time at all
	for _, tc := range []struct {
		name     string
		terminal bool
		vars     map[string]string
		args     []string
		want     bool
		clock    func() time.Time
	}{
		{"terminal", true, nil, nil, true, slow},
		{"CI", true, map[string]string{"CI": "true"}, nil, false, slow},
		{"quiet", true, nil, []string{"--quiet"}, false, slow},
		{"not a terminal", false, nil, nil, false, slow},
		{"under a second", true, nil, nil, false, fast},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			require.NoError(t, os.WriteFile("tiny.yaml", []byte("duration: 10s\n"), 0o644))
			e := &testEnv{vars: tc.vars}
			env := e.env()
			env.now, env.isTerminal = tc.clock, func() bool { return tc.terminal }
			args := append([]string{"run", "--replications", "3", "--parallel", "1", "--plots", "none"}, append(tc.args, "tiny.yaml")...)
			require.Equal(t, 0, Main(args, env), e.err.String())
			if tc.want {
				assert.Contains(t, e.err.String(), "tiny")
				assert.Contains(t, e.err.String(), "/3)")
			} else {
				assert.Empty(t, e.err.String())
			}
		})
	}
}

// Resource bounds refuse, before any work, files and sweeps that would exhaust memory, and
// say which limit and which flag raises it.
func TestLimits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
		return name
	}
	code, _, stderr := run(t, dir, nil, "run", "--max-file-mib", "0", write("s.yaml", "duration: 5s\n"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "s.yaml: the file is 0.0 MiB, over the limit of 0 MiB (parsing takes about 120 times its size in memory); raise it with --max-file-mib")
	code, _, stderr = run(t, dir, nil, "run", "--max-series", "1000000", "--replications", "10000", "noisy-neighbour")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--replications: 10000 replications × 480 series entries each = 4.8e+06, over the limit of 1000000; run fewer replications, lengthen metrics.window, or raise it with --max-series")
	// A grid of 200^4 points or a hypercube of 2e9 samples is refused without expanding it.
	vals := strings.Repeat("1, ", 199) + "1"
	grid := "scenario: noisy-neighbour\ndesign: grid\nparameters:\n"
	for _, p := range []string{"workers.count", "admission.concurrency", "admission.adaptive.max", "admission.throttle.burst"} {
		grid += "  - {path: " + p + ", values: [" + vals + "]}\n"
	}
	code, _, stderr = run(t, dir, nil, "sweep", "--dry-run", write("grid.yaml", grid))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "grid.yaml: the sweep has 1600000000 points × 1 replications = 1600000000 runs, over the limit of 10000")
	assert.Contains(t, stderr, "raise it with --max-points")
	code, _, stderr = run(t, dir, nil, "sweep", "--dry-run", write("lhs.yaml", "scenario: noisy-neighbour\ndesign: lhs\nsamples: 2000000000\nparameters:\n  - {path: workers.count, values: [1, 2]}\n"))
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "2000000000 runs, over the limit of 10000")
}

// Ranges: a grid takes steps from min to max (linear or log), a Latin hypercube samples
// them; mistakes point at the parameter.
func TestSweepRanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
		return name
	}
	code, out, stderr := run(t, dir, nil, "sweep", "--dry-run", write("g.yaml", "scenario: throttle-vs-burst\nparameters:\n"+
		"  - {path: admission.throttle.rate, range: [5, 20], steps: 4}\n"+
		"  - {path: admission.throttle.burst, range: [1, 100], steps: 3, scale: log}\n"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "grid design, 12 points")
	assert.Contains(t, out, "point 4: admission.throttle.rate=10 admission.throttle.burst=10\n")
	assert.Contains(t, out, "point 11: admission.throttle.rate=20 admission.throttle.burst=100\n")

	code, out, stderr = run(t, dir, nil, "sweep", "--dry-run", write("l.yaml", "scenario: throttle-vs-burst\ndesign: lhs\nsamples: 8\nparameters:\n"+
		"  - {path: admission.throttle.rate, range: [5.0, 20]}\n"+
		"  - {path: admission.tick_interval, range: [10ms, 200ms]}\n"))
	require.Equal(t, 0, code, stderr)
	// Each eighth of each range holds exactly one point.
	var rates, ticks []float64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		// point 3: admission.throttle.rate=12.5 admission.tick_interval=57.85ms
		f := strings.Fields(strings.ReplaceAll(line, "=", " "))
		require.Len(t, f, 6, line)
		r, err := strconv.ParseFloat(f[3], 64)
		require.NoError(t, err, line)
		d, err := time.ParseDuration(f[5])
		require.NoError(t, err, line)
		rates, ticks = append(rates, r), append(ticks, float64(d))
	}
	require.Len(t, rates, 8)
	for _, xs := range []struct {
		v      []float64
		lo, hi float64
	}{{rates, 5, 20}, {ticks, 10e6, 200e6}} {
		seen := map[int]int{}
		for _, x := range xs.v {
			require.True(t, x >= xs.lo && x <= xs.hi, x)
			seen[min(int((x-xs.lo)/(xs.hi-xs.lo)*8), 7)]++
		}
		assert.Len(t, seen, 8, "one point per stratum: %v", xs.v)
	}

	for _, tc := range []struct{ text, want string }{
		{"  - {path: workers.count, range: [1, 3], steps: 5}\n", "3:49: parameters[0].steps: 5 steps over [1, 3] repeat the value 2; use fewer steps"},
		{"  - {path: workers.count, range: [1, 3]}\n", "3:5: parameters[0].steps: a range in a grid needs steps in [2, 10000]"},
		{"  - {path: workers.count, range: [0, 3], scale: log, steps: 3}\n", "3:49: parameters[0].scale: log needs a range above 0, got min 0"},
		{"  - {path: workers.count, range: [1s, 3], steps: 3}\n", "3:34: parameters[0].range: mixes a duration and a number"},
		{"  - {path: workers.count, values: [2, 0]}\n", "3:39: point 1 (workers.count=0) is not a valid scenario: workers.count: must be in [1, 1000000], got 0"},
		{"  - {path: workers.countt, values: [2]}\n", `3:37: point 0 (workers.countt=2) is not a valid scenario: workers.countt: unknown field "countt"`},
		{"  - {path: \"tenants[3].arrivals.rate\", values: [2]}\n", "3:12: parameters[0].path: tenants[3].arrivals.rate: tenants has no element [3]"},
		{"  - path: workers.count\n", "3:5: parameters[0].values: must not be empty (or give a range: [min, max])"},
	} {
		code, _, stderr := run(t, dir, nil, "sweep", "--dry-run", write("bad.yaml", "scenario: throttle-vs-burst\nparameters:\n"+tc.text))
		assert.Equal(t, 2, code, tc.text)
		assert.Contains(t, stderr, "bad.yaml:"+tc.want, tc.text)
	}
}

// Results do not depend on --parallel; a sweep interrupted mid-line or mid-block resumes to
// the same bytes; every point sees the same arrivals (common random numbers).
func TestSweepParallelResumeCRN(t *testing.T) {
	dir := t.TempDir()
	args := func(extra ...string) []string {
		return append([]string{"sweep", "--replications", "2", "--quiet", "--plots", "none"}, append(extra, "strategies")...)
	}
	code, out, stderr := run(t, dir, nil, args("--out", "p1", "--parallel", "1")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "sweep strategies: 5 points × 2 replications, seed 1; means ± 95% intervals")
	assert.Contains(t, out, "front")
	code, _, stderr = run(t, dir, nil, args("--out", "p3", "--parallel", "3")...)
	require.Equal(t, 0, code, stderr)
	files := []string{"rows.csv", "rows.jsonl", "summary.csv", "sweep.json"}
	same := func(a, b string) {
		t.Helper()
		for _, f := range files {
			x, err := os.ReadFile(filepath.Join(dir, a, f))
			require.NoError(t, err)
			y, err := os.ReadFile(filepath.Join(dir, b, f))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(x, y), "%s/%s differs from %s/%s", b, f, a, f)
		}
	}
	same("p1", "p3")

	// Interrupt: keep the first 40% of rows.csv, cutting a line in half.
	full, err := os.ReadFile(filepath.Join(dir, "p1", "rows.csv"))
	require.NoError(t, err)
	for i, cut := range []int{len(full) * 2 / 5, len(full) / 7} {
		d := filepath.Join(dir, "cut"+string(rune('0'+i)))
		require.NoError(t, os.MkdirAll(d, 0o755))
		meta, err := os.ReadFile(filepath.Join(dir, "p1", "sweep.json"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d, "sweep.json"), meta, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "rows.csv"), append(full[:cut:cut], `0,1,"unterminated`...), 0o644))
		code, _, stderr = run(t, dir, nil, args("--out", filepath.Base(d))...)
		require.Equal(t, 0, code, stderr)
		same("p1", filepath.Base(d))
	}

	// Common random numbers: replication r of every point has the same arrivals per tenant.
	recs, err := csv.NewReader(bytes.NewReader(full)).ReadAll()
	require.NoError(t, err)
	arrived := map[string]map[string]bool{} // replication/tenant -> the counts seen
	points := map[string]bool{}
	for _, r := range recs[1:] {
		if r[4] == "arrived" {
			k := r[1] + "/" + r[3]
			if arrived[k] == nil {
				arrived[k] = map[string]bool{}
			}
			arrived[k][r[5]] = true
			points[r[0]] = true
		}
	}
	require.Len(t, points, 5)
	require.Len(t, arrived, 2*5, "2 replications × (4 tenants + overall)")
	for k, counts := range arrived {
		assert.Len(t, counts, 1, "%s: arrivals differ between points: %v", k, counts)
	}
	// The two replications differ.
	assert.NotEqual(t, arrived["0/overall"], arrived["1/overall"])

	// Two sweeps never write one directory at once.
	unlock, err := lockDir(filepath.Join(dir, "p1"))
	require.NoError(t, err)
	code, _, stderr = run(t, dir, nil, args("--out", "p1")...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "another sweep is writing to p1; wait for it to finish (or stop it), then run again to resume")
	unlock()
	code, _, stderr = run(t, dir, nil, args("--out", "p1")...)
	assert.Equal(t, 0, code, stderr)

	// A custom variable names the shard index (AWS Batch, SLURM).
	code, out, stderr = run(t, dir, map[string]string{"SLURM_ARRAY_TASK_ID": "2"}, "sweep", "--dry-run", "--shard", "env/3", "--shard-env", "SLURM_ARRAY_TASK_ID", "strategies")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 2, strings.Count(out, "\n"), "one point of five in shard 2/3")
	assert.Contains(t, out, "point 2: ")
}
