package admission

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// tctx is the test jobs' context: a tenant and a per-job concurrency cap.
type tctx struct {
	Tenant string
	Max    int
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func byTenant(c tctx) string { return c.Tenant }

func newPolicy(t *testing.T, c Config[tctx]) *Policy[tctx] {
	t.Helper()
	if c.PartitionBy == nil {
		c.PartitionBy = byTenant
	}
	p, err := New(c)
	require.NoError(t, err)
	return p
}

func job(id, tenant string) Job[tctx] {
	return Job[tctx]{ID: JobID(id), Context: tctx{Tenant: tenant}}
}

func stage(t *testing.T, p *Policy[tctx], now time.Time, jobs ...Job[tctx]) {
	t.Helper()
	for _, j := range jobs {
		ok, err := p.Stage(now, j)
		require.NoError(t, err)
		require.True(t, ok, "job %s was deduplicated", j.ID)
	}
	require.NoError(t, checkInvariants(p))
}

func tick(t *testing.T, p *Policy[tctx], now time.Time) string {
	t.Helper()
	var ids []string
	for _, a := range p.Tick(now) {
		ids = append(ids, string(a.ID))
	}
	require.NoError(t, checkInvariants(p))
	return strings.Join(ids, " ")
}

func complete(t *testing.T, p *Policy[tctx], now time.Time, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, p.Complete(now, JobID(id), false))
	}
	require.NoError(t, checkInvariants(p))
}

// dispatch_policy's throttle scenario: two tenants, each throttled to 2 per minute with a
// burst of 2; one burst of jobs each.
func TestThrottleTwoTenants(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{
		Throttle(Const[tctx](tokenbucket.Limit{Rate: 2, Per: time.Minute, Burst: 2})),
	}})
	stage(t, p, t0, job("a1", "a"), job("b1", "b"), job("a2", "a"), job("a3", "a"), job("b2", "b"), job("b3", "b"))
	// Partition-contiguous, first-appearance order, as dispatch_policy's group_by emits.
	assert.Equal(t, "a1 a2 b1 b2", tick(t, p, t0))
	assert.Equal(t, "", tick(t, p, t0.Add(29*time.Second)))
	assert.Equal(t, "a3 b3", tick(t, p, t0.Add(30*time.Second)))
	s := p.Stats(t0.Add(30 * time.Second))
	assert.Equal(t, 0, s.Pending)
	assert.Equal(t, 6, s.Admitted)
	require.Len(t, s.Gates, 1)
	require.Len(t, s.Gates[0].Partitions, 2)
	assert.Equal(t, GatePartitionStats{Key: "a", Tokens: 0}, s.Gates[0].Partitions[0])
}

// Tokens are charged only for jobs actually admitted: a later gate dropping a job leaves its
// token in the bucket (dispatch_policy 0.4.3); ChargePassed restores 0.1's behaviour.
func TestThrottleChargesOnlyAdmitted(t *testing.T) {
	for _, chargePassed := range []bool{false, true} {
		th := Throttle(Const[tctx](tokenbucket.Limit{Rate: 1, Per: time.Hour, Burst: 3}))
		if chargePassed {
			th.ChargePassed()
		}
		p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{th, GlobalCap[tctx](1)}})
		stage(t, p, t0, job("1", "a"), job("2", "a"), job("3", "a"))
		assert.Equal(t, "1", tick(t, p, t0))
		complete(t, p, t0, "1")
		want := "2"
		if chargePassed {
			want = "" // all three tokens went at the first tick
		}
		assert.Equal(t, want, tick(t, p, t0), "chargePassed=%v", chargePassed)
	}
}

func TestGlobalCap(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{GlobalCap[tctx](3)}})
	stage(t, p, t0, job("1", "a"), job("2", "b"), job("3", "a"), job("4", "c"), job("5", "b"))
	assert.Equal(t, "1 2 3", tick(t, p, t0), "order preserved, head of the batch")
	assert.Equal(t, "", tick(t, p, t0))
	complete(t, p, t0, "2")
	assert.Equal(t, "4", tick(t, p, t0))
}

