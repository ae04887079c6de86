package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Engine is a discrete-event engine: a virtual clock and a queue of events of type E ordered
// by (time, insertion sequence), so that events at the same instant run in the order they
// were scheduled and every run is deterministic. The queue is a 4-ary heap of 16-byte keys
// (time, sequence, slot), four children to a cache line; the events themselves are stored by
// value in a table indexed by slot: no interface boxing and no allocation per event once the
// tables have grown. Cancellation is lazy: a cancelled event stays in the heap and is skipped
// when it comes up.
//
// The queue is two heaps (lanes) sharing one sequence counter: At schedules in lane 0, and
// the simulator schedules each tenant's next arrival in lane 1, the far lane. With 100,000
// tenants the far lane holds 100,000 arrivals spread over hours of virtual time, while the
// near events (completions, ticks) are few and due soon: in one heap each near event would
// sift up through the whole depth of the arrivals and back down when it ran. The next event
// is the lesser of the two roots by (time, sequence), so the order is exactly that of one heap.
// Far events cannot be cancelled and are made from a 32-bit id when they come up (far), which
// their heap entry carries in place of a slot: an arrival reads no slot table, 100,000
// entries of which would be a cache miss per arrival.
//
// Virtual time is a time.Duration since the run's epoch (int64 nanoseconds), so ordering is
// exact and independent of the architecture.
//
// An Engine is single-owner: one goroutine runs it. Handlers may schedule and cancel events.
type Engine[E any] struct {
	now     time.Duration
	seq     uint32 // the last sequence number given; renumbered before it wraps
	maxSeq  uint32
	lanes   [2][]entry // 4-ary heaps; the queue is their union
	slots   []slot[E]  // by slot number
	free    []uint32   // free slots
	handle  func(now time.Duration, ev E)
	far     func(id uint32) E // makes a far event from its id
	handled uint64
	// hole is the lane whose root is the entry of the event being (or last) handled, not yet
	// removed, or -1: the handler's first scheduling in that lane replaces it and sifts down
	// once, instead of a pop's sift-down followed by a push's sift-up. Every other use
	// removes it first.
	hole int
}

// entry is a heap key: the event's time, its sequence number among the scheduled events,
// and its slot.
type entry struct {
	at   time.Duration
	seq  uint32
	slot uint32
}

// slot holds a scheduled event and its bookkeeping together, so that an event coming up
// reads one cache line of the table (with 100,000 pending arrivals every one is a miss).
type slot[E any] struct {
	ev   E      // the scheduled event
	gen  uint32 // generation; a Timer is live iff its gen matches
	dead bool   // cancelled, waiting to come up
}

// Timer identifies a scheduled event, for Cancel. The zero Timer is not a valid timer.
type Timer struct {
	slot uint32
	gen  uint32 // 0 means none: generations start at 1
}

// NewEngine returns an engine at time zero that calls handle for each event.
func NewEngine[E any](handle func(now time.Duration, ev E)) *Engine[E] {
	return &Engine[E]{handle: handle, maxSeq: math.MaxUint32, hole: -1}
}

// Now returns the current virtual time.
func (e *Engine[E]) Now() time.Duration { return e.now }

// Len returns the number of scheduled events, including cancelled ones not yet skipped.
func (e *Engine[E]) Len() int {
	n := len(e.lanes[0]) + len(e.lanes[1])
	if e.hole >= 0 {
		n--
	}
	return n
}

// Handled returns how many events have been handled.
func (e *Engine[E]) Handled() uint64 { return e.handled }

// At schedules ev at time at and returns a Timer that can cancel it. Scheduling in the past
// is a programmer error: it panics. Cost: O(log n).
func (e *Engine[E]) At(at time.Duration, ev E) Timer {
	if at < e.now {
		panic(fmt.Sprintf("sim: Engine.At: time %v is before now %v", at, e.now))
	}
	var s uint32
	if n := len(e.free); n > 0 {
		s = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		s = uint32(len(e.slots))
		e.slots = append(e.slots, slot[E]{})
	}
	sl := &e.slots[s]
	sl.gen++
	if sl.gen == 0 { // wrapped: skip the "none" generation
		sl.gen = 1
	}
	sl.ev = ev
	e.push(0, at, s)
	return Timer{slot: s, gen: sl.gen}
}

// atFar schedules the event far(id) at time at in the far lane (see Engine): for events
// that are never cancelled, of which many are pending at once, far ahead of the rest.
func (e *Engine[E]) atFar(at time.Duration, id uint32) {
	if at < e.now {
		panic(fmt.Sprintf("sim: Engine.atFar: time %v is before now %v", at, e.now))
	}
	e.push(1, at, id)
}

// push adds the entry of slot s (in the far lane: the event's id) at time at to a lane.
func (e *Engine[E]) push(lane int, at time.Duration, s uint32) {
	if e.seq == e.maxSeq {
		e.fill()
		e.renumber()
	}
	e.seq++
	x := entry{at: at, seq: e.seq, slot: s}
	if e.hole == lane {
		// Replace the handled event's entry: one sift-down from the root.
		e.hole = -1
		down(e.lanes[lane], x)
	} else {
		e.lanes[lane] = append(e.lanes[lane], x)
		up(e.lanes[lane], len(e.lanes[lane])-1)
	}
}

