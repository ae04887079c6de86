package tokenbucket_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// tiers is a typical limit function: a small table of plans.
func tiers(key string) tokenbucket.Limit {
	if key == "enterprise" {
		return tokenbucket.Limit{Rate: 100, Per: time.Second, Burst: 100}
	}
	return tokenbucket.Limit{Rate: 2, Per: time.Second, Burst: 2}
}

func TestKeyedBasics(t *testing.T) {
	k := tokenbucket.NewKeyed(tiers)
	assert.Zero(t, k.Len(), "a key that is never charged costs nothing")
	tk, err := k.Tokens(t0, "free")
	require.NoError(t, err)
	assert.Equal(t, 2.0, tk)
	assert.Zero(t, k.Len())

	for i, s := range []struct {
		key  string
		n    int
		want bool
	}{{"free", 2, true}, {"free", 1, false}, {"enterprise", 100, true}, {"enterprise", 1, false}, {"free", 3, false}} {
		got, err := k.AllowN(t0, s.key, s.n)
		require.NoError(t, err)
		assert.Equal(t, s.want, got, "step %d: AllowN(%q, %d)", i, s.key, s.n)
	}
	assert.Equal(t, 2, k.Len())
	d, ok, err := k.Delay(t0, "free", 1)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 500*time.Millisecond, d)
	g, ra, err := k.TakeUpTo(t0.Add(time.Second), "free", 5)
	require.NoError(t, err)
	assert.Equal(t, 2, g)
	assert.Equal(t, 500*time.Millisecond, ra)
}

func TestKeyedConfigErrors(t *testing.T) {
	for _, c := range []struct {
		c    tokenbucket.KeyedConfig
		want string
	}{
		{tokenbucket.KeyedConfig{Shards: 3}, "tokenbucket: Shards must be a power of two in [1, 65536], got 3"},
		{tokenbucket.KeyedConfig{Shards: -1}, "tokenbucket: Shards must be a power of two in [1, 65536], got -1"},
		{tokenbucket.KeyedConfig{Shards: 1 << 17}, "tokenbucket: Shards must be a power of two in [1, 65536], got 131072"},
		{tokenbucket.KeyedConfig{MaxPartitions: -1}, "tokenbucket: MaxPartitions must be >= 0, got -1"},
	} {
		_, err := tokenbucket.NewKeyedConfig(tiers, c.c)
		assert.EqualError(t, err, c.want)
	}
	k := tokenbucket.NewKeyed[string](nil)
	_, err := k.Allow(t0, "x")
	assert.EqualError(t, err, "tokenbucket: Keyed has no limit function")
}

func TestKeyedMaxPartitions(t *testing.T) {
	k, err := tokenbucket.NewKeyedConfig(tiers, tokenbucket.KeyedConfig{MaxPartitions: 2})
	require.NoError(t, err)
	for _, key := range []string{"a", "b"} {
		ok, err := k.Allow(t0, key)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err := k.Allow(t0, "c")
	assert.False(t, ok)
	assert.True(t, errors.Is(err, tokenbucket.ErrTooManyPartitions))
	assert.EqualError(t, err, "tokenbucket: too many partitions: MaxPartitions is 2")
	assert.Equal(t, 2, k.Len())
	tk, _ := k.Tokens(t0, "c")
	assert.Equal(t, 2.0, tk, "a refused partition took nothing")
	// Existing partitions keep working; Prune makes room once a bucket is full again.
	ok, err = k.Allow(t0, "a")
	assert.True(t, ok)
	assert.NoError(t, err)
	assert.Equal(t, 1, k.Prune(t0.Add(500*time.Millisecond), 10), "b is full again, a is not")
	ok, err = k.Allow(t0.Add(500*time.Millisecond), "c")
	assert.True(t, ok)
	assert.NoError(t, err)
}

func TestKeyedPruneAndCompact(t *testing.T) {
	k, err := tokenbucket.NewKeyedConfig(tiers, tokenbucket.KeyedConfig{Shards: 4})
	require.NoError(t, err)
	for i := range 1000 {
		ok, err := k.Allow(t0, fmt.Sprint("tenant-", i))
		require.NoError(t, err)
		require.True(t, ok)
	}
	assert.Equal(t, 1000, k.Len())
	assert.Zero(t, k.Prune(t0, 1<<30), "nothing is full yet")
	assert.Zero(t, k.Prune(t0, 0), "maxScan 0 examines nothing")
	// One shard at a time: a small maxScan stops after the first shard.
	first := k.Prune(t0.Add(time.Second), 1)
	assert.Greater(t, first, 0)
	assert.Less(t, first, 1000)
	assert.Equal(t, 1000-first, k.Len())
	assert.Equal(t, 1000-first, k.Prune(t0.Add(time.Second), 1<<30))
	assert.Zero(t, k.Len())
	// Pruned keys come back full.
	ok, _ := k.AllowN(t0.Add(time.Second), "tenant-1", 2)
	assert.True(t, ok)
}

func TestKeyedLimitChange(t *testing.T) {
	lim := tokenbucket.Limit{Rate: 1, Per: time.Second, Burst: 10}
	var mu sync.Mutex
	k := tokenbucket.NewKeyed(func(string) tokenbucket.Limit { mu.Lock(); defer mu.Unlock(); return lim })
	ok, _ := k.AllowN(t0, "a", 8) // 2 left
	require.True(t, ok)
	mu.Lock()
	lim = tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 5} // an upgrade, at t0+1s
	mu.Unlock()
	tk, err := k.Tokens(t0.Add(time.Second), "a")
	require.NoError(t, err)
	assert.Equal(t, 3.0, tk, "3 tokens carried over, as Bucket.SetLimit would")
	tk, _ = k.Tokens(t0.Add(1100*time.Millisecond), "a")
	assert.Equal(t, 4.0, tk, "then refilled at the new rate")
}