func TestConcurrencyPerJobCap(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{Concurrency(func(c tctx) int { return c.Max })}})
	j := func(id string, max int) Job[tctx] {
		return Job[tctx]{ID: JobID(id), Context: tctx{Tenant: "a", Max: max}}
	}
	// Caps resolve per job and the gate does not stop at the first refusal.
	stage(t, p, t0, j("1", 1), j("2", 1), j("3", 3), j("4", 2))
	assert.Equal(t, "1 3", tick(t, p, t0))
	complete(t, p, t0, "1")
	assert.Equal(t, "4", tick(t, p, t0), "2 in flight: 2's cap of 1 refuses, 4's cap of 2 admits")
	complete(t, p, t0, "3", "4")
	assert.Equal(t, "2", tick(t, p, t0))
}

// Round-robin fetch: phase 1 takes up to Quantum jobs per key (keys in first-appearance
// order), cut at BatchSize; phase 2 tops up with the oldest remaining jobs in priority order,
// including jobs without a key.
func TestRoundRobinQuantumAndTopUp(t *testing.T) {
	p := newPolicy(t, Config[tctx]{BatchSize: 7, Quantum: 2})
	rr := func(id, key string) Job[tctx] {
		return Job[tctx]{ID: JobID(id), RoundRobinKey: key, Context: tctx{Tenant: key}}
	}
	stage(t, p, t0, rr("a1", "a"), rr("a2", "a"), rr("a3", "a"), rr("a4", "a"), job("x1", "x"),
		rr("b1", "b"), rr("c1", "c"), rr("c2", "c"), rr("c3", "c"), job("x2", "x"))
	assert.Equal(t, "a1 a2 b1 c1 c2 a3 a4", tick(t, p, t0))
	assert.Equal(t, "c3 x1 x2", tick(t, p, t0))
}

// With more keys than fit in one batch, ticks rotate through the keys, so that none waits
// behind the others forever.
func TestRoundRobinRotates(t *testing.T) {
	p := newPolicy(t, Config[tctx]{BatchSize: 2, Quantum: 1})
	for _, k := range []string{"a", "b", "c", "d"} {
		for i := range 3 {
			stage(t, p, t0, Job[tctx]{ID: JobID(fmt.Sprint(k, i)), RoundRobinKey: k, Context: tctx{Tenant: k}})
		}
	}
	assert.Equal(t, "a0 b0", tick(t, p, t0))
	assert.Equal(t, "c0 d0", tick(t, p, t0))
	assert.Equal(t, "a1 b1", tick(t, p, t0))
}

// Keys take turns across ticks even when each tick admits one job (a global cap of 1):
// the next tick starts after the key that was admitted.
func TestRoundRobinTurnsWithOneSlot(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{GlobalCap[tctx](1)}})
	for _, k := range []string{"a", "a", "a", "b", "b", "c"} {
		stage(t, p, t0, Job[tctx]{ID: JobID(fmt.Sprint(k, p.Stats(t0).Staged)), RoundRobinKey: k, Context: tctx{Tenant: k}})
	}
	var got []string
	for range 6 {
		id := tick(t, p, t0)
		got = append(got, id)
		complete(t, p, t0, id)
	}
	assert.Equal(t, []string{"a0", "b3", "c5", "a1", "b4", "a2"}, got)
}

func TestPriorityOrder(t *testing.T) {
	for _, o := range []Order{Ascending, Descending} {
		p := newPolicy(t, Config[tctx]{Order: o})
		for i, prio := range []int{5, 1, 5, 9, 1} {
			stage(t, p, t0, Job[tctx]{ID: JobID(fmt.Sprint(i)), Priority: prio})
		}
		want := map[Order]string{Ascending: "1 4 0 2 3", Descending: "3 0 2 1 4"}[o]
		assert.Equal(t, want, tick(t, p, t0))
	}
}

