package tokenbucket

import "math/bits"

// table is the store of one group of a Keyed shard: an open-addressing hash table from
// partition keys to tats. Each slot holds the key's hash, its tat and the key itself, by
// value, in one slice, so a lookup usually touches one or two adjacent cache lines and the
// table adds no pointer per partition (Go's map, by contrast, reaches its slots through a
// directory and a table header, and never shrinks).
//
// Probing is linear from the slot that the hash's high bits select (a multiply-shift, so the
// length need not be a power of two and the table grows by half, not double). Deletion
// shifts the rest of the probe run back, so there are no tombstones. The hash is the
// caller's, from a per-Keyed random seed: it decides where entries sit, never what a bucket
// decides.
//
// A table is not safe for concurrent use; Keyed guards each with its shard's mutex.
type table[K comparable] struct {
	slots []slot[K]
	n     int // occupied slots
}

type slot[K comparable] struct {
	h   uint64 // the key's marked hash (low bit set); 0 marks an empty slot
	tat int64
	key K
}

// A table grows by half once more than 85% full (to 57% full), and shrinks back to 57% when
// a sweep leaves it under a quarter of that bound. At 85%, linear probing averages under
// four slots per successful lookup; with 32-byte slots (string keys) that is at most about
// 56 bytes per partition at the low end of the range, 38 at the high end.
const (
	loadNum, loadDen = 17, 20
	minSlots         = 8
)

// marked returns h as tables store it: never 0, which marks an empty slot.
func marked(h uint64) uint64 { return h | 1 }

// home returns the first slot to probe for marked hash h.
func (t *table[K]) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(hi)
}

// Len returns the number of entries.
func (t *table[K]) Len() int { return t.n }

// find returns the index of key's slot, key having marked hash h, or −1 if key is absent.
// Cost: O(1) expected.
func (t *table[K]) find(key K, h uint64) int {
	if t.n == 0 {
		return -1
	}
	for i := t.home(h); ; {
		s := &t.slots[i]
		if s.h == 0 {
			return -1
		}
		if s.h == h && s.key == key {
			return i
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// insert adds key, which must be absent, with marked hash h and the given tat, and returns
// its slot's index. Cost: O(1) amortised.
func (t *table[K]) insert(key K, h uint64, tat int64) int {
	if (t.n+1)*loadDen > len(t.slots)*loadNum {
		t.resize(max(minSlots, len(t.slots)+len(t.slots)/2, fit(t.n+1)))
	}
	t.n++
	return t.place(slot[K]{h: h, tat: tat, key: key})
}

// place puts s in the first empty slot of its probe run and returns the index.
func (t *table[K]) place(s slot[K]) int {
	for i := t.home(s.h); ; {
		if t.slots[i].h == 0 {
			t.slots[i] = s
			return i
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// fit returns the table length that holds n entries 57% full.
func fit(n int) int {
	return max(minSlots, n*loadDen*3/(loadNum*2)+1)
}

// resize rehashes every entry into a table of length size. Cost: O(old length + size).
func (t *table[K]) resize(size int) {
	old := t.slots
	t.slots = make([]slot[K], size)
	for i := range old {
		if old[i].h != 0 {
			t.place(old[i])
		}
	}
}

// deleteAt removes the entry in slot i, shifting back the later entries of its probe run
// that may move there (each moves only towards its home slot, and never across an empty
// slot). Cost: O(length of the run).
func (t *table[K]) deleteAt(i int) {
	n := len(t.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		s := &t.slots[j]
		if s.h == 0 {
			break
		}
		// s may fill the hole at i if i lies on its probe path, from its home to j.
		if h := t.home(s.h); (j-h+n)%n >= (j-i+n)%n {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i] = slot[K]{}
	t.n--
}

// sweep calls f once on every entry, in slot order, and stores the tat f returns, or
// deletes the entry if f reports false. It then shrinks a table left under a quarter of
// its growth bound. f must not modify t. Cost: O(length).
func (t *table[K]) sweep(f func(key K, tat int64) (int64, bool)) {
	n := len(t.slots)
	if t.n == 0 {
		t.shrink()
		return
	}
	// Start just after an empty slot (one exists: the table is never full), so that no probe
	// run wraps around the start. A deletion then shifts back only entries not yet visited,
	// into the current slot, which is examined again: every entry is visited exactly once.
	e := 0
	for t.slots[e].h != 0 {
		e++
	}
	for step := 1; step <= n; {
		i := (e + step) % n
		s := &t.slots[i]
		if s.h == 0 {
			step++
			continue
		}
		if tat, keep := f(s.key, s.tat); keep {
			s.tat = tat
			step++
			continue
		}
		t.deleteAt(i)
	}
	t.shrink()
}

// shrink rebuilds a table that has fallen under a quarter of its growth bound (Go maps
// never release memory on delete; this does).
func (t *table[K]) shrink() {
	if len(t.slots) > minSlots && t.n*loadDen*4 < len(t.slots)*loadNum {
		if t.n == 0 {
			t.slots = nil
			return
		}
		t.resize(fit(t.n))
	}
}
