package admission

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// The zero Config means dispatch_policy 0.1's defaults: a batch of 500, a quantum of 50 per
// round-robin key, a lease of 15 minutes.
func TestConfigDefaults(t *testing.T) {
	p := newPolicy(t, Config[tctx]{})
	for i := range 600 {
		stage(t, p, t0, job(fmt.Sprint(i), "a"))
	}
	out := p.Tick(t0)
	require.Len(t, out, DefaultBatchSize)
	assert.Equal(t, 500, DefaultBatchSize)
	assert.Equal(t, JobID("0"), out[0].ID)
	assert.Equal(t, JobID("499"), out[499].ID)
	assert.Equal(t, t0.Add(15*time.Minute), out[0].LeaseExpires)
	assert.Equal(t, t0, out[0].AdmittedAt)
	assert.Equal(t, t0, out[0].StagedAt)
	require.NoError(t, checkInvariants(p))

	// Quantum: two keys of 100 jobs each, key "a" staged first: phase 1 takes 50 of each,
	// the top-up the next 400 in stage order (a's 50 left, then b's 50 left, then the rest).
	q := newPolicy(t, Config[tctx]{})
	for _, k := range []string{"a", "b"} {
		for i := range 100 {
			stage(t, q, t0, Job[tctx]{ID: JobID(fmt.Sprint(k, i)), RoundRobinKey: k, Context: tctx{Tenant: k}})
		}
	}
	for i := range 400 {
		stage(t, q, t0, job(fmt.Sprint("x", i), "x"))
	}
	out = q.Tick(t0)
	require.Len(t, out, 500)
	assert.Equal(t, 50, DefaultQuantum)
	assert.Equal(t, JobID("a49"), out[49].ID)
	assert.Equal(t, JobID("b0"), out[50].ID, "phase 1 gives key a exactly the default quantum")
	assert.Equal(t, JobID("b49"), out[99].ID)
	assert.Equal(t, JobID("a50"), out[100].ID, "the top-up starts with the oldest job left")
	assert.Equal(t, JobID("b50"), out[150].ID)
	assert.Equal(t, JobID("x0"), out[200].ID)
	assert.Equal(t, JobID("x299"), out[499].ID)
}

// The adaptive gate's idle safety valve: a partition whose limit failures drove down to
// Min still admits Initial jobs whenever nothing of it is in flight, and only then.
func TestAdaptiveIdleValve(t *testing.T) {
	ad, err := Adaptive[tctx](aimd.Config{Initial: 4, TargetLag: time.Second})
	require.NoError(t, err)
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{ad}})
	for i := range 20 {
		stage(t, p, t0, job(fmt.Sprint(i), "a"))
	}
	assert.Equal(t, "0 1 2 3", tick(t, p, t0))
	for _, id := range []string{"0", "1", "2", "3"} {
		require.NoError(t, p.Complete(t0, JobID(id), true))
	}
	assert.Equal(t, 1, ad.Limit("a"), "failures: 4 → 2 → 1 → 1 → 1 (Min)")
	assert.Equal(t, "4 5 6 7", tick(t, p, t0), "nothing in flight: the valve admits Initial")
	require.NoError(t, p.Complete(t0, "4", false))
	assert.Equal(t, 2, ad.Limit("a"))
	assert.Equal(t, "", tick(t, p, t0), "3 in flight over a limit of 2: the valve is shut")
	complete(t, p, t0, "5", "6")
	assert.Equal(t, 4, ad.Limit("a"))
	assert.Equal(t, "8 9 10", tick(t, p, t0), "1 in flight, limit 4")
	s := p.Stats(t0)
	assert.Equal(t, []GatePartitionStats{{Key: "a", InFlight: 4, Limit: 4}}, s.Gates[0].Partitions)
}

