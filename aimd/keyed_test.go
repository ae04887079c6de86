package aimd_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
)

func newKeyed(t testing.TB, c aimd.Config, shards int) *aimd.Keyed[string] {
	t.Helper()
	k, err := aimd.NewKeyed(func(string) aimd.Config { return c }, aimd.KeyedConfig{Shards: shards})
	require.NoError(t, err)
	return k
}

func TestKeyedAcquireRelease(t *testing.T) {
	k := newKeyed(t, aimd.Config{Initial: 2, TargetLag: 100 * ms}, 0)
	assert.Equal(t, 0, k.Len())
	assert.Equal(t, 2, k.Available(base, "acme"), "a new partition's valve")
	assert.Equal(t, 0, k.Len(), "Available stores nothing")

	t1, ok := k.Acquire(base, "acme")
	require.True(t, ok)
	assert.True(t, t1.Valid())
	t2, ok := k.Acquire(base, "acme")
	require.True(t, ok)
	_, ok = k.Acquire(base, "acme")
	assert.False(t, ok, "limit 2 reached")
	assert.Equal(t, 2, k.InFlight("acme"))
	assert.Equal(t, 0, k.Available(base, "acme"))
	assert.Equal(t, 1, k.Len())

	// Partitions are independent.
	_, ok = k.Acquire(base, "globex")
	assert.True(t, ok)

	require.NoError(t, k.Release(at(time.Second), t1, aimd.Sample{Lag: 10 * ms}))
	st, stored := k.Stats("acme")
	assert.True(t, stored)
	assert.Equal(t, aimd.Stats{Limit: 3, InFlight: 1, Available: 2, Ewma: 5 * ms, Samples: 1}, st)

	assert.ErrorIs(t, k.Release(base, t1, aimd.Sample{}), aimd.ErrDoubleRelease)
	assert.ErrorIs(t, k.Cancel(base, t1), aimd.ErrDoubleRelease)
	assert.Equal(t, 1, k.InFlight("acme"), "a double release changes nothing")
	assert.ErrorIs(t, k.Release(base, aimd.Token{}, aimd.Sample{}), aimd.ErrForeignToken)
	assert.ErrorIs(t, k.Cancel(base, aimd.Token{}), aimd.ErrForeignToken)
	other := newKeyed(t, aimd.Config{Initial: 2, TargetLag: 100 * ms}, 0)
	assert.ErrorIs(t, other.Release(base, t2, aimd.Sample{}), aimd.ErrForeignToken)
	assert.Equal(t, 1, k.InFlight("acme"))

	require.NoError(t, k.Release(base, t2, aimd.Sample{Failed: true}))
	st, _ = k.Stats("acme")
	assert.Equal(t, aimd.Stats{Limit: 1, InFlight: 0, Available: 2, Ewma: 2500 * time.Microsecond, Samples: 2}, st)
	assert.Equal(t, 1, k.Limit("acme"))
	assert.Equal(t, 2, k.Limit("initech"), "a new partition's limit")
	st, stored = k.Stats("initech")
	assert.False(t, stored)
	assert.Equal(t, aimd.Stats{Limit: 2, Available: 2}, st)
	assert.Equal(t, 0, k.InFlight("initech"))
}

// TestKeyedStaleTokens: a token stays invalid after its slot is reused and after its
// partition empties and fills again.
func TestKeyedStaleTokens(t *testing.T) {
	k := newKeyed(t, aimd.Config{Initial: 3, TargetLag: time.Second}, 1)
	a, _ := k.Acquire(base, "x")
	b, _ := k.Acquire(base, "x")
	require.NoError(t, k.Cancel(base, a))
	c, _ := k.Acquire(base, "x") // reuses a's slot
	assert.ErrorIs(t, k.Release(base, a, aimd.Sample{}), aimd.ErrDoubleRelease)
	require.NoError(t, k.Cancel(base, b))
	require.NoError(t, k.Cancel(base, c)) // empty: the slot table resets
	assert.ErrorIs(t, k.Cancel(base, c), aimd.ErrDoubleRelease)
	d, _ := k.Acquire(base, "x")
	assert.ErrorIs(t, k.Cancel(base, a), aimd.ErrDoubleRelease)
	assert.ErrorIs(t, k.Cancel(base, c), aimd.ErrDoubleRelease)
	assert.Equal(t, 1, k.InFlight("x"))
	require.NoError(t, k.Cancel(base, d))
	// Pruned partitions: the token still points at the old partition and stays refused.
	assert.Equal(t, 1, k.Prune(100))
	assert.ErrorIs(t, k.Cancel(base, d), aimd.ErrDoubleRelease)
	assert.Equal(t, 0, k.Len())
}

