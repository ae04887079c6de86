package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"
)

// environment is everything the command reads from outside: tests replace it.
type environment struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time // only for progress display, never for results
	isTerminal     func() bool
}

func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

const usageText = `simulate runs dispatchlab's discrete-event simulator of multi-tenant dispatch.

Usage:
  simulate                      run the default scenario (noisy-neighbour), with and
                                without its fairness gates, and write plots and CSV
  simulate run [flags] [scenario]
  simulate scenarios            list the built-in scenarios and sweeps
  simulate sweep [flags] [sweep]
  simulate merge [flags] DIR...
  simulate validate [flags]
  simulate version

A scenario or sweep is a built-in name or a YAML/JSON file; the reference is
cmd/simulate/docs/scenarios.md (sweeps and scale-out: cmd/simulate/docs/sweeps.md).
Run "simulate <command> -help" for a command's flags and examples.

Examples:
  simulate                                   the default scenario, into simulate-out/noisy-neighbour-1
  simulate --seed 7 --replications 5         the same with another seed, means over 5 replications
  simulate run --plots svg throttle-vs-burst
  simulate run --format json my-scenario.yaml > result.json
  simulate sweep --dry-run target-lag        list a sweep's points
  simulate sweep --shard 0/4 --out s0 target-lag && simulate merge --out all s0 s1 s2 s3
  simulate validate --replications 30

Exit codes: 0 success, 2 bad usage or bad scenario, 1 failure while running.
`

// Main runs the command with args and returns the exit code.
func Main(args []string, env environment) int {
	err := dispatch(args, env)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(env.stderr, "simulate:", oneLine(err.Error()))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}

func dispatch(args []string, env environment) error {
	if len(args) == 0 {
		return cmdDefault(nil, env)
	}
	cmd, rest := args[0], args[1:]
	if strings.HasPrefix(cmd, "-") && !slices.Contains([]string{"-h", "-help", "--help", "-version", "--version"}, cmd) {
		return cmdDefault(args, env) // simulate --seed 7: the default scenario with flags
	}
	switch cmd {
	case "run":
		return cmdRun(rest, env)
	case "scenarios":
		return cmdScenarios(rest, env)
	case "sweep":
		return cmdSweep(rest, env)
	case "merge":
		return cmdMerge(rest, env)
	case "validate":
		return cmdValidate(rest, env)
	case "version", "-version", "--version":
		return cmdVersion(rest, env)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.stdout, usageText)
		return nil
	}
	fmt.Fprint(env.stderr, usageText)
	return usagef("unknown command %q", cmd)
}

// newFlags returns a flag set that prints usage and examples to stdout on -help, and reports
// errors as usage errors (exit 2).
func newFlags(env environment, name, synopsis, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stdout)
	fs.Usage = func() {
		fmt.Fprintf(env.stdout, "Usage: simulate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(env.stdout, "\nExamples:\n%s", examples)
		}
	}
	return fs
}

// parse parses args, turning flag errors into usage errors.
// A bad flag is one line on stderr (with where to find help), not the whole usage text.
func parse(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case err != nil:
		name := "simulate " + fs.Name()
		if fs.Name() == "simulate" {
			name = "simulate"
		}
		return usagef("%v (see %s -help)", err, name)
	}
	return nil
}

// limitFlags registers the resource-limit flags.
func limitFlags(fs *flag.FlagSet) *limits {
	l := defaultLimits
	fs.Float64Var(&l.maxJobs, "max-jobs", l.maxJobs, "refuse scenarios expected to generate more jobs per run")
	fs.IntVar(&l.maxTenants, "max-tenants", l.maxTenants, "refuse scenarios with more tenants")
	fs.IntVar(&l.maxPoints, "max-points", l.maxPoints, "refuse sweeps with more points × replications")
	fs.IntVar(&l.maxSeries, "max-series", l.maxSeries, "refuse scenarios with more metric windows × series tenants (× replications, for run)")
	fs.IntVar(&l.maxFileMiB, "max-file-mib", l.maxFileMiB, "refuse scenario and sweep files larger than this many MiB")
	return &l
}

func cmdVersion(args []string, env environment) error {
	fs := newFlags(env, "version", "version", "  simulate version\n")
	if err := parse(fs, args); err != nil {
		return err
	}
	v, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "+dirty"
		}
	}
	fmt.Fprintf(env.stdout, "simulate %s", v)
	if rev != "" {
		fmt.Fprintf(env.stdout, " (commit %s)", rev)
	}
	// The built-in scenarios' hash changes whenever their results may.
	fmt.Fprintf(env.stdout, ", built-in scenarios %s, %s %s/%s\n", builtinsHash(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// builtinsHash is a short hash of the embedded scenario and sweep files.
func builtinsHash() string {
	h := sha256.New()
	for _, kind := range []string{"scenario", "sweep"} {
		for _, b := range builtins(kind) {
			fmt.Fprintf(h, "%s %d\n", b.name, len(b.data))
			h.Write(b.data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func cmdScenarios(args []string, env environment) error {
	fs := newFlags(env, "scenarios", "scenarios", "  simulate scenarios\n")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "Built-in scenarios (simulate run NAME):")
	for _, b := range builtins("scenario") {
		fmt.Fprintf(env.stdout, "  %-24s %s\n", b.name, b.summary)
	}
	fmt.Fprintln(env.stdout, "\nBuilt-in sweeps (simulate sweep NAME):")
	for _, b := range builtins("sweep") {
		fmt.Fprintf(env.stdout, "  %-24s %s\n", b.name, b.summary)
	}
	return nil
}