// TestKeyedConcurrent runs many goroutines over a few shared keys, each with its own advancing
// clock: per-key admits never exceed Burst + Rate·span/Per. Run it with -race.
func TestKeyedConcurrent(t *testing.T) {
	k, err := tokenbucket.NewKeyedConfig(func(string) tokenbucket.Limit {
		return tokenbucket.Limit{Rate: 1, Per: time.Microsecond, Burst: 20}
	}, tokenbucket.KeyedConfig{Shards: 2})
	require.NoError(t, err)
	keys := []string{"a", "b", "c"}
	const goroutines, calls = 6, 3000
	var mu sync.Mutex
	admits := map[string]int{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for i := range calls {
				key := keys[(g+i)%len(keys)]
				if ok, err := k.Allow(t0.Add(time.Duration(i)*100*time.Nanosecond), key); err == nil && ok {
					local[key]++
				}
				if i%500 == 0 {
					k.Prune(t0.Add(time.Duration(i)*100*time.Nanosecond), 10)
				}
			}
			mu.Lock()
			for key, n := range local {
				admits[key] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	span := time.Duration(calls-1) * 100 * time.Nanosecond
	for _, key := range keys {
		assert.LessOrEqual(t, admits[key], 20+int(span/time.Microsecond), key)
		assert.Greater(t, admits[key], 0, key)
	}
	assert.LessOrEqual(t, k.Len(), len(keys))
}

func TestDenseBasics(t *testing.T) {
	_, err := tokenbucket.NewDense(tokenbucket.Every(time.Second, 1), -1)
	assert.EqualError(t, err, "tokenbucket: n must be >= 0, got -1")
	d, err := tokenbucket.NewDense(tokenbucket.Every(time.Second, 2), 2)
	require.NoError(t, err)
	assert.Equal(t, 2, d.Len())
	assert.True(t, d.AllowN(t0, 0, 2))
	assert.False(t, d.Allow(t0, 0))
	assert.True(t, d.Allow(t0, 1), "partitions are independent")
	assert.EqualError(t, d.Grow(-1), "tokenbucket: Grow needs k >= 0, got -1")
	require.NoError(t, d.Grow(3))
	assert.Equal(t, 5, d.Len())
	assert.Equal(t, 2.0, d.Tokens(t0, 4), "new partitions start full")
	assert.Panics(t, func() { d.Allow(t0, 5) }, "an out-of-range id panics, as slice indexing does")
	assert.Equal(t, tokenbucket.Every(time.Second, 2), d.Limit())
}

// TestKeyedMemory reports bytes per partition for string keys with one limit; the figure is
// recorded in BENCHMARKS.md. It asserts the ceiling of 60 bytes: at 100,000 keys
// every shard's table is 2296 slots of 32 bytes (about 47 B per key), so only a change of
// layout (a pointer per key, a wider slot, a looser growth bound) can cross it.
func TestKeyedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 partitions")
	}
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%07d", i)
	}
	perKey := keyedBytesPerKey(keys)
	t.Logf("%.1f bytes per partition", perKey)
	assert.Less(t, perKey, 60.0)
}

func keyedBytesPerKey(keys []string) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	k := tokenbucket.NewKeyed(func(string) tokenbucket.Limit { return tokenbucket.Every(time.Second, 5) })
	for _, key := range keys {
		k.Allow(t0, key)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(k)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(len(keys))
}

// TestKeyedPruneKeepsNearlyFull: at 3 per second, 333,333,333 ns after a grant the bucket is
// one credit (a third of a nanosecond of refill) short of full. Prune must keep it, or the
// next call would see a full bucket too early.
func TestKeyedPruneKeepsNearlyFull(t *testing.T) {
	k := tokenbucket.NewKeyed(func(string) tokenbucket.Limit { return tokenbucket.Limit{Rate: 3, Per: time.Second, Burst: 1} })
	ok, _ := k.Allow(t0, "a")
	require.True(t, ok)
	assert.Zero(t, k.Prune(t0.Add(333_333_333), 10))
	ok, _ = k.Allow(t0.Add(333_333_333), "a")
	assert.False(t, ok)
	assert.Equal(t, 1, k.Prune(t0.Add(333_333_334), 10))
	ok, _ = k.Allow(t0.Add(333_333_334), "a")
	assert.True(t, ok)
}

// TestKeyedRefusalMovesNoClock: a call refused by MaxPartitions changes nothing, not even
// the clock: a later call at an earlier time still sees that earlier time.
func TestKeyedRefusalMovesNoClock(t *testing.T) {
	k, err := tokenbucket.NewKeyedConfig(tiers, tokenbucket.KeyedConfig{MaxPartitions: 1})
	require.NoError(t, err)
	ok, _ := k.AllowN(t0, "a", 2) // free tier: 2 per second, burst 2; now empty
	require.True(t, ok)
	_, err = k.Allow(t0.Add(time.Second), "b")
	require.ErrorIs(t, err, tokenbucket.ErrTooManyPartitions)
	_, _, err = k.TakeUpTo(t0.Add(time.Second), "b", 1)
	require.ErrorIs(t, err, tokenbucket.ErrTooManyPartitions)
	tk, err := k.Tokens(t0.Add(500*time.Millisecond), "a")
	require.NoError(t, err)
	assert.Equal(t, 1.0, tk, "a refused call at t0+1s must not read as a grant at t0+1s")
}
