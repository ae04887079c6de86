// Package strategy picks the worker of a pool that takes the next job: every worker
// selection strategy of Erlang's worker_pool (wpool), made exact and deterministic, a few
// better ones, and wpool's waiting queue and overrun schedule as pure state machines.
//
// A strategy reads a small view of the pool, [Pool] (Len, QueueLen, Idle), and returns a
// worker index; the caller owns the workers. Every strategy returns [ErrNoWorkers] for an
// empty pool, and the errors are sentinels for errors.Is.
//
// # The strategies
//
//   - [Best] (wpool best_worker): the shortest queue. From a random start it visits every
//     worker once, keeps the first strictly shorter queue (ties keep the earlier visited
//     worker) and stops at an empty one. Returns a minimum, always. O(n).
//   - [Random] (random_worker): uniform. O(1).
//   - [Next] (next_worker): round robin, strict under concurrency. wpool reads its index
//     and compare-and-swaps the successor, ignoring a lost swap, so two callers can get the
//     same worker; Next takes the k-th ticket with one atomic add and returns k mod n.
//     [Next.Peek] is wpool's stats next_worker. O(1).
//   - [NextAvailable] (next_available_worker): the first idle worker from a random start,
//     or [ErrNoAvailableWorkers], and that error only when no worker is idle. O(n).
//   - [Hash] (hash_worker): [JumpHash], Lamping and Veach's jump consistent hash, bit for
//     bit the published algorithm (checked against github.com/dgryski/go-jump and Guava's
//     vectors). wpool's phash2(Key, N) reduces by modulus, so a resize remaps almost every
//     key; under Hash, growing from n to n+1 workers moves exactly the keys the new worker
//     takes, 1/(n+1) of them, and shrinking moves only the removed workers' keys. O(ln n).
//   - [Rendezvous]: highest random weight (Thaler and Ravishankar), for pools whose members
//     leave in any order: removing a worker moves only its keys. O(n).
//   - [P2C]: the power of two choices (Mitzenmacher; Azar et al.), the O(1) alternative to
//     Best: with m = n jobs its maximum load is ln ln n / ln 2 + O(1), against ln n / ln ln n
//     for Random, and it does not herd on stale loads as Best does.
//   - [Custom]: a function, kept to the contract (an empty pool or an out-of-range answer
//     is an error, never a bad index).
//
// Optional interfaces extend the small ones, gonum style: a pool may be a [SlicePool]
// (queue lengths as a slice, so Best scans it directly) or an [IDPool] (stable worker
// identities for Rendezvous); a strategy may be a [Contract] (it states which workers it
// may pick, and the conformance suite strategytest checks it) or [Concurrent].
//
// # The waiting queue and the overrun schedule
//
// [Queue] is wpool's available_worker queue manager without its process: Request gets the
// lowest idle worker at once or a ticket; Ready hands a freed worker to the next live waiter
// in FIFO or LIFO order, discarding expired and cancelled tickets lazily, as wpool does,
// and Pending counts them until then; Dead reports a worker's death to its holder; a
// deadline that is not after now fails at once, as wpool's zero timeout does. Time is
// passed in, and going backwards is no time passing.
//
// [Overrun] is wpool's overrun warning schedule as a function of the check number. wpool's
// documentation says warnings double when unlimited and are equally spaced when bounded
// (killed at M·W); its code, since 2018, does the reverse (equally spaced when unlimited,
// doubling to a kill at W·2^(M-1) when bounded) and stops checking past its 2^32-1 ms
// timer limit. Both are offered ([OverrunDocumented], the default, and [OverrunAsCoded]);
// they agree for M = 1 (killed at W, no warning) and M = 2.
//
// [EmitterPool] is reckon_db's emitter pool, which spreads one subscription's events over
// pool_size emitters; unlike reckon_db's (whose update keeps the old size), it resizes.
//
// # Differences from wpool
//
// Indices are 0-based. The waiting queue hands out the lowest index where wpool takes the
// smallest worker name in Erlang term order (worker 10 before worker 2). Next is strictly
// round robin. Hash is consistent. Randomness comes from an injected *rand.Rand (nil is
// an error), so a seed reproduces every pick; nothing reads the clock, starts a goroutine
// or keeps global state.
//
// # Cost and concurrency
//
// Pick allocates nothing. [Next], [Hash] and [Rendezvous] are safe for concurrent use
// (an atomic counter, or no state). [Best], [Random], [NextAvailable] and [P2C] draw from
// their *rand.Rand, which is not safe for concurrent use, so each is owned by one
// goroutine at a time, as in a simulator or a dispatcher loop; [NewLocked] wraps any
// strategy with a mutex to share it. [Queue] is owned by one goroutine, like wpool's queue
// manager process. [Overrun] is an immutable value. [EmitterPool] is as safe as its
// strategy. BENCHMARKS.md at the repository root gives the cost of each pick beside
// github.com/dgryski/go-jump.
package strategy
