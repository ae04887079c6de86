package tokenbucket_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Benchmarks run golang.org/x/time/rate (the anchor) beside our types in the same run; see
// BENCHMARKS.md for the command and the recorded ratios. Every benchmark passes time in, as
// both APIs allow, so no figure includes a clock read.

var sink bool

// never-denying configurations: the admit path.
var (
	openLimit = tokenbucket.Limit{Rate: 1e9, Per: time.Second, Burst: 1 << 30}
	openRate  = rate.Limit(1e9)
)

func BenchmarkAllowN(b *testing.B) {
	start := time.Now()
	b.Run("admit/impl=dispatchlab", func(b *testing.B) {
		tb, _ := tokenbucket.New(openLimit, start)
		now := start
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(1)
			sink = tb.AllowN(now, 1)
		}
	})
	b.Run("admit/impl=xrate", func(b *testing.B) {
		lim := rate.NewLimiter(openRate, 1<<30)
		now := start
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(1)
			sink = lim.AllowN(now, 1)
		}
	})
	// Synthetic times, as a simulator or a test gives: no monotonic clock reading.
	b.Run("admit-synthetic/impl=dispatchlab", func(b *testing.B) {
		tb, _ := tokenbucket.New(openLimit, start.Round(0))
		now := start.Round(0)
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(1)
			sink = tb.AllowN(now, 1)
		}
	})
	b.Run("admit-synthetic/impl=xrate", func(b *testing.B) {
		lim := rate.NewLimiter(openRate, 1<<30)
		now := start.Round(0)
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(1)
			sink = lim.AllowN(now, 1)
		}
	})
	// The floors: a bare compare-and-swap on one padded word, with the same time arithmetic
	// as the bucket and no limiter arithmetic; then the same plus the clock store that makes
	// a step back in time exactly "no time passing".
	for _, clock := range []bool{false, true} {
		name := "admit/impl=floor-cas"
		if clock {
			name += "+clock"
		}
		b.Run(name, func(b *testing.B) {
			f := new(floorCAS) // on the heap, as a Bucket's state is
			now := start
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(1)
				if clock {
					sink = f.admitClock(int64(now.Sub(start)))
				} else {
					sink = f.admit(int64(now.Sub(start)))
				}
			}
		})
	}
	// The same bare CAS given integer nanoseconds: what the time.Time API adds (the caller's
	// Add and the bucket's Sub) is the difference to floor-cas.
	b.Run("admit/impl=floor-cas-int", func(b *testing.B) {
		f := new(floorCAS)
		var off int64
		b.ReportAllocs()
		for b.Loop() {
			off++
			sink = f.admit(off)
		}
	})
	// A dispatcher tick admits a batch at one instant: the clock store is then skipped.
	b.Run("admit-batch100/impl=dispatchlab", func(b *testing.B) {
		tb, _ := tokenbucket.New(openLimit, start)
		now, i := start, 0
		b.ReportAllocs()
		for b.Loop() {
			if i++; i%100 == 0 {
				now = now.Add(time.Microsecond)
			}
			sink = tb.AllowN(now, 1)
		}
	})
	b.Run("admit-batch100/impl=xrate", func(b *testing.B) {
		lim := rate.NewLimiter(openRate, 1<<30)
		now, i := start, 0
		b.ReportAllocs()
		for b.Loop() {
			if i++; i%100 == 0 {
				now = now.Add(time.Microsecond)
			}
			sink = lim.AllowN(now, 1)
		}
	})
	// Drained 1 per second, burst 1: every call is refused (under overload, at one instant).
	b.Run("deny/impl=dispatchlab", func(b *testing.B) {
		tb, _ := tokenbucket.New(tokenbucket.Every(time.Second, 1), start)
		tb.Allow(start)
		b.ReportAllocs()
		for b.Loop() {
			sink = tb.AllowN(start, 1)
		}
	})
	b.Run("deny/impl=xrate", func(b *testing.B) {
		lim := rate.NewLimiter(1, 1)
		lim.AllowN(start, 1)
		b.ReportAllocs()
		for b.Loop() {
			sink = lim.AllowN(start, 1)
		}
	})
}

// parallel8 makes b's RunParallel start 8 goroutines: SetParallelism(p) starts
// p·GOMAXPROCS of them (4·2 on the benchmark machine). Where GOMAXPROCS does not divide 8 it
// starts the next multiple of GOMAXPROCS, which it reports as the goroutines metric.
func parallel8(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	p := (8 + procs - 1) / procs
	b.SetParallelism(p)
	if p*procs != 8 {
		b.ReportMetric(float64(p*procs), "goroutines")
	}
}

// BenchmarkParallel8 is one key shared by 8 goroutines, each with its own advancing clock.
func BenchmarkParallel8(b *testing.B) {
	start := time.Now()
	b.Run("impl=dispatchlab", func(b *testing.B) {
		tb, _ := tokenbucket.New(openLimit, start)
		b.ReportAllocs()
		parallel8(b)
		b.RunParallel(func(pb *testing.PB) {
			now := start
			for pb.Next() {
				now = now.Add(1)
				tb.AllowN(now, 1)
			}
		})
	})
	b.Run("impl=floor-cas+clock", func(b *testing.B) {
		f := new(floorCAS)
		b.ReportAllocs()
		parallel8(b)
		b.RunParallel(func(pb *testing.PB) {
			now := start
			for pb.Next() {
				now = now.Add(1)
				f.admitClock(int64(now.Sub(start)))
			}
		})
	})
	b.Run("impl=xrate", func(b *testing.B) {
		lim := rate.NewLimiter(openRate, 1<<30)
		b.ReportAllocs()
		parallel8(b)
		b.RunParallel(func(pb *testing.PB) {
			now := start
			for pb.Next() {
				now = now.Add(1)
				lim.AllowN(now, 1)
			}
		})
	})
}

