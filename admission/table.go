package admission

import "hash/maphash"

// jobTable maps the held jobs' IDs to their records. It is a hash table with linear probing
// over a power-of-two array of (hash, record) pairs and backward-shift deletion (no
// tombstones), at most 3/4 full, and it shrinks once a drained backlog leaves it under 1/8
// full for a while (a Go map never shrinks). Against a map[JobID]*node it saves the hashing of the lifecycle calls: Stage's
// duplicate check and insertion hash the ID once (the last hash is kept), and Complete
// removes the record it found by its pointer. Its iteration order, like a map's, depends on
// a per-table seed; nothing but the tests iterates it.
type jobTable[C any] struct {
	seed     maphash.Seed
	seeded   bool
	slots    []jobSlot[C]
	n        int
	removed  int   // removals since the last resize
	lastID   JobID // the ID hashed last, and its hash
	lastHash uint64
}

type jobSlot[C any] struct {
	h uint64
	n *node[C] // nil: empty
}

// minTable is the smallest array the table keeps once it has one.
const minTable = 64

func (t *jobTable[C]) hash(id JobID) uint64 {
	if t.lastHash != 0 && id == t.lastID {
		return t.lastHash
	}
	if !t.seeded {
		t.seed, t.seeded = maphash.MakeSeed(), true
	}
	// Never 0, since 0 marks "no last hash". The mark is the top bit, which no mask keeps:
	// marking the low bit (the first version) made every home slot odd, so that the table
	// probed like one of half the size at twice the load.
	h := maphash.String(t.seed, string(id)) | 1<<63
	t.lastID, t.lastHash = id, h
	return h
}

func (t *jobTable[C]) len() int { return t.n }

// get returns the record of id, nil if the table has none. Cost: O(1) expected.
func (t *jobTable[C]) get(id JobID) *node[C] {
	if t.n == 0 {
		return nil
	}
	h := t.hash(id)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.n == nil {
			return nil
		}
		if s.h == h && s.n.job.ID == id {
			return s.n
		}
	}
}

// put adds n under its ID, which the table must not hold. Cost: O(1) amortised.
func (t *jobTable[C]) put(n *node[C]) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(minTable, 2*len(t.slots)))
	}
	t.place(jobSlot[C]{h: t.hash(n.job.ID), n: n})
	t.n++
}

func (t *jobTable[C]) place(e jobSlot[C]) {
	mask := uint64(len(t.slots) - 1)
	i := e.h & mask
	for t.slots[i].n != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = e
}

// remove takes n out; the table must hold it. Cost: O(1) expected.
func (t *jobTable[C]) remove(n *node[C]) {
	mask := uint64(len(t.slots) - 1)
	i := t.hash(n.job.ID) & mask
	for t.slots[i].n != n {
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move up every later entry of the run that may sit at i (its
	// home slot is not cyclically in (i, j]), so that probes never meet a hole before their
	// entry.
	for j := (i + 1) & mask; t.slots[j].n != nil; j = (j + 1) & mask {
		home := t.slots[j].h & mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = jobSlot[C]{}
	t.n--
	// Shrink once the table has stayed under 1/8 full for twice its size in removals, so that
	// a backlog that drains and refills (a dispatcher's daily cycle) does not rehash each time.
	if t.removed++; len(t.slots) > minTable && t.n*8 < len(t.slots) && t.removed >= 2*len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
}

func (t *jobTable[C]) resize(size int) {
	t.removed = 0
	old := t.slots
	t.slots = make([]jobSlot[C], size)
	for _, e := range old {
		if e.n != nil {
			t.place(e)
		}
	}
}

// each calls f for every held record, in table order.
func (t *jobTable[C]) each(f func(*node[C])) {
	for _, e := range t.slots {
		if e.n != nil {
			f(e.n)
		}
	}
}