func TestNotBefore(t *testing.T) {
	p := newPolicy(t, Config[tctx]{})
	stage(t, p, t0, Job[tctx]{ID: "later", NotBefore: t0.Add(time.Minute)}, job("now", "a"))
	assert.Equal(t, "now", tick(t, p, t0))
	assert.Equal(t, 1, p.Stats(t0).Delayed)
	assert.Equal(t, "", tick(t, p, t0.Add(59*time.Second)))
	assert.Equal(t, "later", tick(t, p, t0.Add(time.Minute)))
}

// A delayed job that comes due keeps its place by stage order among jobs staged after it.
func TestDelayedJobKeepsStageOrder(t *testing.T) {
	p := newPolicy(t, Config[tctx]{BatchSize: 2})
	stage(t, p, t0, Job[tctx]{ID: "d", NotBefore: t0.Add(time.Second)}, job("1", "a"), job("2", "a"), job("3", "a"))
	assert.Equal(t, "d 1", tick(t, p, t0.Add(time.Second)))
}

func TestDedupe(t *testing.T) {
	p := newPolicy(t, Config[tctx]{})
	d := func(id string) Job[tctx] { return Job[tctx]{ID: JobID(id), DedupeKey: "report-42"} }
	ok, err := p.Stage(t0, d("1"))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = p.Stage(t0, d("2"))
	require.NoError(t, err)
	assert.False(t, ok, "duplicate of a pending job")
	assert.Equal(t, "1", tick(t, p, t0))
	ok, _ = p.Stage(t0, d("3"))
	assert.False(t, ok, "duplicate of an admitted job")
	complete(t, p, t0, "1")
	ok, _ = p.Stage(t0, d("4"))
	assert.True(t, ok, "the key is free after completion")

	n, err := p.StageMany(t0, []Job[tctx]{{ID: "5", DedupeKey: "x"}, {ID: "6", DedupeKey: "x"}, {ID: "7"}, {ID: "8", DedupeKey: "report-42"}})
	require.NoError(t, err)
	assert.Equal(t, 2, n, "duplicates within the batch and of held jobs are dropped")
	require.NoError(t, checkInvariants(p))
}

func TestStageErrors(t *testing.T) {
	p := newPolicy(t, Config[tctx]{CheckContext: func(c tctx) error {
		if c.Tenant == "" {
			return errors.New("Tenant is required")
		}
		return nil
	}})
	_, err := p.Stage(t0, Job[tctx]{Context: tctx{Tenant: "a"}})
	assert.ErrorIs(t, err, ErrEmptyID)
	stage(t, p, t0, job("1", "a"))
	_, err = p.Stage(t0, job("1", "a"))
	assert.ErrorIs(t, err, ErrDuplicateID)
	assert.EqualError(t, err, `admission: duplicate job ID: "1"`)
	_, err = p.Stage(t0, job("2", ""))
	assert.EqualError(t, err, `admission: invalid job "2": Tenant is required`)
	n, err := p.StageMany(t0, []Job[tctx]{job("3", "a"), job("3", "a")})
	assert.Zero(t, n)
	assert.EqualError(t, err, `jobs[1]: admission: duplicate job ID: "3"`)
	assert.Equal(t, 1, p.Stats(t0).Pending, "an invalid batch stages nothing")
}

func TestLifecycleErrors(t *testing.T) {
	p := newPolicy(t, Config[tctx]{})
	stage(t, p, t0, job("1", "a"))
	assert.ErrorIs(t, p.Start(t0, "1"), ErrNotAdmitted)
	assert.ErrorIs(t, p.Complete(t0, "1", false), ErrNotAdmitted)
	assert.ErrorIs(t, p.Complete(t0, "nope", false), ErrUnknownJob)
	assert.ErrorIs(t, p.Revert(t0, "1"), ErrNotAdmitted)
	assert.ErrorIs(t, p.Heartbeat(t0, "1"), ErrNotAdmitted)
	assert.ErrorIs(t, p.Heartbeat(t0, "nope"), ErrUnknownJob)
	tick(t, p, t0)
	require.NoError(t, p.Revert(t0, "1"))
	assert.ErrorIs(t, p.Revert(t0, "1"), ErrNotAdmitted, "reverting twice is an error, not a double release")
	require.NoError(t, checkInvariants(p))
	tick(t, p, t0)
	require.NoError(t, p.Start(t0, "1"))
	assert.ErrorIs(t, p.Start(t0, "1"), ErrStarted)
	complete(t, p, t0, "1")
	assert.ErrorIs(t, p.Complete(t0, "1", false), ErrUnknownJob, "completing twice is an error, not a double release")
	assert.ErrorIs(t, p.Revert(t0, "1"), ErrUnknownJob)
}

