package wdrr

import "fmt"

// MaxCost is the largest item cost, and the largest weight × quantum, accepted by a [DRR]:
// 2^62, so that a deficit (less than one cost plus one quantum) always fits an int64.
const MaxCost = 1 << 62

// nilIdx ends the linked lists threaded through the DRR's slabs.
const nilIdx = -1

// node is one queued item; nodes live in one slab and are linked per key, FIFO.
type node[T any] struct {
	item T
	cost int64
	next int32
}

// class is one backlogged key: its FIFO of nodes and its place in the active list.
type class[K comparable] struct {
	key        K
	head, tail int32 // nodes
	n          int32 // queued items
	deficit    int64
	quantum    int64 // weight × base quantum
	next       int32 // the next class in the active list, or the next free class
}

// DRR is weighted deficit round robin over keyed FIFO queues of items with costs, with
// Linux sch_drr semantics; see the package documentation.
//
// A DRR is owned by one goroutine: no method is safe for concurrent use; callers sharing
// one guard it with a mutex.
type DRR[K comparable, T any] struct {
	quantum int64
	weights map[K]int32 // weights other than 1, kept while the key is idle
	index   map[K]int32 // backlogged keys → class
	classes []class[K]
	nodes   []node[T]
	freeC   int32 // free classes, linked by next
	freeN   int32 // free nodes, linked by next
	head    int32 // the active list: backlogged classes in round-robin order
	tail    int32
	active  int
	n       int
}

// NewDRR returns an empty DRR whose keys get quantum × weight of credit per round; every
// key's weight is 1 until SetWeight says otherwise. quantum must be in [1, MaxCost].
func NewDRR[K comparable, T any](quantum int) (*DRR[K, T], error) {
	if quantum < 1 || int64(quantum) > MaxCost {
		return nil, fmt.Errorf("wdrr: quantum must be in [1, 2^62], got %d", quantum)
	}
	return &DRR[K, T]{
		quantum: int64(quantum),
		weights: map[K]int32{},
		index:   map[K]int32{},
		freeC:   nilIdx,
		freeN:   nilIdx,
		head:    nilIdx,
		tail:    nilIdx,
	}, nil
}

// Quantum returns the base quantum.
func (d *DRR[K, T]) Quantum() int { return int(d.quantum) }

// Len returns the number of queued items.
func (d *DRR[K, T]) Len() int { return d.n }

// Active returns the number of keys with queued items.
func (d *DRR[K, T]) Active() int { return d.active }

// KeyLen returns the number of items queued under key.
func (d *DRR[K, T]) KeyLen(key K) int {
	if c, ok := d.index[key]; ok {
		return int(d.classes[c].n)
	}
	return 0
}

// Weight returns key's weight (1 unless set).
func (d *DRR[K, T]) Weight(key K) int {
	if w, ok := d.weights[key]; ok {
		return int(w)
	}
	return 1
}

// SetWeight sets key's weight, so that it gets weight × quantum of credit per round. A
// backlogged key's deficit is unchanged; the new quantum applies from its next round, as
// with tc class change in Linux. The weight is kept while the key is idle; setting it back
// to 1 forgets it. Errors: weight outside [1, MaxWeight], or weight × quantum > MaxCost.
// Cost: one or two map operations.
func (d *DRR[K, T]) SetWeight(key K, weight int) error {
	if weight < 1 || weight > MaxWeight {
		return fmt.Errorf("wdrr: weight must be in [1, %d], got %d", MaxWeight, weight)
	}
	if int64(weight) > MaxCost/d.quantum {
		return fmt.Errorf("wdrr: weight × quantum must be <= 2^62, got %d × %d", weight, d.quantum)
	}
	if weight == 1 {
		delete(d.weights, key)
	} else {
		d.weights[key] = int32(weight)
	}
	if c, ok := d.index[key]; ok {
		d.classes[c].quantum = int64(weight) * d.quantum
	}
	return nil
}

// Push appends item with the given cost to key's queue. A key that was idle joins the tail
// of the active list with a deficit of one quantum (weight × base), so it is served after
// the keys already waiting in the current round. cost must be in [1, MaxCost].
// Cost: O(1) amortised (one map lookup; a map insert when the key becomes backlogged); no
// allocation once the DRR has held as many items and keys as now.
func (d *DRR[K, T]) Push(key K, item T, cost int) error {
	if cost < 1 || int64(cost) > MaxCost {
		return fmt.Errorf("wdrr: cost must be in [1, 2^62], got %d", cost)
	}
	c, ok := d.index[key]
	if !ok {
		c = d.activate(key)
	}
	nd := d.freeN
	if nd != nilIdx {
		d.freeN = d.nodes[nd].next
		d.nodes[nd] = node[T]{item: item, cost: int64(cost), next: nilIdx}
	} else {
		nd = int32(len(d.nodes))
		d.nodes = append(d.nodes, node[T]{item: item, cost: int64(cost), next: nilIdx})
	}
	cl := &d.classes[c]
	if cl.tail == nilIdx {
		cl.head = nd
	} else {
		d.nodes[cl.tail].next = nd
	}
	cl.tail = nd
	cl.n++
	d.n++
	return nil
}