// renumber gives the scheduled events the sequence numbers 1..n in their order, so that
// sequence numbers never wrap however many events a run schedules; the heaps, ordered by
// (time, sequence), stay valid. Cost: O(n log n), once in 2^32 events.
func (e *Engine[E]) renumber() {
	type ref struct{ lane, i int }
	var byseq []ref
	for l, h := range e.lanes {
		for i := range h {
			byseq = append(byseq, ref{l, i})
		}
	}
	slices.SortFunc(byseq, func(a, b ref) int {
		return cmp.Compare(e.lanes[a.lane][a.i].seq, e.lanes[b.lane][b.i].seq)
	})
	for k, r := range byseq {
		e.lanes[r.lane][r.i].seq = uint32(k + 1)
	}
	e.seq = uint32(len(byseq))
}

// After schedules ev d after now.
func (e *Engine[E]) After(d time.Duration, ev E) Timer { return e.At(e.now+d, ev) }

// Cancel cancels the event of t if it has not run yet, and reports whether it did.
// Cost: O(1); the entry is skipped when it reaches the top of the heap.
func (e *Engine[E]) Cancel(t Timer) bool {
	if t.gen == 0 || int(t.slot) >= len(e.slots) {
		return false
	}
	sl := &e.slots[t.slot]
	if sl.gen != t.gen || sl.dead {
		return false
	}
	sl.dead = true
	var zero E
	sl.ev = zero // release references held by the event
	return true
}

// first returns the lane whose root comes first, or -1 if both are empty.
func (e *Engine[E]) first() int {
	h0, h1 := e.lanes[0], e.lanes[1]
	switch {
	case len(h1) == 0:
		if len(h0) == 0 {
			return -1
		}
		return 0
	case len(h0) == 0 || less(&h1[0], &h0[0]):
		return 1
	}
	return 0
}

// Step runs the next live event and reports whether there was one.
func (e *Engine[E]) Step() bool {
	e.fill()
	for {
		l := e.first()
		if l < 0 {
			return false
		}
		top := e.lanes[l][0]
		var ev E
		if s := top.slot; l == 1 {
			ev = e.far(s)
		} else {
			if e.slots[s].dead {
				e.pop(l)
				e.release(s)
				continue
			}
			ev = e.slots[s].ev
			e.release(s)
		}
		// The entry stays at the root until the handler schedules (see hole).
		e.hole = l
		e.now = top.at
		e.handled++
		e.handle(top.at, ev)
		return true
	}
}

// fill removes the handled event's entry left at a root, if any.
func (e *Engine[E]) fill() {
	if l := e.hole; l >= 0 {
		e.hole = -1
		e.pop(l)
	}
}

// release frees the slot of an event that came up: its timer no longer matches.
func (e *Engine[E]) release(s uint32) {
	sl := &e.slots[s]
	var zero E
	sl.ev = zero
	sl.dead = false
	sl.gen++
	if sl.gen == 0 {
		sl.gen = 1
	}
	e.free = append(e.free, s)
}

// Run runs events until none are left.
func (e *Engine[E]) Run() {
	for e.Step() {
	}
}

// RunUntil runs every event scheduled at or before t, then sets the clock to t. A t before
// now is a programmer error: it panics.
func (e *Engine[E]) RunUntil(t time.Duration) {
	if t < e.now {
		panic(fmt.Sprintf("sim: Engine.RunUntil: time %v is before now %v", t, e.now))
	}
	for {
		at, ok := e.Next()
		if !ok || at > t {
			break
		}
		e.Step()
	}
	e.now = t
}

// Next returns the time of the next live event and whether there is one. Cancelled
// entries at the top of the heap are discarded on the way, so that RunUntil never runs a
// live event past its bound because a cancelled one came first.
func (e *Engine[E]) Next() (time.Duration, bool) {
	e.fill()
	for {
		l := e.first()
		if l < 0 {
			return 0, false
		}
		if top := &e.lanes[l][0]; l == 1 || !e.slots[top.slot].dead {
			return top.at, true
		}
		e.release(e.pop(l).slot)
	}
}

func less(a, b *entry) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// up and down maintain the 4-ary heap invariant of a lane h:
// less(h[i], h[(i−1)/4]) is false for every i > 0: a parent never comes after its children.
func up(h []entry, i int) {
	x := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !less(&x, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// pop removes and returns the root of lane l.
func (e *Engine[E]) pop(l int) entry {
	h := e.lanes[l]
	top := h[0]
	n := len(h) - 1
	x := h[n]
	e.lanes[l] = h[:n]
	if n > 0 {
		down(h[:n], x)
	}
	return top
}

// down puts x at the root of h, replacing what is there, and sifts it down to its place.
func down(h []entry, x entry) {
	n := len(h)
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if less(&h[j], &h[m]) {
				m = j
			}
		}
		if !less(&h[m], &x) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}
