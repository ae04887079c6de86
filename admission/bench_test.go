package admission

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// bctx is the benchmarks' job context: a tenant index.
type bctx struct{ tenant int }

func benchPolicy(b *testing.B, tenants int) (*Policy[bctx], []string) {
	return benchPolicyQuantum(b, tenants, 0)
}

// benchPolicyQuantum is benchPolicy with Config.Quantum quantum (0: the default).
func benchPolicyQuantum(b *testing.B, tenants, quantum int) (*Policy[bctx], []string) {
	names := make([]string, tenants)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%05d", i)
	}
	p, err := New(Config[bctx]{
		Quantum:     quantum,
		PartitionBy: func(c bctx) string { return names[c.tenant] },
		Gates: []Gate[bctx]{
			Throttle(Const[bctx](tokenbucket.Limit{Rate: benchRate, Per: time.Second, Burst: benchBurst})),
			Concurrency(Const[bctx](benchMaxIn)),
			FairInterleave[bctx](),
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return p, names
}

// ids returns n distinct job IDs, allocated before the timer starts.
func ids(n int) []JobID {
	out := make([]JobID, n)
	for i := range out {
		out[i] = JobID(fmt.Sprint("job-", i))
	}
	return out
}

// The benchmarks' gates: every tenant may start 1e6 jobs per second (burst 1000) and run
// 1000 at once, so that a tick admits its whole batch and the figures are the cost of the
// work, not of refusals.
const (
	benchRate  = 1e6
	benchBurst = 1000
	benchMaxIn = 1000
)

// stager is what BenchmarkStage times: ours or the anchor.
type stager interface {
	Stage(now time.Time, id JobID, tenant int) error
}

type ourStager struct{ p *Policy[bctx] }

func (s ourStager) Stage(now time.Time, id JobID, tenant int) error {
	_, err := s.p.Stage(now, Job[bctx]{ID: id, Context: bctx{tenant: tenant}})
	return err
}

// ticker is what BenchmarkTick times (tick), with the untimed work around it (drain
// completes the jobs the last tick admitted).
type ticker interface {
	stager
	tick(now time.Time) int
	drain(now time.Time, f func(id JobID, tenant int))
}

// timeTicks times b.N ticks after warm untimed ones, a millisecond apart from t0: tick
// admits and returns how many it admitted; round, outside the timer, completes and restages
// them, keeping the backlog constant. It reports the tick's cost per admitted job (ns/job)
// and jobs/tick.
func timeTicks(b *testing.B, warm int, tick func(now time.Time) int, round func(now time.Time)) {
	now, admitted := t0, 0
	for range warm {
		now = now.Add(time.Millisecond)
		tick(now)
		round(now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(time.Millisecond)
		admitted += tick(now)
		b.StopTimer()
		round(now)
		b.StartTimer()
	}
	if admitted > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(admitted), "ns/job")
	}
	b.ReportMetric(float64(admitted)/float64(b.N), "jobs/tick")
}

// restage returns timeTicks' round for t: it completes the jobs the last tick admitted and
// stages as many new ones for the same tenants, with the IDs in spare (which then holds the
// completed jobs' IDs, for the next round).
func restage(b *testing.B, t ticker, spare []JobID) func(now time.Time) {
	return func(now time.Time) {
		i := 0
		t.drain(now, func(id JobID, tenant int) {
			if err := t.Stage(now, spare[i], tenant); err != nil {
				b.Fatal(err)
			}
			spare[i] = id
			i++
		})
	}
}

type ourTicker struct {
	ourStager
	out []Admitted[bctx]
}

func (t *ourTicker) tick(now time.Time) int {
	t.out = t.p.TickAppend(now, t.out[:0])
	return len(t.out)
}

func (t *ourTicker) drain(now time.Time, f func(JobID, int)) {
	for _, a := range t.out {
		if err := t.p.Complete(now, a.ID, false); err != nil {
			panic(err)
		}
		f(a.ID, a.Context.tenant)
	}
}

type naiveTicker struct {
	*naivePolicy
	out []*naiveJob
}

func (t *naiveTicker) tick(now time.Time) int {
	t.out = t.TickAppend(now, t.out[:0])
	return len(t.out)
}

func (t *naiveTicker) drain(now time.Time, f func(JobID, int)) {
	for _, j := range t.out {
		if err := t.Complete(now, j.id); err != nil {
			panic(err)
		}
		f(j.id, j.tenant)
	}
}

func newTicker(b *testing.B, impl string, tenants int) ticker {
	if impl == "naive-heap" {
		names := make([]string, tenants)
		for i := range names {
			names[i] = fmt.Sprintf("tenant-%05d", i)
		}
		return &naiveTicker{naivePolicy: newNaive(names, benchRate, benchBurst, benchMaxIn)}
	}
	p, _ := benchPolicy(b, tenants)
	return &ourTicker{ourStager: ourStager{p}}
}

var impls = []string{"dispatchlab", "naive-heap"}

// BenchmarkStage: staging jobs over 10,000 tenants, per job, ours and the anchor (a map by
// ID and a container/heap; see naivePolicy). In "steady" the backlog stays between 10,000
// and 10,500 jobs: after every 500 stages a tick outside the timer admits 500 and completes
// them, as in a dispatcher that keeps up. In "growing" nothing is admitted and the backlog
// grows to b.N, so the figure includes table growth, first touches of new memory and the
// GC scanning a growing heap.
func BenchmarkStage(b *testing.B) {
	for _, impl := range impls {
		b.Run("backlog=steady-10000/impl="+impl, func(b *testing.B) {
			t := newTicker(b, impl, 10_000)
			jobIDs := ids(10_000 + 2*DefaultBatchSize)
			for i := range 10_000 {
				if err := t.Stage(t0, jobIDs[i], i%10_000); err != nil {
					b.Fatal(err)
				}
			}
			free := slices.Clone(jobIDs[10_000:]) // IDs not held: staged next, refilled by completions
			now := t0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := t.Stage(now, free[len(free)-1], i%10_000); err != nil {
					b.Fatal(err)
				}
				free = free[:len(free)-1]
				if i%DefaultBatchSize == DefaultBatchSize-1 {
					b.StopTimer()
					now = now.Add(time.Second)
					t.tick(now)
					t.drain(now, func(id JobID, _ int) { free = append(free, id) })
					b.StartTimer()
				}
			}
		})
	}
	for _, impl := range impls {
		b.Run("backlog=growing/impl="+impl, func(b *testing.B) {
			t := newTicker(b, impl, 10_000)
			jobIDs := ids(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := t.Stage(t0, jobIDs[i], i%10_000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTick: one tick admitting 500 jobs through throttle + concurrency + fair interleave
// over 10,000 tenants, at a backlog of 1,000 and of 1,000,000 pending jobs, ours and the
// anchor. The reported metric ns/job is the tick's cost per admitted job; completing and
// restaging the admitted jobs, which keeps the backlog constant, is outside the timer, and
// so are the first ticks, which create every partition's gate state (a one-time cost,
// O(partitions)).
func BenchmarkTick(b *testing.B) {
	for _, backlog := range []int{1_000, 10_000, 100_000, 1_000_000} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("backlog=%d/tenants=10000/impl=%s", backlog, impl), func(b *testing.B) {
				t := newTicker(b, impl, 10_000)
				jobIDs := ids(backlog + DefaultBatchSize)
				for i := range backlog {
					if err := t.Stage(t0, jobIDs[i], i%10_000); err != nil {
						b.Fatal(err)
					}
				}
				// Warm up: twice around the tenants, so that every partition has its gate
				// state (a bucket, slots) and the figures are the steady state.
				timeTicks(b, 2*10_000/DefaultBatchSize, t.tick, restage(b, t, jobIDs[backlog:]))
			})
		}
	}
}

// BenchmarkTickRoundRobin: BenchmarkTick's tick with every job keyed by its tenant, so that
// each tick is the two-phase fetch over 10,000 keys, at both backlogs. Quantum is 1, so that
// both admit one job from each of 500 keys per tick (with the default 50, a deep backlog
// would give 10 keys 50 jobs each, a different load for the gates). There is no anchor: the
// naive policy has no round-robin fetch.
func BenchmarkTickRoundRobin(b *testing.B) {
	for _, backlog := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("backlog=%d/keys=10000/quantum=1", backlog), func(b *testing.B) {
			p, names := benchPolicyQuantum(b, 10_000, 1)
			stage := func(now time.Time, id JobID, tenant int) {
				if _, err := p.Stage(now, Job[bctx]{ID: id, RoundRobinKey: names[tenant], Context: bctx{tenant: tenant}}); err != nil {
					b.Fatal(err)
				}
			}
			jobIDs := ids(backlog + DefaultBatchSize)
			for i := range backlog {
				stage(t0, jobIDs[i], i%10_000)
			}
			spare := jobIDs[backlog:]
			var out []Admitted[bctx]
			tick := func(now time.Time) int {
				out = p.TickAppend(now, out[:0])
				return len(out)
			}
			timeTicks(b, 2*10_000/DefaultBatchSize, tick, func(now time.Time) {
				for i, a := range out {
					if err := p.Complete(now, a.ID, false); err != nil {
						b.Fatal(err)
					}
					stage(now, spare[i], a.Context.tenant)
					spare[i] = a.ID
				}
			})
		})
	}
}

// BenchmarkTickDelayed: BenchmarkTick's tick over a backlog of which half are delayed jobs
// that came due after later jobs were staged (scheduled jobs, retries with a delay), at
// 1,000 and 1,000,000 pending. Such jobs join the order out of sequence, and each tick admits
// about 250 of them: the cost must not grow with the backlog for them either (with a sorted
// side list, each admission moved the whole list: a tick at 100,000 cost 90 times one at
// 1,000). Completing and restaging the admitted jobs, half of them delayed to the next tick,
// is outside the timer. There is no anchor: the naive policy has no delayed jobs.
func BenchmarkTickDelayed(b *testing.B) {
	for _, backlog := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("backlog=%d/tenants=10000", backlog), func(b *testing.B) {
			p, _ := benchPolicy(b, 10_000)
			// Job k is delayed to the next tick if k is odd: staged before job k+1, it comes
			// due after it.
			stage := func(now time.Time, k int, id JobID, tenant int) {
				j := Job[bctx]{ID: id, Context: bctx{tenant: tenant}}
				if k%2 == 1 {
					j.NotBefore = now.Add(time.Nanosecond)
				}
				if _, err := p.Stage(now, j); err != nil {
					b.Fatal(err)
				}
			}
			jobIDs := ids(backlog + DefaultBatchSize)
			for i := range backlog {
				stage(t0, i, jobIDs[i], i%10_000)
			}
			spare := jobIDs[backlog:]
			var out []Admitted[bctx]
			tick := func(now time.Time) int {
				out = p.TickAppend(now, out[:0])
				return len(out)
			}
			timeTicks(b, 2*10_000/DefaultBatchSize, tick, func(now time.Time) {
				for i, a := range out {
					if err := p.Complete(now, a.ID, false); err != nil {
						b.Fatal(err)
					}
					stage(now, i, spare[i], a.Context.tenant)
					spare[i] = a.ID
				}
			})
		})
	}
}

