package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
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
		return cmdDefault(env)
	}
	cmd, rest := args[0], args[1:]
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
	case "version":
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
		return usagef("%v (see simulate %s -help)", err, fs.Name())
	}
	return nil
}

// limitFlags registers the resource-limit flags.
func limitFlags(fs *flag.FlagSet) *limits {
	l := defaultLimits
	fs.Float64Var(&l.maxJobs, "max-jobs", l.maxJobs, "refuse scenarios expected to generate more jobs per run")
	fs.IntVar(&l.maxTenants, "max-tenants", l.maxTenants, "refuse scenarios with more tenants")
	fs.IntVar(&l.maxPoints, "max-points", l.maxPoints, "refuse sweeps with more points × replications")
	return &l
}

func cmdVersion(args []string, env environment) error {
	fs := newFlags(env, "version", "version", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(env.stdout, "simulate %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
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
