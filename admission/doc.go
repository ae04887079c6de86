// Package admission decides which staged jobs a dispatcher hands to its workers, and when:
// an in-memory, storage-free port of the Ruby gem dispatch_policy's staged-jobs table and
// tick, made exact and safe.
//
// A [Policy] holds staged jobs. Every [Policy.Tick] fetches a batch of pending jobs and
// passes it through the policy's gates in declared order; each gate may drop or reorder
// jobs; the survivors are admitted with a lease and returned in order. The caller hands them
// to its real queue or worker pool and reports back: [Policy.Start] when a job starts (its
// queue lag feeds adaptive limits), [Policy.Complete] when it ends, [Policy.Revert] if the
// hand-off failed. [Policy.Reap] completes jobs whose lease expired (a crashed worker).
//
// # Fetching a batch
//
// Pending jobs are ordered by priority (ascending by default, as ActiveJob and
// dispatch_policy 0.1; Descending as 0.5), then by stage order; jobs with a NotBefore in the
// future are invisible until then. A tick fetches at most BatchSize of them. When jobs carry
// a round-robin key, the fetch has dispatch_policy's two phases: up to Quantum jobs from each
// key, then a top-up with the oldest remaining jobs in priority order. Keys are visited in a
// rotating order (each tick starts after the last key that had a job admitted in the
// previous tick), so that keys take turns across ticks even when a global cap lets one job
// through at a time, and every key is served in turn when keys × Quantum exceeds BatchSize;
// dispatch_policy leaves this order to SQL. Given that key order, phase 1 is the one
// [interleave.Batch] makes (each key's first Quantum jobs, key after key, cut at BatchSize),
// and the tests hold every tick's batch to it. Indexes (per-priority FIFO lists, per-key
// lists and a ring of keys with pending jobs) make the fetch cost O(BatchSize + priority
// levels) whatever the backlog: every key visited gives at least one job, so at most
// BatchSize keys are visited, and the top-up skips at most the BatchSize jobs phase 1 took.
// Jobs that rejoin the order out of stage order (reverted jobs, delayed jobs come due after
// later ones were staged) wait in a min-heap per priority level, which adds a log factor for
// each such job fetched, not a term in the backlog. Calling interleave.Batch on the pending
// list instead would scan up to all of it.
//
// # Gates
//
// Built-in gates, in the seed's semantics:
//   - [Throttle]: an exact token bucket per partition (as a [tokenbucket.Keyed]). A partition
//     passes as many jobs as it holds whole tokens; tokens are charged at commit only for
//     jobs finally admitted (dispatch_policy 0.4.3's fix; ChargePassed restores 0.1).
//   - [Concurrency]: an in-flight cap per partition, resolved per job; [Serial] is the cap of
//     1 per execution key (Roger's execution keys).
//   - [GlobalCap]: an in-flight cap across the policy.
//   - [Adaptive]: an [aimd] limiter per partition with the seed's safety valve; it observes
//     each job's queue lag and outcome at Complete.
//   - [FairInterleave]: a round robin across the partitions earlier gates assigned.
//
// Throttle, concurrency and adaptive gates emit their survivors grouped by partition, as the
// seed's group_by does; FairInterleave exists to undo that. Gate options are functions of the
// job context (use [Const] for a value). A value that resolves invalid for a job (a
// negative cap, an invalid limit) keeps the job pending and is counted in [GateStats].
//
// The [Gate] interface is exported: a gate's Filter returns a subsequence or permutation of
// its batch, must not duplicate a job (the policy drops duplicates and counts them as gate
// errors), and must not change state; a [Tracker] gate changes state in Commit, which sees
// only the jobs finally admitted, and Release, called exactly once per admitted job.
// Concurrency (and Serial), GlobalCap and Adaptive track jobs in flight: an admitted job
// records its partition in each of them and releases it exactly once, at Complete, Revert
// or Reap. Throttle is a Tracker too but tracks no job: it charges tokens at Commit and
// its Release does nothing (tokens come back with time). FairInterleave keeps no state.
//
// # Guarantees
//
// After every call: every staged job is exactly one of pending (including delayed and
// parked), admitted, or completed, and the counts add up; no in-flight counter is below zero
// or above its cap; a dedupe key is held by exactly one pending or admitted job; each gate's
// hold on a job is released exactly once (Complete, Revert and Reap of an unknown or finished
// job are errors, never double releases); in any window a throttled partition is admitted
// at most Burst + Rate·window/Per jobs. The tests check these after every step of random
// histories.
//
// # Roger-style controls
//
// [Policy.Pause] and [Policy.Resume] stop and restart admitting one partition (its staged
// jobs wait; in-flight work continues; pausing a partition before it has jobs works);
// [Policy.Drain] stops all admission and [Policy.Drained] reports when nothing is in flight.
//
// Serial execution keys (Roger's execution_key) are the gate [Serial]: at most one job per
// key is admitted and not yet completed, reverted or reaped; the key's other jobs stay
// pending, in the policy's order, and the next one goes at the first tick after the running
// one ends. Keys are independent, so a waiting key never holds up another. Roger moves a
// waiting job to a side queue and back, which collides with its own uniqueness check; here
// a waiting job just stays pending, keeping its dedupe key. The gate keeps state only for
// keys in flight, so unique keys (one per order, say) cost no memory once done. Serial is a
// concurrency gate of cap 1 partitioned by the key, and composes with the others: put it
// before a Throttle, which passes a partition's first jobs up to its tokens, so that jobs
// that must wait do not take those places.
//
// # Observability
//
// [Policy.Stats] (or [Policy.StatsInto], which reuses the caller's slices) reports totals
// and, per partition, the jobs pending, delayed, parked, admitted (in flight), started and
// completed; per gate, its errors and its state per partition: a throttle's tokens, a
// concurrency gate's in-flight count, an adaptive gate's limit, in-flight count and EWMA of
// queue lag. It is O(partitions); [Policy.Totals], the totals alone, is O(1), cheap enough
// to call after every tick whatever the number of partitions.
//
// # Cost and concurrency
//
// Stage is O(1) amortised with one allocation (the job record, recycled in steady state).
// Tick is O(BatchSize + keys visited) plus the gates' work on the batch; it does not grow
// with the backlog. Start, Complete and Revert are O(gates). Held jobs are found by ID in an
// open-addressing table hashed once per call. Stage finds a job's partition by hashing its
// key, or, with Config.PartitionIndex, in a slice by the index. Built-in gates keep their
// per-partition state in slices indexed by the policy's partition (a gate with its own
// PartitionBy interns its keys and forgets those without state), so a tick hashes no
// partition key; their memory is O(partitions) like the policy's own, and the throttle
// stores a token bucket only for a partition whose bucket is not full. A Policy is safe for
// concurrent use: one mutex guards it, so many goroutines may stage while one ticks; gates
// run under it and must not call back into the Policy. Nothing reads the clock: every method
// takes now.
package admission
