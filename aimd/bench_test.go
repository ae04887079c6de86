package aimd_test

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// The anchor, platinummonkey/go-concurrency-limits, is refused by the module proxy, so it
// cannot run here. Its figures, measured on this machine class from a fetched snapshot
// (reference/ratelimit-aimd.md §5.6), are: AIMDLimit.OnSample 30.1 ns, Gradient2Limit
// 101.1 ns, VegasLimit 102.0 ns (all 0 allocs); DefaultLimiter Acquire + OnSuccess 369.8
// ns, 104 B, 3 allocs. The in-run anchor is the floor the reference measured beside them
// (15.8 ns): a mutex, a float64 EWMA and the AIMD update, with nothing else.

var sinkInt int

// samples is a fixed mix that keeps the limits moving without drifting away: mostly
// successes under target, some over it, a few failures.
var samples = func() []aimd.Sample {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]aimd.Sample, 1024)
	for i := range out {
		lag := time.Duration(r.Int64N(int64(150 * time.Millisecond)))
		if r.IntN(4) == 0 {
			lag += 200 * time.Millisecond
		}
		out[i] = aimd.Sample{
			Lag:      lag,
			Latency:  time.Duration(1 + r.Int64N(int64(20*time.Millisecond))),
			InFlight: 5 + r.IntN(40),
			Failed:   r.IntN(50) == 0,
		}
	}
	return out
}()

var benchConfig = aimd.Config{Initial: 20, Max: 200, TargetLag: 100 * time.Millisecond}

// floorAIMD is the reference's floor: an uncontended mutex, a float64 EWMA and the AIMD
// update (+1 / ×0.95 / ×0.5, clamped), with no validation, options or accessors.
type floorAIMD struct {
	mu     sync.Mutex
	limit  int
	ewma   float64
	target float64
}

func (f *floorAIMD) observe(s aimd.Sample) {
	f.mu.Lock()
	f.ewma = f.ewma*0.5 + 0.5*float64(s.Lag)/1e6
	switch {
	case s.Failed:
		f.limit = int(math.Floor(float64(f.limit) * 0.5))
	case f.ewma > f.target:
		f.limit = int(math.Floor(float64(f.limit) * 0.95))
	default:
		f.limit++
	}
	f.limit = min(max(f.limit, 1), 200)
	f.mu.Unlock()
}

// BenchmarkObserve: one completion sample. Targets: AIMD <= 20 ns, Gradient2 and Vegas
// <= 60 ns, 0 allocs (anchors above: 30.1, 101.1, 102.0 ns).
func BenchmarkObserve(b *testing.B) {
	now := time.Now()
	run := func(b *testing.B, a aimd.Algorithm) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			a.Observe(now, samples[i&1023])
			i++
		}
		sinkInt = a.Limit()
	}
	b.Run("impl=aimd", func(b *testing.B) {
		a, _ := aimd.New(benchConfig)
		run(b, a)
	})
	b.Run("impl=floor", func(b *testing.B) {
		f := &floorAIMD{limit: 20, target: 100}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			f.observe(samples[i&1023])
			i++
		}
		sinkInt = f.limit
	})
	b.Run("impl=gradient2", func(b *testing.B) {
		g, _ := aimd.NewGradient2(aimd.Gradient2Config{})
		run(b, g)
	})
	b.Run("impl=vegas", func(b *testing.B) {
		v, _ := aimd.NewVegas(aimd.VegasConfig{Rand: rand.New(rand.NewPCG(1, 2))})
		run(b, v)
	})
	b.Run("impl=windowed-aimd", func(b *testing.B) {
		a, _ := aimd.New(benchConfig)
		w, _ := aimd.NewWindowed(a, aimd.WindowConfig{MinSamples: 10})
		run(b, w)
	})
}

// BenchmarkAvailable: the admission check, which takes the AIMD's mutex to read the limit.
func BenchmarkAvailable(b *testing.B) {
	a, _ := aimd.New(benchConfig)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkInt = a.Available(i & 31)
		i++
	}
}

// floorKeyed is the floor of a keyed gate: a mutex and a map of pointers for Acquire, the
// partition's pointer and the same mutex for Release, the floor AIMD update inline, the
// acquire time stored; no tokens, no double-release detection, no hashing for sharding.
type floorKeyed struct {
	mu    sync.Mutex
	parts map[string]*floorPart
}

type floorPart struct {
	inFlight, limit int
	ewma            float64
	last            time.Time // the latest acquire: the time every keyed limiter keeps
}

