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
// Virtual time is a time.Duration since the run's epoch (int64 nanoseconds), so ordering is
// exact and independent of the architecture.
//
// An Engine is single-owner: one goroutine runs it. Handlers may schedule and cancel events.
type Engine[E any] struct {
	now     time.Duration
	seq     uint32 // the last sequence number given; renumbered before it wraps
	maxSeq  uint32
	heap    []entry
	evs     []E      // by slot: the scheduled event
	gens    []uint32 // by slot: generation; a Timer is live iff its gen matches
	dead    []bool   // by slot: cancelled, waiting to come up
	free    []uint32 // free slots
	handle  func(now time.Duration, ev E)
	handled uint64
	// hole reports that heap[0] is the entry of the event being (or last) handled, not yet
	// removed: the handler's first At replaces it and sifts down once, instead of a pop's
	// sift-down followed by a push's sift-up. Every other use removes it first.
	hole bool
}

// entry is a heap key: the event's time, its sequence number among the scheduled events,
// and its slot.
type entry struct {
	at   time.Duration
	seq  uint32
	slot uint32
}

// Timer identifies a scheduled event, for Cancel. The zero Timer is not a valid timer.
type Timer struct {
	slot uint32
	gen  uint32 // 0 means none: generations start at 1
}

// NewEngine returns an engine at time zero that calls handle for each event.
func NewEngine[E any](handle func(now time.Duration, ev E)) *Engine[E] {
	return &Engine[E]{handle: handle, maxSeq: math.MaxUint32}
}

// Now returns the current virtual time.
func (e *Engine[E]) Now() time.Duration { return e.now }

// Len returns the number of scheduled events, including cancelled ones not yet skipped.
func (e *Engine[E]) Len() int {
	if e.hole {
		return len(e.heap) - 1
	}
	return len(e.heap)
}

// Handled returns how many events have been handled.
func (e *Engine[E]) Handled() uint64 { return e.handled }

// At schedules ev at time at and returns a Timer that can cancel it. Scheduling in the past
// is a programmer error: it panics. Cost: O(log n).
func (e *Engine[E]) At(at time.Duration, ev E) Timer {
	if at < e.now {
		panic(fmt.Sprintf("sim: Engine.At: time %v is before now %v", at, e.now))
	}
	var slot uint32
	if n := len(e.free); n > 0 {
		slot = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		slot = uint32(len(e.gens))
		e.gens = append(e.gens, 0)
		e.dead = append(e.dead, false)
		var zero E
		e.evs = append(e.evs, zero)
	}
	e.gens[slot]++
	if e.gens[slot] == 0 { // wrapped: skip the "none" generation
		e.gens[slot] = 1
	}
	e.evs[slot] = ev
	if e.seq == e.maxSeq {
		e.fill()
		e.renumber()
	}
	e.seq++
	x := entry{at: at, seq: e.seq, slot: slot}
	if e.hole {
		// Replace the handled event's entry: one sift-down from the root.
		e.hole = false
		e.down(x)
	} else {
		e.heap = append(e.heap, x)
		e.up(len(e.heap) - 1)
	}
	return Timer{slot: slot, gen: e.gens[slot]}
}

// renumber gives the scheduled events the sequence numbers 1..n in their order, so that
// sequence numbers never wrap however many events a run schedules; the heap, ordered by
// (time, sequence), stays valid. Cost: O(n log n), once in 2^32 events.
func (e *Engine[E]) renumber() {
	byseq := make([]int, len(e.heap))
	for i := range byseq {
		byseq[i] = i
	}
	slices.SortFunc(byseq, func(a, b int) int { return cmp.Compare(e.heap[a].seq, e.heap[b].seq) })
	for k, i := range byseq {
		e.heap[i].seq = uint32(k + 1)
	}
	e.seq = uint32(len(e.heap))
}

// After schedules ev d after now.
func (e *Engine[E]) After(d time.Duration, ev E) Timer { return e.At(e.now+d, ev) }

// Cancel cancels the event of t if it has not run yet, and reports whether it did.
// Cost: O(1); the entry is skipped when it reaches the top of the heap.
func (e *Engine[E]) Cancel(t Timer) bool {
	if t.gen == 0 || int(t.slot) >= len(e.gens) || e.gens[t.slot] != t.gen || e.dead[t.slot] {
		return false
	}
	e.dead[t.slot] = true
	var zero E
	e.evs[t.slot] = zero // release references held by the event
	return true
}

// Step runs the next live event and reports whether there was one.
func (e *Engine[E]) Step() bool {
	e.fill()
	for len(e.heap) > 0 {
		top := e.heap[0]
		s := top.slot
		if e.dead[s] {
			e.pop()
			e.release(s)
			continue
		}
		// The entry stays at the root until the handler schedules (see hole).
		e.hole = true
		ev := e.evs[s]
		e.release(s)
		e.now = top.at
		e.handled++
		e.handle(top.at, ev)
		return true
	}
	return false
}

// fill removes the handled event's entry left at the root, if any.
func (e *Engine[E]) fill() {
	if e.hole {
		e.hole = false
		e.pop()
	}
}

// release frees the slot of an event that came up: its timer no longer matches.
func (e *Engine[E]) release(s uint32) {
	var zero E
	e.evs[s] = zero
	e.dead[s] = false
	e.gens[s]++
	if e.gens[s] == 0 {
		e.gens[s] = 1
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
	for len(e.heap) > 0 {
		if top := &e.heap[0]; !e.dead[top.slot] {
			return top.at, true
		}
		e.release(e.pop().slot)
	}
	return 0, false
}

func less(a, b *entry) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// up and down maintain the 4-ary heap invariant:
// less(h[i], h[(i−1)/4]) is false for every i > 0: a parent never comes after its children.
func (e *Engine[E]) up(i int) {
	h := e.heap
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

func (e *Engine[E]) pop() entry {
	h := e.heap
	top := h[0]
	n := len(h) - 1
	x := h[n]
	e.heap = h[:n]
	if n > 0 {
		e.down(x)
	}
	return top
}

// down puts x at the root, replacing what is there, and sifts it down to its place.
func (e *Engine[E]) down(x entry) {
	h := e.heap
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