// dispatch_policy's reaper: a job whose lease expires is completed and releases its gates.
func TestReap(t *testing.T) {
	cc := Concurrency(Const[tctx](1))
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{cc}, Lease: time.Minute})
	stage(t, p, t0, Job[tctx]{ID: "1", DedupeKey: "k", Context: tctx{Tenant: "a"}}, job("2", "a"))
	assert.Equal(t, "1", tick(t, p, t0))
	assert.Empty(t, p.Reap(t0.Add(time.Minute)), "expires strictly after the lease")
	require.NoError(t, p.Heartbeat(t0.Add(30*time.Second), "1"))
	assert.Empty(t, p.Reap(t0.Add(61*time.Second)), "the heartbeat renewed it")
	assert.Equal(t, []JobID{"1"}, p.Reap(t0.Add(91*time.Second)))
	require.NoError(t, checkInvariants(p))
	assert.Equal(t, 0, cc.InFlight("a"))
	assert.Equal(t, "2", tick(t, p, t0.Add(91*time.Second)))
	ok, _ := p.Stage(t0, Job[tctx]{ID: "3", DedupeKey: "k"})
	assert.True(t, ok, "reaping frees the dedupe key")
	assert.Equal(t, uint64(1), p.Stats(t0).Expired)
}

// dispatch_policy's revert: a failed hand-off releases the gates and puts the job back in
// its place.
func TestRevert(t *testing.T) {
	cc := Concurrency(Const[tctx](1))
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{cc}})
	stage(t, p, t0, job("1", "a"), job("2", "a"), job("3", "b"))
	assert.Equal(t, "1 3", tick(t, p, t0))
	require.NoError(t, p.Revert(t0, "1"))
	require.NoError(t, checkInvariants(p))
	assert.Equal(t, 0, cc.InFlight("a"))
	assert.Equal(t, []JobID{"3"}, p.Reap(t0.Add(time.Hour)), "the reverted admission's lease is void")
	assert.Equal(t, "1", tick(t, p, t0.Add(time.Hour)), "job 1 is back ahead of job 2")
}

func TestPauseResumeDrain(t *testing.T) {
	p := newPolicy(t, Config[tctx]{})
	p.Pause("b") // before b has any job
	stage(t, p, t0, job("a1", "a"), job("b1", "b"), job("b2", "b"))
	assert.Equal(t, "a1", tick(t, p, t0))
	assert.Equal(t, 2, p.Stats(t0).Parked)
	p.Resume("b")
	require.NoError(t, checkInvariants(p))
	stage(t, p, t0, job("a2", "a"))
	p.Pause("a")
	assert.Equal(t, "b1 b2", tick(t, p, t0))
	p.Drain()
	assert.False(t, p.Drained(), "a1 b1 b2 are in flight")
	p.Resume("a")
	assert.Equal(t, "", tick(t, p, t0), "a draining policy admits nothing")
	complete(t, p, t0, "a1", "b1", "b2")
	assert.True(t, p.Drained())
	p.Undrain()
	assert.Equal(t, "a2", tick(t, p, t0))
}

// Serial execution keys: at most one job per key in flight, the rest wait in order.
func TestSerialKeys(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{Serial(func(c tctx) string { return c.Tenant })}})
	stage(t, p, t0, job("a1", "a"), job("a2", "a"), job("b1", "b"), job("a3", "a"))
	assert.Equal(t, "a1 b1", tick(t, p, t0))
	assert.Equal(t, "", tick(t, p, t0))
	complete(t, p, t0, "a1")
	assert.Equal(t, "a2", tick(t, p, t0))
	complete(t, p, t0, "a2")
	assert.Equal(t, "a3", tick(t, p, t0))
}