func (f *floorKeyed) acquire(now time.Time, key string) (*floorPart, bool) {
	f.mu.Lock()
	p := f.parts[key]
	if p == nil {
		p = &floorPart{limit: 20}
		f.parts[key] = p
	}
	ok := p.inFlight < p.limit
	if ok {
		p.inFlight++
		p.last = now
	}
	f.mu.Unlock()
	return p, ok
}

func (f *floorKeyed) release(p *floorPart, s aimd.Sample) {
	f.mu.Lock()
	p.inFlight--
	p.ewma = p.ewma*0.5 + 0.5*float64(s.Lag)/1e6
	switch {
	case s.Failed:
		p.limit = int(math.Floor(float64(p.limit) * 0.5))
	case p.ewma > 100:
		p.limit = int(math.Floor(float64(p.limit) * 0.95))
	default:
		p.limit++
	}
	p.limit = min(max(p.limit, 1), 200)
	f.mu.Unlock()
}

// BenchmarkKeyedRoundTrip: Acquire + Release on one partition, string key. Target <= 40
// ns and 0 allocs (anchor: go-concurrency-limits DefaultLimiter 369.8 ns, 3 allocs).
func BenchmarkKeyedRoundTrip(b *testing.B) {
	start := time.Now()
	roundTrip := func(b *testing.B, k *aimd.Keyed[string]) {
		now := start
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			now = now.Add(1)
			tok, ok := k.Acquire(now, "tenant-0000042")
			if !ok {
				b.Fatal("denied")
			}
			if err := k.Release(now, tok, samples[i&1023]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("impl=keyed-aimd", func(b *testing.B) {
		k, _ := aimd.NewKeyed(func(string) aimd.Config { return benchConfig }, aimd.KeyedConfig{})
		roundTrip(b, k)
	})
	b.Run("impl=keyed-aimd-1shard", func(b *testing.B) {
		k, _ := aimd.NewKeyed(func(string) aimd.Config { return benchConfig }, aimd.KeyedConfig{Shards: 1})
		roundTrip(b, k)
	})
	b.Run("impl=keyed-func-aimd", func(b *testing.B) {
		k, _ := aimd.NewKeyedFunc(func(string) (aimd.Algorithm, error) { return aimd.New(benchConfig) }, aimd.KeyedConfig{})
		roundTrip(b, k)
	})
	b.Run("impl=keyed-func-gradient2", func(b *testing.B) {
		k, _ := aimd.NewKeyedFunc(func(string) (aimd.Algorithm, error) {
			return aimd.NewGradient2(aimd.Gradient2Config{Max: 1000, Initial: 1000, Min: 1000})
		}, aimd.KeyedConfig{})
		roundTrip(b, k)
	})
	b.Run("impl=floor", func(b *testing.B) {
		f := &floorKeyed{parts: map[string]*floorPart{}}
		now := start
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			now = now.Add(1) // as the others do
			p, ok := f.acquire(now, "tenant-0000042")
			if !ok {
				b.Fatal("denied")
			}
			f.release(p, samples[i&1023])
			i++
		}
	})
	// A tick admits a batch with one AcquireUpTo; reported per job.
	b.Run("batch10/impl=keyed-aimd", func(b *testing.B) {
		k, _ := aimd.NewKeyed(func(string) aimd.Config {
			return aimd.Config{Initial: 10, Min: 10, Max: 10, TargetLag: time.Hour}
		}, aimd.KeyedConfig{})
		toks := make([]aimd.Token, 0, 10)
		now := start
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(1)
			toks, _ = k.AcquireUpTo(now, "tenant-0000042", 10, toks[:0])
			for _, tok := range toks {
				_ = k.Release(now, tok, aimd.Sample{})
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/job")
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

// BenchmarkKeyedParallel8: 8 goroutines, each acquiring and releasing on its own partition,
// or all on one.
func BenchmarkKeyedParallel8(b *testing.B) {
	start := time.Now()
	for _, shared := range []bool{false, true} {
		name := "keys=distinct"
		if shared {
			name = "keys=one"
		}
		b.Run(name+"/impl=keyed-aimd", func(b *testing.B) {
			k, _ := aimd.NewKeyed(func(string) aimd.Config {
				return aimd.Config{Initial: 1000, Min: 1000, Max: 1000, TargetLag: time.Hour}
			}, aimd.KeyedConfig{})
			var id sync.Mutex
			next := 0
			b.ReportAllocs()
			parallel8(b)
			b.RunParallel(func(pb *testing.PB) {
				id.Lock()
				key := "tenant-" + strconv.Itoa(next)
				next++
				id.Unlock()
				if shared {
					key = "tenant-shared"
				}
				now := start
				for pb.Next() {
					now = now.Add(1)
					if tok, ok := k.Acquire(now, key); ok {
						_ = k.Release(now, tok, aimd.Sample{})
					}
				}
			})
		})
	}
}
