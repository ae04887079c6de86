package interleave_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// FuzzBatchConfig feeds arbitrary configurations and pending lists to the batch functions:
// nothing panics, every rejection is an error with the package prefix, and every accepted
// batch satisfies the invariants. Run it with go test -fuzz=FuzzBatchConfig.
func FuzzBatchConfig(f *testing.F) {
	f.Add(500, 50, int64(0), int64(0), []byte("aaabbbccd"), []byte{3, 0, 9})
	f.Add(0, 1, int64(-1), int64(time.Millisecond), []byte("x"), []byte{})
	f.Add(-1, 0, int64(time.Second), int64(100*time.Millisecond), []byte{}, []byte{255})
	f.Add(math.MaxInt, math.MaxInt, int64(math.MaxInt64), int64(1), []byte("abababab"), []byte{1, 2})
	f.Add(3, -5, int64(0), int64(-1), []byte("zzzz"), []byte{0})
	f.Fuzz(func(t *testing.T, size, quantum int, consumed, floor int64, pending, caps []byte) {
		keys := make([]int, len(pending))
		for i, b := range pending {
			keys[i] = int(b % 16)
		}
		c := interleave.BatchConfig[int]{Size: size, Quantum: quantum}
		capOf := func(k int) int {
			if len(caps) == 0 {
				return math.MaxInt
			}
			return int(int8(caps[k%len(caps)])) // may be negative: an error
		}
		if len(caps) > 0 {
			c.Cap = capOf
		}
		if consumed != 0 {
			c.Quantum = 0
			c.Time = &interleave.TimeWeight[int]{
				Consumed: func(k int) time.Duration { return time.Duration(consumed) * time.Duration(k+1) / 16 },
				Floor:    time.Duration(floor),
			}
		}
		pendingKeys := keys
		got, stats, err := interleave.BatchWith(itemsOf(keys), keyOf, c)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "interleave: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if c.Validate() != nil {
			t.Fatalf("BatchWith accepted a config Validate rejects: %v", c.Validate())
		}
		// Per-key values are checked for the keys the scan examined; the batch is that of the
		// scanned prefix, so the invariants are checked against it.
		keys = keys[:stats.Scanned]
		for _, k := range keys {
			if c.Cap != nil && capOf(k) < 0 {
				t.Fatalf("BatchWith accepted Cap %d for examined key %d", capOf(k), k)
			}
		}
		bc := batchCase{size: size, quantum: func(int) int { return quantum }, capOf: capOf}
		if c.Time != nil {
			var ds []time.Duration
			var order []int
			seen := map[int]bool{}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					order = append(order, k)
					ds = append(ds, c.Time.Consumed(k))
				}
			}
			qs, err := interleave.TimeQuanta(nil, ds, c.Time.Floor, size)
			if err != nil {
				t.Fatalf("TimeQuanta rejected what BatchWith accepted: %v", err)
			}
			q := map[int]int{}
			for i, k := range order {
				q[k] = qs[i]
			}
			bc.quantum = func(k int) int { return q[k] }
		}
		if msg := checkInvariants(outcome{op: "batch", keys: keys, out: seqs(got), batch: bc, stats: stats}); msg != "" {
			t.Fatalf("size %d quantum %d keys %v: %s", size, quantum, keys, msg)
		}
		if c.Time == nil && c.Cap == nil {
			plain, err := interleave.Batch(itemsOf(pendingKeys), keyOf, quantum, size)
			if err != nil || len(plain) != len(got) {
				t.Fatalf("Batch = %v, %v; BatchWith %v", plain, err, got)
			}
		}
	})
}

