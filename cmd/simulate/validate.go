package main

import (
	"fmt"
	"runtime"
	"text/tabwriter"

	"github.com/dispatchlab/dispatchlab/sim"
)

const validateExamples = `  simulate validate
  simulate validate --jobs 1000000 --replications 30
`

// cmdValidate runs the simulator's queueing-theory checks and prints expected against
// simulated values with 99% confidence intervals.
func cmdValidate(args []string, env environment) error {
	fs := newFlags(env, "validate", "validate [flags]", validateExamples)
	jobs := fs.Int("jobs", 100_000, "jobs per replication")
	reps := fs.Int("replications", 10, "replications per check")
	seed := fs.Uint64("seed", 1, "random seed")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "replications run at once")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *jobs < 1000 || *jobs > 10_000_000:
		return usagef("--jobs must be in [1000, 10000000], got %d", *jobs)
	case *reps < 2 || *reps > 1000:
		return usagef("--replications must be in [2, 1000], got %d", *reps)
	case *parallel < 1:
		return usagef("--parallel must be >= 1, got %d", *parallel)
	}
	checks := sim.Checks(*jobs)
	bar := newProgress(env, len(checks), "validate", *quiet)
	var outcomes []sim.Outcome
	for _, c := range checks {
		o, err := sim.RunCheck(c, *seed, *reps, *parallel)
		if err != nil {
			return err
		}
		outcomes = append(outcomes, o)
		bar.add(1)
	}
	bar.finish()
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "check\tmetric\texpected\tsimulated (99% CI)\tLittle's law\tresult")
	failed := 0
	for _, o := range outcomes {
		res := "ok"
		if !o.Pass {
			res, failed = "FAIL", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f ± %.4f\t%.3f%%\t%s\n", o.Name, o.Metric, o.Expected,
			o.Estimate.Mean, o.Estimate.HalfWidth, 100*o.MaxLittle, res)
	}
	tw.Flush()
	fmt.Fprintf(env.stdout, "%d checks, %d replications of about %d jobs each: %d failed\n", len(outcomes), *reps, *jobs, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(outcomes))
	}
	return nil
}
