package admission

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGrouperOrder: group's output is Ruby's group_by of the batch (partitions in order of
// first appearance, jobs in batch order within one), for batches small enough to be grouped
// by search and large enough to be grouped by marks, the same grouper reused across calls.
func TestGrouperOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := &gateBase[string]{by: func(k string) string { return k }}
	var g grouper[string]
	for step := range 2000 {
		batch := make([]Candidate[string], r.IntN(3*smallGroup))
		for i := range batch {
			batch[i] = Candidate[string]{ID: JobID(fmt.Sprint(i)), Context: fmt.Sprint(r.IntN(1 + r.IntN(12)))}
		}
		var keys []string
		byKey := map[string][]JobID{}
		for _, c := range batch {
			if byKey[c.Context] == nil {
				keys = append(keys, c.Context)
			}
			byKey[c.Context] = append(byKey[c.Context], c.ID)
		}
		g.group(batch, b)
		if g.len() != len(keys) {
			t.Fatalf("step %d: %d groups of %d jobs, want %d", step, g.len(), len(batch), len(keys))
		}
		for i, k := range keys {
			var ids []JobID
			for _, c := range g.jobs(i) {
				ids = append(ids, c.ID)
			}
			if want := byKey[k]; !slices.Equal(ids, want) || b.slots.key(g.slots[i]) != k {
				t.Fatalf("step %d: group %d is %q %v, want %q %v", step, i, b.slots.key(g.slots[i]), ids, k, want)
			}
		}
	}
}
