// Package interleave reorders and batches work fairly across partitions (tenants, customers,
// queues): round-robin interleaving ([ByKey]), weighted interleaving ([Weighted]),
// dispatch_policy's round-robin batch fetch with per-key caps ([Batch], [BatchWith]) and
// time-weighted quanta ([TimeQuanta]), decayed-admissions fairness with a tick budget
// ([Decayed]), and the metrics that tests of fairness use ([Jain], [MaxMinFair],
// [PositionalUnfairness]).
//
// # The noisy neighbour
//
// One tenant enqueues 1000 jobs, then nine quiet tenants enqueue 10 each. Dispatched in FIFO
// order, the quiet tenants wait behind the whole burst; interleaved by tenant, each waits for
// at most one job of every other tenant:
//
//	order   first quiet job   last quiet job   Jain, first 100   worst lag
//	FIFO    1001st            1090th           0.100             1000
//	ByKey   2nd               100th            1.000             1
//
// (Jain's index over the first 100 dispatches of the ten tenants; the worst lag is
// [PositionalUnfairness]: how many jobs a waiting tenant is behind another at the worst
// moment.) The package Example prints this table.
//
// # The algorithms
//
// [ByKey] is dispatch_policy's :fair_interleave gate (seed-systems.md §1.4): group the items
// by key in order of first appearance, then take one item from each non-empty group in turn
// until all are empty. It is what river #1060 and Hatchet's GROUP_ROUND_ROBIN ask for
// (A1 A2 B1 A3 B2 B3 becomes A1 B1 A2 B2 A3 B3). Here the grouping is a counting sort over
// group ids, so the cost is one map lookup per item plus O(items + keys), and an
// [Interleaver] reuses its buffers so that a dispatcher's tick does not allocate.
//
// [Weighted] gives the j-th item of a key with weight w the virtual time (j + ½)/w and emits
// items in increasing virtual time, ties to the key that appeared first: stride scheduling
// with a half-step offset, whose sequence is the Sainte-Laguë apportionment. It differs from
// the nginx smooth weighted round robin of package wdrr, which this package does not import:
// SWRR scans every key per item, O(items·keys), and its bound is per key against the whole
// sequence; virtual times cost O(log keys) per item, give a pairwise bound that holds however
// keys run out of items, and reduce exactly to ByKey at equal weights. Weights {5, 1, 1} give
// a a a b c a a (nginx: a a b a c a a).
//
// [Batch] is dispatch_policy 0.1's round_robin_by fetch (seed-systems.md §1.3) over a pending
// list already in priority order. Phase 1 takes each key's first quantum items, keys in
// first-appearance order, key after key, and cuts the concatenation at size; phase 2 tops the
// batch up to size with the oldest remaining items. [BatchWith] adds:
//
//   - per-key caps that hold through the top-up as well as phase 1. Hatchet PR #1164 and
//     #4778 are the bug this prevents: a group that was not filled let other groups exceed
//     their maximum while topping up;
//   - per-key quanta, and dispatch_policy 0.2's weight: :time quanta, quantum_k =
//     max(⌊size·w_k/Σw⌋, 1) with w_k = 1/max(consumed_k, floor), which favour keys that
//     used less worker time;
//   - cost accounting ([BatchStats]) and index forms that select without copying items.
//
// The differences from the seed: keys are ordered by first appearance rather than by an
// unspecified SQL DISTINCT; the time-weighted fetch is cut at size where the seed may
// overshoot it by part of a quantum; time-weighted quanta normalise the weights before
// summing, so N keys with equal consumption get exactly size/N (the seed's float sum can
// give one less: 14 keys, size 700 gives 49 each); and the selection is one scan of pending
// that stops as soon as the batch is decided, instead of one indexed query per key.
//
// [Decayed] is dispatch_policy 0.5's fairness (seed-systems.md §1.6): per-key admissions
// decayed with a half-life, keys served least-decayed first, a tick budget split into fair
// shares ⌈cap/N⌉, and a second pass that gives what is left to the keys that used their
// whole share. The seed's exponent clamp (exp(max(−Δt/τ, −700)), which it uses to prevent
// underflow) is applied where the seed applies it, in the admit update, and deliberately not
// when ranking keys: a clamped count stops decaying at stored·e^−700, so stale history would
// outrank fresh admissions and starve its key. Time is a parameter with one clock per
// tracker, so time going backwards is no time passing, where the seed clamps elapsed time per
// partition.
//
// # Guarantees
//
//   - Permutation and FIFO: ByKey and Weighted return a permutation of their input that keeps
//     each key's items in input order. Batch returns distinct items of pending, each key's
//     items in pending order.
//   - Prefix balance: in every prefix of ByKey's output, a key that still has items is at
//     most one item behind any other key. In every prefix of Weighted's output, for keys a, b
//     with a still having items, 2·(c_b·w_a − c_a·w_b) <= w_a + w_b.
//   - Batch exactness: the batch has min(size, Σ_k min(count_k, cap_k)) items; in phase 1 each
//     key gets exactly min(quantum_k, cap_k, count_k) items when those sum to at most size;
//     no key exceeds its cap; the top-up takes exactly the oldest items that phase 1 left and
//     caps allow.
//   - Decayed fairness: the least-decayed key is served first with the full fair share. A
//     quiet key whose arrivals stay within ⌊cap/N⌋ per tick, among keys that always want
//     more, is never passed over in two consecutive ticks and never holds more than one
//     tick's share; this is a tested property (random caps, key counts, tick gaps, claim
//     orders), not a proof, for half-lives from 1/64 of the tick interval up. With half-lives
//     so short that counts decay to 0 between ticks, the order is the caller's claim order.
//   - Determinism: the same inputs give the same outputs bit for bit; no map iteration order
//     reaches a result, and ties break by first appearance or the caller's order.
//   - Bad input is an error that names the value ("interleave: quantum must be >= 1, got 0"),
//     never a panic and never silently clamped. The one documented panic is a nil key
//     function passed to a function without an error result.
//
// # Cost
//
// ByKey: O(items + keys) after one map lookup per item; BENCHMARKS.md compares it with a
// round robin over pre-grouped items. Weighted: O(items·log keys). Batch: one map lookup per
// scanned item and O(keys + size·quantum) scratch space, where the scan covers the prefix of
// pending that decides the batch (all of it only when phase 1 falls short of size or quanta
// are time-weighted); never O(quantum·keys) queries or O(pending·keys) work; keys are
// computed 128 items at a time so that the independent map lookups overlap. Decayed.Tick:
// O(N log N) for N keys plus the admit calls. MaxMinFair: O(n log n). PositionalUnfairness:
// O(items + keys), or O(items·keys) with weights.
//
// # Concurrency
//
// The functions are safe for concurrent use: they keep no state between calls. An
// [Interleaver] and a [Decayed] are owned by one goroutine (a dispatcher's tick loop): their
// buffers and per-key state change on every call, so sharing one needs a mutex. Nothing here
// reads the clock, starts a goroutine or keeps global state.
package interleave
