package admission

import (
	"fmt"
	"maps"
)

// checkInvariants verifies, from the policy's internals, everything it promises between
// calls: conservation (every held job is in exactly one state, and the counts add up),
// index consistency, dedupe consistency, and the built-in gates' counters matching the
// admitted jobs that hold them. Every test calls it after every step.
func checkInvariants[C any](p *Policy[C]) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pendingN, delayedN, parkedN, admittedN, startedN int
	perPart := make([][5]int, len(p.partList)) // by partition id
	nodes := make([]*node[C], 0, p.jobs.len())
	p.jobs.each(func(n *node[C]) { nodes = append(nodes, n) })
	if len(nodes) != p.jobs.len() {
		return fmt.Errorf("job table counts %d, holds %d", p.jobs.len(), len(nodes))
	}
	for i, pt := range p.byIndex {
		if pt != nil && p.parts[pt.key] != pt {
			return fmt.Errorf("partition index %d is partition %q, which is not that key's", i, pt.key)
		}
	}
	for _, n := range nodes {
		id := n.job.ID
		if p.jobs.get(id) != n {
			return fmt.Errorf("job %q is not found under its ID", id)
		}
		if int(n.part.id) >= len(p.partList) || p.partList[n.part.id] != n.part {
			return fmt.Errorf("job %q is in partition %q, which is not listed under its id %d", id, n.part.key, n.part.id)
		}
		c := &perPart[n.part.id]
		switch n.st {
		case pending:
			pendingN++
			c[0]++
		case delayed:
			delayedN++
			c[1]++
		case parked:
			parkedN++
			c[2]++
		case admitted:
			admittedN++
			c[3]++
			if n.started {
				startedN++
				c[4]++
			}
		default:
			return fmt.Errorf("job %q is held in state %d", id, n.st)
		}
		if k := n.job.DedupeKey; k != "" && p.dedupe[k] != id {
			return fmt.Errorf("job %q holds dedupe key %q, filed for %q", id, k, p.dedupe[k])
		}
	}
	for k, id := range p.dedupe {
		if n := p.jobs.get(id); n == nil || n.job.DedupeKey != k {
			return fmt.Errorf("dedupe key %q names job %q, which does not hold it", k, id)
		}
	}
	if len(p.parts) != len(p.partList) {
		return fmt.Errorf("%d partitions by key, %d listed", len(p.parts), len(p.partList))
	}
	var completed uint64
	for i, pt := range p.partList {
		if int(pt.id) != i || p.parts[pt.key] != pt {
			return fmt.Errorf("partition %q has id %d at index %d", pt.key, pt.id, i)
		}
		c := perPart[i]
		if c != [5]int{pt.pending, pt.delayed, pt.parked, pt.admitted, pt.started} {
			return fmt.Errorf("partition %q counts %v, jobs say %v", pt.key, []int{pt.pending, pt.delayed, pt.parked, pt.admitted, pt.started}, c)
		}
		if pt.paused && pt.pending > 0 {
			return fmt.Errorf("paused partition %q has %d pending jobs", pt.key, pt.pending)
		}
		completed += pt.completed
		if len(pt.parkedJobs) != pt.parked {
			return fmt.Errorf("partition %q lists %d parked jobs, counts %d", pt.key, len(pt.parkedJobs), pt.parked)
		}
		for _, n := range pt.parkedJobs {
			if n.st != parked || n.part != pt {
				return fmt.Errorf("partition %q lists job %q (state %d) as parked", pt.key, n.job.ID, n.st)
			}
		}
	}
	if got, want := [5]int{p.pendingN, p.delayedN, p.parkedN, p.admittedN, p.startedN}, [5]int{pendingN, delayedN, parkedN, admittedN, startedN}; got != want {
		return fmt.Errorf("policy counts %v (pending, delayed, parked, admitted, started), jobs say %v", got, want)
	}
	if got := uint64(p.jobs.len()) + completed; got != p.staged {
		return fmt.Errorf("staged %d but held %d + completed %d", p.staged, p.jobs.len(), completed)
	}
	if completed != p.completedN+p.expiredN {
		return fmt.Errorf("completed %d by partition, %d + %d expired by policy", completed, p.completedN, p.expiredN)
	}
	// The policy order holds exactly the pending jobs, in (priority, seq) order.
	if err := orderInvariants(&p.ord); err != nil {
		return fmt.Errorf("policy order: %w", err)
	}
	for k, rk := range p.keys {
		if err := orderInvariants(&rk.ord); err != nil {
			return fmt.Errorf("order of round-robin key %q: %w", k, err)
		}
	}
	seen, prev := 0, (*node[C])(nil)
	var err error
	p.ord.each(func(n *node[C]) bool {
		seen++
		if n.st != pending {
			err = fmt.Errorf("order holds job %q in state %d", n.job.ID, n.st)
			return false
		}
		if prev != nil && (p.ord.before(n.job.Priority, prev.job.Priority) || (n.job.Priority == prev.job.Priority && n.seq < prev.seq)) {
			err = fmt.Errorf("order has %q before %q", prev.job.ID, n.job.ID)
			return false
		}
		prev = n
		return true
	})
	if err != nil {
		return err
	}
	if seen != pendingN || p.ord.len() != pendingN {
		return fmt.Errorf("order holds %d (len %d), %d pending", seen, p.ord.len(), pendingN)
	}
	keyed, ring := 0, 0
	for k, rk := range p.keys {
		if rk.ord.len() == 0 || !rk.inRing {
			return fmt.Errorf("round-robin key %q is empty or off the ring", k)
		}
		keyed += rk.ord.len()
	}
	if rk := p.ring; rk != nil {
		for {
			ring++
			if rk = rk.next; rk == p.ring {
				break
			}
		}
	}
	if ring != len(p.keys) || ring != p.ringLen {
		return fmt.Errorf("ring has %d keys (len %d), %d keys pending", ring, p.ringLen, len(p.keys))
	}
	wantKeyed := 0
	for _, n := range nodes {
		if n.st == pending && n.job.RoundRobinKey != "" {
			wantKeyed++
		}
	}
	if keyed != wantKeyed {
		return fmt.Errorf("key orders hold %d jobs, %d pending have keys", keyed, wantKeyed)
	}
	// Built-in trackers: counters equal the admitted jobs holding them.
	for i := range p.gates {
		switch g := p.gates[i].g.(type) {
		case *ConcurrencyGate[C]:
			want := map[string]int{}
			for _, n := range nodes {
				if h := g.peek(n); n.st == admitted && h.ok {
					if k := gateKey(&g.gateBase, n); g.slots.key(h.slot) != k || !g.slots.keys[h.slot].used {
						return fmt.Errorf("gate %s: job %q holds slot %d, which is not its partition %q's", g.name, n.job.ID, h.slot, k)
					}
					want[g.slots.key(h.slot)]++
				} else if h.ok {
					return fmt.Errorf("gate %s: job %q in state %d holds a slot", g.name, n.job.ID, n.st)
				}
			}
			if err := sameCounts(g.name, &g.slots, g.own(), g.inflight, want); err != nil {
				return err
			}
			// Caps are per job and checked at admission, so the count never exceeds the
			// largest cap among the jobs holding the partition (the latest admitted holder
			// saw the count below its own cap, and only releases followed).
			capOf := map[string]int{}
			for _, n := range nodes {
				if h := g.peek(n); h.ok {
					k := g.slots.key(h.slot)
					capOf[k] = max(capOf[k], g.max(n.job.Context))
				}
			}
			for s, in := range g.inflight {
				if k := g.slots.key(int32(s)); in > capOf[k] {
					return fmt.Errorf("gate %s: partition %q has %d in flight, over every holder's cap (max %d)", g.name, k, in, capOf[k])
				}
			}
		case *AdaptiveGate[C]:
			want := map[string]int{}
			for _, n := range nodes {
				if h := g.peek(n); h.ok {
					if n.st != admitted {
						return fmt.Errorf("gate %s: job %q in state %d holds a slot", g.name, n.job.ID, n.st)
					}
					if k := gateKey(&g.gateBase, n); g.slots.key(h.slot) != k || !g.slots.keys[h.slot].used {
						return fmt.Errorf("gate %s: job %q holds slot %d, which is not its partition %q's", g.name, n.job.ID, h.slot, k)
					}
					want[g.slots.key(h.slot)]++
				}
			}
			if err := sameCounts(g.name, &g.slots, g.own(), g.inflight, want); err != nil {
				return err
			}
			for k, n := range want {
				if in := g.lim.InFlight(k); in != n {
					return fmt.Errorf("gate %s: limiter counts %d in flight in %q, jobs hold %d", g.name, in, k, n)
				}
			}
		case *ThrottleGate[C]:
			if err := throttleInvariants(g); err != nil {
				return err
			}
		case *GlobalCapGate[C]:
			held := 0
			for _, n := range nodes {
				if g.peek(n).ok {
					held++
				}
			}
			if held != g.inflight || g.inflight > g.max || g.inflight < 0 {
				return fmt.Errorf("gate %s: in flight %d (max %d), %d jobs hold it", g.name, g.inflight, g.max, held)
			}
		}
	}
	return nil
}

