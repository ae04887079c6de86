// Command simulate runs dispatchlab's discrete-event simulator: built-in or file scenarios,
// parameter sweeps (sharded across machines if need be), queueing-theory checks, tables,
// CSV/JSON and plots.
//
// With no arguments it runs the built-in noisy-neighbour scenario, with and without its
// fairness gates, prints a summary and writes plots and CSV into a fresh directory.
//
//	simulate                      the default scenario
//	simulate run [scenario]       a built-in (see simulate scenarios) or a YAML/JSON file
//	simulate scenarios            list the built-ins
//	simulate sweep [sweep]        a parameter sweep; --shard i/N, --parallel N, --dry-run
//	simulate merge DIR...         combine sharded sweep outputs
//	simulate validate             queueing-theory checks: expected vs simulated
//	simulate version
//
// Exit codes: 0 success, 2 bad usage or a bad scenario, 1 a failure while running.
package main

import (
	"os"
	"time"
)

func main() {
	env := environment{
		stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		now: time.Now, isTerminal: stderrIsTerminal,
	}
	os.Exit(Main(os.Args[1:], env))
}
