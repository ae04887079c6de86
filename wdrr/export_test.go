package wdrr

import (
	"fmt"
	"math"
)

// This file exports the internal invariant checks to the external tests (package wdrr_test),
// which call them after every step through checkInvariants.

// CheckInvariants reports the first broken internal invariant of s, or nil:
//   - vals, slots and ids have one entry per member; ids increase strictly and are below next;
//   - every weight is in [1, MaxWeight] and every effective weight in [0, weight];
//   - the current weights sum to zero (each scan adds the eligible total and the winner pays
//     it; Add adds 0; Remove shares the removed current among the rest);
//   - no current weight is near overflow.
func (s *SWRR[T]) CheckInvariants() error {
	n := len(s.vals)
	if len(s.slots) != n || len(s.ids) != n {
		return fmt.Errorf("lengths: %d values, %d slots, %d ids", n, len(s.slots), len(s.ids))
	}
	if s.rule < Nginx || s.rule > Strict || s.fails < 1 {
		return fmt.Errorf("config: rule %v, MaxFails %d", s.rule, s.fails)
	}
	var sum int64
	for i, p := range s.slots {
		if i > 0 && s.ids[i] <= s.ids[i-1] {
			return fmt.Errorf("ids not increasing at %d: %d after %d", i, s.ids[i], s.ids[i-1])
		}
		if s.ids[i] >= s.next {
			return fmt.Errorf("id %d at %d not below next %d", s.ids[i], i, s.next)
		}
		if p.wt < 1 || p.eff < 0 || p.eff > p.wt {
			return fmt.Errorf("member %d: weight %d, effective %d", s.ids[i], p.wt, p.eff)
		}
		if p.cur > math.MaxInt64/4 || p.cur < math.MinInt64/4 {
			return fmt.Errorf("member %d: current %d near overflow", s.ids[i], p.cur)
		}
		sum += p.cur
	}
	if sum != 0 {
		return fmt.Errorf("current weights sum to %d, want 0", sum)
	}
	return nil
}

// CheckInvariants reports the first broken internal invariant of d, or nil:
//   - the active list holds exactly the indexed keys, each once, each with a non-empty FIFO
//     whose length is its count, a deficit >= 0 and the quantum of its weight;
//   - the counts sum to Len, and the free lists hold every other class and node;
//   - tail is the last class of the active list.
func (d *DRR[K, T]) CheckInvariants() error {
	seen := map[int32]bool{}
	items, last := 0, int32(nilIdx)
	for c := d.head; c != nilIdx; c = d.classes[c].next {
		if seen[c] || len(seen) > len(d.classes) {
			return fmt.Errorf("active list has a cycle at class %d", c)
		}
		seen[c] = true
		cl := d.classes[c]
		if ic, ok := d.index[cl.key]; !ok || ic != c {
			return fmt.Errorf("key %v of class %d indexed as %d, %v", cl.key, c, ic, ok)
		}
		if cl.n < 1 {
			return fmt.Errorf("key %v active with %d items", cl.key, cl.n)
		}
		if cl.deficit < 0 {
			return fmt.Errorf("key %v: deficit %d < 0", cl.key, cl.deficit)
		}
		if want := int64(d.Weight(cl.key)) * d.quantum; cl.quantum != want {
			return fmt.Errorf("key %v: quantum %d, want %d", cl.key, cl.quantum, want)
		}
		k, tail := int32(0), int32(nilIdx)
		for nd := cl.head; nd != nilIdx; nd = d.nodes[nd].next {
			if k++; k > cl.n {
				return fmt.Errorf("key %v: FIFO longer than its count %d", cl.key, cl.n)
			}
			if d.nodes[nd].cost < 1 {
				return fmt.Errorf("key %v: item cost %d", cl.key, d.nodes[nd].cost)
			}
			tail = nd
		}
		if k != cl.n || tail != cl.tail {
			return fmt.Errorf("key %v: FIFO of %d items ending at %d, count %d tail %d", cl.key, k, tail, cl.n, cl.tail)
		}
		items += int(k)
		last = c
	}
	if last != d.tail {
		return fmt.Errorf("tail is %d, last active class is %d", d.tail, last)
	}
	if len(seen) != d.active || len(d.index) != d.active {
		return fmt.Errorf("%d classes in the active list, %d indexed, Active %d", len(seen), len(d.index), d.active)
	}
	if items != d.n {
		return fmt.Errorf("%d items queued, Len %d", items, d.n)
	}
	free := 0
	for c := d.freeC; c != nilIdx; c = d.classes[c].next {
		if free++; free > len(d.classes) {
			return fmt.Errorf("free class list has a cycle")
		}
	}
	if free+d.active != len(d.classes) {
		return fmt.Errorf("%d free + %d active classes, %d allocated", free, d.active, len(d.classes))
	}
	free = 0
	for nd := d.freeN; nd != nilIdx; nd = d.nodes[nd].next {
		if free++; free > len(d.nodes) {
			return fmt.Errorf("free node list has a cycle")
		}
	}
	if free+d.n != len(d.nodes) {
		return fmt.Errorf("%d free + %d queued nodes, %d allocated", free, d.n, len(d.nodes))
	}
	for k, w := range d.weights {
		if w < 2 || w > MaxWeight {
			return fmt.Errorf("key %v: stored weight %d", k, w)
		}
	}
	return nil
}

// Deficit returns key's deficit and whether it is backlogged, for the oracle comparison.
func (d *DRR[K, T]) Deficit(key K) (int64, bool) {
	if c, ok := d.index[key]; ok {
		return d.classes[c].deficit, true
	}
	return 0, false
}

// CheckInvariants reports the first broken internal invariant of a, or nil: in every pool,
// the index and the counters agree, no stamp is from the future, and the counters sum to
// zero (each pick adds the eligible total and the winner pays it).
func (a *Allocator[K, I, T]) CheckInvariants() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, p := range a.pools {
		if len(p.index) != len(p.ent) {
			return fmt.Errorf("pool %v: %d indexed, %d counters", k, len(p.index), len(p.ent))
		}
		var sum int64
		for i, c := range p.ent {
			if p.index[c.id] != int32(i) {
				return fmt.Errorf("pool %v: counter %d of %v indexed as %d", k, i, c.id, p.index[c.id])
			}
			if c.stamp > a.seq {
				return fmt.Errorf("pool %v: member %v stamped %d after call %d", k, c.id, c.stamp, a.seq)
			}
			sum += c.cur
		}
		if sum != 0 {
			return fmt.Errorf("pool %v: counters sum to %d, want 0", k, sum)
		}
	}
	return nil
}
