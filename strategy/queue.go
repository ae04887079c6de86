package strategy

import (
	"fmt"
	"math/bits"
	"time"
)

// Order is the order in which a [Queue] serves its waiters.
type Order int

const (
	// FIFO serves the oldest waiter first (wpool's default queue_type).
	FIFO Order = iota
	// LIFO serves the newest waiter first (wpool queue_type lifo, issues #123/#125).
	LIFO
)

// String returns "FIFO", "LIFO" or "Order(n)".
func (o Order) String() string {
	switch o {
	case FIFO:
		return "FIFO"
	case LIFO:
		return "LIFO"
	}
	return fmt.Sprintf("Order(%d)", int(o))
}

// Ticket identifies one [Queue.Request]. Tickets are issued 1, 2, 3, ... in request order;
// 0 is never issued.
type Ticket uint64

// Grant is the answer to a request: worker Worker is handed to ticket Ticket, whose
// deadline is Deadline. Worker is -1 while the ticket waits.
type Grant struct {
	Ticket   Ticket
	Worker   int
	Deadline time.Time
}

// A worker is idle (free for the next request), held by one ticket, or down (dead, or
// added and not yet ready).
type workerState uint8

const (
	down workerState = iota
	idle
	held
)

type waiter struct {
	t         Ticket
	deadline  time.Time
	cancelled bool
}

// Queue is wpool's available_worker queue manager as a pure state machine: it keeps the
// idle workers and the callers waiting for one, and hands each worker that becomes ready
// to the next live waiter. It starts no goroutine and reads no clock: every call that
// depends on time takes now, and a now earlier than one already seen is treated as that
// latest time (time going backwards is no time passing).
//
//   - [Queue.Request] asks for a worker by a deadline. If a worker is idle, the one with the
//     lowest index is granted at once (wpool takes the smallest worker *name*, so worker 10
//     comes before worker 2 there; here the order is numeric). Otherwise the request waits
//     with a ticket. A deadline that is not after now fails at once with [ErrTimeout], even
//     if a worker is idle, as a zero timeout does in wpool.
//   - [Queue.Ready] reports that a worker is free: the worker its ticket held is released,
//     or a down worker comes up. It goes to the next live waiter, oldest first (FIFO) or
//     newest first (LIFO); waiters whose deadline has passed or that were cancelled are
//     discarded on the way, lazily, as wpool does. With no live waiter it becomes idle.
//   - [Queue.Cancel] withdraws a waiting ticket (the caller left).
//   - [Queue.Dead] reports a worker's death and returns the ticket that held it, so the
//     caller can tell its holder (wpool replies {'EXIT', Worker, Reason}).
//
// The caller's deadline covers both the wait and the work, as in wpool: a Grant carries the
// deadline, and a holder whose time has run out returns the worker with Ready.
//
// Cost: Request and Ready are O(n/64) to find the lowest idle worker plus O(1) amortised
// per waiter discarded; Cancel is O(log w) for w waiters. No allocation in steady state.
// Concurrency: a Queue is owned by one goroutine, like wpool's queue manager process;
// callers serialise access.
type Queue struct {
	order Order
	clock time.Time // the latest now seen

	lastTicket Ticket
	// ring holds the waiting tickets, including expired and cancelled ones not yet
	// discarded, in increasing ticket order: new tickets are pushed at the back, FIFO pops
	// the front and LIFO the back, so the order is kept and Cancel can binary search.
	ring       []waiter // len(ring) is 0 or a power of two
	head, size int

	state  []workerState
	holder []Ticket // holder[w] != 0 iff state[w] == held
	free   []uint64 // bit w set iff state[w] == idle
	nIdle  int
}

// NewQueue returns a Queue of workers workers, all idle, that serves waiters in the given
// order. workers may be 0 (add them with [Queue.AddWorker]); a negative count or an
// unknown order is an error.
func NewQueue(workers int, order Order) (*Queue, error) {
	if workers < 0 {
		return nil, fmt.Errorf("strategy: Queue workers must be >= 0, got %d", workers)
	}
	if order != FIFO && order != LIFO {
		return nil, fmt.Errorf("strategy: Queue order must be FIFO or LIFO, got %v", order)
	}
	q := &Queue{order: order}
	for range workers {
		w := q.AddWorker()
		q.setIdle(w)
	}
	return q, nil
}

// AddWorker adds a worker, down until it reports [Queue.Ready], and returns its index.
// wpool cannot grow a live pool (issue #129); here a worker can be added at any time.
func (q *Queue) AddWorker() int {
	w := len(q.state)
	q.state = append(q.state, down)
	q.holder = append(q.holder, 0)
	if w/64 >= len(q.free) {
		q.free = append(q.free, 0)
	}
	return w
}

// Order returns the order in which waiters are served.
func (q *Queue) Order() Order { return q.order }

// Workers returns the number of workers, idle, held or down.
func (q *Queue) Workers() int { return len(q.state) }

// IdleWorkers returns the number of idle workers.
func (q *Queue) IdleWorkers() int { return q.nIdle }

// Pending returns the number of waiting tickets, counting, as wpool's pending_task_count
// does, the expired and cancelled ones not yet discarded.
func (q *Queue) Pending() int { return q.size }

// Holder returns the ticket that holds worker w, if any.
func (q *Queue) Holder(w int) (Ticket, bool) {
	if w < 0 || w >= len(q.state) || q.state[w] != held {
		return 0, false
	}
	return q.holder[w], true
}

