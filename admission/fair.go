package admission

import (
	"time"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// FairInterleaveGate reorders each tick's batch round robin across partitions
// (dispatch_policy's :fair_interleave): partitions in order of first appearance, jobs in
// batch order within a partition, one job per partition per round. It never drops a job.
//
// A job's partition is the first one an earlier gate recorded for it in this tick (its
// Candidate.Primary: throttle, concurrency and adaptive gates emit jobs grouped by
// partition, and this gate undoes that); a job no gate assigned forms its own group, as in
// the seed. With PartitionBy, the gate groups by that function instead.
type FairInterleaveGate[C any] struct {
	gateBase[C]
	iv   interleave.Interleaver[Candidate[C], fairKey]
	ivID interleave.Interleaver[Candidate[C], int64] // by partition id (see Filter)
	perm []int
	out  []Candidate[C]
}

// fairKey groups a candidate: its partition, or, for a job without one, its own ID.
type fairKey struct {
	part string
	solo JobID
}

// FairInterleave returns a fair-interleave gate.
func FairInterleave[C any](opts ...Option[C]) *FairInterleaveGate[C] {
	g := &FairInterleaveGate[C]{}
	g.apply("fair_interleave", opts)
	return g
}

func (g *FairInterleaveGate[C]) Filter(now time.Time, batch []Candidate[C]) []Candidate[C] {
	if len(batch) <= 1 {
		return batch // one job is its own round robin
	}
	if g.by == nil && byPartition(batch) {
		// Every job's primary is its policy-level partition, or it has none (the usual
		// case: the first recording gate partitions as the policy does): group by the
		// partition's id, which is one-to-one with its key, so that grouping hashes an
		// integer instead of two strings and reads no key's bytes (with many partitions,
		// each a cache miss). The groups, and so the order, are the same.
		g.perm = g.ivID.AppendByKeyIndex(g.perm[:0], batch, partitionID[C])
		return g.permute(batch)
	}
	key := func(c Candidate[C]) fairKey {
		if g.by != nil {
			return fairKey{part: g.by(c.Context)}
		}
		if c.n != nil && c.n.hasPrimary {
			return fairKey{part: c.n.primary}
		}
		return fairKey{solo: c.ID}
	}
	g.perm = g.iv.AppendByKeyIndex(g.perm[:0], batch, key)
	return g.permute(batch)
}

// permute returns batch in the order of g.perm.
func (g *FairInterleaveGate[C]) permute(batch []Candidate[C]) []Candidate[C] {
	g.out = g.out[:0]
	for _, i := range g.perm {
		g.out = append(g.out, batch[i])
	}
	return g.out
}

// byPartition reports whether every candidate of batch comes from the policy and has no
// primary partition or has its policy-level partition as its primary.
func byPartition[C any](batch []Candidate[C]) bool {
	for i := range batch {
		if n := batch[i].n; n == nil || (n.hasPrimary && !n.primaryPart) {
			return false
		}
	}
	return true
}

// partitionID is the group of a candidate for which byPartition holds: its partition's id,
// or, for a job without a primary partition, a negative number of its own (−1 − its stage
// sequence, unique among held jobs, as its ID is).
func partitionID[C any](c Candidate[C]) int64 {
	if c.n.hasPrimary {
		return int64(c.n.part.id)
	}
	return -1 - int64(c.n.seq)
}

var _ binder = (*FairInterleaveGate[int])(nil)
