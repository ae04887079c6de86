package admission

import "time"

// Candidate is a pending job as the gates of one tick see it.
type Candidate[C any] struct {
	ID            JobID
	Context       C
	Priority      int
	RoundRobinKey string
	// Partition is the job's policy-level partition (Config.PartitionBy).
	Partition string
	StagedAt  time.Time

	n *node[C]
}

// Primary returns the first partition a gate recorded for the candidate during this tick
// ("" if none): FairInterleave groups by it, as dispatch_policy's :fair_interleave does.
func (c Candidate[C]) Primary() string {
	if c.n == nil {
		return ""
	}
	return c.n.primary
}

// record notes that a gate assigned the candidate to partition key during this tick; part
// says that key is the job's policy-level partition.
func (c Candidate[C]) record(key string, part bool) {
	if c.n != nil && !c.n.hasPrimary {
		c.n.primary, c.n.hasPrimary, c.n.primaryPart = key, true, part
	}
}

// Gate is one stage of a Policy's pipeline. Each tick, the policy fetches a batch of pending
// jobs and passes it through its gates in declared order; what the last gate returns is
// admitted, in that order.
//
// The contract:
//   - Filter returns the candidates of batch that pass the gate at now, in the order the gate
//     wants them: a subsequence or a permutation of batch. It must not add candidates or
//     duplicate one (the policy drops, and counts as a gate error, any that it does).
//   - Filter must not change the gate's state, because a later gate may still drop a job: a
//     gate that keeps state implements Tracker, whose Commit sees only the jobs finally
//     admitted.
//   - Filter must not call back into the Policy: it runs under the policy's lock.
//
// A gate without state (a business-hours rule, a custom reorder) implements Filter alone.
type Gate[C any] interface {
	// Name identifies the gate in Stats and errors; names are unique within a Policy.
	Name() string
	Filter(now time.Time, batch []Candidate[C]) []Candidate[C]
}

// Tracker is a Gate that keeps state about admitted jobs (tokens charged, in-flight
// counters, adaptive limits). For every job the tick finally admits, Commit is called once;
// for every such job, Release is called exactly once later, when it completes, is reverted,
// or its lease expires; End says which. Of the built-in gates, Concurrency, Serial,
// GlobalCap and Adaptive track jobs in flight (Commit counts a job in, Release counts it
// out); Throttle only charges tokens at Commit.
//
// Commit and Release run under the policy's lock, like Filter, and must not call back into
// the Policy. Commit must not fail: a job it cannot record is still admitted, so a gate
// that can run out of room must refuse the job in Filter.
type Tracker[C any] interface {
	Gate[C]
	Commit(now time.Time, admitted []Candidate[C])
	Release(now time.Time, c Candidate[C], e End)
}
