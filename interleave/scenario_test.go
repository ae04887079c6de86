package interleave_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// Scenarios are generated from a seed with math/rand/v2, so a failing gopter trial is
// reproduced by its seed alone.

// forAll runs check over n seeds from the pinned gopter seed; a failure reports its seed and
// what diverged.
func forAll(t *testing.T, name string, n int, check func(seed uint64) string) {
	t.Helper()
	p := params(n)
	p.MaxShrinkCount = 0 // a seed does not shrink meaningfully; the message says what failed
	props := gopter.NewProperties(p)
	props.Property(name, prop.ForAll(check, gen.UInt64()))
	props.TestingRun(t)
}

// item is what the tests reorder: its key and its index in the input.
type item struct{ key, seq int }

func keyOf(it item) int { return it.key }

func itemsOf(keys []int) []item {
	items := make([]item, len(keys))
	for i, k := range keys {
		items[i] = item{k, i}
	}
	return items
}

func seqs(items []item) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it.seq
	}
	return out
}

// genKeys returns the key of each of up to maxN items, in one of several shapes: uniform
// over a few keys, one burst key among quiet ones, long runs of one key, all distinct keys,
// a single key, or nothing. Keys are small non-negative ints, not in first-appearance order.
func genKeys(r *rand.Rand, maxN int) []int {
	n := r.IntN(maxN + 1)
	nk := 1 + r.IntN(12)
	keys := make([]int, n)
	label := r.Perm(1000) // key numbers unrelated to appearance order
	switch r.IntN(6) {
	case 0: // uniform
		for i := range keys {
			keys[i] = label[r.IntN(nk)]
		}
	case 1: // a noisy neighbour: one key dominates
		for i := range keys {
			if r.IntN(4) > 0 {
				keys[i] = label[0]
			} else {
				keys[i] = label[1+r.IntN(nk)]
			}
		}
	case 2: // runs
		for i := 0; i < n; {
			k, run := label[r.IntN(nk)], 1+r.IntN(20)
			for ; run > 0 && i < n; run-- {
				keys[i] = k
				i++
			}
		}
	case 3: // all distinct
		for i := range keys {
			keys[i] = label[i%len(label)]
		}
	case 4: // one key
		for i := range keys {
			keys[i] = label[0]
		}
	default: // skewed: key j with probability ∝ 1/(j+1)
		for i := range keys {
			keys[i] = label[int(float64(nk)*r.Float64()*r.Float64())]
		}
	}
	return keys
}

// genWeight returns a weight function over keys: small, equal, or widely spread weights.
func genWeight(r *rand.Rand) func(int) int {
	w := map[int]int{}
	mode := r.IntN(3)
	return func(k int) int {
		if v, ok := w[k]; ok {
			return v
		}
		var v int
		switch mode {
		case 0:
			v = 1 + r.IntN(5)
		case 1:
			v = 7
		default:
			v = 1 + r.IntN(1000)
		}
		w[k] = v
		return v
	}
}

// batchCase is a random BatchConfig in the form the reference model takes.
type batchCase struct {
	size    int
	quantum func(int) int
	capOf   func(int) int
	perKeyQ bool // quantum comes from QuantumOf
	capped  bool
}

func (c batchCase) config() interleave.BatchConfig[int] {
	bc := interleave.BatchConfig[int]{Size: c.size}
	if c.perKeyQ {
		bc.QuantumOf = c.quantum
	} else {
		bc.Quantum = c.quantum(0)
	}
	if c.capped {
		bc.Cap = c.capOf
	}
	return bc
}

func genBatchCase(r *rand.Rand, n int) batchCase {
	c := batchCase{size: r.IntN(n + 5)}
	if r.IntN(8) == 0 {
		c.size = 0
	}
	q := 1 + r.IntN(6)
	c.quantum = func(int) int { return q }
	if r.IntN(2) == 0 {
		qs := map[int]int{}
		c.perKeyQ = true
		c.quantum = func(k int) int {
			if _, ok := qs[k]; !ok {
				qs[k] = 1 + r.IntN(8)
			}
			return qs[k]
		}
	}
	c.capOf = func(int) int { return int(^uint(0) >> 1) }
	if r.IntN(2) == 0 {
		caps := map[int]int{}
		c.capped = true
		c.capOf = func(k int) int {
			if _, ok := caps[k]; !ok {
				caps[k] = r.IntN(10)
			}
			return caps[k]
		}
	}
	return c
}

