package wdrr_test

import (
	"flag"
	"fmt"
	"math/big"

	"github.com/leanovate/gopter"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

var (
	trials = flag.Int("trials", 400, "gopter trials per property (use 20000 to explore)")
	seed   = flag.Int64("seed", 1, "gopter seed; CI pins it, change it to explore")
)

// params returns gopter parameters with the pinned seed and n successful trials.
func params(n int) *gopter.TestParameters {
	p := gopter.DefaultTestParametersWithSeed(*seed)
	p.MinSuccessfulTests = n
	return p
}

// The reference models below are written from the sources' descriptions, literally and
// without the package's optimisations: the nginx scan as ngx_http_upstream_get_peer writes
// it, DripDrop's pick_weighted as wdrr.ex writes it, Tijdeman's rule over math/big
// rationals, and Linux's drr_dequeue turn by turn.

// refMember is one SWRR member in the model.
type refMember struct {
	id        wdrr.ID
	v         int
	w, ew, cw int64
}

// refChoose picks the winner among the eligible members after accrual, by rule. cw holds the
// accrued current weights, ew the effective weights of this scan, w the static weights.
func refChoose(rule wdrr.Rule, cw, ew, w []int64, ok []bool) int {
	best := -1
	first := func(better func(i, b int) bool) int {
		best := -1
		for i := range cw {
			if ok[i] && (best < 0 || better(i, best)) {
				best = i
			}
		}
		return best
	}
	nginx := func(i, b int) bool { return cw[i] > cw[b] }
	switch rule {
	case wdrr.Nginx:
		best = first(nginx)
	case wdrr.DripDrop:
		best = first(func(i, b int) bool { return cw[i] > cw[b] || cw[i] == cw[b] && w[i] > w[b] })
	case wdrr.Strict:
		var total int64
		var rated []int
		for i := range cw {
			if ok[i] {
				total += ew[i]
				if ew[i] > 0 {
					rated = append(rated, i)
				}
			}
		}
		top := first(nginx)
		switch {
		case len(rated) == 0 || cw[top] >= total: // nobody rated, or someone owed a whole pick
			return top
		case len(rated) == 1:
			return rated[0]
		}
		// Tijdeman: lag = cw/T, p = ew/T, c = 1/(2n−2); released iff lag >= c; the earliest
		// deadline (1 − c − lag)/p wins; if nobody is released, the Nginx rule decides.
		T := big.NewRat(total, 1)
		c := big.NewRat(1, int64(2*len(rated)-2))
		bestRel := -1
		var dRel *big.Rat
		for _, i := range rated {
			lag := new(big.Rat).Quo(big.NewRat(cw[i], 1), T)
			p := new(big.Rat).Quo(big.NewRat(ew[i], 1), T)
			d := new(big.Rat).Sub(big.NewRat(1, 1), c)
			d.Sub(d, lag)
			d.Quo(d, p)
			if lag.Cmp(c) >= 0 && (bestRel < 0 || d.Cmp(dRel) < 0) {
				bestRel, dRel = i, d
			}
		}
		if bestRel >= 0 {
			return bestRel
		}
		return top
	default:
		panic("rule")
	}
	return best
}

// refSWRR is the SWRR model.
type refSWRR struct {
	rule  wdrr.Rule
	fails int64
	ms    []refMember
	next  wdrr.ID
}

func newRefSWRR(rule wdrr.Rule, maxFails int, ws []int, vals []int) *refSWRR {
	r := &refSWRR{rule: rule, fails: int64(max(maxFails, 1))}
	if rule == wdrr.DefaultRule {
		r.rule = wdrr.Nginx
	}
	for i := range ws {
		r.add(vals[i], ws[i])
	}
	return r
}

func (r *refSWRR) add(v, w int) wdrr.ID {
	id := r.next
	r.next++
	r.ms = append(r.ms, refMember{id: id, v: v, w: int64(w), ew: int64(w)})
	return id
}

// scan is one pick. As nginx: for each non-skipped peer, cw += ew, total += ew, and ew
// recovers by one after it has been counted.
func (r *refSWRR) scan(eligible func(int) bool) (int, bool) {
	n := len(r.ms)
	cw, ew, w := make([]int64, n), make([]int64, n), make([]int64, n)
	ok := make([]bool, n)
	var total int64
	found := false
	for i := range r.ms {
		m := &r.ms[i]
		ok[i] = eligible == nil || eligible(m.v)
		cw[i], ew[i], w[i] = m.cw, m.ew, m.w
		if !ok[i] {
			continue
		}
		found = true
		m.cw += m.ew
		cw[i] = m.cw
		total += m.ew
		if m.ew < m.w {
			m.ew++
		}
	}
	if !found {
		return -1, false
	}
	best := refChoose(r.rule, cw, ew, w, ok)
	r.ms[best].cw -= total
	return best, true
}

func (r *refSWRR) find(id wdrr.ID) int {
	for i, m := range r.ms {
		if m.id == id {
			return i
		}
	}
	return -1
}

// findValue returns the position of the member holding v, or -1.
func (r *refSWRR) findValue(v int) int {
	for i, m := range r.ms {
		if m.v == v {
			return i
		}
	}
	return -1
}

func (r *refSWRR) remove(id wdrr.ID) bool {
	i := r.find(id)
	if i < 0 {
		return false
	}
	c := r.ms[i].cw
	r.ms = append(r.ms[:i], r.ms[i+1:]...)
	// Share c equally; the remainder goes one unit each to the earliest members.
	m := int64(len(r.ms))
	for k := range r.ms {
		if m == 0 {
			break
		}
		share := c / m
		rem := c % m
		if rem > 0 && int64(k) < rem {
			share++
		}
		if rem < 0 && int64(k) < -rem {
			share--
		}
		r.ms[k].cw += share
	}
	return true
}

func (r *refSWRR) setWeight(id wdrr.ID, w int) bool {
	i := r.find(id)
	if i < 0 {
		return false
	}
	m := &r.ms[i]
	short := m.w - m.ew
	m.w = int64(w)
	m.ew = max(0, m.w-short)
	return true
}

func (r *refSWRR) fail(id wdrr.ID) bool {
	i := r.find(id)
	if i < 0 {
		return false
	}
	m := &r.ms[i]
	m.ew = max(0, m.ew-m.w/r.fails)
	return true
}

func (r *refSWRR) reset() {
	for i := range r.ms {
		r.ms[i].cw, r.ms[i].ew = 0, r.ms[i].w
	}
}

// sameState reports how s's members differ from the model's, or "".
func (r *refSWRR) sameState(s *wdrr.SWRR[int]) string {
	got := s.Members(nil)
	if len(got) != len(r.ms) {
		return fmt.Sprintf("%d members, model has %d", len(got), len(r.ms))
	}
	for i, g := range got {
		m := r.ms[i]
		if g.ID != m.id || g.Value != m.v || int64(g.Weight) != m.w || int64(g.Effective) != m.ew || g.Current != m.cw {
			return fmt.Sprintf("member %d = %+v, model %+v", i, g, m)
		}
	}
	return ""
}

// refDRR is Linux sch_drr: drr_enqueue appends a newly backlogged class to the tail with
// deficit = quantum; drr_dequeue sends the head class's packet if len <= deficit, else adds
// the quantum and moves the class to the tail, turn by turn.
//
// It also records rounds, for the fairness property: a round is one turn of every class in
// the active list when it starts, in order, and ends when the turn of the class that was last
// at its start ends (that class misses, or empties); classes joining later queue behind it.
type refDRR struct {
	quantum int64
	weights map[int]int64
	active  []*refClass
	byKey   map[int]*refClass
	n       int
	marker  *refClass // the class whose turn ends the current round; nil when idle
	rounds  []*refRound
}

type refClass struct {
	key     int
	q       []refItem
	deficit int64
}

type refItem struct {
	seq  int
	cost int64
}

type refRound struct {
	start map[int]bool  // keys backlogged when the round started
	left  map[int]bool  // keys that emptied during the round
	sent  map[int]int64 // cost sent per key
	done  bool
}

func newRefDRR(quantum int) *refDRR {
	return &refDRR{quantum: int64(quantum), weights: map[int]int64{}, byKey: map[int]*refClass{}}
}

func (r *refDRR) weight(key int) int64 {
	if w, ok := r.weights[key]; ok {
		return w
	}
	return 1
}

func (r *refDRR) startRound() {
	rd := &refRound{start: map[int]bool{}, left: map[int]bool{}, sent: map[int]int64{}}
	for _, c := range r.active {
		rd.start[c.key] = true
	}
	r.rounds = append(r.rounds, rd)
	r.marker = r.active[len(r.active)-1]
}

func (r *refDRR) push(key, seq int, cost int) {
	c := r.byKey[key]
	if c == nil {
		c = &refClass{key: key, deficit: r.quantum * r.weight(key)}
		r.byKey[key] = c
		r.active = append(r.active, c)
		if r.marker == nil { // an idle scheduler starts a round with this class
			r.startRound()
		}
	}
	c.q = append(c.q, refItem{seq: seq, cost: int64(cost)})
	r.n++
}

// turnEnded ends the current round if c's turn was the marker's.
func (r *refDRR) turnEnded(c *refClass) {
	if c != r.marker {
		return
	}
	r.rounds[len(r.rounds)-1].done = true
	r.marker = nil
	if len(r.active) > 0 {
		r.startRound()
	}
}

// pop returns the key, the item, and whether anything was queued.
func (r *refDRR) pop() (int, refItem, bool) {
	if len(r.active) == 0 {
		return 0, refItem{}, false
	}
	for {
		c := r.active[0]
		if it := c.q[0]; it.cost <= c.deficit {
			c.deficit -= it.cost
			c.q = c.q[1:]
			r.n--
			rd := r.rounds[len(r.rounds)-1]
			rd.sent[c.key] += it.cost
			if len(c.q) == 0 {
				r.active = r.active[1:]
				delete(r.byKey, c.key)
				rd.left[c.key] = true
				r.turnEnded(c)
			}
			return c.key, it, true
		}
		c.deficit += r.quantum * r.weight(c.key)
		r.active = append(r.active[1:], c)
		r.turnEnded(c)
	}
}

// refAllocator is DripDrop's pick_weighted over counters keyed by pool and member ID:
// filter, total over the filtered set, add each filtered member's weight to its counter
// (missing counters start at 0), pick by the rule, subtract the total from the winner.
type refAllocator struct {
	rule wdrr.Rule
	cur  map[string]map[int]int64
}

func (r *refAllocator) pick(key string, ms []wdrr.Weighted[sender], eligible func(sender) bool) (int, bool) {
	if r.cur[key] == nil {
		r.cur[key] = map[int]int64{}
	}
	c := r.cur[key]
	n := len(ms)
	cw, w := make([]int64, n), make([]int64, n)
	ok := make([]bool, n)
	var total int64
	found := false
	for i, m := range ms {
		ok[i] = eligible == nil || eligible(m.Value)
		w[i] = int64(m.Weight)
		cw[i] = c[m.Value.id]
		if ok[i] {
			found = true
			total += w[i]
			cw[i] += w[i]
		}
	}
	if !found {
		return -1, false
	}
	best := refChoose(r.rule, cw, w, w, ok)
	for i, m := range ms {
		if ok[i] {
			c[m.Value.id] = cw[i]
		}
	}
	c[ms[best].Value.id] -= total
	return best, true
}

// sender is the Allocator tests' member: a DripDrop pool member with its adapter's state.
type sender struct {
	id       int
	active   bool
	healthy  bool
	headroom bool
}
