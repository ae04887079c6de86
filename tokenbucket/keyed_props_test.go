package tokenbucket_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// exactOf returns the exact form of l, as a Bucket reports it. Results are cached: the
// conversion of a fractional Rate walks big.Int convergents, which dominated these tests.
func exactOf(l tokenbucket.Limit) tokenbucket.Limit {
	exactMu.Lock()
	defer exactMu.Unlock()
	if e, ok := exactCache[l]; ok {
		return e
	}
	b, err := tokenbucket.New(l, base)
	if err != nil {
		panic(err)
	}
	exactCache[l] = b.Limit()
	return b.Limit()
}

var (
	exactMu    sync.Mutex
	exactCache = map[tokenbucket.Limit]tokenbucket.Limit{}
)

// keyedRun replays ops on k (with per-key limits lims, which opSetLimit changes) and, if o is
// not nil, on the oracle, and reports the first divergence or error. decisions, if not nil,
// collects each call's outcome for comparison between runs.
func keyedRun(k *tokenbucket.Keyed[string], lims map[string]tokenbucket.Limit, o *oracle, ops []op, decisions *[]string) string {
	for i, op := range ops {
		key := strconv.Itoa(op.key)
		now := at(op.off)
		cur := exactOf(lims[key])
		var got, want string
		var err error
		switch op.kind {
		case opAllow:
			var ok bool
			ok, err = k.AllowN(now, key, op.n)
			got = fmt.Sprint(ok)
			if o != nil {
				want = fmt.Sprint(o.allowN(key, cur, op.off, op.n))
			}
		case opTake:
			var g int
			var ra time.Duration
			g, ra, err = k.TakeUpTo(now, key, op.n)
			got = fmt.Sprint(g, ra)
			if o != nil {
				wg, wra := o.takeUpTo(key, cur, op.off, op.n)
				want = fmt.Sprint(wg, wra)
			}
		case opDelay:
			var d time.Duration
			var ok bool
			d, ok, err = k.Delay(now, key, op.n)
			got = fmt.Sprint(d, ok)
			if o != nil {
				wd, wok := o.delay(key, cur, op.off, op.n)
				want = fmt.Sprint(wd, wok)
			}
		case opTokens:
			var tk float64
			tk, err = k.Tokens(now, key)
			got = fmt.Sprint(tk)
			if o != nil {
				if w := o.tokens(key, cur, op.off); closeTo(tk, w) {
					want = got
				} else {
					want = fmt.Sprint(w)
				}
			}
		case opSetLimit:
			lims[key] = op.lim // takes effect at the key's next call
		case opPrune:
			removed := k.Prune(now, op.n*3)
			if o != nil && removed > 0 {
				o.prune(op.off)
			}
		}
		if err != nil || (o != nil && got != want) {
			return fmt.Sprintf("limit %v: step %d: %v = %v %v, want %v", cur, i, op, got, err, want)
		}
		if msg := checkKeyed(k, len(lims)); msg != "" {
			return fmt.Sprintf("after step %d (%v): %s", i, op, msg)
		}
		if decisions != nil {
			*decisions = append(*decisions, got)
		}
	}
	return ""
}

func genKeyedCase(r *rand.Rand, monotone, changes, prune bool) (map[string]tokenbucket.Limit, []op) {
	keys := 1 + r.IntN(6)
	lims := map[string]tokenbucket.Limit{}
	first := genLimit(r)
	for i := range keys {
		if r.IntN(2) == 0 {
			lims[strconv.Itoa(i)] = first // shared limits, as tiers give
		} else {
			lims[strconv.Itoa(i)] = genLimit(r)
		}
	}
	return lims, genOps(r, first, 80, keys, monotone, changes, prune)
}

func newKeyed(lims map[string]tokenbucket.Limit, shards int) *tokenbucket.Keyed[string] {
	k, err := tokenbucket.NewKeyedConfig(func(key string) tokenbucket.Limit { return lims[key] },
		tokenbucket.KeyedConfig{Shards: shards})
	if err != nil {
		panic(err)
	}
	return k
}

