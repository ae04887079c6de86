package admission

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// The job table holds exactly what a map would through any mix of insertions, lookups and
// removals, growing and shrinking; every record stays reachable from its home slot (which
// backward-shift deletion must preserve) and the table stays at most 3/4 full, shrinking
// after enough removals leave it nearly empty.
func TestJobTableMatchesMap(t *testing.T) {
	forAll(t, "the job table behaves as a map", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 5))
		var tb jobTable[int]
		model := map[JobID]*node[int]{}
		keys := 1 + r.IntN(2000)
		for step := range 1500 {
			id := JobID(fmt.Sprint("j", r.IntN(keys)))
			size := len(tb.slots)
			switch n := model[id]; {
			case r.IntN(3) == 0:
				if got := tb.get(id); got != n {
					return fmt.Sprintf("step %d: get(%s) = %p, want %p", step, id, got, n)
				}
			case n == nil && r.IntN(5) < 3:
				n = &node[int]{job: jobRec[int]{ID: JobID(string([]byte(id)))}} // a different string of the same ID
				tb.put(n)
				model[id] = n
			case n != nil:
				tb.remove(n)
				delete(model, id)
			}
			if got := tb.get(id); got != model[id] {
				return fmt.Sprintf("step %d: get(%s) = %p after the operation, want %p", step, id, got, model[id])
			}
			// The layout is checked after every step; every ID is looked up after a resize
			// and every 16 steps (a lookup hashes, which dominates the test's time).
			full := step%16 == 0 || len(tb.slots) != size
			if msg := tableInvariants(&tb, model, full); msg != "" {
				return fmt.Sprintf("step %d: %s", step, msg)
			}
		}
		ids := slices.Sorted(maps.Keys(model))
		for i, id := range ids { // drain
			n := model[id]
			size := len(tb.slots)
			tb.remove(n)
			delete(model, id)
			if msg := tableInvariants(&tb, model, i%16 == 0 || len(tb.slots) != size); msg != "" {
				return fmt.Sprintf("draining: %s", msg)
			}
		}
		for i := range 4 * len(tb.slots) { // churn at a low level: the table shrinks
			n := &node[int]{job: jobRec[int]{ID: JobID(fmt.Sprint("c", i))}}
			tb.put(n)
			tb.remove(n)
		}
		if len(tb.slots) > minTable {
			return fmt.Sprintf("an empty table kept %d slots through churn", len(tb.slots))
		}
		return ""
	})
}

// tableInvariants checks that the table holds exactly the model's records, each reachable
// from its home slot (no empty slot between the two, which backward-shift deletion must
// preserve), at most 3/4 full, shrinking after enough removals leave it nearly empty. With
// lookups, it also looks every ID up (which checks the stored hashes).
func tableInvariants(tb *jobTable[int], model map[JobID]*node[int], lookups bool) string {
	if tb.len() != len(model) {
		return fmt.Sprintf("len %d, want %d", tb.len(), len(model))
	}
	held, size := 0, len(tb.slots)
	if size > 0 {
		// One pass from an empty slot: an entry is reachable iff its home lies in its run of
		// occupied slots, at or before it.
		first := slices.IndexFunc(tb.slots, func(e jobSlot[int]) bool { return e.n == nil })
		if first < 0 {
			return fmt.Sprintf("no empty slot among %d", size)
		}
		mask := uint64(size - 1)
		runStart := 0 // distance from first of the current run's first slot
		for d := 1; d < size; d++ {
			i := (uint64(first) + uint64(d)) & mask
			e := tb.slots[i]
			if e.n == nil {
				runStart = d + 1
				continue
			}
			held++
			if model[e.n.job.ID] != e.n {
				return fmt.Sprintf("slot %d holds %s, which the map does not", i, e.n.job.ID)
			}
			home := e.h & mask
			if back := int((i - home) & mask); back > d-runStart {
				return fmt.Sprintf("hole before %s (home %d, at %d)", e.n.job.ID, home, i)
			}
		}
	}
	if held != len(model) {
		return fmt.Sprintf("holds %d, want %d", held, len(model))
	}
	if lookups {
		for id, n := range model {
			if tb.get(id) != n {
				return fmt.Sprintf("get(%s) misses", id)
			}
		}
	}
	if n := len(tb.slots); n > 0 && (held*4 > n*3 || (n > minTable && held*16 < n && tb.removed >= 2*n)) {
		return fmt.Sprintf("%d held in %d slots", held, n)
	}
	return ""
}
