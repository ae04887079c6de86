package admission

import (
	"slices"
	"sort"
)

// order keeps the pending jobs of one scope (the whole policy, or one round-robin key) in
// admission order: by priority level, then by stage sequence. Jobs normally arrive in
// sequence order and are appended in O(1); an out-of-order arrival (a reverted job, a
// delayed job coming due after later jobs were staged) goes to its level's side heap, a
// binary min-heap by sequence. Iteration merges the two. The side heap keeps every
// operation O(log s) for s out-of-order jobs pending, however many there are and wherever
// they are taken from (a sorted slice, the first version, cost O(s) per insertion or
// removal, so a backlog of delayed jobs made each tick O(backlog)). Each node can be in two
// orders at once, through link w (0 = policy, 1 = key).
type order[C any] struct {
	w      int
	rk     *rrKey[C] // the key whose order this is (nil: the policy's)
	desc   bool      // higher priority first
	levels []*level[C]
	n      int
	front  []int32 // each's scratch: the side heap's frontier, reused
}

type level[C any] struct {
	rk         *rrKey[C] // its order's
	prio       int
	head, tail *node[C]
	side       []*node[C] // out-of-order arrivals: a min-heap by seq
}

// link is a node's membership in one order.
type link[C any] struct {
	prev, next *node[C]
	lv         *level[C]
	hi         int32 // the node's index in lv.side while inSide
	inSide     bool
}

// before reports whether priority a is admitted before priority b.
func (o *order[C]) before(a, b int) bool {
	if o.desc {
		return a > b
	}
	return a < b
}

// insert adds n. Cost: O(1) for an in-order arrival; O(log s) for one of the s
// out-of-order arrivals pending at its level; O(levels) to create a new level.
func (o *order[C]) insert(n *node[C]) {
	lk := &n.link[o.w]
	i := sort.Search(len(o.levels), func(i int) bool { return !o.before(o.levels[i].prio, n.job.Priority) })
	var lv *level[C]
	if i < len(o.levels) && o.levels[i].prio == n.job.Priority {
		lv = o.levels[i]
	} else {
		lv = &level[C]{prio: n.job.Priority, rk: o.rk}
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
	lv.side = append(lv.side, n)
	o.up(lv.side, len(lv.side)-1)
}

// remove takes n out. It requires n to be in o.
func (o *order[C]) remove(n *node[C]) {
	lk := &n.link[o.w]
	lv := lk.lv
	o.n--
	if lk.inSide {
		// Move the last entry into n's place and sift it whichever way it belongs.
		h, i, last := lv.side, int(lk.hi), len(lv.side)-1
		if i != last {
			h[i] = h[last]
			h[i].link[o.w].hi = int32(i)
		}
		h[last] = nil
		lv.side = h[:last]
		if i != last && !o.down(lv.side, i) {
			o.up(lv.side, i)
		}
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

// each calls f on the jobs in admission order until f returns false. f must not change o.
// Cost: O(jobs visited + levels visited), plus O(log k) for each of the k side-heap jobs
// visited.
func (o *order[C]) each(f func(*node[C]) bool) {
	for _, lv := range o.levels {
		a, side := lv.head, lv.side
		if len(side) == 0 {
			for ; a != nil; a = a.link[o.w].next {
				if !f(a) {
					return
				}
			}
			continue
		}
		// Visit the side heap in seq order without changing it: front is a min-heap of the
		// indices whose parents were visited (the root first); the least is the next.
		front := append(o.front[:0], 0)
		for a != nil || len(front) > 0 {
			var n *node[C]
			if len(front) == 0 || (a != nil && a.seq < side[front[0]].seq) {
				n, a = a, a.link[o.w].next
			} else {
				i := front[0]
				n = side[i]
				front = popFront(side, front)
				for _, c := range [2]int32{2*i + 1, 2*i + 2} {
					if int(c) < len(side) {
						front = pushFront(side, front, c)
					}
				}
			}
			if !f(n) {
				o.front = front
				return
			}
		}
		o.front = front
	}
}

// up sifts h[i] up the side heap, keeping the nodes' indices.
func (o *order[C]) up(h []*node[C], i int) {
	x := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].seq < x.seq {
			break
		}
		h[i] = h[p]
		h[i].link[o.w].hi = int32(i)
		i = p
	}
	h[i] = x
	x.link[o.w].hi = int32(i)
}

// down sifts h[i] down the side heap, keeping the nodes' indices, and reports whether it
// moved.
func (o *order[C]) down(h []*node[C], i int) bool {
	x, start := h[i], i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h[r].seq < h[c].seq {
			c = r
		}
		if x.seq < h[c].seq {
			break
		}
		h[i] = h[c]
		h[i].link[o.w].hi = int32(i)
		i = c
	}
	h[i] = x
	x.link[o.w].hi = int32(i)
	return i != start
}

// pushFront adds side index i to the frontier heap f, ordered by side[·].seq.
func pushFront[C any](side []*node[C], f []int32, i int32) []int32 {
	f = append(f, i)
	for k := len(f) - 1; k > 0; {
		p := (k - 1) / 2
		if side[f[p]].seq < side[f[k]].seq {
			break
		}
		f[k], f[p] = f[p], f[k]
		k = p
	}
	return f
}

// popFront removes the least index of the frontier heap f.
func popFront[C any](side []*node[C], f []int32) []int32 {
	last := len(f) - 1
	f[0] = f[last]
	f = f[:last]
	for k := 0; ; {
		c := 2*k + 1
		if c >= len(f) {
			break
		}
		if r := c + 1; r < len(f) && side[f[r]].seq < side[f[c]].seq {
			c = r
		}
		if side[f[k]].seq < side[f[c]].seq {
			break
		}
		f[k], f[c] = f[c], f[k]
		k = c
	}
	return f
}

// len returns the number of jobs in o.
func (o *order[C]) len() int { return o.n }
