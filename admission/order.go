package admission

import (
	"slices"
	"sort"
)

// order keeps the pending jobs of one scope (the whole policy, or one round-robin key) in
// admission order: by priority level, then by stage sequence. Jobs normally arrive in
// sequence order and are appended in O(1); the rare out-of-order arrival (a reverted job,
// a delayed job coming due) goes to a small sorted side list of its level. Iteration merges
// the two. Each node can be in two orders at once, through link w (0 = policy, 1 = key).
type order[C any] struct {
	w      int
	desc   bool // higher priority first
	levels []*level[C]
	n      int
}

type level[C any] struct {
	prio       int
	head, tail *node[C]
	side       []*node[C] // out-of-order arrivals, sorted by seq
}

// link is a node's membership in one order.
type link[C any] struct {
	prev, next *node[C]
	lv         *level[C]
	inSide     bool
}

// before reports whether priority a is admitted before priority b.
func (o *order[C]) before(a, b int) bool {
	if o.desc {
		return a > b
	}
	return a < b
}

// insert adds n. Cost: O(1) for an in-order arrival; O(log s + s) for one of the s
// out-of-order arrivals pending at its level; O(levels) to create a new level.
func (o *order[C]) insert(n *node[C]) {
	lk := &n.link[o.w]
	i := sort.Search(len(o.levels), func(i int) bool { return !o.before(o.levels[i].prio, n.job.Priority) })
	var lv *level[C]
	if i < len(o.levels) && o.levels[i].prio == n.job.Priority {
		lv = o.levels[i]
	} else {
		lv = &level[C]{prio: n.job.Priority}
		o.levels = slices.Insert(o.levels, i, lv)
	}
	lk.lv = lv
	o.n++
	if lv.tail == nil || lv.tail.seq < n.seq {
		lk.prev, lk.next, lk.inSide = lv.tail, nil, false
		if lv.tail != nil {
			lv.tail.link[o.w].next = n
		} else {
			lv.head = n
		}
		lv.tail = n
		return
	}
	lk.inSide = true
	j := sort.Search(len(lv.side), func(j int) bool { return lv.side[j].seq > n.seq })
	lv.side = slices.Insert(lv.side, j, n)
}

// remove takes n out. It requires n to be in o.
func (o *order[C]) remove(n *node[C]) {
	lk := &n.link[o.w]
	lv := lk.lv
	o.n--
	if lk.inSide {
		j := sort.Search(len(lv.side), func(j int) bool { return lv.side[j].seq >= n.seq })
		lv.side = slices.Delete(lv.side, j, j+1)
	} else {
		if lk.prev != nil {
			lk.prev.link[o.w].next = lk.next
		} else {
			lv.head = lk.next
		}
		if lk.next != nil {
			lk.next.link[o.w].prev = lk.prev
		} else {
			lv.tail = lk.prev
		}
	}
	*lk = link[C]{}
	// An empty level is kept while there are few (its priority is likely to come back), and
	// dropped beyond that, so that levels stay O(priorities in use).
	if lv.head == nil && len(lv.side) == 0 && len(o.levels) > keepLevels {
		i := sort.Search(len(o.levels), func(i int) bool { return !o.before(o.levels[i].prio, lv.prio) })
		o.levels = slices.Delete(o.levels, i, i+1)
	}
}

// keepLevels is how many (possibly empty) priority levels an order keeps.
const keepLevels = 8

// each calls f on the jobs in admission order until f returns false.
// Cost: O(jobs visited + levels visited).
func (o *order[C]) each(f func(*node[C]) bool) {
	for _, lv := range o.levels {
		a, s := lv.head, 0
		for a != nil || s < len(lv.side) {
			var n *node[C]
			if s >= len(lv.side) || (a != nil && a.seq < lv.side[s].seq) {
				n, a = a, a.link[o.w].next
			} else {
				n = lv.side[s]
				s++
			}
			if !f(n) {
				return
			}
		}
	}
}

// len returns the number of jobs in o.
func (o *order[C]) len() int { return o.n }