// sameCounts checks a gate's in-flight counts by slot against the counts the admitted jobs'
// holds give by key, and that the gate keeps no slot for a key with nothing in flight
// under its own partitioning (memory stays bounded by the keys in flight).
func sameCounts(name string, m *slotMap, own bool, inflight []int, want map[string]int) error {
	got := map[string]int{}
	for s, n := range inflight {
		if n < 0 {
			return fmt.Errorf("gate %s: slot %d has %d in flight", name, s, n)
		}
		if n > 0 {
			if !m.keys[s].used {
				return fmt.Errorf("gate %s: free slot %d has %d in flight", name, s, n)
			}
			got[m.key(int32(s))] = n
		}
	}
	if !maps.Equal(got, want) {
		return fmt.Errorf("gate %s: in flight %v, admitted jobs hold %v", name, got, want)
	}
	for k, s := range m.ids {
		if !m.keys[s].used || m.keys[s].key != k {
			return fmt.Errorf("gate %s: key %q maps to slot %d, which holds %+v", name, k, s, m.keys[s])
		}
	}
	used := 0
	for _, sk := range m.keys {
		if sk.used {
			used++
		}
	}
	if used != len(m.ids) {
		return fmt.Errorf("gate %s: %d slots in use, %d keys", name, used, len(m.ids))
	}
	if len(m.temp) > 0 {
		return fmt.Errorf("gate %s: slots %v interned by the last tick are left to sweep", name, m.temp)
	}
	if own {
		for s, sk := range m.keys {
			if sk.used && (s >= len(inflight) || inflight[s] == 0) {
				return fmt.Errorf("gate %s: slot %d (%q) is kept with nothing in flight", name, s, sk.key)
			}
		}
	}
	return nil
}

