package admission

import (
	"slices"
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
// nothing once warm. Cost: O(partitions + gate partitions·log).
func (p *Policy[C]) StatsInto(now time.Time, s *Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts, gates := s.Partitions[:0], s.Gates[:0]
	*s = Stats{
		Staged: p.staged, Completed: p.completedN, Expired: p.expiredN, Reverted: p.revertedN,
		LastAdmission: p.lastAdmit, Draining: p.draining,
	}
	for _, pt := range p.partList {
		s.Pending += pt.pending
		s.Delayed += pt.delayed
		s.Parked += pt.parked
		s.Admitted += pt.admitted
		s.Started += pt.started
		parts = append(parts, PartitionStats{
			Key: pt.key, Pending: pt.pending, Delayed: pt.delayed, Parked: pt.parked,
			Admitted: pt.admitted, Started: pt.started, Completed: pt.completed, Paused: pt.paused,
		})
	}
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
			gs.Partitions = r.partitionStats(now, gs.Partitions)
			slices.SortFunc(gs.Partitions, func(a, b GatePartitionStats) int {
				switch {
				case a.Key < b.Key:
					return -1
				case a.Key > b.Key:
					return 1
				}
				return 0
			})
		}
		gates = append(gates, gs)
	}
	s.Partitions, s.Gates = parts, gates
}

// statsReporter is implemented by built-in gates.
type statsReporter interface {
	errorState() (uint64, string)
	partitionStats(now time.Time, dst []GatePartitionStats) []GatePartitionStats
}

func (b *gateBase[C]) errorState() (uint64, string) { return b.errors, b.last }

func (g *ThrottleGate[C]) partitionStats(now time.Time, dst []GatePartitionStats) []GatePartitionStats {
	for _, s := range g.held {
		if g.parts[s].known {
			k := g.slots.key(s)
			dst = append(dst, GatePartitionStats{Key: k, Tokens: g.Tokens(now, k)})
		}
	}
	return dst
}

func (g *ConcurrencyGate[C]) partitionStats(now time.Time, dst []GatePartitionStats) []GatePartitionStats {
	for s, n := range g.inflight {
		if n != 0 {
			dst = append(dst, GatePartitionStats{Key: g.slots.key(int32(s)), InFlight: n})
		}
	}
	return dst
}

func (g *GlobalCapGate[C]) partitionStats(now time.Time, dst []GatePartitionStats) []GatePartitionStats {
	return append(dst, GatePartitionStats{Key: "default", InFlight: g.inflight})
}