// FuzzReorder feeds arbitrary key sequences and weights to ByKey, Weighted and
// PositionalUnfairness: outputs are FIFO permutations within the documented bounds, and
// bad weights are errors, never panics.
func FuzzReorder(f *testing.F) {
	f.Add([]byte("aaabc"), []byte{5, 1, 1})
	f.Add([]byte{}, []byte{})
	f.Add([]byte("abcabcabc"), []byte{0})
	f.Add([]byte("zzzzzzzzzy"), []byte{128, 255})
	f.Fuzz(func(t *testing.T, pending, weights []byte) {
		keys := make([]int, len(pending))
		for i, b := range pending {
			keys[i] = int(b % 32)
		}
		out := seqs(interleave.ByKey(itemsOf(keys), keyOf))
		if msg := checkInvariants(outcome{op: "bykey", keys: keys, out: out}); msg != "" {
			t.Fatal(msg)
		}
		w := func(k int) int {
			if len(weights) == 0 {
				return 1
			}
			return int(int8(weights[k%len(weights)]))
		}
		got, err := interleave.Weighted(itemsOf(keys), keyOf, w)
		u, uerr := interleave.PositionalUnfairness(itemsOf(keys), keyOf, w)
		if (err == nil) != (uerr == nil) {
			t.Fatalf("Weighted error %v, PositionalUnfairness error %v", err, uerr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "interleave: weight must be >= 1") {
				t.Fatalf("unexpected error %q", err)
			}
			return
		}
		if msg := checkInvariants(outcome{op: "weighted", keys: keys, out: seqs(got), weight: w}); msg != "" {
			t.Fatal(msg)
		}
		if u.Lag < 0 {
			t.Fatalf("negative lag %+v", u)
		}
	})
}

// FuzzDecayed feeds arbitrary half-lives, budgets and admission sequences to Decayed:
// nothing panics, rejections carry the package prefix, values stay finite and >= 0, and
// every tick follows the definition.
func FuzzDecayed(f *testing.F) {
	f.Add(int64(time.Minute), 10, 0, []byte{1, 2, 3, 4})
	f.Add(int64(0), 0, 0, []byte{})
	f.Add(int64(1), math.MaxInt, 0, []byte{255, 0, 255, 7})
	f.Add(int64(math.MaxInt64), 0, 5, []byte{9, 9, 9})
	f.Add(int64(-5), -1, -1, []byte{1})
	f.Fuzz(func(t *testing.T, halfLife int64, tickCap, perKey int, ops []byte) {
		d, err := interleave.NewDecayed[int](time.Duration(halfLife))
		if err != nil {
			if halfLife > 0 || !strings.HasPrefix(err.Error(), "interleave: ") {
				t.Fatalf("NewDecayed(%d) = %v", halfLife, err)
			}
			return
		}
		b := interleave.Budget{TickCap: tickCap, PerKey: perKey}
		var off time.Duration
		for i, op := range ops {
			off += time.Duration(int8(op)) * time.Duration(halfLife/64+1)
			now := base.Add(off)
			if op%3 == 0 {
				if err := d.Admit(now, int(op%5), int(op%4)); err != nil {
					t.Fatal(err)
				}
				if msg := checkInvariants(outcome{op: "state", state: d}); msg != "" {
					t.Fatalf("op %d: %s", i, msg)
				}
				continue
			}
			keys := []int{0, 1, 2, 3, 4}[:1+int(op)%5]
			rec, err := runTick(d, now, keys, b, func(k, budget int) int { return min(budget, int(op)+k) })
			if err != nil {
				if b.Validate() == nil || !strings.HasPrefix(err.Error(), "interleave: ") {
					t.Fatalf("op %d: Tick error %v with budget %+v", i, err, b)
				}
				if msg := checkInvariants(outcome{op: "state", state: d}); msg != "" {
					t.Fatalf("op %d: %s", i, msg)
				}
				continue
			}
			if msg := checkInvariants(outcome{op: "tick", tick: rec, state: d}); msg != "" {
				t.Fatalf("op %d: %s", i, msg)
			}
			for k := range 5 {
				if v := d.Value(now, k); !(v >= 0) || math.IsInf(v, 0) {
					t.Fatalf("Value(%d) = %v", k, v)
				}
			}
		}
	})
}
