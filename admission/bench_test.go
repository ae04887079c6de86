package admission

import (
	"fmt"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// bctx is the benchmarks' job context: a tenant index.
type bctx struct{ tenant int }

func benchPolicy(b *testing.B, tenants int) (*Policy[bctx], []string) {
	names := make([]string, tenants)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%05d", i)
	}
	p, err := New(Config[bctx]{
		PartitionBy: func(c bctx) string { return names[c.tenant] },
		Gates: []Gate[bctx]{
			Throttle(Const[bctx](tokenbucket.Limit{Rate: 1e6, Per: time.Second, Burst: 1000})),
			Concurrency(Const[bctx](1000)),
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

// BenchmarkStage: staging jobs over 10,000 tenants, per job. In "steady" the backlog stays
// near 10,000 (a tick outside the timer admits and completes the staged jobs every 10,000
// stages), as in a dispatcher that keeps up; in "growing" nothing is admitted and the backlog
// grows to b.N, so the figure includes map growth and the GC scanning a growing heap.
func BenchmarkStage(b *testing.B) {
	b.Run("backlog=steady-10000", func(b *testing.B) {
		p, _ := benchPolicy(b, 10_000)
		jobIDs := ids(20_000)
		now := t0
		var out []Admitted[bctx]
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := p.Stage(now, Job[bctx]{ID: jobIDs[i%20_000], Context: bctx{tenant: i % 10_000}}); err != nil {
				b.Fatal(err)
			}
			if i%10_000 == 9_999 {
				b.StopTimer()
				for p.Stats(now).Pending > 0 {
					now = now.Add(time.Second)
					out = p.TickAppend(now, out[:0])
					for _, a := range out {
						p.Complete(now, a.ID, false)
					}
				}
				b.StartTimer()
			}
		}
	})
	b.Run("backlog=growing", func(b *testing.B) {
		p, _ := benchPolicy(b, 10_000)
		jobIDs := ids(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := p.Stage(t0, Job[bctx]{ID: jobIDs[i], Context: bctx{tenant: i % 10_000}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTick: one tick admitting 500 jobs through throttle + concurrency + fair interleave
// over 10,000 tenants, at a backlog of 1,000 and of 1,000,000 pending jobs. The reported
// metric ns/job is the tick's cost per admitted job; completing and restaging the admitted
// jobs, which keeps the backlog constant, is outside the timer.
func BenchmarkTick(b *testing.B) {
	for _, backlog := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("backlog=%d/tenants=10000", backlog), func(b *testing.B) {
			p, _ := benchPolicy(b, 10_000)
			jobIDs := ids(backlog + 500)
			for i := range backlog {
				p.Stage(t0, Job[bctx]{ID: jobIDs[i], Context: bctx{tenant: i % 10_000}})
			}
			spare := jobIDs[backlog:]
			var out []Admitted[bctx]
			now, admitted := t0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				now = now.Add(time.Millisecond)
				out = p.TickAppend(now, out[:0])
				admitted += len(out)
				b.StopTimer()
				for i, a := range out {
					if err := p.Complete(now, a.ID, false); err != nil {
						b.Fatal(err)
					}
					p.Stage(now, Job[bctx]{ID: spare[i], Context: a.Context})
					spare[i] = a.ID
				}
				b.StartTimer()
			}
			if admitted > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(admitted), "ns/job")
			}
			b.ReportMetric(float64(admitted)/float64(b.N), "jobs/tick")
		})
	}
}

// BenchmarkLifecycle: Start and Complete of an admitted job (ns/op per job).
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
			b.StopTimer()
			p.Stage(now, Job[bctx]{ID: a.ID, Context: a.Context})
			b.StartTimer()
			i++
		}
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
