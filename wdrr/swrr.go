package wdrr

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
)

// Weighted is a member and its weight.
type Weighted[T any] struct {
	Value  T
	Weight int
}

// MaxWeight is the largest weight accepted, 2^31 − 1.
const MaxWeight = math.MaxInt32

// maxMembers bounds the members of one SWRR, so that the total weight stays below 2^61 and
// every current weight (bounded by a small multiple of the total) fits an int64.
const maxMembers = 1 << 30

// ID identifies a member of an [SWRR]. The members passed to the constructor get IDs 0, 1,
// 2, … in order, and each [SWRR.Add] returns the next ID; IDs are never reused, and their
// order is the members' insertion order, which is the order of the scan and of tie-breaking.
type ID uint64

// ErrExhausted is returned when no member is eligible (including when there is no member).
// Test for it with errors.Is: [Allocator.Fallback] returns an [*ExhaustedError] that wraps it.
var ErrExhausted = errors.New("wdrr: no eligible member")

// ErrUnknownMember is wrapped by the errors of operations on an ID that is not a member.
var ErrUnknownMember = errors.New("wdrr: unknown member")

// Picker picks a member among those eligible. [SWRR] and [Locked] implement it.
type Picker[T any] interface {
	// Next returns the next member for which eligible reports true (every member when
	// eligible is nil), or ErrExhausted.
	Next(eligible func(T) bool) (T, error)
}

var (
	_ Picker[string] = (*SWRR[string])(nil)
	_ Picker[string] = (*Locked[string])(nil)
)

// Rule is the selection rule of an [SWRR] or an [Allocator].
type Rule uint8

const (
	// DefaultRule is Nginx for an SWRR and DripDrop for an Allocator.
	DefaultRule Rule = iota
	// Nginx picks the largest current weight; ties go to the earlier member (strict >).
	// This is nginx's ngx_http_upstream_get_peer exactly.
	Nginx
	// DripDrop picks the largest current weight; ties go to the larger static weight,
	// then to the earlier member, as DripDrop.AdapterPools.WDRR's pick_weighted does.
	DripDrop
	// Strict is Tijdeman's rule (the chairman assignment problem): among the members whose
	// lag is at least 1/(2n−2), the one with the earliest deadline. Its deviation from the
	// exact share never exceeds 1 − 1/(2n−2), the optimum; its order is not nginx's.
	Strict
)

func (r Rule) String() string {
	switch r {
	case DefaultRule:
		return "DefaultRule"
	case Nginx:
		return "Nginx"
	case DripDrop:
		return "DripDrop"
	case Strict:
		return "Strict"
	}
	return fmt.Sprintf("Rule(%d)", uint8(r))
}

func (r Rule) validate() error {
	if r > Strict {
		return fmt.Errorf("wdrr: Rule must be DefaultRule, Nginx, DripDrop or Strict, got %v", r)
	}
	return nil
}

// SWRRConfig configures an [SWRR]. The zero value is nginx's behaviour.
type SWRRConfig struct {
	// Rule is the selection rule; DefaultRule means Nginx.
	Rule Rule
	// MaxFails is nginx's max_fails as far as weights go: each Fail lowers the member's
	// effective weight by Weight/MaxFails (integer division, floor 0). 0 means 1, nginx's
	// default, so that one failure drops the effective weight to 0. It must be >= 0.
	MaxFails int
}

// Validate reports why c cannot be used, or nil.
func (c SWRRConfig) Validate() error {
	if err := c.Rule.validate(); err != nil {
		return err
	}
	if c.MaxFails < 0 {
		return fmt.Errorf("wdrr: MaxFails must be >= 0, got %d", c.MaxFails)
	}
	return nil
}

// slot is a member's scheduler state, 16 bytes. The scan reads and writes only these.
type slot struct {
	cur int64 // nginx current_weight
	eff int32 // nginx effective_weight, in [0, wt]
	wt  int32 // the configured weight, in [1, MaxWeight]
}

// SWRR is nginx's smooth weighted round robin over a set of members of type T, with
// eligibility evaluated inside the scan, nginx's failure accounting and dynamic membership.
// See the package documentation for the algorithm and its bounds.
//
// Members are identified by [ID]s, so T need not be comparable. Where values can be
// compared with ==, two members may not hold equal values: the constructor and Add reject a
// duplicate, which is almost always a configuration mistake (wrap the value with a distinct
// field to have two peers at one address, as two identical nginx server lines are).
// Values that cannot be compared (functions, slices, maps, and structs, arrays or
// interfaces holding them) are not checked. Operations on an ID that is not a member return
// an error wrapping [ErrUnknownMember].
//
// An SWRR is owned by one goroutine: no method is safe for concurrent use. Share it through
// [Locked], which serialises every call with a mutex.
type SWRR[T any] struct {
	vals  []T
	slots []slot
	ids   []ID // strictly increasing: the insertion order
	next  ID
	rule  Rule
	fails int    // MaxFails, >= 1
	ok    []bool // Strict's scratch, as long as vals' capacity, so Next never allocates
	dedup bool   // T's values may be comparable: check Add for duplicates
}