// floorCAS is the lock-free admit reduced to its atomics: a theoretical arrival time taken
// by compare-and-swap (admitting while it is within 2^40 ns of now) and, optionally, the
// clock of the latest grant, stored after the swap as Bucket stores it.
type floorCAS struct {
	_     [64]byte
	tat   atomic.Int64
	clock atomic.Int64
	_     [48]byte
}

func (f *floorCAS) admit(off int64) bool {
	for tat := f.tat.Load(); ; tat = f.tat.Load() {
		d := max(0, tat-off)
		if d > 1<<40 {
			return false
		}
		if f.tat.CompareAndSwap(tat, off+d+1) {
			return true
		}
	}
}

func (f *floorCAS) admitClock(off int64) bool {
	c := f.clock.Load()
	off = max(off, c)
	for tat := f.tat.Load(); ; tat = f.tat.Load() {
		d := max(0, tat-off)
		if d > 1<<40 {
			return false
		}
		if f.tat.CompareAndSwap(tat, off+d+1) {
			if off > c {
				f.clock.Store(off)
			}
			return true
		}
	}
}

const manyKeys = 1_000_000

var (
	keysOnce sync.Once
	keys     []string
)

// tenantKeys returns 1,000,000 distinct 14-byte keys, allocated once and before any heap
// baseline, so key bytes are not counted against a limiter.
func tenantKeys() []string {
	keysOnce.Do(func() {
		keys = make([]string, manyKeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("tenant-%07d", i)
		}
	})
	return keys
}

// xorshift is a cheap deterministic key picker, so that the picker costs nothing next to a
// cache miss.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// xrateKeyed is the common keyed pattern built on x/time/rate: a map of *rate.Limiter
// behind a RWMutex.
type xrateKeyed struct {
	mu sync.RWMutex
	m  map[string]*rate.Limiter
}

func (k *xrateKeyed) allow(now time.Time, key string) bool {
	k.mu.RLock()
	lim, ok := k.m[key]
	k.mu.RUnlock()
	if !ok {
		k.mu.Lock()
		if lim, ok = k.m[key]; !ok {
			lim = rate.NewLimiter(5, 5)
			k.m[key] = lim
		}
		k.mu.Unlock()
	}
	return lim.AllowN(now, 1)
}

// BenchmarkKeyed1M: 1,000,000 string partitions, a random one per call; B/key is the heap
// growth per partition once every key has been charged once.
func BenchmarkKeyed1M(b *testing.B) {
	ks := tenantKeys()
	start := time.Now()
	b.Run("impl=dispatchlab", func(b *testing.B) {
		before := heapAlloc()
		k := tokenbucket.NewKeyed(func(string) tokenbucket.Limit { return tokenbucket.Limit{Rate: 5, Per: time.Second, Burst: 5} })
		for _, key := range ks {
			k.Allow(start, key)
		}
		perKey := float64(heapAlloc()-before) / manyKeys
		x, now := xorshift(88172645463325252), start
		for range manyKeys { // one warm pass: measure the steady state
			now = now.Add(1)
			sink, _ = k.Allow(now, ks[x.next()%manyKeys])
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			now = now.Add(1)
			sink, _ = k.Allow(now, ks[x.next()%manyKeys])
		}
		b.ReportMetric(perKey, "B/key")
		runtime.KeepAlive(k)
	})
	b.Run("impl=floor-map", func(b *testing.B) {
		f := &floorKeyed{m: map[string]int64{}}
		for _, key := range ks {
			f.touch(0, key)
		}
		x, now := xorshift(88172645463325252), int64(0)
		for range manyKeys {
			now++
			sink = f.touch(now, ks[x.next()%manyKeys])
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			now++
			sink = f.touch(now, ks[x.next()%manyKeys])
		}
	})
	b.Run("impl=xrate-map", func(b *testing.B) {
		before := heapAlloc()
		k := &xrateKeyed{m: map[string]*rate.Limiter{}}
		for _, key := range ks {
			k.allow(start, key)
		}
		perKey := float64(heapAlloc()-before) / manyKeys
		x, now := xorshift(88172645463325252), start
		for range manyKeys {
			now = now.Add(1)
			sink = k.allow(now, ks[x.next()%manyKeys])
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			now = now.Add(1)
			sink = k.allow(now, ks[x.next()%manyKeys])
		}
		b.ReportMetric(perKey, "B/key")
		runtime.KeepAlive(k)
	})
}

// floorKeyed is the memory-latency floor for string keys: one mutex, one map[string]int64,
// a lookup and a store per call, no limiter arithmetic at all.
type floorKeyed struct {
	mu sync.Mutex
	m  map[string]int64
}

func (f *floorKeyed) touch(now int64, key string) bool {
	f.mu.Lock()
	v := f.m[key]
	ok := v <= now
	f.m[key] = now + 1
	f.mu.Unlock()
	return ok
}

// BenchmarkDense1M: 1,000,000 partitions by integer ID, a random one per call.
func BenchmarkDense1M(b *testing.B) {
	start := time.Now()
	before := heapAlloc()
	d, _ := tokenbucket.NewDense(tokenbucket.Limit{Rate: 5, Per: time.Second, Burst: 5}, manyKeys)
	for i := range manyKeys {
		d.Allow(start, i)
	}
	perKey := float64(heapAlloc()-before) / manyKeys
	x, now := xorshift(88172645463325252), start
	for range manyKeys {
		now = now.Add(1)
		sink = d.Allow(now, int(x.next()%manyKeys))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(1)
		sink = d.Allow(now, int(x.next()%manyKeys))
	}
	b.ReportMetric(perKey, "B/key")
	runtime.KeepAlive(d)
}
