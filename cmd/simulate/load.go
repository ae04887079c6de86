package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dispatchlab/dispatchlab/sim"
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// builtin is an embedded scenario or sweep.
type builtin struct {
	name, summary string
	data          []byte
}

// builtins returns the embedded scenarios (kind "scenario") or sweeps (kind "sweep"), sorted
// by name. Each file's first comment line is its one-line summary.
func builtins(kind string) []builtin {
	entries, _ := fs.ReadDir(builtinFS, "scenarios")
	var out []builtin
	for _, e := range entries {
		data, _ := builtinFS.ReadFile("scenarios/" + e.Name())
		name := strings.TrimSuffix(e.Name(), ".yaml")
		isSweep := strings.HasSuffix(name, ".sweep")
		if isSweep != (kind == "sweep") {
			continue
		}
		name = strings.TrimSuffix(name, ".sweep")
		first, _, _ := bytes.Cut(data, []byte("\n"))
		out = append(out, builtin{name: name, summary: strings.TrimSpace(strings.TrimPrefix(string(first), "#")), data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func findBuiltin(kind, name string) (builtin, bool) {
	for _, b := range builtins(kind) {
		if b.name == name {
			return b, true
		}
	}
	return builtin{}, false
}

// Limits a scenario file must respect; flags raise them. Each stands for memory: a run keeps
// per-tenant state (about 5 KB a tenant), per-window series (about 60 bytes, and a CSV row, per
// window and series tenant), and the YAML parser takes about 120 bytes per byte of file.
// Jobs bound the run time more than memory (latencies are kept in sketches).
type limits struct {
	maxJobs    float64 // expected jobs per run
	maxTenants int
	maxPoints  int // sweep points × replications
	maxSeries  int // windows × series tenants × replications kept at once
	maxFileMiB int // scenario and sweep file size
}

var defaultLimits = limits{maxJobs: 50e6, maxTenants: 200_000, maxPoints: 10_000, maxSeries: 5_000_000, maxFileMiB: 8}

// usageError is a bad invocation or a bad scenario: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef formats a usage error. Errors print on one line: a newline that a file smuggles
// into a message (a quoted key "a\nb") is written as \n.
func usagef(format string, args ...any) error {
	return &usageError{strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", `\n`)}
}

// loadScenario reads a scenario from a built-in name or a YAML/JSON file and validates it,
// with errors that name the file, line, column and field.
func loadScenario(ref string, lim limits) (*sim.Scenario, string, error) {
	data, source, err := readRef("scenario", ref, lim)
	if err != nil {
		return nil, "", err
	}
	sc, err := parseScenario(data, source, lim)
	return sc, source, err
}

// readRef returns the bytes of a built-in (by name) or of a file.
func readRef(kind, ref string, lim limits) ([]byte, string, error) {
	if b, ok := findBuiltin(kind, ref); ok {
		return b.data, "builtin:" + b.name, nil
	}
	if st, err := os.Stat(ref); err == nil && st.Mode().IsRegular() && st.Size() > int64(lim.maxFileMiB)<<20 {
		return nil, "", usagef("%s: the file is %.1f MiB, over the limit of %d MiB (parsing takes about 120 times its size in memory); raise it with --max-file-mib",
			ref, float64(st.Size())/(1<<20), lim.maxFileMiB)
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		var names []string
		for _, b := range builtins(kind) {
			names = append(names, b.name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", usagef("%s %q is neither a file nor a built-in (built-ins: %s)", kind, ref, strings.Join(names, ", "))
		}
		return nil, "", usagef("reading %s: %v", ref, err)
	}
	return data, ref, nil
}

// parseScenario decodes and validates one scenario document.
func parseScenario(data []byte, source string, lim limits) (*sim.Scenario, error) {
	if err := checkTree(source, data); err != nil {
		return nil, err
	}
	var sc sim.Scenario
	if err := unmarshal(data, &sc, true); err != nil {
		return nil, usagef("%s", positioned(source, data, err))
	}
	applyDefaults(&sc, source, data)
	if err := checkScenario(&sc, source, data, lim); err != nil {
		return nil, err
	}
	return &sc, nil
}

// checkScenario validates sc and the resource bounds, pointing at the offending line.
func checkScenario(sc *sim.Scenario, source string, data []byte, lim limits) error {
	if err := sc.Validate(); err != nil {
		var fe *sim.FieldError
		if errors.As(err, &fe) {
			msg := strings.TrimPrefix(fe.Err.Error(), "sim: ")
			p := refinePath(fe.Path, msg)
			return usagef("%s: %s: %s", at(source, data, p), p, msg)
		}
		return usagef("%s: %v", source, err)
	}
	tenants := 0
	for _, t := range sc.Tenants {
		tenants += max(t.Count, 1)
	}
	if tenants > lim.maxTenants {
		return usagef("%s: %s: %d tenants exceed the limit of %d; raise it with --max-tenants", at(source, data, "tenants"), "tenants", tenants, lim.maxTenants)
	}
	if n := sc.ExpectedJobs(); n > lim.maxJobs {
		return usagef("%s: duration: the scenario generates about %.3g jobs per run, over the limit of %.3g; raise it with --max-jobs", at(source, data, "duration"), n, lim.maxJobs)
	}
	if w, s := windows(sc), seriesTenants(sc); w*float64(s) > float64(lim.maxSeries) {
		return usagef("%s: metrics.window: %v windows × %d series tenants = %.3g series entries, over the limit of %d; lengthen metrics.window, lower metrics.series_tenants, or raise it with --max-series",
			at(source, data, "metrics.window"), w, s, w*float64(s), lim.maxSeries)
	}
	return nil
}

// windows is how many metric windows a run of sc records at most (as sim counts them).
func windows(sc *sim.Scenario) float64 {
	drain := sc.Drain
	if drain == 0 {
		drain = sc.Duration
	}
	w := sc.Metrics.Window
	if w <= 0 {
		w = max(sc.Duration/100, time.Millisecond)
	}
	return math.Ceil(float64(sc.Duration+drain) / float64(w))
}