// TestKeyedMatchesExactModel replays histories with limit changes, Prunes and steps back in
// time. In the model a Prune that removed partitions only moves the clock to now, as Keyed
// documents: the partitions it removed were full, the same as fresh ones, and a later call
// with an earlier time reads as a call at the Prune's time. One that removed nothing is
// invisible.
func TestKeyedMatchesExactModel(t *testing.T) {
	forAll(t, "Keyed decisions equal the big.Rat model (limit changes, Prune, backwards time)", *trials/2, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 10))
		lims, ops := genKeyedCase(r, false, true, true)
		return keyedRun(newKeyed(lims, 1<<r.IntN(3)), lims, newOracle(), ops, nil)
	})
}

// TestKeyedPruneTransparent runs the same history with and without Prune at random points
// (times non-decreasing): every decision is identical, and both match the model.
func TestKeyedPruneTransparent(t *testing.T) {
	forAll(t, "decisions are identical with and without Prune", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 11))
		lims, ops := genKeyedCase(r, true, r.IntN(2) == 0, true)
		plain := make([]op, 0, len(ops))
		for _, o := range ops {
			if o.kind != opPrune {
				plain = append(plain, o)
			}
		}
		var with, without []string
		limsA, limsB := clone(lims), clone(lims)
		if msg := keyedRun(newKeyed(limsA, 2), limsA, newOracle(), ops, &with); msg != "" {
			return "with Prune: " + msg
		}
		// Without Prune, only the decisions are needed: the run with Prune is held to the
		// model, and TestKeyedMatchesExactModel holds Keyed without Prune to it.
		if msg := keyedRun(newKeyed(limsB, 2), limsB, nil, plain, &without); msg != "" {
			return "without Prune: " + msg
		}
		j := 0
		for i, o := range ops {
			if o.kind == opPrune {
				continue
			}
			if with[i] != without[j] {
				return fmt.Sprintf("step %d (%v): %s with Prune, %s without", i, o, with[i], without[j])
			}
			j++
		}
		return ""
	})
}

func clone(m map[string]tokenbucket.Limit) map[string]tokenbucket.Limit {
	c := make(map[string]tokenbucket.Limit, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// TestKeyedPartitionIndependence checks that, with non-decreasing times, each partition
// decides exactly as a Bucket of its own created at the partition's first call.
func TestKeyedPartitionIndependence(t *testing.T) {
	forAll(t, "a partition decides as its own Bucket", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 12))
		lims, ops := genKeyedCase(r, true, false, false)
		k := newKeyed(lims, 4)
		own := map[string]*tokenbucket.Bucket{}
		for i, op := range ops {
			key := strconv.Itoa(op.key)
			now := at(op.off)
			b := own[key]
			if b == nil {
				b, _ = tokenbucket.New(lims[key], now)
				own[key] = b
			}
			var got, want string
			switch op.kind {
			case opAllow:
				ok, _ := k.AllowN(now, key, op.n)
				got, want = fmt.Sprint(ok), fmt.Sprint(b.AllowN(now, op.n))
			case opTake:
				g, ra, _ := k.TakeUpTo(now, key, op.n)
				wg, wra := b.TakeUpTo(now, op.n)
				got, want = fmt.Sprint(g, ra), fmt.Sprint(wg, wra)
			case opDelay:
				d, ok, _ := k.Delay(now, key, op.n)
				wd, wok := b.Delay(now, op.n)
				got, want = fmt.Sprint(d, ok), fmt.Sprint(wd, wok)
			case opTokens:
				tk, _ := k.Tokens(now, key)
				got, want = fmt.Sprint(tk), fmt.Sprint(b.Tokens(now))
			}
			if got != want {
				return fmt.Sprintf("step %d: %v: Keyed %s, own Bucket %s", i, op, got, want)
			}
		}
		return ""
	})
}