// activate creates the class of an idle key at the tail of the active list.
func (d *DRR[K, T]) activate(key K) int32 {
	q := d.quantum
	if len(d.weights) > 0 {
		if w, ok := d.weights[key]; ok {
			q *= int64(w)
		}
	}
	cl := class[K]{key: key, head: nilIdx, tail: nilIdx, deficit: q, quantum: q, next: nilIdx}
	c := d.freeC
	if c != nilIdx {
		d.freeC = d.classes[c].next
		d.classes[c] = cl
	} else {
		c = int32(len(d.classes))
		d.classes = append(d.classes, cl)
	}
	if d.tail == nilIdx {
		d.head = c
	} else {
		d.classes[d.tail].next = c
	}
	d.tail = c
	d.index[key] = c
	d.active++
	return c
}

// Pop removes and returns the next item and its key, or false when nothing is queued.
//
// It is Linux's drr_dequeue: if the head item of the first active key costs no more than
// the key's deficit, it is sent and the deficit pays for it (the key stays first, to send
// again on the next Pop); otherwise the key's deficit grows by its quantum and the key moves
// to the tail. A key whose queue empties leaves the active list, and its deficit is
// forgotten.
//
// Cost: amortised O(1) when every quantum is at least the largest cost, since then a key
// that moves to the tail can always send on its next turn. With smaller quanta a key needs
// several turns per item; rather than loop turn by turn (Linux does), Pop notices a whole round in which
// no key could send and adds the rounds still needed to every key in one step, so a Pop
// costs at most O(active keys), whatever the costs.
func (d *DRR[K, T]) Pop() (K, T, bool) {
	if d.head == nilIdx {
		var k K
		var t T
		return k, t, false
	}
	misses := 0
	for {
		c := d.head
		cl := &d.classes[c]
		nd := &d.nodes[cl.head]
		if nd.cost <= cl.deficit {
			cl.deficit -= nd.cost
			item := nd.item
			next := nd.next
			*nd = node[T]{next: d.freeN} // drop the item so the slab does not retain it
			d.freeN = cl.head
			cl.head = next
			cl.n--
			d.n--
			key := cl.key
			if cl.n == 0 {
				d.retireHead()
			}
			return key, item, true
		}
		cl.deficit += cl.quantum
		if d.head != d.tail {
			d.head = cl.next
			cl.next = nilIdx
			d.classes[d.tail].next = c
			d.tail = c
		}
		if misses++; misses == d.active {
			d.skipRounds()
			misses = 0
		}
	}
}

// retireHead removes the first class, whose queue is empty, from the active list and the
// index, and frees it.
func (d *DRR[K, T]) retireHead() {
	c := d.head
	cl := &d.classes[c]
	d.head = cl.next
	if d.head == nilIdx {
		d.tail = nilIdx
	}
	delete(d.index, cl.key)
	var zero K
	*cl = class[K]{key: zero, head: nilIdx, tail: nilIdx, next: d.freeC}
	d.freeC = c
	d.active--
}

// skipRounds is called after a whole round of turns in which no key could send: every key
// moved to the tail once and gained one quantum, so the list is in its original order. The
// naive loop would go round m more times, where m is the fewest further quanta any key needs
// before it can send; this adds those m quanta to every key at once. Each key's
// deficit stays below its head cost plus its quantum, so nothing overflows.
func (d *DRR[K, T]) skipRounds() {
	m := int64(-1)
	for c := d.head; c != nilIdx; c = d.classes[c].next {
		cl := &d.classes[c]
		need := d.nodes[cl.head].cost - cl.deficit
		if need <= 0 {
			return // this key sends on its next turn
		}
		r := (need-1)/cl.quantum + 1 // turns until cost <= deficit
		if m < 0 || r < m {
			m = r
		}
	}
	// The naive loop would now go round m times with every key missing, each adding one
	// quantum to every key, and some key would send in the round after.
	for c := d.head; c != nilIdx; c = d.classes[c].next {
		d.classes[c].deficit += m * d.classes[c].quantum
	}
}