// recorder is an Algorithm that records the samples it observes.
type recorder struct {
	limit   int
	samples []aimd.Sample
}

func (r *recorder) Limit() int                         { return r.limit }
func (r *recorder) Observe(_ time.Time, s aimd.Sample) { r.samples = append(r.samples, s) }

// TestKeyedFillsSample: Release sets InFlight to the count at acquire (the token
// included), and Latency to now − acquire time when the caller leaves it zero.
func TestKeyedFillsSample(t *testing.T) {
	rec := &recorder{limit: 10}
	k, err := aimd.NewKeyedFunc(func(string) (aimd.Algorithm, error) { return rec, nil }, aimd.KeyedConfig{})
	require.NoError(t, err)
	t1, _ := k.Acquire(at(0), "x")
	t2, _ := k.Acquire(at(ms), "x")
	t3, _ := k.Acquire(at(2*ms), "x")
	require.NoError(t, k.Release(at(10*ms), t2, aimd.Sample{Lag: ms, InFlight: 99}))
	require.NoError(t, k.Release(at(10*ms), t3, aimd.Sample{Latency: 3 * ms}))
	require.NoError(t, k.Release(at(-time.Hour), t1, aimd.Sample{Failed: true}))
	assert.Equal(t, []aimd.Sample{
		{Lag: ms, Latency: 9 * ms, InFlight: 2},
		{Latency: 3 * ms, InFlight: 3},
		{Latency: 0, InFlight: 1, Failed: true}, // the clock went backwards: zero, not negative
	}, rec.samples)
	assert.Equal(t, aimd.Stats{Limit: 10, Available: 10}, first(k.Stats("x")))
}

func first[T any](v T, _ bool) T { return v }

// TestKeyedAcquireUpTo: a batch is admitted against one evaluation of Available, so an
// idle partition whose limit collapsed still takes Initial jobs at once (the seed's tick),
// where single Acquires take one.
func TestKeyedAcquireUpTo(t *testing.T) {
	k := newKeyed(t, aimd.Config{Initial: 5, TargetLag: 100 * ms}, 0)
	tok, _ := k.Acquire(base, "x")
	require.NoError(t, k.Release(base, tok, aimd.Sample{Failed: true})) // 5 → 2
	tok, _ = k.Acquire(base, "x")
	require.NoError(t, k.Release(base, tok, aimd.Sample{Failed: true})) // 2 → 1
	require.Equal(t, 1, k.Limit("x"))

	toks, err := k.AcquireUpTo(base, "x", 10, nil)
	require.NoError(t, err)
	assert.Len(t, toks, 5, "the valve admits Initial when idle")
	assert.Equal(t, 5, k.InFlight("x"))
	more, err := k.AcquireUpTo(base, "x", 10, toks)
	require.NoError(t, err)
	assert.Len(t, more, 5, "nothing more: in flight exceeds the limit")
	for _, tk := range toks {
		require.NoError(t, k.Cancel(base, tk))
	}
	_, ok := k.Acquire(base, "x")
	assert.True(t, ok)
	_, ok = k.Acquire(base, "x")
	assert.False(t, ok, "one at a time, the valve applies only to the first")

	toks, err = k.AcquireUpTo(base, "y", 3, nil)
	require.NoError(t, err)
	assert.Len(t, toks, 3, "n below Available")
	toks, err = k.AcquireUpTo(base, "y", 0, nil)
	assert.NoError(t, err)
	assert.Empty(t, toks)
	toks, err = k.AcquireUpTo(base, "z", -1, nil)
	assert.NoError(t, err)
	assert.Empty(t, toks)
	assert.Equal(t, 2, k.Len(), "z was never stored")
}