// A gate with its own partitioning keeps state only for keys in flight: keys its Filter saw
// but a later gate dropped are forgotten at the end of the tick, and a key is forgotten when
// its last job completes (execution keys are often unique; memory must not grow with them).
func TestSerialForgetsKeysWithNothingInFlight(t *testing.T) {
	serial := Serial(func(c tctx) string { return c.Tenant })
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{serial, GlobalCap[tctx](1)}})
	stage(t, p, t0, job("a1", "a"), job("b1", "b"), job("c1", "c"))
	assert.Equal(t, "a1", tick(t, p, t0)) // checkInvariants: b and c hold no slot
	assert.Equal(t, map[string]int32{"a": 0}, serial.slots.ids)
	complete(t, p, t0, "a1")
	assert.Empty(t, serial.slots.ids)
	assert.Equal(t, "b1", tick(t, p, t0))
	assert.Equal(t, 1, serial.InFlight("b"))
	assert.Equal(t, 0, serial.InFlight("c"))
}

// A gate partition function that answers differently on every call (against its contract)
// must not crash the policy: gates size their state for keys first seen at Commit.
func TestFickleGatePartitionDoesNotPanic(t *testing.T) {
	calls := 0
	fickle := func(tctx) string { calls++; return fmt.Sprint(calls % 5) }
	th := Throttle(Const[tctx](tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 3}), PartitionBy(fickle))
	ad, err := Adaptive[tctx](aimd.Config{Initial: 2, TargetLag: time.Second}, PartitionBy(fickle))
	require.NoError(t, err)
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{th, Serial(fickle), ad}})
	now := t0
	for i := range 50 {
		require.NotPanics(t, func() {
			_, _ = p.Stage(now, job(fmt.Sprint(i), "a"))
			for _, a := range p.Tick(now) {
				require.NoError(t, p.Complete(now, a.ID, false))
			}
		})
		now = now.Add(300 * time.Millisecond)
	}
	assert.Equal(t, 0, p.Stats(now).Admitted)
}

// badGate violates the gate contract: it duplicates the first job and invents one.
type badGate struct{}

func (badGate) Name() string { return "bad" }
func (badGate) Filter(now time.Time, b []Candidate[tctx]) []Candidate[tctx] {
	if len(b) == 0 {
		return b
	}
	return append([]Candidate[tctx]{b[0], b[0], {ID: "invented"}}, b[1:]...)
}

func TestGateContractEnforced(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{badGate{}}})
	stage(t, p, t0, job("1", "a"), job("2", "a"))
	assert.Equal(t, "1 2", tick(t, p, t0))
	gs := p.Stats(t0).Gates[0]
	assert.Equal(t, uint64(2), gs.Errors)
	assert.Contains(t, gs.LastError, "not in its batch, or returned it twice")
}

// TestPartitionIndex: partitions found by index are those found by key, whether an index is
// first seen with a new key or with one already known under another index, and jobs with no
// index (negative) are looked up by key.
func TestPartitionIndex(t *testing.T) {
	index := map[string]int{"a": 3, "b": 0, "b2": -1}
	p := newPolicy(t, Config[tctx]{
		PartitionIndex: func(c tctx) int { return index[c.Tenant] },
		// "b2" is "b" by key: several indexes, or none, may share a key.
		PartitionBy: func(c tctx) string { return strings.TrimSuffix(c.Tenant, "2") },
		Gates:       []Gate[tctx]{Concurrency(Const[tctx](1))},
	})
	stage(t, p, t0, job("1", "b2"), job("2", "a"), job("3", "b"), job("4", "a"), job("5", "b2"))
	assert.Equal(t, "1 2", tick(t, p, t0))
	assert.Equal(t, []string{"b:1/2", "a:1/1"}, partitionCounts(p))
	complete(t, p, t0, "1")
	assert.Equal(t, "3", tick(t, p, t0))
}

