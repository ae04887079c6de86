package wdrr

import (
	"errors"
	"fmt"
	"sync"
)

// Allocator is smooth weighted round robin for callers whose membership lives elsewhere, as
// in DripDrop's adapter pools (DripDrop.AdapterPools.WDRR): the caller passes the current
// members and weights on every call, and the Allocator keeps only the current weights,
// keyed by a pool key K (DripDrop uses pool and sequence version, so each sequence version
// rotates independently) and a member ID I taken from each member by the function given to
// NewAllocator.
//
// A pick adds each eligible member's weight to its counter (a counter starts at 0), chooses
// by the Rule (DripDrop's by default: the largest counter, then the larger weight, then the
// earlier member as passed), and subtracts the eligible total from the winner. Ineligible
// members' counters are untouched, and counters of members not passed are kept, so a member
// that comes back resumes where it was. There is no failure accounting: the weights passed
// are used as they are.
//
// An Allocator is safe for concurrent use: one mutex serialises every call, so a pick is
// atomic (DripDrop's ETS counters are not; its concurrent picks interleave). The ID function
// and the predicates run under the mutex and must not call back into the Allocator.
type Allocator[K comparable, I comparable, T any] struct {
	mu    sync.Mutex
	rule  Rule
	id    func(T) I
	pools map[K]*pool[I]
	seq   uint64 // numbers calls, to find an ID passed twice in one call
	// scratch, reused under mu
	pos []int32
	sl  []slot
	ok  []bool
}

type pool[I comparable] struct {
	index map[I]int32
	ent   []counter[I] // in first-seen order
}

type counter[I comparable] struct {
	id    I
	cur   int64
	stamp uint64 // the call that last saw this ID
}

// Counter is a snapshot of one member's counter (its current weight) under a pool key.
type Counter[I comparable] struct {
	ID      I
	Current int64
}

// Choice is the answer of [Allocator.Fallback].
type Choice[I comparable, T any] struct {
	Member T
	ID     I
	// Tier is the index of the predicate that answered.
	Tier int
	// Evicted lists the IDs of the members the first tier rejected, in the order passed:
	// DripDrop's evicted_adapter_ids, whichever tier answered.
	Evicted []I
}

// ExhaustedError is returned by [Allocator.Fallback] when no tier has an eligible member.
// It wraps ErrExhausted.
type ExhaustedError[I comparable] struct {
	Tiers   int
	Evicted []I // the members the first tier rejected: every member passed
}

func (e *ExhaustedError[I]) Error() string {
	return fmt.Sprintf("wdrr: no eligible member in %d tiers (evicted %v)", e.Tiers, e.Evicted)
}

// Unwrap returns ErrExhausted.
func (e *ExhaustedError[I]) Unwrap() error { return ErrExhausted }

// NewAllocator returns an Allocator choosing by rule (DefaultRule means DripDrop) that
// identifies members by id. With K given, I and T are inferred from id:
//
//	a, err := wdrr.NewAllocator[PoolKey](wdrr.DefaultRule, func(m Sender) int64 { return m.ID })
func NewAllocator[K comparable, I comparable, T any](rule Rule, id func(T) I) (*Allocator[K, I, T], error) {
	if err := rule.validate(); err != nil {
		return nil, err
	}
	if id == nil {
		return nil, errors.New("wdrr: NewAllocator needs a member ID function, got nil")
	}
	if rule == DefaultRule {
		rule = DripDrop
	}
	return &Allocator[K, I, T]{rule: rule, id: id, pools: map[K]*pool[I]{}}, nil
}

// Rule returns the rule in force, with DefaultRule resolved to DripDrop.
func (a *Allocator[K, I, T]) Rule() Rule { return a.rule }

// Pick returns the next member for which eligible reports true (every member when eligible
// is nil), or ErrExhausted. A weight outside [1, MaxWeight] or an ID passed twice is an
// error naming the member, and nothing changes. eligible is called once per member, in
// order. Cost: O(len(members)) map operations; no allocation once the key has seen every ID.
func (a *Allocator[K, I, T]) Pick(key K, members []Weighted[T], eligible func(T) bool) (T, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, err := a.gather(key, members)
	if err != nil {
		var zero T
		return zero, err
	}
	if i := a.tier(p, members, eligible, nil); i >= 0 {
		return members[i].Value, nil
	}
	var zero T
	return zero, ErrExhausted
}

