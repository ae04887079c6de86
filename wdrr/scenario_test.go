package wdrr_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

// Scenarios are generated from a seed with math/rand/v2, so a failing gopter trial is
// reproduced by its seed alone; the failure message names the step.

// forAll runs check over n seeds from the pinned gopter seed.
func forAll(t *testing.T, name string, n int, check func(seed uint64) string) {
	t.Helper()
	p := params(n)
	p.MaxShrinkCount = 0 // a seed does not shrink meaningfully; the message names the step
	props := gopter.NewProperties(p)
	props.Property(name, prop.ForAll(check, gen.UInt64()))
	props.TestingRun(t)
}

// invariant is any type with an internal invariant check (export_test.go).
type invariant interface{ CheckInvariants() error }

// checkInvariants is the one invariant checker, called after every step of every property
// and table test. It returns "" or what is broken.
func checkInvariants(x invariant) string {
	if err := x.CheckInvariants(); err != nil {
		return "invariant: " + err.Error()
	}
	return ""
}

// genWeight returns a weight from one of several ranges, including the extremes.
func genWeight(r *rand.Rand, mode int) int {
	switch mode {
	case 0:
		return 1 + r.IntN(10)
	case 1:
		return 1 + r.IntN(1000)
	case 2:
		if r.IntN(2) == 0 {
			return 1
		}
		return 1 + r.IntN(100)
	case 3:
		return wdrr.MaxWeight - r.IntN(1000) // the largest weights
	default:
		return 1 + r.IntN(3)
	}
}

// genWeights returns n weights from one mode, with an occasional outlier.
func genWeights(r *rand.Rand, n int) []int {
	mode := r.IntN(5)
	ws := make([]int, n)
	for i := range ws {
		ws[i] = genWeight(r, mode)
		if r.IntN(20) == 0 {
			ws[i] = genWeight(r, r.IntN(5))
		}
	}
	return ws
}

// predicate returns an eligibility predicate over member values that records its calls.
// mode 0 admits everything, 1 admits nothing, 2 a random half, 3 all but one value.
func predicate(r *rand.Rand, calls *[]int) func(int) bool {
	var mask uint64
	switch r.IntN(6) {
	case 0:
		mask = ^uint64(0)
	case 1:
		mask = 0
	case 2:
		mask = ^(uint64(1) << r.IntN(64))
	default:
		mask = r.Uint64()
	}
	return func(v int) bool {
		*calls = append(*calls, v)
		return mask>>(uint(v)%64)&1 == 1
	}
}