// Stats reports an adaptive partition's learned limit and EWMA after its jobs are done, and
// totals that are the sums of the partitions.
func TestStatsContents(t *testing.T) {
	ad, err := Adaptive[tctx](aimd.Config{Initial: 2, TargetLag: time.Second})
	require.NoError(t, err)
	th := Throttle(Const[tctx](tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 5}))
	cc := Concurrency(Const[tctx](10))
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{th, cc, ad, GlobalCap[tctx](100)}})
	stage(t, p, t0, job("a1", "a"), job("a2", "a"), job("b1", "b"), Job[tctx]{ID: "b2", NotBefore: t0.Add(time.Hour), Context: tctx{Tenant: "b"}})
	p.Pause("c")
	stage(t, p, t0, job("c1", "c"))
	assert.Equal(t, "a1 a2 b1", tick(t, p, t0.Add(time.Second)))
	require.NoError(t, p.Start(t0.Add(1500*time.Millisecond), "a1"))
	complete(t, p, t0.Add(2*time.Second), "a1", "a2")
	s := p.Stats(t0.Add(2 * time.Second))
	assert.Equal(t, uint64(5), s.Staged)
	assert.Equal(t, uint64(2), s.Completed)
	assert.Equal(t, t0.Add(time.Second), s.LastAdmission)
	assert.Equal(t, []PartitionStats{
		{Key: "a", Completed: 2},
		{Key: "b", Delayed: 1, Admitted: 1},
		{Key: "c", Parked: 1, Paused: true},
	}, s.Partitions)
	assert.Equal(t, [5]int{0, 1, 1, 1, 0}, [5]int{s.Pending, s.Delayed, s.Parked, s.Admitted, s.Started})
	// Gates: throttle tokens (a spent 2 at 1 s and refilled 1 by 2 s), concurrency in
	// flight, adaptive limit and EWMA (from 0, α 0.5: lags 500 ms, then 1 s for a2, which
	// completed unstarted: 250 ms, then 625 ms), the global cap's count.
	require.Len(t, s.Gates, 4)
	assert.Equal(t, []GatePartitionStats{{Key: "a", Tokens: 4}, {Key: "b", Tokens: 5}}, s.Gates[0].Partitions)
	assert.Equal(t, []GatePartitionStats{{Key: "b", InFlight: 1}}, s.Gates[1].Partitions)
	assert.Equal(t, []GatePartitionStats{
		{Key: "a", Limit: 4, EWMA: 625 * time.Millisecond},
		{Key: "b", InFlight: 1, Limit: 2},
	}, s.Gates[2].Partitions)
	assert.Equal(t, []GatePartitionStats{{Key: "default", InFlight: 1}}, s.Gates[3].Partitions)

	// Partitions, the policy's and the gates', are listed by key, not by first appearance.
	q := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{Concurrency(Const[tctx](5)), Serial(func(c tctx) string { return c.Tenant + "!" })}})
	stage(t, q, t0, job("z1", "z"), job("m1", "m"), job("a1", "a"))
	tick(t, q, t0)
	qs := q.Stats(t0)
	assert.Equal(t, []string{"z", "m", "a"}, []string{qs.Partitions[0].Key, qs.Partitions[1].Key, qs.Partitions[2].Key},
		"the policy's partitions are in first-appearance order")
	for _, g := range qs.Gates {
		var keys []string
		for _, gp := range g.Partitions {
			keys = append(keys, gp.Key)
		}
		assert.True(t, slices.IsSorted(keys), "gate %s lists %v", g.Name, keys)
		assert.Len(t, keys, 3)
	}

	// StatsInto reuses the caller's slices.
	var into Stats
	p.StatsInto(t0, &into)
	before := &into.Partitions[0]
	p.StatsInto(t0, &into)
	assert.Same(t, before, &into.Partitions[0])
}

