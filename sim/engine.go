package sim

import (
	"fmt"
	"time"
)

// Engine is a discrete-event engine: a virtual clock and a queue of events of type E ordered
// by (time, insertion sequence), so that events at the same instant run in the order they
// were scheduled and every run is deterministic. Events are stored by value in a 4-ary heap:
// no interface boxing and no allocation per event once the heap has grown. Cancellation is
// lazy: a cancelled event stays in the heap and is skipped when it comes up.
//
// Virtual time is a time.Duration since the run's epoch (int64 nanoseconds), so ordering is
// exact and independent of the architecture.
//
// An Engine is single-owner: one goroutine runs it. Handlers may schedule and cancel events.
type Engine[E any] struct {
	now     time.Duration
	seq     uint64
	heap    []entry[E]
	gens    []uint32 // generation per timer slot; an entry is live iff its gen matches
	free    []uint32 // free timer slots
	handle  func(now time.Duration, ev E)
	handled uint64
}

type entry[E any] struct {
	at   time.Duration
	seq  uint64
	slot uint32
	gen  uint32
	ev   E
}

// Timer identifies a scheduled event, for Cancel. The zero Timer is not a valid timer.
type Timer struct {
	slot uint32
	gen  uint32 // 0 means none: generations start at 1
}

// NewEngine returns an engine at time zero that calls handle for each event.
func NewEngine[E any](handle func(now time.Duration, ev E)) *Engine[E] {
	return &Engine[E]{handle: handle}
}

// Now returns the current virtual time.
func (e *Engine[E]) Now() time.Duration { return e.now }

// Len returns the number of scheduled events, including cancelled ones not yet skipped.
func (e *Engine[E]) Len() int { return len(e.heap) }

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
	}
	e.gens[slot]++
	if e.gens[slot] == 0 { // wrapped: skip the "none" generation
		e.gens[slot] = 1
	}
	gen := e.gens[slot]
	e.seq++
	e.heap = append(e.heap, entry[E]{at: at, seq: e.seq, slot: slot, gen: gen, ev: ev})
	e.up(len(e.heap) - 1)
	return Timer{slot: slot, gen: gen}
}

// After schedules ev d after now.
func (e *Engine[E]) After(d time.Duration, ev E) Timer { return e.At(e.now+d, ev) }

// Cancel cancels the event of t if it has not run yet, and reports whether it did.
// Cost: O(1); the entry is skipped when it reaches the top of the heap.
func (e *Engine[E]) Cancel(t Timer) bool {
	if t.gen == 0 || int(t.slot) >= len(e.gens) || e.gens[t.slot] != t.gen {
		return false
	}
	e.gens[t.slot]++ // the heap entry no longer matches
	e.free = append(e.free, t.slot)
	return true
}

// Step runs the next live event and reports whether there was one.
func (e *Engine[E]) Step() bool {
	for len(e.heap) > 0 {
		top := e.pop()
		if e.gens[top.slot] != top.gen {
			continue // cancelled
		}
		e.gens[top.slot]++
		e.free = append(e.free, top.slot)
		e.now = top.at
		e.handled++
		e.handle(top.at, top.ev)
		return true
	}
	return false
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
	for len(e.heap) > 0 {
		if top := &e.heap[0]; e.gens[top.slot] == top.gen {
			return top.at, true
		}
		e.pop()
	}
	return 0, false
}

func less[E any](a, b *entry[E]) bool {
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

func (e *Engine[E]) pop() entry[E] {
	h := e.heap
	top := h[0]
	n := len(h) - 1
	x := h[n]
	var zero entry[E]
	h[n] = zero // release references held by the event
	e.heap = h[:n]
	if n == 0 {
		return top
	}
	h = e.heap
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
	return top
}
