// Package aimd provides adaptive concurrency limits for dispatchers: how many jobs of a
// partition may run at once, learned from how the jobs that ran fared. [AIMD] is the
// default; [Fixed], [Vegas] and [Gradient2] are the alternatives users compare it with,
// behind one small interface, [Algorithm]; [Windowed] aggregates samples before any of
// them sees them; and [Keyed] runs one limiter per partition with exact in-flight
// accounting, which is the concurrency gate a dispatcher needs.
//
// # AIMD
//
// AIMD is the adaptive_concurrency gate of the Ruby gem dispatch_policy (seed-systems.md
// §1.4; the v0.5 rewrite, §1.6, keeps the update and adds the validation used here),
// reproduced exactly. Per limiter it keeps a limit, an EWMA of queue lag in milliseconds,
// and a sample count. Queue lag is the wait from a job's admission to the start of its
// execution; a failed job is one that raised. On each completion sample:
//
//	ewma  = ewma·(1−α) + α·lag                       α = Alpha, default 0.5
//	limit = max(Min, ⌊limit·FailFactor⌋)  if the job failed               (default 0.5)
//	limit = max(Min, ⌊limit·SlowFactor⌋)  else if ewma > TargetLag        (default 0.95)
//	limit = limit + 1                      otherwise (no ceiling unless Max is set)
//
// The comparison is strict and uses the updated EWMA; the floors are computed in float64
// at run time, as the seed's IEEE doubles are. A new limiter starts at Initial with an
// EWMA of 0. [AIMD.Available] is the seed's evaluate: max(limit, Min) − in-flight, but at
// least Initial when nothing is in flight, so a partition whose limit collapsed during an
// overload can still start a batch once it has drained (the idle safety valve).
//
// The seed measures lag in whole milliseconds; Sample.Lag is a Duration and is not
// truncated, so sub-millisecond lags count. Lags and targets in whole milliseconds give the
// seed's floats bit for bit (milliseconds are computed by division, which is exact for
// them); pass Lag.Truncate(time.Millisecond) to reproduce the seed's measurement too.
//
// Options from Netflix/concurrency-limits' AIMDLimit (reference ratelimit-aimd.md §4.1,
// §7), each off by default so that the seed's behaviour holds: Max, a ceiling (Netflix
// uses 200); GrowOnlyWhenUtilized, which grows the limit only when InFlight·2 >= limit,
// so that a partition that never fills its limit does not inflate it; Step, the additive
// increase (Netflix issue #147); and Timeout, which counts a Latency above it as a failure.
//
// Guarantees, each checked by a property test against an independent reference model:
// the limit stays in [Min, Max]; a failure never raises it; an EWMA above TargetLag never
// raises it; a success under target raises it by exactly Step (unless capped, or not
// utilised with GrowOnlyWhenUtilized); after k samples the EWMA lies, up to rounding, in
// [(1−(1−α)^k)·smallest lag, largest lag]; under a constant overload (every sample's lag
// above TargetLag/Alpha, so the EWMA is over target from the first sample) the limit reaches
// Min within ⌈ln(Min/limit)/ln(SlowFactor)⌉ samples; and the same samples give the same
// limits and EWMAs bit for bit (explicit float64 conversions forbid fused multiply-adds).
//
// # Choosing an algorithm
//
//   - AIMD when the signal is queue lag and jobs are the unit of work: the dispatcher
//     knows when a job was admitted and when a worker started it, so lag measures
//     overload directly, without a latency baseline. It reacts within a few samples and
//     needs one parameter, TargetLag.
//   - Fixed when the right concurrency is known (a downstream with a hard connection
//     limit), or to pause a partition (a limit of 0).
//   - Vegas (Netflix's VegasLimit, TCP Vegas) when the signal is round-trip latency and
//     the no-load latency is stable: it estimates the queue from the ratio of the RTT to
//     the smallest RTT seen, re-probing that minimum every jitter·30·limit samples, with
//     jitter drawn from an injected *rand.Rand.
//   - Gradient2 (Netflix's Gradient2Limit, its recommended server limit) when latency is
//     bursty: it compares each RTT with a long-term average instead of a minimum, so a
//     few fast requests do not make normal latency look like overload.
//
// Vegas and Gradient2 follow Netflix's code and defaults (ratelimit-aimd.md §4.1;
// Netflix/concurrency-limits limit/VegasLimit.java and limit/Gradient2Limit.java), with
// the randomness injected and nothing read from a clock; their tests pin Netflix's JUnit
// vectors. A zero field means Netflix's default:
//
//	Vegas      Initial 20, Max 1000, Smoothing 1, ProbeMultiplier 30 (re-probe the no-load
//	           RTT after jitter·30·limit samples, jitter in [0.5, 1)); with L = max(1,
//	           ⌊log10 limit⌋): Threshold L, Alpha 3L, Beta 6L; +Beta with no queue,
//	           +L below Alpha, −L above Beta or on a failure
//	Gradient2  Initial 20, Min 20, Max 200, Smoothing 0.2, QueueSize 4, LongWindow 600
//	           (after a 10-sample warm-up mean), Tolerance 1.5, long-RTT decay 0.95 when
//	           it exceeds twice the RTT
//	Windowed   none: Netflix's WindowedLimit uses MinSamples 10, Duration 1s and
//	           MinLatency 100µs; the zero WindowConfig passes every sample through
//
// The AIMD options above are off by default here, where Netflix's AIMDLimit uses Min 20,
// Initial 20, Max 200, backoff 0.9 and timeout 5s: the seed's semantics come first.
// Gradient2 has two opt-in fixes for known problems: BackOffOnFailure (Netflix ignores
// failures, issue #176) and QueueOnlyWhenUnloaded (a modest overload creeps the limit up,
// PR #134). Invalid parameters are errors here, where Netflix's builders log a warning or
// accept them.
//
// # Choosing TargetLag
//
// A lag of L means roughly L × throughput jobs are waiting ahead of a new one. A starting
// point is workers × mean service time: with 8 workers and 50ms jobs, 400ms, about 64
// jobs queued at 160 jobs/s, 8 per worker, enough to keep every worker busy through
// bursts. Lower it to trade throughput for latency; raise it if the limit keeps
// collapsing while workers sit idle. Lag, unlike latency, does not grow with job size, so
// one target fits partitions with different job sizes.
//
// # Keyed limits
//
// [Keyed] keeps one limiter per partition key, created from a factory on first use:
// NewKeyed runs an AIMD per partition with its state inline (no second lock, no interface
// call); NewKeyedFunc runs any Algorithm. [Keyed.Acquire] returns a [Token], a value, and
// [Keyed.Release] takes it back with the completion sample. In-flight accounting is exact:
// a partition's in-flight count is its tokens acquired and not yet released or cancelled,
// so it is never negative, and a second Release of a token is refused with
// [ErrDoubleRelease] (the seed instead clamps its counter at 0, hiding the bug).
// [Keyed.AcquireUpTo] admits a batch against one evaluation of Available, as the seed's
// tick does. [Keyed.Prune] removes partitions indistinguishable from new ones, losslessly;
// [Keyed.Expire] removes idle partitions, losing what they learned (ratelimit-aimd.md §7:
// an AIMD partition is lossless to drop only while its state is its seed).
//
// # Cost and concurrency
//
// Every type here is safe for concurrent use by multiple goroutines. An Observe is a few
// floating-point operations under one uncontended mutex, O(1), with no allocation. AIMD
// takes the same mutex in Limit and Available; Vegas and Gradient2 also publish their
// limit in an atomic word, so their Limit takes no lock (AIMD does not: the atomic
// exchange would add about 40% to its Observe, the hot path). Fixed is one atomic word.
// Windowed takes its own mutex and calls the wrapped algorithm under it. Keyed is sharded
// by key hash with a mutex per shard; Acquire is a hash to pick the shard and a map lookup
// under its lock, and Release finds the partition through the token, with no hashing;
// neither allocates once the partition exists. BENCHMARKS.md at the repository root compares them with the figures measured
// for platinummonkey/go-concurrency-limits (which the module proxy does not serve) and
// with a mutex-and-float floor measured in the same run.
//
// Nothing here reads the clock, starts a goroutine or keeps global state: time is the now
// argument, randomness the injected *rand.Rand.
package aimd
