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
	g.out = g.out[:0]
	for _, i := range g.perm {
		g.out = append(g.out, batch[i])
	}
	return g.out
}

var _ binder = (*FairInterleaveGate[int])(nil)