func TestKeyedFactoryErrors(t *testing.T) {
	k, err := aimd.NewKeyed(func(key string) aimd.Config {
		if key == "bad" {
			return aimd.Config{Initial: 1}
		}
		return aimd.Config{Initial: 1, TargetLag: time.Second}
	}, aimd.KeyedConfig{})
	require.NoError(t, err)
	_, ok := k.Acquire(base, "bad")
	assert.False(t, ok)
	_, err = k.AcquireUpTo(base, "bad", 1, nil)
	assert.EqualError(t, err, "aimd: TargetLag must be > 0, got 0s (partition bad)")
	assert.Equal(t, 0, k.Available(base, "bad"))
	assert.Equal(t, 0, k.Limit("bad"))
	st, stored := k.Stats("bad")
	assert.Equal(t, aimd.Stats{}, st)
	assert.False(t, stored)
	assert.Equal(t, 0, k.Len())

	boom := errors.New("boom")
	kf, err := aimd.NewKeyedFunc(func(key string) (aimd.Algorithm, error) {
		switch key {
		case "err":
			return nil, boom
		case "nil":
			return nil, nil
		}
		return aimd.NewFixed(0)
	}, aimd.KeyedConfig{})
	require.NoError(t, err)
	_, err = kf.AcquireUpTo(base, "err", 1, nil)
	assert.ErrorIs(t, err, boom)
	_, err = kf.AcquireUpTo(base, "nil", 1, nil)
	assert.EqualError(t, err, "aimd: the algorithm factory returned nil for partition nil")
	_, ok = kf.Acquire(base, "paused")
	assert.False(t, ok, "Fixed(0) admits nothing")
	assert.Equal(t, 0, kf.Len(), "a partition that issued no token is not stored")
}

func TestKeyedPruneAndExpire(t *testing.T) {
	k := newKeyed(t, aimd.Config{Initial: 4, TargetLag: time.Second}, 2)
	cancelled, _ := k.Acquire(at(0), "cancelled") // acquired then cancelled: fresh
	require.NoError(t, k.Cancel(at(0), cancelled))
	observed, _ := k.Acquire(at(0), "observed") // learned something: not fresh
	require.NoError(t, k.Release(at(time.Second), observed, aimd.Sample{}))
	busy, _ := k.Acquire(at(0), "busy") // in flight
	require.Equal(t, 3, k.Len())

	assert.Equal(t, 0, k.Prune(0), "maxScan 0 examines nothing")
	assert.Equal(t, 1, k.Prune(1000))
	assert.Equal(t, 2, k.Len())
	assert.Equal(t, 0, k.Prune(1000))

	assert.Equal(t, 5, k.Limit("observed"))
	assert.Equal(t, 0, k.Expire(at(time.Minute), 2*time.Minute), "not idle long enough")
	assert.Equal(t, 1, k.Expire(at(time.Minute), time.Minute-time.Second), "observed was last used at 1s")
	assert.Equal(t, 1, k.Len(), "busy has a token in flight: never expired")
	assert.Equal(t, 4, k.Limit("observed"), "expiry is lossy: the learned limit is gone")
	assert.Equal(t, 1, k.InFlight("busy"))
	assert.Equal(t, 0, k.Expire(at(time.Hour), -time.Hour), "busy is still in flight")
	require.NoError(t, k.Cancel(at(2*time.Hour), busy))
	assert.Equal(t, 1, k.Expire(at(time.Hour), -time.Hour), "idle <= 0: every idle partition, even used after now")
	assert.Equal(t, 0, k.Len())

	// NewKeyedFunc: Fixed is a Fresher, Vegas is not.
	kf, err := aimd.NewKeyedFunc(func(key string) (aimd.Algorithm, error) {
		if key == "v" {
			return aimd.NewVegas(aimd.VegasConfig{Rand: newRand(1)})
		}
		return aimd.NewFixed(2)
	}, aimd.KeyedConfig{Shards: 1})
	require.NoError(t, err)
	for _, key := range []string{"f", "v"} {
		tok, ok := kf.Acquire(base, key)
		require.True(t, ok)
		require.NoError(t, kf.Release(base, tok, aimd.Sample{Latency: ms}))
	}
	assert.Equal(t, 1, kf.Prune(1))
	assert.Equal(t, 1, kf.Len())
	assert.Equal(t, 20, kf.Limit("v"))
}