// replaySWRR runs a random history of Next (with and without predicates), Add, Remove,
// SetWeight, Fail and Reset on an SWRR and on the model, and reports the first divergence.
func replaySWRR(r *rand.Rand, rule wdrr.Rule, steps int) string {
	n := r.IntN(8)
	if r.IntN(5) == 0 {
		n = r.IntN(40)
	}
	ws := genWeights(r, n)
	vals := r.Perm(100)[:n] // distinct: equal values are rejected (Add below tries them)
	members := make([]wdrr.Weighted[int], n)
	for i := range vals {
		members[i] = wdrr.Weighted[int]{Value: vals[i], Weight: ws[i]}
	}
	maxFails := r.IntN(4)
	s, err := wdrr.NewSWRRWith(wdrr.SWRRConfig{Rule: rule, MaxFails: maxFails}, members...)
	if err != nil {
		return err.Error()
	}
	m := newRefSWRR(rule, maxFails, ws, vals)
	if msg := m.sameState(s); msg != "" {
		return "initial: " + msg
	}
	pickID := func() wdrr.ID {
		if len(m.ms) == 0 || r.IntN(10) == 0 {
			return wdrr.ID(r.IntN(int(m.next) + 2)) // maybe removed or never added
		}
		return m.ms[r.IntN(len(m.ms))].id
	}
	var calls, mcalls []int
	for step := range steps {
		var desc string
		switch x := r.IntN(100); {
		case x < 55:
			calls, mcalls = calls[:0], mcalls[:0]
			seed := r.Uint64()
			pred := predicate(rand.New(rand.NewPCG(seed, 0)), &calls)
			mpred := predicate(rand.New(rand.NewPCG(seed, 0)), &mcalls)
			if r.IntN(6) == 0 {
				pred, mpred = nil, nil
			}
			desc = fmt.Sprintf("NextID(pred %v)", pred != nil)
			id, v, err := s.NextID(pred)
			wi, wok := m.scan(mpred)
			if pred != nil && fmt.Sprint(calls) != fmt.Sprint(mcalls) {
				return fmt.Sprintf("step %d: predicate calls %v, want each member once in order %v", step, calls, mcalls)
			}
			switch {
			case !wok:
				if err != wdrr.ErrExhausted {
					return fmt.Sprintf("step %d: %s = %d, %d, %v; want ErrExhausted", step, desc, id, v, err)
				}
			case err != nil || id != m.ms[wi].id || v != m.ms[wi].v:
				return fmt.Sprintf("step %d: %s = %d, %d, %v; want %d, %d", step, desc, id, v, err, m.ms[wi].id, m.ms[wi].v)
			case pred != nil && !pred(v):
				return fmt.Sprintf("step %d: picked %d, which is not eligible", step, v)
			}
		case x < 67:
			v, w := r.IntN(100), genWeight(r, r.IntN(5))
			if r.IntN(15) == 0 {
				w = []int{0, -1, wdrr.MaxWeight + 1}[r.IntN(3)]
			}
			desc = fmt.Sprintf("Add(%d, %d)", v, w)
			id, err := s.Add(v, w)
			if w < 1 || w > wdrr.MaxWeight {
				if err == nil {
					return fmt.Sprintf("step %d: %s accepted", step, desc)
				}
				break
			}
			if dup := m.findValue(v); dup >= 0 {
				want := fmt.Sprintf("wdrr: duplicate member %d (member ID %d)", v, m.ms[dup].id)
				if err == nil || err.Error() != want {
					return fmt.Sprintf("step %d: %s = %d, %v; want error %q", step, desc, id, err, want)
				}
				break
			}
			if want := m.add(v, w); err != nil || id != want {
				return fmt.Sprintf("step %d: %s = %d, %v; want %d", step, desc, id, err, want)
			}
		case x < 75:
			id := pickID()
			desc = fmt.Sprintf("Remove(%d)", id)
			err := s.Remove(id)
			if ok := m.remove(id); ok != (err == nil) {
				return fmt.Sprintf("step %d: %s = %v, model found %v", step, desc, err, ok)
			}
		case x < 83:
			id, w := pickID(), genWeight(r, r.IntN(5))
			desc = fmt.Sprintf("SetWeight(%d, %d)", id, w)
			err := s.SetWeight(id, w)
			if ok := m.setWeight(id, w); ok != (err == nil) {
				return fmt.Sprintf("step %d: %s = %v, model found %v", step, desc, err, ok)
			}
		case x < 97:
			id := pickID()
			desc = fmt.Sprintf("Fail(%d)", id)
			err := s.Fail(id)
			if ok := m.fail(id); ok != (err == nil) {
				return fmt.Sprintf("step %d: %s = %v, model found %v", step, desc, err, ok)
			}
		default:
			desc = "Reset()"
			s.Reset()
			m.reset()
		}
		if msg := m.sameState(s); msg != "" {
			return fmt.Sprintf("after step %d (%s): %s", step, desc, msg)
		}
		if msg := checkInvariants(s); msg != "" {
			return fmt.Sprintf("after step %d (%s): %s", step, desc, msg)
		}
	}
	return ""
}

// drrOp is one DRR operation in a generated history.
type drrOp struct {
	push   bool
	key    int
	cost   int
	weight int // > 0: SetWeight(key, weight) instead
}

func (o drrOp) String() string {
	switch {
	case o.weight > 0:
		return fmt.Sprintf("SetWeight(%d, %d)", o.key, o.weight)
	case o.push:
		return fmt.Sprintf("Push(%d, cost %d)", o.key, o.cost)
	}
	return "Pop()"
}

