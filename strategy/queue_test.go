package strategy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/strategy"
)

// checkInvariants fails the test if q's internal state is inconsistent; every queue test
// calls it after every step.
func checkInvariants(t *testing.T, q *strategy.Queue) {
	t.Helper()
	if err := q.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// qstep is one step of a queue table test.
type qstep struct {
	op       string // "req", "ready", "cancel", "dead", "add"
	at       time.Duration
	deadline time.Duration // req: relative to base, not to at
	w        int           // ready, dead; cancel: the ticket
	// expected results
	ticket  strategy.Ticket
	worker  int
	ok      bool
	err     string
	pending int
}

func runQueue(t *testing.T, q *strategy.Queue, steps []qstep) {
	t.Helper()
	for i, s := range steps {
		var (
			g   strategy.Grant
			ok  bool
			err error
		)
		switch s.op {
		case "req":
			g, ok, err = q.Request(at(s.at), at(s.deadline))
		case "ready":
			g, ok, err = q.Ready(at(s.at), s.w)
		case "cancel":
			ok = q.Cancel(strategy.Ticket(s.w))
			g.Worker = -1
		case "dead":
			g.Worker = -1
			g.Ticket, ok, err = q.Dead(s.w)
		case "add":
			g.Worker = q.AddWorker()
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		checkInvariants(t, q)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if g.Ticket != s.ticket || g.Worker != s.worker || ok != s.ok || gotErr != s.err || q.Pending() != s.pending {
			t.Fatalf("step %d: %s(t+%v, %d) = ticket %d, worker %d, %v, %q, pending %d; want ticket %d, worker %d, %v, %q, pending %d",
				i, s.op, s.at, s.w, g.Ticket, g.Worker, ok, gotErr, q.Pending(), s.ticket, s.worker, s.ok, s.err, s.pending)
		}
	}
}

const ms = time.Millisecond

func TestQueueFIFO(t *testing.T) {
	q := must(strategy.NewQueue(2, strategy.FIFO))
	checkInvariants(t, q)
	runQueue(t, q, []qstep{
		{op: "req", at: 0, deadline: 100 * ms, ticket: 1, worker: 0, ok: true},   // lowest idle first
		{op: "req", at: 1, deadline: 100 * ms, ticket: 2, worker: 1, ok: true},   //
		{op: "req", at: 2, deadline: 50 * ms, ticket: 3, worker: -1, pending: 1}, // waits
		{op: "req", at: 3, deadline: 200 * ms, ticket: 4, worker: -1, pending: 2},
		{op: "req", at: 4, deadline: 200 * ms, ticket: 5, worker: -1, pending: 3},
		{op: "req", at: 5, deadline: 5, worker: -1, err: "strategy: timeout", pending: 3}, // deadline == now
		{op: "req", at: 5, deadline: 0, worker: -1, err: "strategy: timeout", pending: 3}, // zero timeout
		// Worker 1 finishes at 10ms: ticket 3 (the oldest) gets it.
		{op: "ready", at: 10 * ms, w: 1, ticket: 3, worker: 1, ok: true, pending: 2},
		// At 60ms ticket 4 is the oldest live waiter.
		{op: "ready", at: 60 * ms, w: 0, ticket: 4, worker: 0, ok: true, pending: 1},
		{op: "cancel", w: 5, ok: true, worker: -1, pending: 1},   // counted until discarded
		{op: "cancel", w: 5, worker: -1, pending: 1},             // not twice
		{op: "cancel", w: 4, worker: -1, pending: 1},             // holds a worker: not waiting
		{op: "ready", at: 70 * ms, w: 1, worker: -1, pending: 0}, // 5 discarded, worker 1 idle
		{op: "ready", at: 70 * ms, w: 1, worker: -1, err: "strategy: Queue worker 1 is already idle"},
		{op: "ready", at: 70 * ms, w: 2, worker: -1, err: "strategy: Queue worker 2 out of range [0, 2)"},
		{op: "ready", at: 70 * ms, w: -1, worker: -1, err: "strategy: Queue worker -1 out of range [0, 2)"},
	})
	assert.Equal(t, 1, q.IdleWorkers())
	h, ok := q.Holder(0)
	assert.True(t, ok)
	assert.Equal(t, strategy.Ticket(4), h)
}

func TestQueueLIFO(t *testing.T) {
	q := must(strategy.NewQueue(1, strategy.LIFO))
	runQueue(t, q, []qstep{
		{op: "req", at: 0, deadline: time.Hour, ticket: 1, worker: 0, ok: true},
		{op: "req", at: 1, deadline: time.Hour, ticket: 2, worker: -1, pending: 1},
		{op: "req", at: 2, deadline: time.Hour, ticket: 3, worker: -1, pending: 2},
		{op: "req", at: 3, deadline: 10 * ms, ticket: 4, worker: -1, pending: 3},
		// Ticket 4 (newest) has expired at 20ms: discarded lazily; ticket 3 is served.
		{op: "ready", at: 20 * ms, w: 0, ticket: 3, worker: 0, ok: true, pending: 1},
		{op: "ready", at: 30 * ms, w: 0, ticket: 2, worker: 0, ok: true, pending: 0},
		{op: "ready", at: 40 * ms, w: 0, worker: -1},
	})
}

// TestQueueExpiredCountsAsPending pins wpool's pending count: expired waiters count until
// a Ready discards them.
func TestQueueExpiredCountsAsPending(t *testing.T) {
	q := must(strategy.NewQueue(1, strategy.FIFO))
	runQueue(t, q, []qstep{
		{op: "req", at: 0, deadline: time.Second, ticket: 1, worker: 0, ok: true},
		{op: "req", at: 0, deadline: 10 * ms, ticket: 2, worker: -1, pending: 1},
		{op: "req", at: 0, deadline: 20 * ms, ticket: 3, worker: -1, pending: 2},
		// Long after both deadlines, nothing has discarded them yet.
		{op: "req", at: time.Minute, deadline: time.Hour, ticket: 4, worker: -1, pending: 3},
		{op: "ready", at: time.Minute, w: 0, ticket: 4, worker: 0, ok: true, pending: 0},
	})
}

// TestQueueBackwardsTime: a now earlier than one already seen is that latest time, so a
// deadline that has passed stays passed.
func TestQueueBackwardsTime(t *testing.T) {
	q := must(strategy.NewQueue(1, strategy.FIFO))
	runQueue(t, q, []qstep{
		{op: "req", at: 50 * ms, deadline: time.Second, ticket: 1, worker: 0, ok: true},
		{op: "req", at: 60 * ms, deadline: 100 * ms, ticket: 2, worker: -1, pending: 1},
		{op: "req", at: 200 * ms, deadline: time.Second, ticket: 3, worker: -1, pending: 2},
		// Back at 10ms: the clock stays at 200ms, ticket 2 has expired.
		{op: "ready", at: 10 * ms, w: 0, ticket: 3, worker: 0, ok: true, pending: 0},
		{op: "req", at: 0, deadline: 150 * ms, worker: -1, err: "strategy: timeout"},
		// The same instant twice.
		{op: "req", at: 200 * ms, deadline: 300 * ms, ticket: 4, worker: -1, pending: 1},
		{op: "req", at: 200 * ms, deadline: 300 * ms, ticket: 5, worker: -1, pending: 2},
	})
}

// TestQueueWorkerDeath: a held worker's death is reported to its holder; a dead worker is
// down until Ready (a restart), and a new worker can be added.
func TestQueueWorkerDeath(t *testing.T) {
	q := must(strategy.NewQueue(2, strategy.FIFO))
	runQueue(t, q, []qstep{
		{op: "req", at: 0, deadline: time.Hour, ticket: 1, worker: 0, ok: true},
		{op: "dead", w: 0, ticket: 1, worker: -1, ok: true},
		{op: "dead", w: 0, worker: -1, err: "strategy: Queue worker 0 is already down"},
		{op: "dead", w: 1, worker: -1}, // idle: no holder to tell
		{op: "dead", w: 7, worker: -1, err: "strategy: Queue worker 7 out of range [0, 2)"},
		{op: "req", at: 1, deadline: time.Hour, ticket: 2, worker: -1, pending: 1},
		{op: "add", worker: 2, pending: 1},
		{op: "ready", at: 2, w: 2, ticket: 2, worker: 2, ok: true}, // the new worker starts
		{op: "ready", at: 3, w: 0, worker: -1},                     // worker 0 restarts, idle
		{op: "req", at: 4, deadline: time.Hour, ticket: 3, worker: 0, ok: true},
	})
	assert.Equal(t, 3, q.Workers())
	_, ok := q.Holder(1)
	assert.False(t, ok)
	_, ok = q.Holder(-1)
	assert.False(t, ok)
}

// TestQueueZeroDeadline: a zero timeout (deadline == now) and the zero time.Time fail at
// once with ErrTimeout, as wpool's timeout 0 does, even with a worker idle: no worker is
// granted, no ticket is issued, nothing waits.
func TestQueueZeroDeadline(t *testing.T) {
	q := must(strategy.NewQueue(2, strategy.FIFO))
	now := at(time.Minute)
	for _, deadline := range []time.Time{now, {}, now.Add(-time.Nanosecond)} {
		g, ok, err := q.Request(now, deadline)
		checkInvariants(t, q)
		require.ErrorIs(t, err, strategy.ErrTimeout, "deadline %v", deadline)
		assert.False(t, ok)
		assert.Equal(t, strategy.Grant{Worker: -1, Deadline: deadline}, g)
		assert.Equal(t, 2, q.IdleWorkers())
		assert.Zero(t, q.Pending())
	}
	g, ok, err := q.Request(now, now.Add(time.Nanosecond))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, strategy.Grant{Ticket: 1, Worker: 0, Deadline: now.Add(time.Nanosecond)}, g, "the failed requests took no ticket")
}

// TestQueueZeroWorkers: a queue may start empty; requests wait for the first worker.
func TestQueueZeroWorkers(t *testing.T) {
	q := must(strategy.NewQueue(0, strategy.LIFO))
	runQueue(t, q, []qstep{
		{op: "req", at: 0, deadline: time.Second, ticket: 1, worker: -1, pending: 1},
		{op: "ready", at: 0, w: 0, worker: -1, err: "strategy: Queue worker 0 out of range [0, 0)", pending: 1},
		{op: "add", worker: 0, pending: 1},
		{op: "ready", at: 0, w: 0, ticket: 1, worker: 0, ok: true},
	})
	assert.Equal(t, strategy.LIFO, q.Order())
	assert.Equal(t, "FIFO", strategy.FIFO.String())
	assert.Equal(t, "LIFO", strategy.LIFO.String())
}

// model is the waiting queue's specification, written as plainly as possible: waiting
// tickets in a sorted slice (live or not yet discarded), and a state per worker.
type model struct {
	order   strategy.Order
	clock   time.Time
	last    strategy.Ticket
	waiting []mwaiter
	state   []int // 0 down, 1 idle, 2 held
	holder  []strategy.Ticket
}

type mwaiter struct {
	t         strategy.Ticket
	deadline  time.Time
	cancelled bool
}

func newModel(n int, order strategy.Order) *model {
	m := &model{order: order}
	for range n {
		m.state = append(m.state, 1)
		m.holder = append(m.holder, 0)
	}
	return m
}

func (m *model) tick(now time.Time) time.Time {
	if now.After(m.clock) {
		m.clock = now
	}
	return m.clock
}

func (m *model) request(now, deadline time.Time) (strategy.Grant, bool, error) {
	now = m.tick(now)
	if !deadline.After(now) {
		return strategy.Grant{Worker: -1, Deadline: deadline}, false, strategy.ErrTimeout
	}
	m.last++
	for w, s := range m.state { // the lowest idle worker
		if s == 1 {
			m.state[w], m.holder[w] = 2, m.last
			return strategy.Grant{Ticket: m.last, Worker: w, Deadline: deadline}, true, nil
		}
	}
	m.waiting = append(m.waiting, mwaiter{t: m.last, deadline: deadline})
	return strategy.Grant{Ticket: m.last, Worker: -1, Deadline: deadline}, false, nil
}

func (m *model) live(x mwaiter) bool { return !x.cancelled && x.deadline.After(m.clock) }

// ready hands w to the oldest (FIFO) or newest (LIFO) live waiter; the waiters passed over
// on that side are discarded, and all of them if none is live.
func (m *model) ready(now time.Time, w int) (strategy.Grant, bool, error) {
	if w < 0 || w >= len(m.state) {
		return strategy.Grant{Worker: -1}, false, fmt.Errorf("strategy: Queue worker %d out of range [0, %d)", w, len(m.state))
	}
	if m.state[w] == 1 {
		return strategy.Grant{Worker: -1}, false, fmt.Errorf("strategy: Queue worker %d is already idle", w)
	}
	m.tick(now)
	pick := -1
	if m.order == strategy.FIFO {
		for i, x := range m.waiting {
			if m.live(x) {
				pick = i
				break
			}
		}
	} else {
		for i := len(m.waiting) - 1; i >= 0; i-- {
			if m.live(m.waiting[i]) {
				pick = i
				break
			}
		}
	}
	if pick < 0 {
		m.waiting = m.waiting[:0]
		m.state[w], m.holder[w] = 1, 0
		return strategy.Grant{Worker: -1}, false, nil
	}
	x := m.waiting[pick]
	if m.order == strategy.FIFO {
		m.waiting = m.waiting[pick+1:]
	} else {
		m.waiting = m.waiting[:pick]
	}
	m.state[w], m.holder[w] = 2, x.t
	return strategy.Grant{Ticket: x.t, Worker: w, Deadline: x.deadline}, true, nil
}

func (m *model) cancel(t strategy.Ticket) bool {
	for i := range m.waiting {
		if m.waiting[i].t == t && !m.waiting[i].cancelled {
			m.waiting[i].cancelled = true
			return true
		}
	}
	return false
}

func (m *model) dead(w int) (strategy.Ticket, bool, error) {
	if w < 0 || w >= len(m.state) {
		return 0, false, fmt.Errorf("strategy: Queue worker %d out of range [0, %d)", w, len(m.state))
	}
	switch m.state[w] {
	case 0:
		return 0, false, fmt.Errorf("strategy: Queue worker %d is already down", w)
	case 1:
		m.state[w] = 0
		return 0, false, nil
	}
	t := m.holder[w]
	m.state[w], m.holder[w] = 0, 0
	return t, true, nil
}

func (m *model) add() int {
	m.state = append(m.state, 0)
	m.holder = append(m.holder, 0)
	return len(m.state) - 1
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// TestQueueMatchesModel replays random histories on a Queue and on the model: every answer
// and the pending count agree, the invariants hold after every step, and across the run no
// ticket is granted twice, no worker is handed to two tickets at once, and every grant of
// a waiting ticket goes to the oldest (FIFO) or newest (LIFO) live waiter.
func TestQueueMatchesModel(t *testing.T) {
	forAll(t, "Queue equals its model; hand-off is ordered, never lost or duplicated", *trials, func(r *rand.Rand) string {
		n := r.IntN(6)
		order := strategy.Order(r.IntN(2))
		q := must(strategy.NewQueue(n, order))
		m := newModel(n, order)
		var now time.Duration
		granted := map[strategy.Ticket]bool{}
		for step := range 200 {
			switch r.IntN(10) {
			case 0: // back in time
				now -= time.Duration(r.IntN(50)) * ms
			case 1, 2: // the same instant
			default:
				now += time.Duration(r.IntN(30)) * ms
			}
			var (
				op         string
				isReady    bool
				isGrant    bool // Request or Ready
				g, wg      strategy.Grant
				ok, wok    bool
				err, werr  error
				liveBefore []strategy.Ticket
			)
			eff := at(now)
			if m.clock.After(eff) {
				eff = m.clock
			}
			for _, x := range m.waiting {
				if !x.cancelled && x.deadline.After(eff) {
					liveBefore = append(liveBefore, x.t)
				}
			}
			switch k := r.IntN(100); {
			case k < 40:
				d := time.Duration(r.IntN(200)-20) * ms
				if r.IntN(10) == 0 {
					d = 0
				}
				op, isGrant = fmt.Sprintf("Request(t+%v, deadline t+%v)", now, now+d), true
				g, ok, err = q.Request(at(now), at(now+d))
				wg, wok, werr = m.request(at(now), at(now+d))
			case k < 80:
				w := r.IntN(len(m.state) + 1)
				if r.IntN(20) == 0 {
					w = -1
				}
				op, isReady, isGrant = fmt.Sprintf("Ready(t+%v, %d)", now, w), true, true
				g, ok, err = q.Ready(at(now), w)
				wg, wok, werr = m.ready(at(now), w)
			case k < 90:
				tk := strategy.Ticket(r.IntN(int(m.last) + 2))
				op = fmt.Sprintf("Cancel(%d)", tk)
				ok, wok = q.Cancel(tk), m.cancel(tk)
			case k < 96:
				w := r.IntN(len(m.state) + 1)
				op = fmt.Sprintf("Dead(%d)", w)
				g.Ticket, ok, err = q.Dead(w)
				wg.Ticket, wok, werr = m.dead(w)
			default:
				op = "AddWorker()"
				g.Worker, wg.Worker = q.AddWorker(), m.add()
			}
			if err := q.CheckInvariants(); err != nil {
				return fmt.Sprintf("step %d, after %s: %v", step, op, err)
			}
			if g != wg || ok != wok || !sameErr(err, werr) || q.Pending() != len(m.waiting) {
				return fmt.Sprintf("step %d: %s = %+v, %v, %v, pending %d; model %+v, %v, %v, pending %d",
					step, op, g, ok, err, q.Pending(), wg, wok, werr, len(m.waiting))
			}
			if errors.Is(err, strategy.ErrTimeout) && g.Ticket != 0 {
				return fmt.Sprintf("step %d: %s timed out with ticket %d", step, op, g.Ticket)
			}
			if isGrant && ok {
				// A grant: once per ticket, and to the right waiter.
				if granted[g.Ticket] {
					return fmt.Sprintf("step %d: %s granted ticket %d a second time", step, op, g.Ticket)
				}
				granted[g.Ticket] = true
				if isReady { // Ready: the oldest or newest live waiter
					want := liveBefore[0]
					if order == strategy.LIFO {
						want = liveBefore[len(liveBefore)-1]
					}
					if g.Ticket != want {
						return fmt.Sprintf("step %d: %s served ticket %d, want %d of live %v", step, op, g.Ticket, want, liveBefore)
					}
				}
			}
			if isReady && err == nil && !ok && len(liveBefore) > 0 {
				return fmt.Sprintf("step %d: %s left worker idle with live waiters %v", step, op, liveBefore)
			}
			// No worker is held by two tickets, and the held tickets are distinct.
			holders := map[strategy.Ticket]int{}
			for w := range q.Workers() {
				if h, ok := q.Holder(w); ok {
					if other, dup := holders[h]; dup {
						return fmt.Sprintf("step %d: ticket %d holds workers %d and %d", step, h, other, w)
					}
					holders[h] = w
				}
			}
			// Every worker is where the model has it: none lost, none in two places.
			for w := range m.state {
				h, held := q.Holder(w)
				if held != (m.state[w] == 2) || h != m.holder[w] {
					return fmt.Sprintf("step %d: after %s worker %d has holder %d, %v; model state %d holder %d", step, op, w, h, held, m.state[w], m.holder[w])
				}
			}
			idle := 0
			for _, st := range m.state {
				if st == 1 {
					idle++
				}
			}
			if q.IdleWorkers() != idle || q.Workers() != len(m.state) {
				return fmt.Sprintf("step %d: %d idle of %d workers, model %d of %d", step, q.IdleWorkers(), q.Workers(), idle, len(m.state))
			}
		}
		return ""
	})
}

// TestQueueAllocations: in steady state, requests, hand-offs and cancels allocate nothing.
func TestQueueAllocations(t *testing.T) {
	q := must(strategy.NewQueue(4, strategy.FIFO))
	for range 4 {
		_, _, err := q.Request(base, base.Add(time.Hour))
		require.NoError(t, err)
	}
	now := base
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(ms)
		g, _, _ := q.Request(now, now.Add(time.Second))
		q.Cancel(g.Ticket)
		g2, _, _ := q.Request(now, now.Add(time.Second))
		if _, ok, err := q.Ready(now, 1); err != nil || !ok {
			panic(fmt.Sprint(g2, ok, err))
		}
	})
	assert.Zero(t, allocs)
}