// TestKeyedStatsOfAlgorithms: Stats fills Ewma and Samples for algorithms that have them.
func TestKeyedStatsOfAlgorithms(t *testing.T) {
	kf, err := aimd.NewKeyedFunc(func(string) (aimd.Algorithm, error) {
		return aimd.New(aimd.Config{Initial: 3, TargetLag: time.Second})
	}, aimd.KeyedConfig{})
	require.NoError(t, err)
	tok, _ := kf.Acquire(base, "x")
	require.NoError(t, kf.Release(base, tok, aimd.Sample{Lag: 4 * ms}))
	st, _ := kf.Stats("x")
	assert.Equal(t, aimd.Stats{Limit: 4, Available: 4, Ewma: 2 * ms, Samples: 1}, st)
	assert.Equal(t, 0, kf.Prune(10), "an AIMD that observed a sample is not fresh")
	tok, _ = kf.Acquire(base, "y")
	require.NoError(t, kf.Cancel(base, tok))
	assert.Equal(t, 1, kf.Prune(10), "an AIMD that observed nothing is")
}

// TestKeyedConcurrent hammers a Keyed from several goroutines (run it with -race): every
// token is released exactly once, in-flight counts return to zero and never exceed what
// Available allowed, and every sample reaches its partition.
func TestKeyedConcurrent(t *testing.T) {
	const workers, rounds = 8, 2000
	k := newKeyed(t, aimd.Config{Initial: 4, Max: 6, TargetLag: time.Second}, 4)
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	released := map[string]int64{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []struct {
				key string
				tok aimd.Token
			}
			local := map[string]int64{}
			for i := range rounds {
				key := keys[(w+i)%len(keys)]
				if tok, ok := k.Acquire(at(time.Duration(i)), key); ok {
					if n := k.InFlight(key); n > 6 {
						t.Errorf("in flight %d above Max", n)
					}
					held = append(held, struct {
						key string
						tok aimd.Token
					}{key, tok})
				}
				if len(held) > 0 && (i%3 == 0 || len(held) > 2) {
					h := held[0]
					held = held[1:]
					if err := k.Release(at(time.Duration(i)), h.tok, aimd.Sample{Failed: i%7 == 0}); err != nil {
						t.Error(err)
					}
					if err := k.Release(at(time.Duration(i)), h.tok, aimd.Sample{}); !errors.Is(err, aimd.ErrDoubleRelease) {
						t.Errorf("double release: %v", err)
					}
					local[h.key]++
				}
				if i%500 == 0 {
					k.Prune(2)
				}
			}
			for _, h := range held {
				if err := k.Release(base, h.tok, aimd.Sample{}); err != nil {
					t.Error(err)
				}
				local[h.key]++
			}
			mu.Lock()
			for key, n := range local {
				released[key] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, key := range keys {
		st, stored := k.Stats(key)
		require.True(t, stored, key)
		assert.Equal(t, 0, st.InFlight, key)
		assert.Equal(t, released[key], st.Samples, key)
		assert.LessOrEqual(t, st.Limit, 6)
	}
}

func ExampleKeyed_AcquireUpTo() {
	k, err := aimd.NewKeyed(func(tenant string) aimd.Config {
		return aimd.Config{Initial: 4, TargetLag: 200 * time.Millisecond}
	}, aimd.KeyedConfig{})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	batch, _ := k.AcquireUpTo(now, "acme", 10, nil) // a tick with 10 pending jobs
	fmt.Println("admitted", len(batch), "available", k.Available(now, "acme"))
	for _, tok := range batch {
		// Each job waited 50ms for a worker and succeeded.
		if err := k.Release(now.Add(time.Second), tok, aimd.Sample{Lag: 50 * time.Millisecond}); err != nil {
			panic(err)
		}
	}
	st, _ := k.Stats("acme")
	fmt.Printf("limit %d, ewma %v, samples %d\n", st.Limit, st.Ewma, st.Samples)
	// Output:
	// admitted 4 available 0
	// limit 8, ewma 46.875ms, samples 4
}
