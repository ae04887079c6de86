// Package tokenbucket provides exact token buckets for dispatchers: one bucket ([Bucket]),
// many buckets keyed by partition ([Keyed]), and many buckets indexed by small integers
// ([Dense]).
//
// A bucket holds at most Burst tokens and gains Rate tokens every Per; a new bucket starts
// full. Taking n tokens succeeds if n are there and otherwise takes nothing. This is the
// throttle gate of the Ruby gem dispatch_policy and the semantics of
// golang.org/x/time/rate's AllowN, made exact.
//
// # The algorithm
//
// The limit is first made an exact rational: Rate is a float64 for convenience, so it is
// turned into the fraction p/q given by the first continued-fraction convergent of the float
// that rounds back to it (0.1 is 1/10, 1/3.0 is 1/3, integers stay themselves), and the bucket
// then gains exactly p tokens every q·Per. Reduced to lowest terms that is a tokens every b
// nanoseconds. [Bucket.Limit] reports the limit in force in this exact form, with an integer
// Rate: 0.5 per second comes back as 1 per 2s.
//
// Each bucket's whole state is one integer in units of credits, where a token costs b credits
// and a credits accrue every nanosecond: GCRA's theoretical arrival time,
//
//	tat = a·T, where T is the time (ns) at which the bucket is full again.
//
// At time t the bucket is short of full by max(0, tat − a·t) credits and holds
// (Burst·b − shortfall)/b tokens; taking n tokens succeeds iff shortfall + n·b <= Burst·b, and
// sets tat = max(tat, a·t) + n·b. Every decision is integer arithmetic on exact values: there
// is no float and no rounding anywhere on the decision path.
//
// This is GCRA, the generic cell rate algorithm with which ATM networks policed cell rates
// (ITU-T I.371), in its virtual-scheduling form: a token bucket written as the time at which
// the bucket is full again, so that a bucket is one word. The usual integer-nanosecond GCRA
// keeps the emission interval Per/Rate rounded to a nanosecond; counting in credits, with a
// and b coprime, keeps it exact for every rate.
//
// # How it differs from golang.org/x/time/rate
//
//   - x/time/rate keeps a float64 balance and truncates the time it converts, so it admits
//     a request that falls short by less than a nanosecond of refill; here every decision is
//     exact (see Guarantees).
//   - It moves its clock back, and credits the interval again, when time steps back; here a
//     step back is no time passing.
//   - It accepts a NaN limit (no limit at all), negative rates and bursts silently; here they
//     are errors.
//   - It locks a mutex on every call, denials included; here a denial only reads and an
//     admit is a compare-and-swap.
//   - It reserves and waits; here nothing blocks or reserves: Delay says exactly when n
//     tokens will be there, and TakeUpTo grants part of a batch.
//
// # Guarantees
//
//   - Exactness: every decision (AllowN, TakeUpTo, Delay) is identical to that of an exact
//     rational model of the bucket, for every limit and every sequence of calls. The tests
//     check this against a math/big model over tens of thousands of random histories.
//   - Arrival curve: in any window [t1, t2], the tokens granted are at most
//     Burst + Rate·(t2−t1)/Per. golang.org/x/time/rate exceeds this when a request falls less
//     than a nanosecond of refill short (its float tokens round up), and integer-nanosecond
//     GCRA libraries exceed it because they truncate Per/Rate (3 per second becomes
//     333,333,333 ns, slightly faster than 3 per second).
//   - Delay is exact and tight: if Delay(now, n) returns d, AllowN(now+d, n) succeeds and
//     AllowN(now+d−1ns, n) does not, absent other calls.
//   - Time is a parameter: nothing here reads the clock, starts a goroutine or keeps global
//     state. A limiter has one clock, the time of its latest grant: a call with an earlier
//     time is treated as a call at that time. Time going backwards is no time passing, and
//     never admits more.
//   - Bad input is an error naming the field and the value ("tokenbucket: Per must be > 0,
//     got -1s"): NaN, ±Inf, Rate <= 0, Per <= 0, Burst < 1, and limits whose exact integers
//     would overflow (about one token per 146 years, or more than 2^53 tokens per Per).
//     Nothing panics on any input; no parameter is silently clamped.
//
// # Cost and concurrency
//
// [New] and [Limit.Validate] cost O(1): nothing for an integer Rate, well under a
// microsecond for a fractional one (a continued-fraction walk of at most ~90 steps, in
// integer arithmetic). Every call on a Bucket or a Dense is O(1); on a Keyed, O(1) expected.
//
// A [Bucket] is safe for concurrent use. Admitting is one compare-and-swap on one word, plus
// a store of the clock when time has advanced (the clock is what makes a step back in time
// exactly no time passing); denying only reads, so a bucket under overload is a read-shared
// cache line. It keeps time in units of 1/a ns from an epoch, which serves about 2^62/a ns
// (centuries when a = 1, as for 100 per second; 106 days for 999 per second). SetLimit, and
// the first charge beyond an epoch's range, take a mutex and replace the bucket's state with
// one at a new epoch; the lock-free path then continues.
//
// A [Keyed] limiter is safe for concurrent use: it is sharded by key hash with a mutex per
// shard, and stores each partition as its key, its hash and one int64, by value, in an
// open-addressing table per limit (no pointer per key, nothing stored for a key until it is
// charged; about 50 bytes per string partition). [Keyed.Prune] removes full buckets, which
// carry no information, so pruning is lossless; it is incremental, needs no goroutine, and
// shrinks tables it empties. [Keyed.AllowN] hashes the key once and is one probe of one
// table under the shard's lock, usually one or two adjacent cache lines.
//
// A [Dense] is a slice of partition states, 8 bytes each, for callers that intern keys as
// small integers; it is owned by one goroutine and decides in a few nanoseconds.
//
// BENCHMARKS.md at the repository root compares all three with golang.org/x/time/rate in the
// same run.
package tokenbucket