// Serial execution keys (Roger's execution_key): at most one job per key in flight; the
// others wait in stage order, each key independently, and a waiting job keeps its place
// (and its dedupe key) without error — Roger's port must bypass its own uniqueness check
// there; here a waiting job simply stays pending.
func TestSerialKeysWaitInOrder(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{Serial(func(c tctx) string { return c.Tenant })}})
	mk := func(id, key, dedupe string) Job[tctx] {
		return Job[tctx]{ID: JobID(id), DedupeKey: dedupe, Context: tctx{Tenant: key}}
	}
	stage(t, p, t0, mk("a1", "a", "r1"), mk("a2", "a", "r2"), mk("b1", "b", ""), mk("a3", "a", ""), mk("b2", "b", ""))
	ok, err := p.Stage(t0, mk("a4", "a", "r2"))
	require.NoError(t, err)
	assert.False(t, ok, "a2 waits behind a1 and still holds its dedupe key")
	var order []string
	for range 3 {
		got := tick(t, p, t0)
		order = append(order, got)
		for _, id := range strings.Fields(got) {
			complete(t, p, t0, id)
		}
	}
	assert.Equal(t, []string{"a1 b1", "a2 b2", "a3"}, order)
	// Reverting the running job of a key lets it go again first.
	stage(t, p, t0, mk("c1", "c", ""), mk("c2", "c", ""))
	assert.Equal(t, "c1", tick(t, p, t0))
	require.NoError(t, p.Revert(t0, "c1"))
	assert.Equal(t, "c1", tick(t, p, t0))
}

// Serial before a throttle: the throttle's places go to jobs that can run. After it, a
// waiting job takes the partition's one token's place and nothing runs (though, charged
// on admission only, the token is not spent).
func TestSerialBeforeThrottle(t *testing.T) {
	for _, serialFirst := range []bool{true, false} {
		serial := Serial(func(c tctx) string { return fmt.Sprint(c.Max) })
		th := Throttle(Const[tctx](tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 1}))
		gates := []Gate[tctx]{serial, th}
		if !serialFirst {
			gates = []Gate[tctx]{th, serial}
		}
		p := newPolicy(t, Config[tctx]{Gates: gates})
		stage(t, p, t0, Job[tctx]{ID: "1", Context: tctx{Tenant: "a", Max: 7}}, Job[tctx]{ID: "2", Context: tctx{Tenant: "a", Max: 7}},
			Job[tctx]{ID: "3", Context: tctx{Tenant: "a", Max: 8}})
		assert.Equal(t, "1", tick(t, p, t0))
		want := map[bool]string{true: "3", false: ""}[serialFirst]
		assert.Equal(t, want, tick(t, p, t0.Add(time.Second)), "serial first: %v", serialFirst)
		assert.Equal(t, map[bool]float64{true: 0, false: 1}[serialFirst], th.Tokens(t0.Add(time.Second), "a"))
	}
}

// With a pointer context, Config.CheckContext refuses a nil context; Stage and StageMany
// report it with the job's ID and stage nothing.
func TestNilContextRejected(t *testing.T) {
	type req struct{ Tenant string }
	errNil := errors.New("context is nil")
	p, err := New(Config[*req]{
		PartitionBy: func(r *req) string { return r.Tenant }, // safe: nil never gets this far
		CheckContext: func(r *req) error {
			if r == nil {
				return errNil
			}
			return nil
		},
	})
	require.NoError(t, err)
	ok, err := p.Stage(t0, Job[*req]{ID: "1"})
	assert.False(t, ok)
	assert.ErrorIs(t, err, ErrInvalidJob)
	assert.ErrorIs(t, err, errNil)
	assert.EqualError(t, err, `admission: invalid job "1": context is nil`)
	n, err := p.StageMany(t0, []Job[*req]{{ID: "2", Context: &req{"a"}}, {ID: "3"}})
	assert.Zero(t, n)
	assert.EqualError(t, err, `jobs[1]: admission: invalid job "3": context is nil`)
	assert.Equal(t, uint64(0), p.Stats(t0).Staged)
	require.NoError(t, checkInvariants(p))
}