// genDRR returns a quantum, the largest cost, and a random history over keys 0..k−1: bursts
// of pushes, runs of pops, keys going idle and coming back, and (if weights) weight changes.
func genDRR(r *rand.Rand, steps int, weights bool) (int, int, []drrOp) {
	maxCost := []int{1, 1, 3, 10, 40}[r.IntN(5)]
	quantum := 1 + r.IntN(2*maxCost)
	if r.IntN(4) == 0 {
		quantum = 1 // far below the costs: the round-skipping path
	}
	k := 1 + r.IntN(8)
	if r.IntN(6) == 0 {
		k = 1 + r.IntN(64)
	}
	costMode := r.IntN(3)
	cost := func() int {
		switch costMode {
		case 0:
			return maxCost
		case 1:
			return 1 + r.IntN(maxCost)
		}
		return []int{1, maxCost}[r.IntN(2)]
	}
	pushBias := 30 + r.IntN(50)
	ops := make([]drrOp, 0, steps)
	for len(ops) < steps {
		switch x := r.IntN(100); {
		case weights && x < 4:
			ops = append(ops, drrOp{key: r.IntN(k), weight: 1 + r.IntN(5)})
		case x < 10: // a burst from one key
			key := r.IntN(k)
			for range 1 + r.IntN(12) {
				ops = append(ops, drrOp{push: true, key: key, cost: cost()})
			}
		case x < pushBias:
			ops = append(ops, drrOp{push: true, key: r.IntN(k), cost: cost()})
		default:
			for range 1 + r.IntN(4) {
				ops = append(ops, drrOp{})
			}
		}
	}
	return quantum, maxCost, ops
}

// replayDRR runs ops (then drains) on a DRR and on the model and reports the first
// divergence; it also checks FIFO within each key and that every item comes out once.
func replayDRR(quantum int, ops []drrOp) (string, *refDRR) {
	d, err := wdrr.NewDRR[int, int](quantum)
	if err != nil {
		return err.Error(), nil
	}
	m := newRefDRR(quantum)
	seq := 0
	lastSeq := map[int]int{}
	out := map[int]bool{}
	pop := func(step int, o drrOp) string {
		k, v, ok := d.Pop()
		wk, wit, wok := m.pop()
		if ok != wok || ok && (k != wk || v != wit.seq) {
			return fmt.Sprintf("step %d: Pop() = %d, %d, %v; want %d, %d, %v", step, k, v, ok, wk, wit.seq, wok)
		}
		if !ok {
			return ""
		}
		if out[v] {
			return fmt.Sprintf("step %d: item %d popped twice", step, v)
		}
		out[v] = true
		if last, seen := lastSeq[k]; seen && v <= last {
			return fmt.Sprintf("step %d: key %d popped item %d after %d: not FIFO", step, k, v, last)
		}
		lastSeq[k] = v
		return ""
	}
	check := func(step int, o drrOp) string {
		if d.Len() != m.n || d.Active() != len(m.active) {
			return fmt.Sprintf("after step %d (%v): Len %d Active %d, want %d %d", step, o, d.Len(), d.Active(), m.n, len(m.active))
		}
		for _, c := range m.active {
			if def, ok := d.Deficit(c.key); !ok || def != c.deficit || d.KeyLen(c.key) != len(c.q) {
				return fmt.Sprintf("after step %d (%v): key %d deficit %d (%v) KeyLen %d, want %d, %d", step, o, c.key, def, ok, d.KeyLen(c.key), c.deficit, len(c.q))
			}
		}
		if msg := checkInvariants(d); msg != "" {
			return fmt.Sprintf("after step %d (%v): %s", step, o, msg)
		}
		return ""
	}
	for step, o := range ops {
		switch {
		case o.weight > 0:
			if err := d.SetWeight(o.key, o.weight); err != nil {
				return fmt.Sprintf("step %d: %v: %v", step, o, err), m
			}
			if o.weight == 1 {
				delete(m.weights, o.key)
			} else {
				m.weights[o.key] = int64(o.weight)
			}
		case o.push:
			if err := d.Push(o.key, seq, o.cost); err != nil {
				return fmt.Sprintf("step %d: %v: %v", step, o, err), m
			}
			m.push(o.key, seq, o.cost)
			seq++
		default:
			if msg := pop(step, o); msg != "" {
				return msg, m
			}
		}
		if msg := check(step, o); msg != "" {
			return msg, m
		}
	}
	for step := len(ops); m.n > 0 || d.Len() > 0; step++ {
		if msg := pop(step, drrOp{}); msg != "" {
			return msg, m
		}
		if msg := check(step, drrOp{}); msg != "" {
			return msg, m
		}
	}
	if _, _, ok := d.Pop(); ok {
		return "Pop on an empty DRR returned an item", m
	}
	if len(out) != seq {
		return fmt.Sprintf("%d items pushed, %d popped", seq, len(out)), m
	}
	return "", m
}