// NewSWRR returns an nginx-rule SWRR over members, in order: the members get IDs 0, 1, …
// An empty member list is allowed (Next returns ErrExhausted until members are added). A
// weight outside [1, MaxWeight] is an error naming the weight and the member's position, and
// two equal values are an error naming the value and both positions (see [SWRR]).
func NewSWRR[T any](members ...Weighted[T]) (*SWRR[T], error) {
	return NewSWRRWith(SWRRConfig{}, members...)
}

// NewSWRRWith is NewSWRR with a configuration.
func NewSWRRWith[T any](c SWRRConfig, members ...Weighted[T]) (*SWRR[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(members) > maxMembers {
		return nil, fmt.Errorf("wdrr: at most %d members, got %d", maxMembers, len(members))
	}
	for i, m := range members {
		if err := checkWeight(m.Weight); err != nil {
			return nil, fmt.Errorf("%w (member %d)", err, i)
		}
	}
	dedup := reflect.TypeFor[T]().Comparable()
	if dedup && len(members) > 1 {
		seen := make(map[any]int, len(members)) // garbage once built: no state per member
		for i, m := range members {
			v := any(m.Value)
			if !comparableValue(v) {
				continue
			}
			if j, dup := seen[v]; dup {
				return nil, fmt.Errorf("wdrr: duplicate member %v (members %d and %d)", m.Value, j, i)
			}
			seen[v] = i
		}
	}
	s := &SWRR[T]{rule: c.Rule, fails: max(c.MaxFails, 1), dedup: dedup}
	if s.rule == DefaultRule {
		s.rule = Nginx
	}
	n := len(members)
	s.vals = make([]T, n)
	s.slots = make([]slot, n)
	s.ids = make([]ID, n)
	for i, m := range members {
		s.vals[i] = m.Value
		s.slots[i] = slot{eff: int32(m.Weight), wt: int32(m.Weight)}
		s.ids[i] = ID(i)
	}
	s.next = ID(n)
	s.growScratch()
	return s, nil
}

// growScratch keeps Strict's scratch as long as the values' capacity.
func (s *SWRR[T]) growScratch() {
	if s.rule == Strict && len(s.ok) < cap(s.vals) {
		s.ok = make([]bool, cap(s.vals))
	}
}

// comparableValue reports whether v can be compared with == without panicking: a nil
// interface can, and reflect says for the rest (it looks inside interfaces, structs and
// arrays). If it reports true, v == x cannot panic for any x.
func comparableValue(v any) bool {
	return v == nil || reflect.ValueOf(v).Comparable()
}

func checkWeight(w int) error {
	if w < 1 || w > MaxWeight {
		return fmt.Errorf("wdrr: Weight must be in [1, %d], got %d", MaxWeight, w)
	}
	return nil
}

// Config returns the configuration in force, with DefaultRule resolved to Nginx.
func (s *SWRR[T]) Config() SWRRConfig {
	return SWRRConfig{Rule: s.rule, MaxFails: s.fails}
}

// Len returns the number of members.
func (s *SWRR[T]) Len() int { return len(s.vals) }

// Next returns the next member for which eligible reports true; a nil eligible means every
// member. It returns ErrExhausted when no member is eligible. eligible is called exactly
// once per member, in insertion order, and must not call back into s. Cost: O(n) for
// n = s.Len(), no allocation.
func (s *SWRR[T]) Next(eligible func(T) bool) (T, error) {
	i := s.pick(eligible)
	if i < 0 {
		var zero T
		return zero, ErrExhausted
	}
	return s.vals[i], nil
}

// NextID is Next that also returns the member's ID, for Fail, SetWeight or Remove.
func (s *SWRR[T]) NextID(eligible func(T) bool) (ID, T, error) {
	i := s.pick(eligible)
	if i < 0 {
		var zero T
		return 0, zero, ErrExhausted
	}
	return s.ids[i], s.vals[i], nil
}

// pick runs one scan and returns the winner's index, or -1 when none is eligible.
func (s *SWRR[T]) pick(eligible func(T) bool) int {
	switch {
	case s.rule == DripDrop:
		return pickDripDrop(s.vals, s.slots, eligible)
	case s.rule != Nginx:
		return s.pickTwoPass(eligible)
	case eligible == nil:
		return pickNginxAll(s.slots)
	}
	return pickNginx(s.vals, s.slots, eligible)
}

// pickNginxAll is one nginx scan over every member: current += effective, total +=
// effective, effective recovers by 1, and the first largest current wins and pays total.
func pickNginxAll(sl []slot) int {
	if len(sl) == 0 {
		return -1
	}
	best := 0
	bestCur := int64(math.MinInt64)
	var total int64
	for i := range sl {
		p := &sl[i]
		e := p.eff
		c := p.cur + int64(e)
		p.cur = c
		total += int64(e)
		if e < p.wt { // slow recovery after a failure; never taken in steady state
			p.eff = e + 1
		}
		// Strictly larger only: ties stay with the earlier member. Along a scan the maximum
		// changes rarely, so the common path is the fall-through to the next iteration;
		// this shape measured 1.5–2× faster than a conditional-move max (a two-cycle
		// dependency per iteration) or an if-block the common path has to jump over.
		if c <= bestCur {
			continue
		}
		bestCur, best = c, i
	}
	sl[best].cur -= total
	return best
}

// pickNginx is pickNginxAll over the members for which eligible reports true; the others
// are skipped: neither their current nor their effective weight changes, and they do not
// count in total. The predicate call dominates the cost of each iteration.
func pickNginx[T any](vals []T, sl []slot, eligible func(T) bool) int {
	sl = sl[:len(vals)]
	best := -1
	bestCur := int64(math.MinInt64)
	var total int64
	for i := range vals {
		if !eligible(vals[i]) {
			continue
		}
		p := &sl[i]
		e := p.eff
		c := p.cur + int64(e)
		p.cur = c
		total += int64(e)
		if e < p.wt {
			p.eff = e + 1
		}
		if c <= bestCur {
			continue
		}
		bestCur, best = c, i
	}
	if best >= 0 {
		sl[best].cur -= total
	}
	return best
}

// pickDripDrop is pickNginx with DripDrop's tie order: among equal current weights the
// larger static weight wins, then the earlier member. A nil eligible admits every member.
func pickDripDrop[T any](vals []T, sl []slot, eligible func(T) bool) int {
	sl = sl[:len(vals)]
	best := -1
	bestCur := int64(math.MinInt64)
	var bestW int32
	var total int64
	for i := range vals {
		if eligible != nil && !eligible(vals[i]) {
			continue
		}
		p := &sl[i]
		e := p.eff
		c := p.cur + int64(e)
		p.cur = c
		total += int64(e)
		if e < p.wt {
			p.eff = e + 1
		}
		if c < bestCur || c == bestCur && p.wt <= bestW {
			continue
		}
		bestCur, bestW, best = c, p.wt, i
	}
	if best >= 0 {
		sl[best].cur -= total
	}
	return best
}

// pickTwoPass runs the rules that need the whole eligible set before they choose (Strict
// needs the eligible count and total): pass one evaluates eligibility and accrues, then the
// rule chooses, then eligible members recover. Recovery
// comes last because Strict ranks members by the effective weight of this scan.
func (s *SWRR[T]) pickTwoPass(eligible func(T) bool) int {
	n := len(s.vals)
	ok := s.ok[:n]
	sl := s.slots[:n]
	var total int64
	found := false
	for i := range ok {
		e := eligible == nil || eligible(s.vals[i])
		ok[i] = e
		if e {
			found = true
			total += int64(sl[i].eff)
			sl[i].cur += int64(sl[i].eff)
		}
	}
	if !found {
		return -1
	}
	best := choose(s.rule, sl, ok, total)
	sl[best].cur -= total
	for i := range ok {
		if ok[i] && sl[i].eff < sl[i].wt {
			sl[i].eff++
		}
	}
	return best
}

// Add appends a member with the given weight and returns its ID. The new member starts with
// current weight 0 and full effective weight, so the other members' current weights, and
// their sum (zero), are unchanged; being last, it loses ties to every earlier member.
// A weight outside [1, MaxWeight] is an error, and so is a value equal to a member's (see
// [SWRR]), naming that member's ID. Cost: O(n) comparisons for comparable values (the
// duplicate check; build large pools with NewSWRR, which checks in O(n) total), amortised
// O(1) otherwise.
func (s *SWRR[T]) Add(v T, weight int) (ID, error) {
	if err := checkWeight(weight); err != nil {
		return 0, err
	}
	if len(s.vals) >= maxMembers {
		return 0, fmt.Errorf("wdrr: at most %d members, got %d", maxMembers, len(s.vals)+1)
	}
	if x := any(v); s.dedup && comparableValue(x) {
		for i := range s.vals {
			if any(s.vals[i]) == x {
				return 0, fmt.Errorf("wdrr: duplicate member %v (member ID %d)", v, s.ids[i])
			}
		}
	}
	id := s.next
	s.next++
	s.vals = append(s.vals, v)
	s.slots = append(s.slots, slot{eff: int32(weight), wt: int32(weight)})
	s.ids = append(s.ids, id)
	s.growScratch()
	return id, nil
}

// index returns the position of id, or an error wrapping ErrUnknownMember. O(log n).
func (s *SWRR[T]) index(id ID) (int, error) {
	i, found := slices.BinarySearch(s.ids, id)
	if !found {
		return -1, fmt.Errorf("%w %d", ErrUnknownMember, id)
	}
	return i, nil
}

// Remove removes a member. Its current weight is shared equally among the remaining members
// (the remainder, one unit each, going to the earliest), so the current weights keep summing
// to zero and the remaining members keep their relative order: the rotation continues as if
// the member had never been owed or ahead. Cost: O(n).
func (s *SWRR[T]) Remove(id ID) error {
	i, err := s.index(id)
	if err != nil {
		return err
	}
	c := s.slots[i].cur
	var zero T
	s.vals[i] = zero // do not retain the value past the shrink
	s.vals = slices.Delete(s.vals, i, i+1)
	s.slots = slices.Delete(s.slots, i, i+1)
	s.ids = slices.Delete(s.ids, i, i+1)
	if m := int64(len(s.slots)); m > 0 && c != 0 {
		q, r := c/m, c%m // r has c's sign; |r| < m
		step := int64(1)
		if r < 0 {
			step, r = -1, -r
		}
		for j := range s.slots {
			s.slots[j].cur += q
			if int64(j) < r {
				s.slots[j].cur += step
			}
		}
	}
	return nil
}

// SetWeight changes a member's weight. Its current weight is unchanged; its effective weight
// keeps the shortfall left by failures (weight − effective), floored at 0, and then recovers
// as usual. Cost: O(log n).
func (s *SWRR[T]) SetWeight(id ID, weight int) error {
	if err := checkWeight(weight); err != nil {
		return err
	}
	i, err := s.index(id)
	if err != nil {
		return err
	}
	p := &s.slots[i]
	short := p.wt - p.eff
	p.wt = int32(weight)
	p.eff = max(0, p.wt-short)
	return nil
}

// Fail records a failure of the member, as nginx does for a peer freed with
// NGX_PEER_FAILED: its effective weight drops by Weight/MaxFails (integer division, floor 0),
// and then recovers by 1 at every scan in which it is eligible, up to Weight. With the
// default MaxFails of 1, one failure drops it to 0. The member stays eligible: ineligibility
// after failures (nginx's fail_timeout) is the caller's predicate. Cost: O(log n).
func (s *SWRR[T]) Fail(id ID) error {
	i, err := s.index(id)
	if err != nil {
		return err
	}
	p := &s.slots[i]
	p.eff = max(0, p.eff-int32(int(p.wt)/s.fails))
	return nil
}

// Reset returns every member to its initial state, current weight 0 and full effective
// weight, keeping the membership: the rotation restarts as from the constructor. O(n).
func (s *SWRR[T]) Reset() {
	for i := range s.slots {
		s.slots[i].cur = 0
		s.slots[i].eff = s.slots[i].wt
	}
}

// Member is a snapshot of one member's state.
type Member[T any] struct {
	ID    ID
	Value T
	// Weight is the configured weight; Effective is nginx's effective_weight, lowered by
	// Fail and recovering by 1 per scan; Current is nginx's current_weight.
	Weight, Effective int
	Current           int64
}

// Members appends a snapshot of every member, in insertion order, to dst and returns it.
func (s *SWRR[T]) Members(dst []Member[T]) []Member[T] {
	for i := range s.vals {
		dst = append(dst, s.member(i))
	}
	return dst
}

// Member returns a snapshot of the member with the given ID, and whether it exists.
func (s *SWRR[T]) Member(id ID) (Member[T], bool) {
	i, err := s.index(id)
	if err != nil {
		return Member[T]{}, false
	}
	return s.member(i), true
}

func (s *SWRR[T]) member(i int) Member[T] {
	p := s.slots[i]
	return Member[T]{ID: s.ids[i], Value: s.vals[i], Weight: int(p.wt), Effective: int(p.eff), Current: p.cur}
}