// Pausing a partition leaves its admitted jobs alone: they start, complete and free their
// slots while its pending jobs wait.
func TestPauseKeepsInFlight(t *testing.T) {
	cc := Concurrency(Const[tctx](1))
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{cc}})
	stage(t, p, t0, job("a1", "a"), job("a2", "a"))
	assert.Equal(t, "a1", tick(t, p, t0))
	p.Pause("a")
	require.NoError(t, p.Start(t0, "a1"))
	complete(t, p, t0, "a1")
	assert.Equal(t, 0, cc.InFlight("a"))
	assert.Equal(t, "", tick(t, p, t0))
	p.Resume("a")
	assert.Equal(t, "a2", tick(t, p, t0))
}

// Many goroutines stage (one at a time and in batches) while one goroutine ticks and
// completes: nothing is lost or admitted twice, and the caps hold throughout. Run with -race.
func TestConcurrentStagingOneTicker(t *testing.T) {
	const stagers, perStager = 4, 300
	cc := Concurrency(Const[tctx](3))
	gc := GlobalCap[tctx](7)
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{
		Throttle(Const[tctx](tokenbucket.Limit{Rate: 1000, Per: time.Second, Burst: 50})), cc, gc, FairInterleave[tctx](),
	}, BatchSize: 16})
	var wg sync.WaitGroup
	errs := make(chan error, stagers)
	for g := range stagers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perStager; {
				if i%10 == 0 {
					batch := make([]Job[tctx], 5)
					for k := range batch {
						batch[k] = job(fmt.Sprint(g, "-", i+k), fmt.Sprint("t", (i+k)%5))
					}
					if _, err := p.StageMany(t0, batch); err != nil {
						errs <- err
						return
					}
					i += len(batch)
					continue
				}
				if _, err := p.Stage(t0, job(fmt.Sprint(g, "-", i), fmt.Sprint("t", i%5))); err != nil {
					errs <- err
					return
				}
				i++
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[JobID]bool{}
	now := t0
	var out []Admitted[tctx]
	for stop := false; !stop || p.Stats(now).Pending > 0; {
		select {
		case <-done:
			stop = true
		default:
		}
		now = now.Add(10 * time.Millisecond)
		out = p.TickAppend(now, out[:0])
		if in := gc.InFlight(); in > 7 {
			t.Fatalf("global cap exceeded: %d in flight", in)
		}
		for _, a := range out {
			if seen[a.ID] {
				t.Fatalf("%s admitted twice", a.ID)
			}
			seen[a.ID] = true
			if in := cc.InFlight(a.Partition); in > 3 {
				t.Fatalf("partition %s has %d in flight", a.Partition, in)
			}
		}
		for _, a := range out {
			require.NoError(t, p.Complete(now, a.ID, false))
		}
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, seen, stagers*perStager)
	s := p.Stats(now)
	assert.Equal(t, uint64(stagers*perStager), s.Staged)
	assert.Equal(t, uint64(stagers*perStager), s.Completed)
	require.NoError(t, checkInvariants(p))
}

// endRecorder is a custom Tracker that records the End of every job it held.
type endRecorder struct{ ends map[JobID]End }

func (r *endRecorder) Name() string { return "recorder" }
func (r *endRecorder) Filter(now time.Time, b []Candidate[tctx]) []Candidate[tctx] {
	return b
}
func (r *endRecorder) Commit(now time.Time, admitted []Candidate[tctx]) {}
func (r *endRecorder) Release(now time.Time, c Candidate[tctx], e End) {
	if _, dup := r.ends[c.ID]; dup {
		panic("released twice: " + string(c.ID))
	}
	r.ends[c.ID] = e
}

