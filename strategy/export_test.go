package strategy

import "fmt"

// CheckInvariants reports the first broken invariant of q's internal state, or nil. It is
// exported to the tests only.
//
//   - every worker is down, idle or held; holder[w] != 0 exactly when w is held;
//   - the idle bit set holds exactly the idle workers, and nIdle counts them;
//   - no ticket holds two workers, and no held ticket is also waiting;
//   - the waiting tickets are strictly increasing from front to back, and were issued.
func (q *Queue) CheckInvariants() error {
	if len(q.state) != len(q.holder) || len(q.free) != (len(q.state)+63)/64 {
		return fmt.Errorf("lengths: %d states, %d holders, %d idle words", len(q.state), len(q.holder), len(q.free))
	}
	holders := map[Ticket]int{}
	idleCount := 0
	for w, s := range q.state {
		bit := q.free[w/64]>>(w%64)&1 == 1
		switch s {
		case down, idle:
			if q.holder[w] != 0 {
				return fmt.Errorf("worker %d in state %d has holder %d", w, s, q.holder[w])
			}
		case held:
			t := q.holder[w]
			if t == 0 || t > q.lastTicket {
				return fmt.Errorf("held worker %d has holder %d (last ticket %d)", w, t, q.lastTicket)
			}
			if other, dup := holders[t]; dup {
				return fmt.Errorf("ticket %d holds workers %d and %d", t, other, w)
			}
			holders[t] = w
		default:
			return fmt.Errorf("worker %d in unknown state %d", w, s)
		}
		if bit != (s == idle) {
			return fmt.Errorf("worker %d: idle bit %v, state %d", w, bit, s)
		}
		if s == idle {
			idleCount++
		}
	}
	for w := len(q.state); w < 64*len(q.free); w++ {
		if q.free[w/64]>>(w%64)&1 == 1 {
			return fmt.Errorf("idle bit set for worker %d of %d", w, len(q.state))
		}
	}
	if idleCount != q.nIdle {
		return fmt.Errorf("nIdle = %d, but %d workers are idle", q.nIdle, idleCount)
	}
	if q.size < 0 || q.size > len(q.ring) || (len(q.ring)&(len(q.ring)-1)) != 0 {
		return fmt.Errorf("ring: size %d, capacity %d", q.size, len(q.ring))
	}
	var prev Ticket
	for i := range q.size {
		t := q.at(i).t
		if t <= prev || t > q.lastTicket {
			return fmt.Errorf("waiting tickets out of order at %d: %d after %d (last %d)", i, t, prev, q.lastTicket)
		}
		if w, ok := holders[t]; ok {
			return fmt.Errorf("ticket %d both waits and holds worker %d", t, w)
		}
		prev = t
	}
	return nil
}