// Fallback tries the predicates in tiers in order and picks with the first one under which
// some member is eligible; a nil predicate admits every member. This is DripDrop's chain:
// pick_member (active, healthy, under its daily cap), then pick_healthy_member (ignores the
// cap), then pick_active_member (any health). Only the tier that answers changes counters.
//
// The IDs of the members the first tier rejects are appended to evicted (which may be nil)
// and returned in the Choice. When no tier answers, the error is an [*ExhaustedError]
// carrying them, which wraps ErrExhausted. Each predicate is called once per member, tier by
// tier, up to the tier that answers.
func (a *Allocator[K, I, T]) Fallback(key K, members []Weighted[T], tiers []func(T) bool, evicted []I) (Choice[I, T], error) {
	if len(tiers) == 0 {
		return Choice[I, T]{Evicted: evicted}, errors.New("wdrr: Fallback needs at least one tier, got 0")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	p, err := a.gather(key, members)
	if err != nil {
		return Choice[I, T]{Evicted: evicted}, err
	}
	for k, pred := range tiers {
		var ev *[]I
		if k == 0 {
			ev = &evicted
		}
		if i := a.tier(p, members, pred, ev); i >= 0 {
			return Choice[I, T]{Member: members[i].Value, ID: p.ent[a.pos[i]].id, Tier: k, Evicted: evicted}, nil
		}
	}
	return Choice[I, T]{Evicted: evicted}, &ExhaustedError[I]{Tiers: len(tiers), Evicted: evicted}
}

// gather validates members and finds (or creates) each one's counter, recording its
// position in a.pos. On an error it undoes what it created (counters, the pool key), so a
// rejected call changes nothing.
func (a *Allocator[K, I, T]) gather(key K, members []Weighted[T]) (*pool[I], error) {
	p := a.pools[key]
	created := p == nil
	if created {
		p = &pool[I]{index: map[I]int32{}}
		a.pools[key] = p
	}
	n0 := len(p.ent)
	undo := func(err error) (*pool[I], error) {
		for _, c := range p.ent[n0:] {
			delete(p.index, c.id)
		}
		clear(p.ent[n0:]) // do not retain the IDs
		p.ent = p.ent[:n0]
		if created {
			delete(a.pools, key)
		}
		return nil, err
	}
	n := len(members)
	if cap(a.pos) < n {
		a.pos = make([]int32, n)
		a.sl = make([]slot, n)
		a.ok = make([]bool, n)
	}
	a.pos = a.pos[:n]
	a.seq++
	for i, m := range members {
		id := a.id(m.Value)
		if err := checkWeight(m.Weight); err != nil {
			return undo(fmt.Errorf("%w (member %v)", err, id))
		}
		c, ok := p.index[id]
		if !ok {
			c = int32(len(p.ent))
			p.ent = append(p.ent, counter[I]{id: id})
			p.index[id] = c
		}
		if p.ent[c].stamp == a.seq {
			return undo(fmt.Errorf("wdrr: member %v passed twice", id))
		}
		p.ent[c].stamp = a.seq
		a.pos[i] = c
	}
	return p, nil
}

// tier evaluates pred over members and, if any is eligible, picks among them by the rule and
// returns the winner's position; otherwise it returns -1 and changes nothing. When evicted is
// not nil, the IDs pred rejects are appended to it.
func (a *Allocator[K, I, T]) tier(p *pool[I], members []Weighted[T], pred func(T) bool, evicted *[]I) int {
	n := len(members)
	ok, sl := a.ok[:n], a.sl[:n]
	var total int64
	found := false
	for i, m := range members {
		e := pred == nil || pred(m.Value)
		ok[i] = e
		w := int64(m.Weight)
		sl[i] = slot{cur: p.ent[a.pos[i]].cur, eff: int32(w), wt: int32(w)}
		if e {
			found = true
			total += w
			sl[i].cur += w
		} else if evicted != nil {
			*evicted = append(*evicted, p.ent[a.pos[i]].id)
		}
	}
	if !found {
		return -1
	}
	best := choose(a.rule, sl, ok, total)
	sl[best].cur -= total
	for i := range ok {
		if ok[i] {
			p.ent[a.pos[i]].cur = sl[i].cur
		}
	}
	return best
}

// Counters appends the counters kept under key, in the order their IDs were first passed, to
// dst and returns it.
func (a *Allocator[K, I, T]) Counters(key K, dst []Counter[I]) []Counter[I] {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.pools[key]; p != nil {
		for _, c := range p.ent {
			dst = append(dst, Counter[I]{ID: c.id, Current: c.cur})
		}
	}
	return dst
}

// Forget drops the counters kept under key (a pool or sequence version that is gone).
func (a *Allocator[K, I, T]) Forget(key K) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pools, key)
}

// Reset drops every counter, as DripDrop's reset!/0 does; each pool restarts from zero.
func (a *Allocator[K, I, T]) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.pools)
}

// Len returns the number of pool keys with counters.
func (a *Allocator[K, I, T]) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pools)
}