// outcome is one call of the package and its result, for checkInvariants.
type outcome struct {
	op     string // "bykey", "weighted", "batch" or "tick"
	keys   []int  // the input: keys[i] is item i's key
	out    []int  // the result, as indices into the input
	weight func(int) int

	batch batchCase
	stats interleave.BatchStats

	tick *tickRecord

	// state, if set, is the object the call changed; its internal invariants are checked
	// too. Op "state" checks only them (after a Decayed.Admit, say).
	state interface{ CheckInvariants() error }
}

// tickRecord is one Decayed.Tick as the admit callback saw it.
type tickRecord struct {
	keys   []int
	values map[int]float64 // decayed counts just before the tick
	cap    int             // Budget.TickCap, or 0
	perKey int
	calls  []admitCall
	total  int
}

type admitCall struct{ key, budget, n int }

// checkInvariants verifies everything the package guarantees about one outcome, from the
// definitions, and describes the first violation ("" if none). It is called after every
// step of every table test and property.
func checkInvariants(o outcome) string {
	if o.state != nil {
		if err := o.state.CheckInvariants(); err != nil {
			return "internal invariant: " + err.Error()
		}
	}
	switch o.op {
	case "state":
		return ""
	case "bykey", "weighted":
		if msg := checkPermutationFIFO(o.keys, o.out); msg != "" {
			return msg
		}
		w := o.weight
		if o.op == "bykey" {
			w = func(int) int { return 1 }
		}
		return checkPrefixBound(o.keys, o.out, w)
	case "batch":
		return checkBatch(o)
	case "tick":
		return checkTick(o.tick)
	}
	return "unknown op " + o.op
}

func checkPermutationFIFO(keys, out []int) string {
	if len(out) != len(keys) {
		return fmt.Sprintf("output has %d items, input %d", len(out), len(keys))
	}
	seen := make([]bool, len(keys))
	last := map[int]int{}
	for pos, i := range out {
		if i < 0 || i >= len(keys) || seen[i] {
			return fmt.Sprintf("position %d: item %d is out of range or repeated", pos, i)
		}
		seen[i] = true
		if prev, ok := last[keys[i]]; ok && prev > i {
			return fmt.Sprintf("position %d: key %d's item %d comes after its item %d (not FIFO)", pos, keys[i], prev, i)
		}
		last[keys[i]] = i
	}
	return ""
}

// dense numbers keys by first appearance: ids[i] is item i's key number, firsts the keys.
func dense(keys []int) (ids []int, firsts []int, total []int) {
	num := map[int]int{}
	ids = make([]int, len(keys))
	for i, k := range keys {
		g, ok := num[k]
		if !ok {
			g = len(firsts)
			num[k] = g
			firsts = append(firsts, k)
			total = append(total, 0)
		}
		ids[i] = g
		total[g]++
	}
	return ids, firsts, total
}

// checkPrefixBound checks 2·(c_b·w_a − c_a·w_b) <= w_a + w_b for every prefix and every pair
// with a still having items; with unit weights, c_b − c_a <= 1. Small outputs are checked
// pair by pair; all outputs are checked in the equivalent separable form, which is
// O(items·log keys) and keeps the large property cases fast under the race detector.
func checkPrefixBound(keys, out []int, w func(int) int) string {
	if len(out) <= 300 {
		if msg := checkPrefixPairs(keys, out, w); msg != "" {
			return msg
		}
	}
	return checkPrefixSeparable(keys, out, w)
}

// checkPrefixPairs checks the bound from its definition: after every item, its key b
// against every key a that still has items (a pair's lag grows only when b gets an item).
func checkPrefixPairs(keys, out []int, w func(int) int) string {
	ids, firsts, total := dense(keys)
	wt := make([]int64, len(firsts))
	for g, k := range firsts {
		wt[g] = int64(w(k))
	}
	got := make([]int64, len(firsts))
	for pos, i := range out {
		b := ids[i]
		got[b]++
		for a := range firsts {
			if got[a] == int64(total[a]) {
				continue
			}
			if 2*(got[b]*wt[a]-got[a]*wt[b]) > wt[a]+wt[b] {
				return fmt.Sprintf("prefix %d: key %d (w %d) has %d, waiting key %d (w %d) has %d: beyond the bound",
					pos+1, firsts[b], wt[b], got[b], firsts[a], wt[a], got[a])
			}
		}
	}
	return ""
}

