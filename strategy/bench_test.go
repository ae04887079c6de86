package strategy_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jump "github.com/dgryski/go-jump"

	"github.com/dispatchlab/dispatchlab/strategy"
)

// Benchmarks follow the strategy table of the issue; the anchors run in the same run:
// github.com/dgryski/go-jump for Hash, and for the others the bare loop the reference
// measured ("scratch": the pick with no Pool interface around it). Every pick allocates
// nothing; b.ReportAllocs shows it.

var sinkInt int

// benchLoads returns n queue lengths in [1, 100]: no empty queue, so Best scans them all.
func benchLoads(n int) strategy.Loads {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	l := make(strategy.Loads, n)
	for i := range l {
		l[i] = 1 + r.IntN(100)
	}
	return l
}

func BenchmarkRandom(b *testing.B) {
	p := benchLoads(16)
	b.Run("impl=dispatchlab", func(b *testing.B) {
		s := must(strategy.NewRandom(rand.New(rand.NewPCG(1, 2))))
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, _ = s.Pick(&p, 0)
		}
	})
	b.Run("impl=scratch-intn", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for b.Loop() {
			sinkInt = r.IntN(len(p))
		}
	})
}

// BenchmarkNext runs 8 goroutines (SetParallelism(4) on 2 procs) picking from one shared
// round robin. rr-spread is the largest difference between two workers' pick counts at the
// end: at most 1 for a strict round robin. wpool's read-then-CAS (the failed swap ignored)
// runs beside it for comparison. The bare loops take the pool size from a variable, as
// Pick does, so the modulo is a division on every side and not a mask by a constant 16.
func BenchmarkNext(b *testing.B) {
	const n = 16
	p := make(strategy.Loads, n)
	size := uint64(len(p))
	run := func(b *testing.B, pick func() int) {
		var (
			mu     sync.Mutex
			counts [n]int
		)
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			var local [n]int
			for pb.Next() {
				local[pick()]++
			}
			mu.Lock()
			for i, c := range local {
				counts[i] += c
			}
			mu.Unlock()
		})
		lo, hi := counts[0], counts[0]
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		b.ReportMetric(float64(hi-lo), "rr-spread")
	}
	b.Run("goroutines=8/impl=dispatchlab", func(b *testing.B) {
		s := strategy.NewNext()
		run(b, func() int { i, _ := s.Pick(&p, 0); return i })
	})
	b.Run("goroutines=8/impl=scratch-atomic", func(b *testing.B) {
		var c atomic.Uint64
		run(b, func() int { return int((c.Add(1) - 1) % size) })
	})
	b.Run("goroutines=8/impl=wpool-cas", func(b *testing.B) {
		var c atomic.Uint64
		run(b, func() int {
			i := c.Load()
			c.CompareAndSwap(i, (i+1)%size) // wpool ignores a failed swap
			return int(i)
		})
	})
}

func BenchmarkBest(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096} {
		loads := benchLoads(n)
		b.Run(fmt.Sprintf("n=%d/impl=dispatchlab", n), func(b *testing.B) {
			s := must(strategy.NewBest(rand.New(rand.NewPCG(1, 2))))
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, _ = s.Pick(&loads, 0)
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=dispatchlab-plainpool", n), func(b *testing.B) {
			s := must(strategy.NewBest(rand.New(rand.NewPCG(1, 2))))
			p := &plainPool{loads: loads}
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, _ = s.Pick(p, 0)
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=scratch-scan", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				start := r.IntN(n)
				best, bl := start, loads[start]
				for k := 1; k < n && bl > 0; k++ {
					i := start + k
					if i >= n {
						i -= n
					}
					if loads[i] < bl {
						best, bl = i, loads[i]
					}
				}
				sinkInt = best
			}
		})
	}
}

func BenchmarkP2C(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096} {
		loads := benchLoads(n)
		b.Run(fmt.Sprintf("n=%d/impl=dispatchlab", n), func(b *testing.B) {
			s := must(strategy.NewP2C(rand.New(rand.NewPCG(1, 2))))
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, _ = s.Pick(&loads, 0)
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=scratch", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				i, j := r.IntN(n), r.IntN(n)
				if loads[j] < loads[i] {
					i = j
				}
				sinkInt = i
			}
		})
	}
}

// BenchmarkHash compares Hash.Pick and the JumpHash function with go-jump on the same keys.
func BenchmarkHash(b *testing.B) {
	for _, n := range []int{16, 1024, 65536} {
		p := make(strategy.Loads, n)
		b.Run(fmt.Sprintf("n=%d/impl=dispatchlab", n), func(b *testing.B) {
			x := xorshift(88172645463325252)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, _ = strategy.Hash{}.Pick(&p, x.next())
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=dispatchlab-func", n), func(b *testing.B) {
			x := xorshift(88172645463325252)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt = strategy.JumpHash(x.next(), n)
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=go-jump", n), func(b *testing.B) {
			x := xorshift(88172645463325252)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt = int(jump.Hash(x.next(), n))
			}
		})
	}
}

func BenchmarkRendezvous(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096} {
		p := make(strategy.Loads, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			x := xorshift(88172645463325252)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, _ = strategy.Rendezvous{}.Pick(&p, x.next())
			}
		})
	}
}

func BenchmarkNextAvailable(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096} {
		loads := benchLoads(n)
		loads[n-1] = 0 // one idle worker, found after a scan of n/2 on average
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := must(strategy.NewNextAvailable(rand.New(rand.NewPCG(1, 2))))
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, _ = s.Pick(&loads, 0)
			}
		})
	}
}

// BenchmarkQueue is one waiter's round trip through a saturated queue of 64 workers:
// Request (waits), then Ready hands it a worker.
func BenchmarkQueue(b *testing.B) {
	q := must(strategy.NewQueue(64, strategy.FIFO))
	now := time.Unix(1_700_000_000, 0)
	for range 64 {
		_, _, _ = q.Request(now, now.Add(time.Hour))
	}
	w := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		_, _, _ = q.Request(now, now.Add(time.Second))
		g, _, _ := q.Ready(now, w)
		w = (g.Worker + 1) % 64
	}
}

// xorshift is a cheap deterministic key source, so that the key costs nothing next to
// the pick.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}
