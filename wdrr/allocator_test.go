package wdrr_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

func senderID(s sender) int { return s.id }

func pool(ws ...int) []wdrr.Weighted[sender] {
	ms := make([]wdrr.Weighted[sender], len(ws))
	for i, w := range ws {
		ms[i] = wdrr.Weighted[sender]{Value: sender{id: i + 1, active: true, healthy: true, headroom: true}, Weight: w}
	}
	return ms
}

func pickIDs(t *testing.T, a *wdrr.Allocator[string, int, sender], key string, ms []wdrr.Weighted[sender], n int, eligible func(sender) bool) []int {
	t.Helper()
	var ids []int
	for range n {
		s, err := a.Pick(key, ms, eligible)
		require.NoError(t, err)
		ids = append(ids, s.id)
		require.Empty(t, checkInvariants(a))
	}
	return ids
}

func TestNewAllocatorErrors(t *testing.T) {
	_, err := wdrr.NewAllocator[string, int, sender](wdrr.DefaultRule, nil)
	assert.EqualError(t, err, "wdrr: NewAllocator needs a member ID function, got nil")
	_, err = wdrr.NewAllocator[string](wdrr.Rule(4), senderID)
	assert.EqualError(t, err, "wdrr: Rule must be DefaultRule, Nginx, DripDrop or Strict, got Rule(4)")
	a, err := wdrr.NewAllocator[string](wdrr.DefaultRule, senderID)
	require.NoError(t, err)
	assert.Equal(t, wdrr.DripDrop, a.Rule(), "DripDrop's tie order is the Allocator's default")

	ms := pool(1, 0)
	_, err = a.Pick("p", ms, nil)
	assert.EqualError(t, err, "wdrr: Weight must be in [1, 2147483647], got 0 (member 2)")
	_, err = a.Pick("p", append(pool(1, 2), pool(3)...), nil)
	assert.EqualError(t, err, "wdrr: member 1 passed twice")
	_, err = a.Fallback("p", pool(1), nil, nil)
	assert.EqualError(t, err, "wdrr: Fallback needs at least one tier, got 0")
	assert.Zero(t, a.Len(), "rejected calls leave no pool key behind")
	_, _ = a.Pick("p", pool(4), nil)
	_, err = a.Pick("p", append(pool(1, 2, 3), pool(5)...), nil)
	assert.EqualError(t, err, "wdrr: member 1 passed twice")
	assert.Equal(t, []wdrr.Counter[int]{{1, 0}}, a.Counters("p", nil), "nor counters for the IDs they named")
	_, err = a.Pick("p", nil, nil)
	assert.Equal(t, wdrr.ErrExhausted, err, "an empty pool is exhausted")
	assert.Empty(t, checkInvariants(a))
}

// TestAllocatorDripDrop pins DripDrop's pick_weighted: the default tie order differs from
// nginx's for weights 1,2,3,4; counters are per pool key; members not passed keep theirs.
func TestAllocatorDripDrop(t *testing.T) {
	a, _ := wdrr.NewAllocator[string](wdrr.DefaultRule, senderID)
	ms := pool(1, 2, 3, 4)
	assert.Equal(t, []int{4, 3, 2, 4, 3, 1, 4, 2, 3, 4}, pickIDs(t, a, "seqA", ms, 10, nil))
	n, _ := wdrr.NewAllocator[string](wdrr.Nginx, senderID)
	assert.Equal(t, []int{4, 3, 2, 4, 1, 3, 4, 2, 3, 4}, pickIDs(t, n, "seqA", ms, 10, nil))

	// Another sequence version rotates independently.
	assert.Equal(t, []int{4}, pickIDs(t, a, "seqB", ms, 1, nil))
	assert.Equal(t, []wdrr.Counter[int]{{1, 1}, {2, 2}, {3, 3}, {4, -6}}, a.Counters("seqB", nil))

	// Member 1 leaves the pool and returns: its counter is kept meanwhile.
	before := a.Counters("seqB", nil)[0]
	pickIDs(t, a, "seqB", ms[1:], 5, nil)
	assert.Equal(t, before, a.Counters("seqB", nil)[0])
	assert.Equal(t, 2, a.Len())
	a.Forget("seqB")
	assert.Empty(t, a.Counters("seqB", nil))
	a.Reset()
	assert.Equal(t, 0, a.Len())
}

// TestAllocatorFallback follows DripDrop's chain: pick_member (active, healthy, headroom),
// pick_healthy_member (ignores the cap), pick_active_member (any health).
func TestAllocatorFallback(t *testing.T) {
	a, _ := wdrr.NewAllocator[string](wdrr.DefaultRule, senderID)
	ms := pool(3, 2, 1)
	ms[0].Value.headroom = false // capped for today
	ms[1].Value.healthy = false  // resting

	ch, err := a.Fallback("p", ms, dripdropTiers, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, ch.Tier)
	assert.Equal(t, 3, ch.ID)
	assert.Equal(t, []int{1, 2}, ch.Evicted, "the members pick_member rejected")

	ms[2].Value.healthy = false
	ch, err = a.Fallback("p", ms, dripdropTiers, nil)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 1}, []int{ch.Tier, ch.ID}, "pick_healthy_member ignores the cap")
	assert.Equal(t, []int{1, 2, 3}, ch.Evicted)

	ms[0].Value.healthy = false
	ch, err = a.Fallback("p", ms, dripdropTiers, make([]int, 0, 4))
	require.NoError(t, err)
	assert.Equal(t, 2, ch.Tier, "pick_active_member: any health")

	for i := range ms {
		ms[i].Value.active = false
	}
	before := a.Counters("p", nil)
	ch, err = a.Fallback("p", ms, dripdropTiers, nil)
	var ex *wdrr.ExhaustedError[int]
	require.True(t, errors.As(err, &ex))
	assert.ErrorIs(t, err, wdrr.ErrExhausted)
	assert.Equal(t, []int{1, 2, 3}, ex.Evicted)
	assert.Equal(t, []int{1, 2, 3}, ch.Evicted)
	assert.EqualError(t, err, "wdrr: no eligible member in 3 tiers (evicted [1 2 3])")
	assert.Equal(t, before, a.Counters("p", nil), "an exhausted chain changes nothing")
}

// TestAllocatorConcurrent: picks are atomic under the Allocator's mutex, so counts over
// whole periods are exact. Run with -race.
func TestAllocatorConcurrent(t *testing.T) {
	a, _ := wdrr.NewAllocator[string](wdrr.DefaultRule, senderID)
	ms := pool(5, 3, 1)
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 9 * 25 {
				s, err := a.Pick("p", ms, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[s.id]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, map[int]int{1: 500, 2: 300, 3: 100}, counts)
	assert.Empty(t, checkInvariants(a))
}