// BenchmarkStats: StatsInto and Totals on a policy of 10,000 partitions with the benchmarks'
// gates, all partitions holding jobs and throttle state (the worst case for a caller polling
// every tick). StatsInto is O(partitions), Totals O(1).
func BenchmarkStats(b *testing.B) {
	for _, parts := range []int{100, 10_000} {
		p, names := benchPolicy(b, parts)
		// Partitions appear in an order unrelated to their keys, which Stats sorts by.
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for i, id := range ids(2 * parts) {
			if _, err := p.Stage(t0, Job[bctx]{ID: id, Context: bctx{tenant: i % parts}}); err != nil {
				b.Fatal(err)
			}
		}
		now := t0
		for range max(2, 2*parts/DefaultBatchSize) { // every partition charged and in flight
			now = now.Add(time.Millisecond)
			p.Tick(now)
		}
		b.Run(fmt.Sprintf("partitions=%d/call=StatsInto", parts), func(b *testing.B) {
			var s Stats
			p.StatsInto(now, &s)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p.StatsInto(now, &s)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(s.Partitions)), "ns/partition")
		})
		b.Run(fmt.Sprintf("partitions=%d/call=Totals", parts), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p.Totals().Admitted == 0 {
					b.Fatal("nothing admitted")
				}
			}
		})
	}
}