// TestPartitionIndexSparse: an index far beyond the partitions (here a mistaken numbering)
// finds its partition by key and does not grow the index slice to its size.
func TestPartitionIndexSparse(t *testing.T) {
	index := map[string]int{"a": 1 << 40, "b": math.MaxInt, "c": 7}
	p := newPolicy(t, Config[tctx]{
		PartitionIndex: func(c tctx) int { return index[c.Tenant] },
		PartitionBy:    func(c tctx) string { return c.Tenant },
		Gates:          []Gate[tctx]{Concurrency(Const[tctx](1))},
	})
	stage(t, p, t0, job("1", "a"), job("2", "b"), job("3", "a"), job("4", "c"), job("5", "b"))
	assert.Equal(t, "1 2 4", tick(t, p, t0))
	assert.Len(t, p.byIndex, 8, "only the dense index is kept")
	assert.Equal(t, []string{"a:1/1", "b:1/1", "c:1/0"}, partitionCounts(p))
	complete(t, p, t0, "1")
	assert.Equal(t, "3", tick(t, p, t0))
}

// partitionCounts returns p's partitions as "key:admitted/pending", in Stats order.
func partitionCounts(p *Policy[tctx]) []string {
	var keys []string
	for _, s := range p.Stats(t0).Partitions {
		keys = append(keys, fmt.Sprintf("%s:%d/%d", s.Key, s.Admitted, s.Pending))
	}
	return keys
}

func TestConfigErrors(t *testing.T) {
	th := Throttle(Const[tctx](tokenbucket.Every(time.Second, 1)))
	_, err := New(Config[tctx]{Gates: []Gate[tctx]{th}})
	require.NoError(t, err)
	for _, c := range []struct {
		c    Config[tctx]
		want string
	}{
		{Config[tctx]{BatchSize: -1}, "admission: BatchSize must be >= 0 (0 means 500), got -1"},
		{Config[tctx]{Quantum: -2}, "admission: Quantum must be >= 0 (0 means 50), got -2"},
		{Config[tctx]{Lease: -time.Second}, "admission: Lease must be >= 0 (0 means 15m0s), got -1s"},
		{Config[tctx]{Order: 7}, "admission: Order must be Ascending or Descending, got 7"},
		{Config[tctx]{PartitionIndex: func(tctx) int { return 0 }}, "admission: PartitionIndex requires PartitionBy"},
		{Config[tctx]{Gates: []Gate[tctx]{nil}}, "admission: Gates[0] is nil"},
		{Config[tctx]{Gates: []Gate[tctx]{GlobalCap[tctx](1), GlobalCap[tctx](2)}}, `admission: Gates[1]: duplicate gate name "global_cap"`},
		{Config[tctx]{Gates: []Gate[tctx]{GlobalCap[tctx](-1)}}, "admission: Gates[0] (global_cap): max must be >= 0, got -1"},
		{Config[tctx]{Gates: []Gate[tctx]{Throttle[tctx](nil)}}, "admission: Gates[0] (throttle): limit function is nil"},
		{Config[tctx]{Gates: []Gate[tctx]{Concurrency[tctx](nil)}}, "admission: Gates[0] (concurrency): max function is nil"},
		{Config[tctx]{Gates: []Gate[tctx]{th}}, "admission: Gates[0] (throttle): gate is already used by another Policy"},
	} {
		_, err := New(c.c)
		assert.EqualError(t, err, c.want)
	}
}

func TestInvalidResolvedOptionIsReported(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{
		Throttle(func(c tctx) tokenbucket.Limit {
			if c.Tenant == "bad" {
				return tokenbucket.Limit{Rate: -1, Per: time.Second, Burst: 1}
			}
			return tokenbucket.Every(time.Second, 5)
		}),
		Concurrency(func(c tctx) int { return c.Max }),
	}})
	stage(t, p, t0, job("1", "bad"), Job[tctx]{ID: "2", Context: tctx{Tenant: "ok", Max: -3}}, Job[tctx]{ID: "3", Context: tctx{Tenant: "ok", Max: 1}})
	assert.Equal(t, "3", tick(t, p, t0))
	s := p.Stats(t0)
	assert.Equal(t, uint64(1), s.Gates[0].Errors)
	assert.Contains(t, s.Gates[0].LastError, "Rate must be > 0, got -1")
	assert.Equal(t, uint64(1), s.Gates[1].Errors)
	assert.Equal(t, `max for job "2" must be >= 0, got -3`, s.Gates[1].LastError)
}

