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
			switch n := model[id]; {
			case r.IntN(3) == 0:
				if got := tb.get(id); got != n {
					return fmt.Sprintf("step %d: get(%s) = %p, want %p", step, id, got, n)
				}
			case n == nil && r.IntN(5) < 3:
				n = &node[int]{job: Job[int]{ID: JobID(string([]byte(id)))}} // a different string of the same ID
				tb.put(n)
				model[id] = n
			case n != nil:
				tb.remove(n)
				delete(model, id)
			}
			if msg := tableInvariants(&tb, model); msg != "" {
				return fmt.Sprintf("step %d: %s", step, msg)
			}
		}
		ids := slices.Sorted(maps.Keys(model))
		for _, id := range ids { // drain
			n := model[id]
			tb.remove(n)
			delete(model, id)
			if msg := tableInvariants(&tb, model); msg != "" {
				return fmt.Sprintf("draining: %s", msg)
			}
		}
		for i := range 4 * len(tb.slots) { // churn at a low level: the table shrinks
			n := &node[int]{job: Job[int]{ID: JobID(fmt.Sprint("c", i))}}
			tb.put(n)
			tb.remove(n)
		}
		if len(tb.slots) > minTable {
			return fmt.Sprintf("an empty table kept %d slots through churn", len(tb.slots))
		}
		return ""
	})
}

func tableInvariants(tb *jobTable[int], model map[JobID]*node[int]) string {
	if tb.len() != len(model) {
		return fmt.Sprintf("len %d, want %d", tb.len(), len(model))
	}
	held := 0
	mask := uint64(len(tb.slots) - 1)
	for i, e := range tb.slots {
		if e.n == nil {
			continue
		}
		held++
		if model[e.n.job.ID] != e.n {
			return fmt.Sprintf("slot %d holds %s, which the map does not", i, e.n.job.ID)
		}
		// No hole between the entry's home slot and the entry.
		for j := e.h & mask; j != uint64(i); j = (j + 1) & mask {
			if tb.slots[j].n == nil {
				return fmt.Sprintf("hole at %d before %s (home %d, at %d)", j, e.n.job.ID, e.h&mask, i)
			}
		}
	}
	if held != len(model) {
		return fmt.Sprintf("holds %d, want %d", held, len(model))
	}
	for id, n := range model {
		if tb.get(id) != n {
			return fmt.Sprintf("get(%s) misses", id)
		}
	}
	if n := len(tb.slots); n > 0 && (held*4 > n*3 || (n > minTable && held*16 < n && tb.removed >= 2*n)) {
		return fmt.Sprintf("%d held in %d slots", held, n)
	}
	return ""
}