func TestDenseMatchesExactModel(t *testing.T) {
	forAll(t, "Dense decisions equal the big.Rat model", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 13))
		lim := genLimit(r)
		ids := 1 + r.IntN(8)
		d, err := tokenbucket.NewDense(lim, ids)
		if err != nil {
			return err.Error()
		}
		cur := d.Limit()
		o := newOracle()
		for i, op := range genOps(r, lim, 80, ids, false, false, false) {
			key, now := strconv.Itoa(op.key), at(op.off)
			fail := func(got, want any) string {
				return fmt.Sprintf("limit %v: step %d: %v = %v, want %v", cur, i, op, got, want)
			}
			switch op.kind {
			case opAllow:
				if got, want := d.AllowN(now, op.key, op.n), o.allowN(key, cur, op.off, op.n); got != want {
					return fail(got, want)
				}
			case opTake:
				g, ra := d.TakeUpTo(now, op.key, op.n)
				if wg, wra := o.takeUpTo(key, cur, op.off, op.n); g != wg || ra != wra {
					return fail(fmt.Sprint(g, ra), fmt.Sprint(wg, wra))
				}
			case opDelay:
				dd, ok := d.Delay(now, op.key, op.n)
				if wd, wok := o.delay(key, cur, op.off, op.n); dd != wd || ok != wok {
					return fail(fmt.Sprint(dd, ok), fmt.Sprint(wd, wok))
				}
			case opTokens:
				if got, want := d.Tokens(now, op.key), o.tokens(key, cur, op.off); !closeTo(got, want) {
					return fail(got, want)
				}
			}
			if msg := checkDense(d, now); msg != "" {
				return fmt.Sprintf("after step %d (%v): %s", i, op, msg)
			}
		}
		return ""
	})
}

// checkDense verifies the invariants a Dense keeps between calls: its limit is the valid
// exact form, and every partition holds between 0 and Burst tokens.
func checkDense(d *tokenbucket.Dense, now time.Time) string {
	l := d.Limit()
	if err := l.Validate(); err != nil {
		return fmt.Sprintf("Limit() = %v is invalid: %v", l, err)
	}
	for id := range d.Len() {
		if tk := d.Tokens(now, id); tk < 0 || tk > float64(l.Burst) {
			return fmt.Sprintf("partition %d holds %v tokens, outside [0, %d]", id, tk, l.Burst)
		}
	}
	return ""
}

// checkKeyed verifies the invariant a Keyed keeps between calls that it can check without
// changing state: it stores at most one partition per key it has seen.
func checkKeyed(k *tokenbucket.Keyed[string], keys int) string {
	if n := k.Len(); n < 0 || n > keys {
		return fmt.Sprintf("Len() = %d with %d keys", n, keys)
	}
	return ""
}

// TestEpochMoves drives Keyed and Dense across their epoch horizon (a = 10^9 credits per
// nanosecond gives a horizon of about 4.6 s) and across centuries: they keep matching a
// fresh model.
func TestEpochMoves(t *testing.T) {
	lim := tokenbucket.Limit{Rate: 1e9, Per: time.Nanosecond, Burst: 1 << 20}
	k := newKeyed(map[string]tokenbucket.Limit{"a": lim, "b": lim}, 2)
	d, _ := tokenbucket.NewDense(lim, 2)
	o := newOracle()
	cur := exactOf(lim)
	for i := range 40 {
		off := int64(i) * int64(500*time.Millisecond)
		key := strconv.Itoa(i % 2)
		name := map[string]string{"0": "a", "1": "b"}[key]
		n := 1 + i*1000
		want := o.allowN(name, cur, off, n)
		if got, _ := k.AllowN(at(off), name, n); got != want {
			t.Fatalf("step %d: Keyed AllowN = %v, want %v", i, got, want)
		}
		o2 := newOracle() // Dense shares the history
		_ = o2
		if got := d.AllowN(at(off), i%2, n); got != want {
			t.Fatalf("step %d: Dense AllowN = %v, want %v", i, got, want)
		}
	}
	// A first call at the zero time, then real times: centuries apart, so every bucket is
	// full and the limiter behaves as a fresh one from then on.
	k2 := newKeyed(map[string]tokenbucket.Limit{"a": {Rate: 1, Per: time.Second, Burst: 2}}, 1)
	if ok, err := k2.Allow(time.Time{}, "a"); !ok || err != nil {
		t.Fatalf("Allow at the zero time = %v, %v", ok, err)
	}
	steps := []struct {
		off  time.Duration
		want bool
	}{{0, true}, {0, true}, {0, false}, {time.Second, true}, {time.Second, false}}
	for i, s := range steps {
		if got, _ := k2.Allow(base.Add(s.off), "a"); got != s.want {
			t.Fatalf("step %d: Allow(base+%v) = %v, want %v", i, s.off, got, s.want)
		}
	}
}
