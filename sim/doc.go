// Package sim is a discrete-event simulator for multi-tenant dispatch: tenants generate
// jobs, an admission.Policy (optional) admits them through its gates, and a pool of workers
// serves them, picked by a strategy or from a central queue. It measures what users tune
// for: admission lag, queue lag and total latency per tenant, throughput, fairness (Jain's
// index of throughput normalised by max-min fair shares, per window), time-average queue
// lengths, wait and latency CDFs, and limiter trajectories.
//
// # Engine
//
// [Engine] keeps a virtual clock (a time.Duration since the run's epoch, int64 nanoseconds)
// and a 4-ary heap of events ordered by (time, insertion sequence): events at the same instant
// run in the order they were scheduled, so every run is deterministic. Events are values (no
// interface boxing, no allocation per event once the heap has grown); cancellation is lazy.
// Processes are callbacks, never goroutines.
//
// # Randomness
//
// Every purpose has its own stream, derived from (seed, replication, name) by [Stream]:
// arrivals and service per tenant, failures per tenant, the strategy, crashes. Adding a tenant
// does not shift another's draws, and replication r of every sweep point uses the same draws
// (common random numbers). The same scenario, seed and replication give the same [Result], bit
// for bit, whatever GOMAXPROCS or parallelism ([Replicate] runs replications in parallel).
// The simulator's own arithmetic is written so that the compiler cannot fuse a multiply and
// an add (float64(x*y) + z), which arm64, ppc64le and s390x would otherwise do; two
// dependencies still may (gonum's lognormal sampler and DDSketch's bin index), so results
// are bit-identical per architecture, and agree across architectures only statistically.
//
// # Model
//
// A [Scenario] has tenants (Poisson, constant, on/off, burst, diurnal or traced arrivals;
// exponential, deterministic, lognormal, Pareto, uniform or empirical service from gonum's
// distuv), workers (a central FIFO or LIFO queue, or per-worker queues with a strategy;
// per-worker speed; a capacity bound K for loss systems; capacity changes at given times;
// crashes whose jobs the admission lease reaps) and, optionally, admission: throttle,
// concurrency, adaptive, fair-interleave and global-cap gates, round-robin keys, ticked
// periodically (dispatch_policy's loop) or event-driven (exactly when something can change).
// Without admission, jobs queue directly: that is the mode queueing theory describes.
//
// # Validation
//
// The tests reproduce M/M/1, M/M/c (Erlang C), M/D/1 (Pollaczek–Khinchine), M/M/1/K and
// Erlang B within the 99% confidence interval of 10 replications, check Little's law to 0.5%
// on every replication, and show that a burst-1 throttle is exactly M/D/1 (the Lindley
// recursion), that per-tenant concurrency caps are independent M/M/k queues, and that fair
// admission keeps FCFS's overall mean wait while lowering the light tenants' (Kleinrock's
// conservation law). go test ./sim -long runs 30 replications of ten times as many jobs.
//
// # Studies
//
// [Compare] runs variants of a scenario side by side and [Sweep] varies one parameter, both
// with common random numbers (replication r of every variant or point draws from the same
// streams), R replications and confidence intervals ([Summarize], [Estimate]);
// [PairedDifference] compares two variants replication by replication, which the shared
// randomness makes much sharper than comparing their means. [ParetoFront] and [Knee] read a
// sweep's trade-off (throughput up, latency down). Exact results to hold a study against:
// [MG1Wait], [MD1Wait], [MD1WaitCDF] and [MD1WaitQuantile] (Pollaczek–Khinchine and Erlang's
// M/D/1 waiting-time distribution), [ThrottleWait] (a token bucket of any burst, whose waits
// are M/D/1's shortened by (burst−1)/rate) and [ThrottleBurstFor], [MMcWait] (Erlang C),
// [RoundRobinSojourn] (E_n/M/1) and [PowerOfDSojourn] (the supermarket model). The notebooks in
// notebooks/ are walk-throughs built on these; package simplot draws them.
//
// # Metrics and cost
//
// Per tenant and overall: counts (arrived, admitted, started, completed, failed, rejected,
// lost, expired), the admission lag, queue lag, service time and total latency (exact mean
// and max, p50/p95/p99), throughput and share, and the time-average numbers of jobs present
// and waiting. Per window of Metrics.Window: arrivals, completions and Jain's index; for the
// first Metrics.SeriesTenants tenants also p50/p99 latency and the gates' in-flight count,
// adaptive limit and throttle tokens (the trajectories, one sample per window). CDFs of the
// total latency and of the wait (arrival to start) for the system and the series tenants.
//
// Memory is O(tenants + in-flight jobs + windows), never O(jobs): latencies go into DDSketch
// quantile sketches (github.com/DataDog/sketches-go) with relative accuracy α =
// Metrics.Accuracy (1% by default): a reported quantile is within a factor 1 ± α of the
// exact value at its rank (and never above the exact maximum); means and maxima are exact.
// Per tenant, a sketch is kept as the counts of its bins (the bins' indices while they are
// few), which answers exactly as the sketch does. A direct-queueing M/M/8 runs at 5.5–7.5
// million jobs per second on one core, 35–55 times SimPy; see BENCHMARKS.md.
package sim