// gateKey is the partition of job n for gate b.
func gateKey[C any](b *gateBase[C], n *node[C]) string {
	if b.by != nil {
		return b.by(n.job.Context)
	}
	return n.part.key
}

// throttleInvariants checks the throttle's bookkeeping: the held list is exactly the slots
// with state (a known limit or a bucket), each once, a known valid limit has its bucket
// synced, and under the gate's own partitioning no slot is kept without state.
func throttleInvariants[C any](g *ThrottleGate[C]) error {
	seen := map[int32]bool{}
	for _, s := range g.held {
		p := &g.parts[s]
		switch {
		case seen[s]:
			return fmt.Errorf("gate %s: slot %d is held twice", g.name, s)
		case !p.held || (!p.known && p.b == nil):
			return fmt.Errorf("gate %s: slot %d is held without state: %+v", g.name, s, *p)
		case !g.slots.keys[s].used:
			return fmt.Errorf("gate %s: held slot %d is free", g.name, s)
		}
		seen[s] = true
	}
	for s := range g.parts {
		p := &g.parts[s]
		if p.held != seen[int32(s)] || ((p.known || p.b != nil) && !p.held) {
			return fmt.Errorf("gate %s: slot %d has state %+v but held is %v", g.name, s, *p, seen[int32(s)])
		}
		if g.own() && g.slots.keys[s].used && !p.held {
			return fmt.Errorf("gate %s: slot %d (%q) is kept without state", g.name, s, g.slots.keys[s].key)
		}
	}
	return nil
}
