package tokenbucket

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkTable verifies the table's invariants: the count matches the occupied slots, the load
// stays under the growth bound, and every entry is reachable from its home slot without
// crossing an empty slot (what find and deleteAt rely on), with no key stored twice.
func checkTable[K comparable](t *table[K]) string {
	n, seen := 0, map[K]bool{}
	for i, s := range t.slots {
		if s.h == 0 {
			continue
		}
		n++
		if seen[s.key] {
			return fmt.Sprintf("key %v stored twice", s.key)
		}
		seen[s.key] = true
		for j := t.home(s.h); j != i; j = (j + 1) % len(t.slots) {
			if t.slots[j].h == 0 {
				return fmt.Sprintf("slot %d (key %v, home %d) is cut off by empty slot %d", i, s.key, t.home(s.h), j)
			}
		}
	}
	if n != t.n {
		return fmt.Sprintf("n = %d, but %d slots are occupied", t.n, n)
	}
	if t.n*loadDen > len(t.slots)*loadNum {
		return fmt.Sprintf("%d entries in %d slots: over the growth bound", t.n, len(t.slots))
	}
	return ""
}

// TestTableMatchesMap runs random inserts, updates, deletes and sweeps on a table and on a Go
// map. Hashes come from a few values only, so that probe runs collide, cluster and wrap
// around the end of the slice.
func TestTableMatchesMap(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 20))
		hashes := 1 + r.IntN(40)
		hash := func(k int) uint64 { return marked(uint64(k%hashes) * 0x9e3779b97f4a7c15) }
		var tb table[int]
		model := map[int]int64{}
		for step := range 400 {
			key := r.IntN(60)
			switch x := r.IntN(10); {
			case x < 5: // charge: update or insert
				v := r.Int64()
				if i := tb.find(key, hash(key)); i >= 0 {
					tb.slots[i].tat = v
				} else {
					tb.insert(key, hash(key), v)
				}
				model[key] = v
			case x < 8: // delete
				if i := tb.find(key, hash(key)); i >= 0 {
					tb.deleteAt(i)
				}
				delete(model, key)
			default: // sweep: keep odd tats, halve them
				visits := map[int]int{}
				tb.sweep(func(k int, tat int64) (int64, bool) {
					visits[k]++
					return tat / 2, tat%2 != 0
				})
				for k, v := range model {
					if visits[k] != 1 {
						t.Fatalf("seed %d step %d: sweep visited key %d %d times", seed, step, k, visits[k])
					}
					if v%2 != 0 {
						model[k] = v / 2
					} else {
						delete(model, k)
					}
				}
			}
			if msg := checkTable(&tb); msg != "" {
				t.Fatalf("seed %d step %d: %s", seed, step, msg)
			}
			if tb.Len() != len(model) {
				t.Fatalf("seed %d step %d: Len = %d, want %d", seed, step, tb.Len(), len(model))
			}
			for k := range 60 {
				i := tb.find(k, hash(k))
				want, ok := model[k]
				if (i >= 0) != ok || (ok && tb.slots[i].tat != want) {
					t.Fatalf("seed %d step %d: find(%d) = %d, want %v %v", seed, step, k, i, want, ok)
				}
			}
		}
	}
}

// TestTableShrinks: a sweep that leaves a big table nearly empty releases its memory.
func TestTableShrinks(t *testing.T) {
	var tb table[int]
	for k := range 10000 {
		tb.insert(k, marked(uint64(k)*0x9e3779b97f4a7c15), int64(k))
	}
	grown := len(tb.slots)
	tb.sweep(func(k int, tat int64) (int64, bool) { return tat, k < 100 })
	if tb.Len() != 100 || len(tb.slots) >= grown/10 {
		t.Fatalf("after the sweep: %d entries in %d slots (grown to %d)", tb.Len(), len(tb.slots), grown)
	}
	if msg := checkTable(&tb); msg != "" {
		t.Fatal(msg)
	}
	tb.sweep(func(int, int64) (int64, bool) { return 0, false })
	if tb.Len() != 0 || tb.slots != nil {
		t.Fatalf("an emptied table keeps %d slots", len(tb.slots))
	}
}
