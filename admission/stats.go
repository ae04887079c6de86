package admission

import (
	"slices"
	"strings"
	"time"
)

// Stats is a snapshot of a Policy.
type Stats struct {
	// Cumulative counts.
	Staged, Completed, Expired, Reverted uint64
	// Current counts: every held job is exactly one of Pending (ready to fetch), Delayed
	// (NotBefore in the future), Parked (partition paused) or Admitted; Started ⊆ Admitted.
	Pending, Delayed, Parked, Admitted, Started int
	LastAdmission                               time.Time
	Draining                                    bool
	// Partitions are the policy-level partitions, in order of first appearance.
	Partitions []PartitionStats
	// Gates are the gates in declared order.
	Gates []GateStats
}

// PartitionStats describes one policy-level partition.
type PartitionStats struct {
	Key                                         string
	Pending, Delayed, Parked, Admitted, Started int
	Completed                                   uint64
	Paused                                      bool
}

// GateStats describes one gate: its errors (invalid resolved options, contract violations)
// and, for built-in gates, its state per partition.
type GateStats struct {
	Name      string
	Errors    uint64
	LastError string
	// Partitions lists the gate's partitions with state, sorted by key: for a throttle,
	// those whose limit it knows (a full bucket is forgotten after a while: it is the same as
	// a new one); for a concurrency gate, those with jobs in flight; for an adaptive gate,
	// every partition it has seen (under its own PartitionBy, those in flight); for a global
	// cap, one partition "default".
	Partitions []GatePartitionStats
}

// GatePartitionStats is a built-in gate's state for one partition. Fields that do not apply
// to the gate are zero (Tokens is NaN for a partition whose limit is unknown).
type GatePartitionStats struct {
	Key      string
	InFlight int
	Tokens   float64       // throttle
	Limit    int           // adaptive
	EWMA     time.Duration // adaptive: EWMA of queue lag
}

// Stats returns a snapshot at now (now matters for throttle tokens). See StatsInto.
func (p *Policy[C]) Stats(now time.Time) Stats {
	var s Stats
	p.StatsInto(now, &s)
	return s
}

// StatsInto fills s, reusing its slices, so that a caller polling every tick allocates
// nothing once warm. Cost: O(partitions) for the policy and each built-in gate (a gate
// with its own PartitionBy adds a sort of its partitions with state); the policy sorts its
// partitions by key only when new ones appeared since the last call. With thousands of
// partitions that is more than a tick's work (a throttle reads every partition's bucket):
// a caller polling every tick wants Totals, O(1), and StatsInto now and then.
func (p *Policy[C]) StatsInto(now time.Time, s *Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts, gates := s.Partitions[:0], s.Gates[:0]
	*s = p.totals()
	for _, pt := range p.partList {
		parts = append(parts, PartitionStats{
			Key: pt.key, Pending: pt.pending, Delayed: pt.delayed, Parked: pt.parked,
			Admitted: pt.admitted, Started: pt.started, Completed: pt.completed, Paused: pt.paused,
		})
	}
	byKey := p.partitionsByKey()
	for i := range p.gates {
		gi := &p.gates[i]
		gs := GateStats{Name: gi.g.Name(), Errors: gi.errors, LastError: gi.last}
		if i < cap(gates) {
			gs.Partitions = gates[:i+1][i].Partitions[:0]
		}
		if r, ok := gi.g.(statsReporter); ok {
			errs, last := r.errorState()
			gs.Errors += errs
			if last != "" {
				gs.LastError = last
			}
			gs.Partitions = r.partitionStats(now, gs.Partitions, byKey)
			if r.own() { // keys of the gate's own: listed in slot order
				slices.SortFunc(gs.Partitions, func(a, b GatePartitionStats) int { return strings.Compare(a.Key, b.Key) })
			}
		}
		gates = append(gates, gs)
	}
	s.Partitions, s.Gates = parts, gates
}

// Totals returns the Stats at now without Partitions and Gates: the policy-wide counts,
// the last admission and the draining flag. Cost: O(1), for callers that poll every tick
// whatever the number of partitions.
func (p *Policy[C]) Totals() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.totals()
}

func (p *Policy[C]) totals() Stats {
	return Stats{
		Staged: p.staged, Completed: p.completedN, Expired: p.expiredN, Reverted: p.revertedN,
		Pending: p.pendingN, Delayed: p.delayedN, Parked: p.parkedN, Admitted: p.admittedN, Started: p.startedN,
		LastAdmission: p.lastAdmit, Draining: p.draining,
	}
}

// partitionsByKey returns the ids of the policy's partitions sorted by key, sorting only if
// partitions were added since the last call. It requires p.mu.
func (p *Policy[C]) partitionsByKey() []int32 {
	if len(p.byKey) != len(p.partList) {
		p.byKey = p.byKey[:0]
		for i := range p.partList {
			p.byKey = append(p.byKey, int32(i))
		}
		slices.SortFunc(p.byKey, func(a, b int32) int { return strings.Compare(p.partList[a].key, p.partList[b].key) })
	}
	return p.byKey
}

// statsReporter is implemented by built-in gates. Under the policy's partitioning a gate's
// slot for a partition is the partition's id, so partitionStats lists its partitions in
// byKey's order (sorted by key); with its own PartitionBy (own), in any order.
type statsReporter interface {
	errorState() (uint64, string)
	own() bool
	partitionStats(now time.Time, dst []GatePartitionStats, byKey []int32) []GatePartitionStats
}

func (b *gateBase[C]) errorState() (uint64, string) { return b.errors, b.last }

func (g *ThrottleGate[C]) partitionStats(now time.Time, dst []GatePartitionStats, byKey []int32) []GatePartitionStats {
	add := func(s int32) {
		if int(s) < len(g.parts) && g.parts[s].known {
			dst = append(dst, GatePartitionStats{Key: g.slots.key(s), Tokens: g.tokensOf(now, &g.parts[s])})
		}
	}
	if g.own() {
		for _, s := range g.held {
			add(s)
		}
	} else {
		for _, s := range byKey {
			add(s)
		}
	}
	return dst
}

func (g *ConcurrencyGate[C]) partitionStats(now time.Time, dst []GatePartitionStats, byKey []int32) []GatePartitionStats {
	add := func(s int32) {
		if int(s) < len(g.inflight) && g.inflight[s] != 0 {
			dst = append(dst, GatePartitionStats{Key: g.slots.key(s), InFlight: g.inflight[s]})
		}
	}
	if g.own() {
		for s := range g.inflight {
			add(int32(s))
		}
	} else {
		for _, s := range byKey {
			add(s)
		}
	}
	return dst
}

func (g *GlobalCapGate[C]) partitionStats(now time.Time, dst []GatePartitionStats, byKey []int32) []GatePartitionStats {
	return append(dst, GatePartitionStats{Key: "default", InFlight: g.inflight})
}