// checkPrefixSeparable checks the same bound rewritten as (2c_b − 1)/w_b <= (2c_a + 1)/w_a
// (divide both sides by w_a·w_b; a = b holds trivially): in every prefix, the largest left
// side over all keys is at most the smallest right side over the keys still waiting. Left
// sides only grow, so the largest is a running maximum; the smallest right side comes from a
// min-heap with stale entries skipped. Fractions are compared exactly by cross-multiplying.
func checkPrefixSeparable(keys, out []int, w func(int) int) string {
	ids, firsts, total := dense(keys)
	wt := make([]int64, len(firsts))
	for g, k := range firsts {
		wt[g] = int64(w(k))
	}
	got := make([]int64, len(firsts))
	// less reports whether num_a/den_a < num_b/den_b for positive denominators.
	less := func(na, da, nb, db int64) bool { return na*db < nb*da }
	type entry struct{ num, g int64 } // (2c+1)/w of key g when c was num's count
	var h []entry
	push := func(e entry) {
		h = append(h, e)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !less(h[i].num, wt[h[i].g], h[p].num, wt[h[p].g]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() {
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			m, l := i, 2*i+1
			if l < len(h) && less(h[l].num, wt[h[l].g], h[m].num, wt[h[m].g]) {
				m = l
			}
			if r := l + 1; r < len(h) && less(h[r].num, wt[h[r].g], h[m].num, wt[h[m].g]) {
				m = r
			}
			if m == i {
				break
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for g := range firsts {
		push(entry{1, int64(g)})
	}
	maxNum, maxG := int64(-1), int64(0) // the running maximum (2c_b − 1)/w_b
	for pos, i := range out {
		b := ids[i]
		got[b]++
		if n := 2*got[b] - 1; less(maxNum, wt[maxG], n, wt[b]) {
			maxNum, maxG = n, int64(b)
		}
		if got[b] < int64(total[b]) {
			push(entry{2*got[b] + 1, int64(b)})
		}
		// Skip entries of keys that have since moved on or run out.
		for len(h) > 0 && (got[h[0].g] == int64(total[h[0].g]) || h[0].num != 2*got[h[0].g]+1) {
			pop()
		}
		if len(h) > 0 && less(h[0].num, wt[h[0].g], maxNum, wt[maxG]) {
			a := h[0].g
			return fmt.Sprintf("prefix %d: key %d (w %d) has %d, waiting key %d (w %d) has %d: beyond the bound",
				pos+1, firsts[maxG], wt[maxG], (maxNum+1)/2, firsts[a], wt[a], got[a])
		}
	}
	return ""
}

func checkBatch(o outcome) string {
	c, keys, out := o.batch, o.keys, o.out
	// What the batch may hold: each key's items up to its cap.
	count, firsts := map[int]int{}, []int{}
	for _, k := range keys {
		if count[k] == 0 {
			firsts = append(firsts, k)
		}
		count[k]++
	}
	room, want1 := 0, 0
	for _, k := range firsts {
		room += min(count[k], c.capOf(k))
		want1 += min(count[k], c.capOf(k), c.quantum(k))
	}
	if len(out) != min(c.size, room) {
		return fmt.Sprintf("batch has %d items, want min(size %d, room %d)", len(out), c.size, room)
	}
	if o.stats.Phase1+o.stats.TopUp != len(out) {
		return fmt.Sprintf("stats %+v do not add up to %d", o.stats, len(out))
	}
	if o.stats.Scanned > len(keys) || o.stats.Keys > o.stats.Scanned {
		return fmt.Sprintf("stats %+v impossible for %d items", o.stats, len(keys))
	}
	in := map[int]bool{}
	used := map[int]int{}
	last := map[int]int{}
	for pos, i := range out {
		if i < 0 || i >= len(keys) || in[i] {
			return fmt.Sprintf("position %d: item %d out of range or repeated", pos, i)
		}
		in[i] = true
		k := keys[i]
		if used[k]++; used[k] > c.capOf(k) {
			return fmt.Sprintf("key %d has %d items, over its cap %d", k, used[k], c.capOf(k))
		}
		if prev, ok := last[k]; ok && prev > i {
			return fmt.Sprintf("key %d's items out of pending order", k)
		}
		last[k] = i
	}
	// Phase 1: keys in first-appearance order, each with its first min(quantum, cap, count)
	// items, contiguously, cut at size.
	byKey := map[int][]int{}
	for i, k := range keys {
		byKey[k] = append(byKey[k], i)
	}
	var p1 []int
	for _, k := range firsts {
		its := byKey[k]
		p1 = append(p1, its[:min(len(its), c.quantum(k), c.capOf(k))]...)
	}
	if want1 <= c.size && o.stats.Phase1 != want1 {
		return fmt.Sprintf("phase 1 took %d, want every key's min(quantum, cap, count) = %d", o.stats.Phase1, want1)
	}
	if o.stats.Phase1 != min(want1, c.size) || !slices.Equal(out[:o.stats.Phase1], p1[:o.stats.Phase1]) {
		return fmt.Sprintf("phase 1 = %v, want %v", out[:o.stats.Phase1], p1[:min(want1, c.size)])
	}
	// Top-up: exactly the oldest items phase 1 left that caps allow.
	var top []int
	used1 := map[int]int{}
	inP1 := make([]bool, len(keys))
	for _, i := range out[:o.stats.Phase1] {
		used1[keys[i]]++
		inP1[i] = true
	}
	for i, k := range keys {
		if len(top) == c.size-o.stats.Phase1 {
			break
		}
		if !inP1[i] && used1[k] < c.capOf(k) {
			top = append(top, i)
			used1[k]++
		}
	}
	if !slices.Equal(out[o.stats.Phase1:], top) {
		return fmt.Sprintf("top-up = %v, want the oldest allowed %v", out[o.stats.Phase1:], top)
	}
	return ""
}

func checkTick(r *tickRecord) string {
	n := len(r.keys)
	fair := r.perKey
	if r.cap > 0 {
		fair = r.cap / n
		if r.cap%n != 0 {
			fair++
		}
	}
	// Pass 1 serves keys in non-decreasing decayed count, each at most once, with the
	// budget the definition gives; pass 2 calls only keys that used their whole share.
	used, pass1 := 0, map[int]int{}
	var order []int
	i := 0
	for ; i < len(r.calls); i++ {
		c := r.calls[i]
		if _, again := pass1[c.key]; again {
			break // pass 2 starts
		}
		if len(order) > 0 {
			p := order[len(order)-1]
			if vp, vc := r.values[p], r.values[c.key]; vp > vc || vp == vc && slices.Index(r.keys, p) > slices.Index(r.keys, c.key) {
				return fmt.Sprintf("pass 1 served %d (%v) after %d (%v)", c.key, vc, p, vp)
			}
		}
		want := fair
		if r.cap > 0 {
			want = min(fair, r.cap-used)
		}
		if c.budget != want || want <= 0 {
			return fmt.Sprintf("pass 1: key %d offered %d, want %d", c.key, c.budget, want)
		}
		if c.n < 0 || c.n > c.budget {
			return fmt.Sprintf("admit returned %d > budget %d", c.n, c.budget)
		}
		used += c.n
		pass1[c.key] = c.n
		order = append(order, c.key)
	}
	if len(order) < n && (r.cap == 0 || used < r.cap) {
		return fmt.Sprintf("pass 1 served %d of %d keys with budget left (used %d of %d)", len(order), n, used, r.cap)
	}
	if r.cap == 0 && i < len(r.calls) {
		return "a second pass without a tick cap"
	}
	// Pass 2, replayed from the definition: in pass-1 order, each key that used its whole
	// share is offered min(fair, cap − used) until the cap is used up.
	calls2 := r.calls[i:]
	j := 0
	for _, k := range order {
		if used >= r.cap {
			break
		}
		if pass1[k] < fair {
			continue
		}
		if j >= len(calls2) {
			return fmt.Sprintf("pass 2 skipped key %d with %d left", k, r.cap-used)
		}
		c := calls2[j]
		if want := min(fair, r.cap-used); c.key != k || c.budget != want {
			return fmt.Sprintf("pass 2: offered key %d %d, want key %d offered %d", c.key, c.budget, k, want)
		}
		if c.n < 0 || c.n > c.budget {
			return fmt.Sprintf("admit returned %d > budget %d", c.n, c.budget)
		}
		used += c.n
		j++
	}
	if j != len(calls2) {
		return fmt.Sprintf("pass 2 made %d calls, want %d", len(calls2), j)
	}
	if r.cap > 0 && used > r.cap {
		return fmt.Sprintf("tick admitted %d over its cap %d", used, r.cap)
	}
	if used != r.total {
		return fmt.Sprintf("Tick returned %d, admitted %d", r.total, used)
	}
	return ""
}