// dispatch_policy's adaptive scenario: a new partition admits Initial jobs; completions
// under the target lag grow the limit by one each; a failure halves it; an idle partition
// always admits at least Initial (the safety valve).
func TestAdaptiveInitialAdmission(t *testing.T) {
	ad, err := Adaptive[tctx](aimd.Config{Initial: 3, TargetLag: 100 * time.Millisecond})
	require.NoError(t, err)
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{ad}})
	for i := range 12 {
		stage(t, p, t0, job(fmt.Sprint(i), "a"))
	}
	assert.Equal(t, "0 1 2", tick(t, p, t0))
	assert.Equal(t, "", tick(t, p, t0), "all three slots in flight")
	for _, id := range []string{"0", "1", "2"} {
		require.NoError(t, p.Start(t0.Add(10*time.Millisecond), JobID(id)))
		complete(t, p, t0.Add(20*time.Millisecond), id)
	}
	assert.Equal(t, 6, ad.Limit("a"), "three fast completions: 3 → 6")
	assert.Equal(t, "3 4 5 6 7 8", tick(t, p, t0.Add(time.Second)))
	require.NoError(t, p.Complete(t0.Add(time.Second), "3", true))
	assert.Equal(t, 3, ad.Limit("a"), "a failure halves the limit: floor(6·0.5)")
	require.NoError(t, checkInvariants(p))
	// Reverted and reaped jobs give their slots back without an observation.
	require.NoError(t, p.Revert(t0.Add(time.Second), "4"))
	assert.Equal(t, 3, ad.Limit("a"))
	assert.Equal(t, 4, ad.lim.InFlight("a"))
	require.NoError(t, checkInvariants(p))
	s := p.Stats(t0.Add(time.Second))
	require.Len(t, s.Gates[0].Partitions, 1)
	// EWMA (α 0.5) of lags 10, 10, 10 ms and 0 (job 3 completed without Start).
	assert.Equal(t, GatePartitionStats{Key: "a", InFlight: 4, Limit: 3, EWMA: 4375 * time.Microsecond}, s.Gates[0].Partitions[0])
}

// dispatch_policy's concurrency + fair interleave scenario: the concurrency gate emits jobs
// grouped by tenant; fair interleave restores a round robin across tenants.
func TestConcurrencyWithFairInterleave(t *testing.T) {
	p := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{
		Concurrency(Const[tctx](2)),
		FairInterleave[tctx](),
	}})
	stage(t, p, t0, job("a1", "a"), job("a2", "a"), job("a3", "a"), job("b1", "b"), job("c1", "c"), job("b2", "b"), job("c2", "c"), job("c3", "c"))
	assert.Equal(t, "a1 b1 c1 a2 b2 c2", tick(t, p, t0))
	// Without the fair gate the same batch comes out grouped.
	q := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{Concurrency(Const[tctx](2))}})
	stage(t, q, t0, job("a1", "a"), job("a2", "a"), job("a3", "a"), job("b1", "b"), job("c1", "c"), job("b2", "b"), job("c2", "c"), job("c3", "c"))
	assert.Equal(t, "a1 a2 b1 b2 c1 c2", tick(t, q, t0))
	// Jobs no gate assigned keep their own groups: fair interleave alone is the identity.
	r := newPolicy(t, Config[tctx]{Gates: []Gate[tctx]{FairInterleave[tctx]()}})
	stage(t, r, t0, job("a1", "a"), job("a2", "a"), job("b1", "b"))
	assert.Equal(t, "a1 a2 b1", tick(t, r, t0))
}