// BenchmarkLifecycle: Start and Complete of an admitted job (ns/op per job). Each tick
// admits 500 jobs, which are started and completed in the timer; restaging them is outside
// it, once per tick: stopping the timer reads the memory statistics, which stops the world
// and evicts the caches, so that stopping it per job (the first version) measured mostly
// that (880 ns a job, of which Start and Complete are a tenth).
func BenchmarkLifecycle(b *testing.B) {
	p, _ := benchPolicy(b, 100)
	jobIDs := ids(1000)
	for i, id := range jobIDs {
		p.Stage(t0, Job[bctx]{ID: id, Context: bctx{tenant: i % 100}})
	}
	var out []Admitted[bctx]
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		out = p.TickAppend(now, out[:0])
		for _, a := range out {
			p.Start(now, a.ID)
			p.Complete(now, a.ID, false)
			i++
		}
		b.StopTimer()
		for _, a := range out {
			p.Stage(now, Job[bctx]{ID: a.ID, Context: a.Context})
		}
		b.StartTimer()
		now = now.Add(time.Millisecond)
	}
}

// BenchmarkOneJobTicks: a simulator's or a lightly loaded dispatcher's lifecycle, per job:
// stage one job, reap, tick (admitting it through throttle + concurrency + fair interleave
// over 100 tenants), start and complete it. Fixed per-tick costs dominate here.
func BenchmarkOneJobTicks(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%03d", i)
	}
	p, err := New(Config[bctx]{
		PartitionBy: func(c bctx) string { return names[c.tenant] },
		Gates: []Gate[bctx]{
			Throttle(Const[bctx](tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 10})),
			Concurrency(Const[bctx](4)),
			FairInterleave[bctx](),
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	jobIDs := ids(64)
	now := t0
	var out []Admitted[bctx]
	var reaped []JobID
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(139 * time.Millisecond)
		if _, err := p.Stage(now, Job[bctx]{ID: jobIDs[i%64], Context: bctx{tenant: (i * 37) % 100}}); err != nil {
			b.Fatal(err)
		}
		reaped = p.ReapAppend(now, reaped[:0])
		out = p.TickAppend(now, out[:0])
		for _, a := range out {
			p.Start(now, a.ID)
			p.Complete(now, a.ID, false)
		}
	}
}

// BenchmarkTickTenants: BenchmarkTick's tick (500 jobs through throttle + concurrency + fair
// interleave, backlog constant) as the number of tenants grows from 100 to 1,000,000, with
// jobs staged round robin over the tenants, so that each tick admits jobs of 500 different
// tenants (of 100 only, five each, at 100). Per-partition state (the partitions, the gates'
// slices by slot) then outgrows the caches: the figure shows what a partition costs when
// it is a cache miss, which the simulator meets with 100,000 tenants.
func BenchmarkTickTenants(b *testing.B) {
	for _, tenants := range []int{100, 10_000, 1_000_000} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			backlog := max(1_000, tenants)
			t := newTicker(b, "dispatchlab", tenants)
			jobIDs := ids(backlog + DefaultBatchSize)
			for i := range backlog {
				if err := t.Stage(t0, jobIDs[i], i%tenants); err != nil {
					b.Fatal(err)
				}
			}
			// Warm up, so that every partition has its gate state; at most 2,000 ticks (a
			// million tenants get their state on first use instead, as they would).
			timeTicks(b, min(2*tenants/DefaultBatchSize+2, 2_000), t.tick, restage(b, t, jobIDs[backlog:]))
		})
	}
}