// now returns the effective time of a call at t and advances the clock to it.
func (q *Queue) now(t time.Time) time.Time {
	if t.After(q.clock) {
		q.clock = t
	}
	return q.clock
}

// Request asks for a worker by deadline. If a worker is idle, it returns the grant of the
// lowest-indexed one and true. Otherwise it returns a waiting ticket (Worker -1) and
// false; the ticket is served by a later Ready, or discarded once its deadline has passed
// or it is cancelled. A deadline that is not after now fails with ErrTimeout and no ticket.
func (q *Queue) Request(now, deadline time.Time) (Grant, bool, error) {
	now = q.now(now)
	if !deadline.After(now) {
		return Grant{Worker: -1, Deadline: deadline}, false, ErrTimeout
	}
	q.lastTicket++
	t := q.lastTicket
	if q.nIdle > 0 {
		w := q.lowestIdle()
		q.hold(w, t)
		return Grant{Ticket: t, Worker: w, Deadline: deadline}, true, nil
	}
	q.push(waiter{t: t, deadline: deadline})
	return Grant{Ticket: t, Worker: -1, Deadline: deadline}, false, nil
}

// Ready reports that worker w is free: its holder is done with it, or it was down and has
// started. It hands w to the next live waiter and returns that grant and true, discarding
// expired and cancelled waiters on the way; with none left, w becomes idle and Ready
// returns false. It is an error if w is out of range or already idle.
func (q *Queue) Ready(now time.Time, w int) (Grant, bool, error) {
	if err := q.check(w); err != nil {
		return Grant{Worker: -1}, false, err
	}
	if q.state[w] == idle {
		return Grant{Worker: -1}, false, fmt.Errorf("strategy: Queue worker %d is already idle", w)
	}
	now = q.now(now)
	for q.size > 0 {
		x := q.pop()
		if x.cancelled || !x.deadline.After(now) {
			continue // lazily discarded, as wpool skips dead and expired clients
		}
		q.hold(w, x.t)
		return Grant{Ticket: x.t, Worker: w, Deadline: x.deadline}, true, nil
	}
	q.holder[w] = 0
	q.setIdle(w)
	return Grant{Worker: -1}, false, nil
}

// Cancel withdraws waiting ticket t and reports whether it was waiting. A cancelled
// ticket is never served; it counts in Pending until it is discarded. Cancel does not
// return a worker that t already holds: the holder returns it with Ready.
func (q *Queue) Cancel(t Ticket) bool {
	// The ring is sorted by ticket: binary search it.
	lo, hi := 0, q.size
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if q.at(m).t < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == q.size {
		return false
	}
	x := q.at(lo)
	if x.t != t || x.cancelled {
		return false
	}
	x.cancelled = true
	return true
}

// Dead reports that worker w has died. If a ticket held it, Dead returns that ticket and
// true, so that the caller can report the death to its holder; an idle worker simply
// leaves the idle set. A dead worker is down until it reports Ready (a supervisor
// restart), so the holder told of the death must not return w with Ready itself. It is an
// error if w is out of range or already down.
func (q *Queue) Dead(w int) (Ticket, bool, error) {
	if err := q.check(w); err != nil {
		return 0, false, err
	}
	switch q.state[w] {
	case down:
		return 0, false, fmt.Errorf("strategy: Queue worker %d is already down", w)
	case idle:
		q.clearIdle(w)
		q.state[w] = down
		return 0, false, nil
	}
	t := q.holder[w]
	q.holder[w] = 0
	q.state[w] = down
	return t, true, nil
}

func (q *Queue) check(w int) error {
	if w < 0 || w >= len(q.state) {
		return fmt.Errorf("strategy: Queue worker %d out of range [0, %d)", w, len(q.state))
	}
	return nil
}

func (q *Queue) hold(w int, t Ticket) {
	if q.state[w] == idle {
		q.clearIdle(w)
	}
	q.state[w] = held
	q.holder[w] = t
}

func (q *Queue) setIdle(w int) {
	q.state[w] = idle
	q.free[w/64] |= 1 << (w % 64)
	q.nIdle++
}

func (q *Queue) clearIdle(w int) {
	q.free[w/64] &^= 1 << (w % 64)
	q.nIdle--
}

// lowestIdle returns the lowest idle worker; there must be one.
func (q *Queue) lowestIdle() int {
	for i, x := range q.free {
		if x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	panic("strategy: Queue idle count out of step with its idle set") // unreachable
}

// at returns the i-th waiter from the front.
func (q *Queue) at(i int) *waiter { return &q.ring[(q.head+i)&(len(q.ring)-1)] }

func (q *Queue) push(x waiter) {
	if q.size == len(q.ring) {
		grown := make([]waiter, max(8, 2*len(q.ring)))
		for i := range q.size {
			grown[i] = *q.at(i)
		}
		q.ring, q.head = grown, 0
	}
	*q.at(q.size) = x
	q.size++
}

// pop removes the next waiter in the queue's order.
func (q *Queue) pop() waiter {
	var x waiter
	if q.order == LIFO {
		x = *q.at(q.size - 1)
	} else {
		x = *q.at(0)
		q.head = (q.head + 1) & (len(q.ring) - 1)
	}
	q.size--
	return x
}
