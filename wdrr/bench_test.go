package wdrr_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

// Benchmarks follow reference/selection-fairness.md §2: n = 3 uses weights {5,1,1}; larger n
// uses 100 + IntN(100) with a fixed seed, the distribution of smallnest/weighted's own
// benchmark.
//
// The anchor, smallnest/weighted, is not on the module proxy, so it is not measured here:
// its figures (SW.Next without filters 4.3 / 23 / 1071 ns at n = 3 / 16 / 1024, 0 allocs;
// about 56 B per member) are quoted from the reference. What the same run does measure
// beside our rows is impl=floor-predicate-calls: calling the eligibility predicate once per
// member and nothing else, which no scan with a per-member predicate can beat; and
// impl=dispatchlab-nofilter, the same scan with a nil predicate, the shape of the anchor.

var (
	sinkInt int
	sinkErr error
)

func benchWeights(n int) []int {
	if n == 3 {
		return []int{5, 1, 1}
	}
	r := rand.New(rand.NewPCG(1, 1))
	ws := make([]int, n)
	for i := range ws {
		ws[i] = 100 + r.IntN(100)
	}
	return ws
}

func benchSWRR(rule wdrr.Rule, ws []int) *wdrr.SWRR[int] {
	ms := make([]wdrr.Weighted[int], len(ws))
	for i, w := range ws {
		ms[i] = wdrr.Weighted[int]{Value: i, Weight: w}
	}
	s, err := wdrr.NewSWRRWith(wdrr.SWRRConfig{Rule: rule}, ms...)
	if err != nil {
		panic(err)
	}
	return s
}

// callAll is the floor: one predicate call per member.
//
//go:noinline
func callAll[T any](vals []T, eligible func(T) bool) int {
	n := 0
	for _, v := range vals {
		if eligible(v) {
			n++
		}
	}
	return n
}

// BenchmarkNext is one pick with an eligibility predicate (the row), at n = 3, 16
// and 1024. The predicate is nginx's "not already tried" check, which admits every member
// here, so every variant does the same picks as the unfiltered ones.
func BenchmarkNext(b *testing.B) {
	for _, n := range []int{3, 16, 64, 256, 1024} {
		ws := benchWeights(n)
		tried := -1
		eligible := func(v int) bool { return v != tried }
		name := func(impl string) string { return fmt.Sprintf("n=%d/impl=%s", n, impl) }
		b.Run(name("dispatchlab"), func(b *testing.B) {
			s := benchSWRR(wdrr.Nginx, ws)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, sinkErr = s.Next(eligible)
			}
		})
		b.Run(name("dispatchlab-nofilter"), func(b *testing.B) {
			s := benchSWRR(wdrr.Nginx, ws)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, sinkErr = s.Next(nil)
			}
		})
		b.Run(name("dispatchlab-dripdrop"), func(b *testing.B) {
			s := benchSWRR(wdrr.DripDrop, ws)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, sinkErr = s.Next(eligible)
			}
		})
		b.Run(name("dispatchlab-strict"), func(b *testing.B) {
			s := benchSWRR(wdrr.Strict, ws)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, sinkErr = s.Next(eligible)
			}
		})
		b.Run(name("dispatchlab-locked"), func(b *testing.B) {
			l := wdrr.NewLocked(benchSWRR(wdrr.Nginx, ws))
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, sinkErr = l.Next(eligible)
			}
		})
		b.Run(name("floor-predicate-calls"), func(b *testing.B) {
			vals := make([]int, n)
			for i := range vals {
				vals[i] = i
			}
			b.ReportAllocs()
			for b.Loop() {
				sinkInt = callAll(vals, eligible)
			}
		})
	}
}

// BenchmarkDRR is one Push and one Pop per op (so ns/op is ns per item). In the
// keys=1024 rows, the issue's, every key stays backlogged: a quarter of the keys have weight
// 2, and pushes go to keys in proportion to their weights. cost=unit is job dispatch
// (quantum 1, one job per turn); cost=64-1500 is packet-like, with quantum 1500 at least
// every cost. The churn row is the worst case for the key index: one item per key, so every
// Push makes a key active and every Pop retires one (a map insert and delete per item).
func BenchmarkDRR(b *testing.B) {
	for _, keys := range []int{16, 1024} {
		for _, c := range []struct {
			name    string
			quantum int
			cost    func(i int) int
			backlog int
		}{
			{"unit", 1, func(int) int { return 1 }, 4},
			{"64-1500", 1500, func(i int) int { return 64 + (i*7919)%1437 }, 4},
			{"unit-churn", 1, func(int) int { return 1 }, 0},
		} {
			b.Run(fmt.Sprintf("keys=%d/cost=%s/impl=dispatchlab", keys, c.name), func(b *testing.B) {
				d, _ := wdrr.NewDRR[int, int](c.quantum)
				var schedule []int // keys in proportion to their weights
				for k := range keys {
					schedule = append(schedule, k)
					if k%4 == 0 && c.backlog > 0 {
						_ = d.SetWeight(k, 2)
						schedule = append(schedule, k)
					}
					for j := range c.backlog {
						_ = d.Push(k, j, c.cost(k+j))
					}
				}
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					i++
					_ = d.Push(schedule[i%len(schedule)], i, c.cost(i))
					_, sinkInt, _ = d.Pop()
				}
				b.ReportMetric(float64(d.Active()), "active-keys")
			})
		}
	}
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemory reports the heap per member of a 100,000-member SWRR with int values:
// B/member is everything the SWRR allocates, state-B/member excludes the values themselves
// (8 B each here), leaving the scheduler state. ns/op is one unfiltered pick. The anchor's
// figure (smallnest/weighted, about 56 B per member with string items) is quoted from the
// reference.
func BenchmarkMemory(b *testing.B) {
	const n = 100_000
	ws := benchWeights(n)
	b.Run(fmt.Sprintf("n=%d/impl=dispatchlab", n), func(b *testing.B) {
		ms := make([]wdrr.Weighted[int], n)
		for i, w := range ws {
			ms[i] = wdrr.Weighted[int]{Value: i, Weight: w}
		}
		before := heapAlloc()
		s, _ := wdrr.NewSWRR(ms...)
		_, _ = s.Next(nil)
		total := float64(heapAlloc()-before) / n
		runtime.KeepAlive(ms) // ms predates the baseline: keep it from being freed inside it
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = s.Next(nil)
		}
		b.ReportMetric(total, "B/member")
		b.ReportMetric(total-float64(unsafe.Sizeof(int(0))), "state-B/member")
		runtime.KeepAlive(s)
	})
}

// BenchmarkAllocator is one DripDrop pick over 16 members passed by the caller, with a
// predicate: map lookups per member dominate.
func BenchmarkAllocator(b *testing.B) {
	ws := benchWeights(16)
	ms := make([]wdrr.Weighted[sender], len(ws))
	for i, w := range ws {
		ms[i] = wdrr.Weighted[sender]{Value: sender{id: i, active: true, healthy: true, headroom: true}, Weight: w}
	}
	a, _ := wdrr.NewAllocator[int](wdrr.DefaultRule, senderID)
	eligible := func(s sender) bool { return s.active && s.healthy && s.headroom }
	b.Run("n=16/impl=dispatchlab", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, sinkErr = a.Pick(7, ms, eligible)
		}
	})
	b.Run("n=16/impl=dispatchlab-fallback", func(b *testing.B) {
		evicted := make([]int, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			_, sinkErr = a.Fallback(7, ms, dripdropTiers, evicted[:0])
		}
	})
}