// A custom tracker sees each admitted job's end exactly once, with its kind, outcome and
// spans; a clock that goes backwards between admission, start and completion gives zero
// spans, not negative ones, and adaptive gates learn no negative lag.
func TestTrackerSeesEnds(t *testing.T) {
	rec := &endRecorder{ends: map[JobID]End{}}
	ad, err := Adaptive[tctx](aimd.Config{Initial: 5, TargetLag: time.Second})
	require.NoError(t, err)
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{rec, ad}, Lease: time.Minute})
	stage(t, p, t0, job("done", "a"), job("failed", "a"), job("back", "a"), job("reverted", "a"), job("lost", "a"))
	at := t0.Add(10 * time.Second)
	assert.Equal(t, "done failed back reverted lost", tick(t, p, at))
	require.NoError(t, p.Start(at.Add(2*time.Second), "done"))
	require.NoError(t, p.Complete(at.Add(5*time.Second), "done", false))
	require.NoError(t, p.Complete(at.Add(time.Second), "failed", true))
	require.NoError(t, p.Start(at.Add(-3*time.Second), "back")) // the clock went back
	require.NoError(t, p.Complete(at.Add(-4*time.Second), "back", false))
	require.NoError(t, p.Revert(at, "reverted"))
	assert.Equal(t, []JobID{"lost"}, p.Reap(at.Add(2*time.Minute)))
	assert.ErrorIs(t, p.Complete(at.Add(2*time.Minute), "lost", false), ErrUnknownJob, "a reaped job's late completion releases nothing")
	assert.Equal(t, map[JobID]End{
		"done":     {Kind: Completed, Started: true, QueueLag: 2 * time.Second, Service: 3 * time.Second},
		"failed":   {Kind: Completed, Failed: true, Started: true, QueueLag: time.Second},
		"back":     {Kind: Completed, Started: true},
		"reverted": {Kind: Reverted},
		"lost":     {Kind: Expired},
	}, rec.ends)
	s := p.Stats(at)
	// EWMA from 0, α 0.5, over lags 2 s, 1 s, 0: 1 s, 1 s, 0.5 s.
	assert.Equal(t, 500*time.Millisecond, s.Gates[1].Partitions[0].EWMA)
	require.NoError(t, checkInvariants(p))
}

// TestAllocations pins the allocation claims of the docs and the target for Stage
// (at most one allocation per job): a Stage that grows the backlog allocates its job record
// and nothing else; in steady state, a cycle of staging, a tick into a reused slice through
// every built-in gate, and starting and completing the admitted jobs allocates nothing.
func TestAllocations(t *testing.T) {
	ad, err := Adaptive[tctx](aimd.Config{Initial: 50, TargetLag: time.Hour})
	require.NoError(t, err)
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{
		Throttle(Const[tctx](tokenbucket.Limit{Rate: 1e6, Per: time.Second, Burst: 1000})),
		Concurrency(Const[tctx](100)),
		ad,
		GlobalCap[tctx](1000),
		FairInterleave[tctx](),
	}, BatchSize: 64})
	tenants := []string{"a", "b", "c", "d"}
	fresh := make([]JobID, 20_000)
	for i := range fresh {
		fresh[i] = JobID(fmt.Sprint("g", i))
	}
	now, next := t0, 0
	grow := testing.AllocsPerRun(10_000, func() {
		if _, err := p.Stage(now, Job[tctx]{ID: fresh[next], Context: tctx{Tenant: tenants[next%4]}}); err != nil {
			panic(err)
		}
		next++
	})
	assert.LessOrEqual(t, grow, 1.0, "Stage allocates %v times per job while the backlog grows", grow)

	var out []Admitted[tctx]
	free := fresh[next:] // IDs not held; completed ones come back
	cycle := func() {
		now = now.Add(time.Millisecond)
		for i := range 16 {
			if _, err := p.Stage(now, Job[tctx]{ID: free[len(free)-1], Context: tctx{Tenant: tenants[i%4]}}); err != nil {
				panic(err)
			}
			free = free[:len(free)-1]
		}
		out = p.TickAppend(now, out[:0])
		for _, a := range out {
			if err := p.Start(now, a.ID); err != nil {
				panic(err)
			}
			if err := p.Complete(now, a.ID, false); err != nil {
				panic(err)
			}
			free = append(free, a.ID)
		}
	}
	for range 2000 { // drain the grown backlog and warm every buffer up
		cycle()
	}
	assert.Zero(t, testing.AllocsPerRun(500, cycle), "a steady-state cycle allocates")
	require.NoError(t, checkInvariants(p))
}
