package interleave_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/interleave"
)

func TestByKeyProperties(t *testing.T) {
	forAll(t, "ByKey is the seed's interleave: a FIFO permutation, prefix balance <= 1", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 1))
		keys := genKeys(r, 300)
		out := seqs(interleave.ByKey(itemsOf(keys), keyOf))
		if want := refByKey(keys); !slices.Equal(out, want) {
			return fmt.Sprintf("keys %v: ByKey = %v, reference %v", keys, out, want)
		}
		return checkInvariants(outcome{op: "bykey", keys: keys, out: out})
	})
}

func TestWeightedProperties(t *testing.T) {
	forAll(t, "Weighted equals the exact virtual-time order and keeps the documented bound", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 2))
		keys := genKeys(r, 200)
		w := genWeight(r)
		got, err := interleave.Weighted(itemsOf(keys), keyOf, w)
		if err != nil {
			return err.Error()
		}
		out := seqs(got)
		if want := refWeighted(keys, w); !slices.Equal(out, want) {
			return fmt.Sprintf("keys %v: Weighted = %v, reference %v", keys, out, want)
		}
		if msg := checkInvariants(outcome{op: "weighted", keys: keys, out: out, weight: w}); msg != "" {
			return msg
		}
		// PositionalUnfairness measures the same bound: at most 1.
		if u, err := interleave.PositionalUnfairness(got, keyOf, w); err != nil || u.Lag > 1 {
			return fmt.Sprintf("PositionalUnfairness = %+v, %v; want Lag <= 1", u, err)
		}
		return ""
	})
}

func TestWeightedEqualWeightsIsByKey(t *testing.T) {
	forAll(t, "Weighted with equal weights is ByKey", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 3))
		keys := genKeys(r, 300)
		w := 1 + r.IntN(1<<20)
		got, err := interleave.Weighted(itemsOf(keys), keyOf, func(int) int { return w })
		if err != nil {
			return err.Error()
		}
		if want := interleave.ByKey(itemsOf(keys), keyOf); !slices.Equal(got, want) {
			return fmt.Sprintf("keys %v, weight %d: Weighted = %v, ByKey %v", keys, w, seqs(got), seqs(want))
		}
		return checkInvariants(outcome{op: "bykey", keys: keys, out: seqs(got)})
	})
}

func TestBatchProperties(t *testing.T) {
	forAll(t, "Batch equals the seed's two-phase fetch with caps, and its invariants hold", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 4))
		keys := genKeys(r, 150)
		c := genBatchCase(r, len(keys))
		got, stats, err := interleave.BatchWith(itemsOf(keys), keyOf, c.config())
		if err != nil {
			return err.Error()
		}
		out := seqs(got)
		want, phase1 := refBatch(keys, c.quantum, c.capOf, c.size)
		if !slices.Equal(out, want) || stats.Phase1 != phase1 {
			return fmt.Sprintf("keys %v size %d: batch = %v (%+v), reference %v (phase 1 %d)", keys, c.size, out, stats, want, phase1)
		}
		if msg := checkInvariants(outcome{op: "batch", keys: keys, out: out, batch: c, stats: stats}); msg != "" {
			return fmt.Sprintf("keys %v size %d: %s", keys, c.size, msg)
		}
		// The scan stops where the batch is decided: the scanned prefix gives the same batch.
		prefix, _, err := interleave.BatchWith(itemsOf(keys[:stats.Scanned]), keyOf, c.config())
		if err != nil || !slices.Equal(seqs(prefix), out) {
			return fmt.Sprintf("keys %v: batch of the scanned prefix (%d) = %v, want %v", keys, stats.Scanned, seqs(prefix), out)
		}
		// Batch is BatchWith without options.
		if !c.perKeyQ && !c.capped {
			plain, err := interleave.Batch(itemsOf(keys), keyOf, c.quantum(0), c.size)
			if err != nil || !slices.Equal(seqs(plain), out) {
				return fmt.Sprintf("Batch = %v, %v; BatchWith %v", seqs(plain), err, out)
			}
		}
		return ""
	})
}

// TestBatchScanIsOnePrefix checks the cost claim on a large backlog: with keys spread
// uniformly, the scan stops once the first keys have filled their quanta, far short of the
// backlog, and the key function is called once per scanned item (and for fewer than 128
// items after them, as keys are computed in blocks).
func TestBatchScanIsOnePrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	keys := make([]int, 200_000)
	for i := range keys {
		keys[i] = r.IntN(1000)
	}
	calls := 0
	key := func(it item) int { calls++; return it.key }
	got, stats, err := interleave.BatchWith(itemsOf(keys), key, interleave.BatchConfig[int]{Size: 500, Quantum: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 500 || stats.Phase1 != 500 || calls < stats.Scanned || calls >= stats.Scanned+128 {
		t.Fatalf("len %d, stats %+v, key calls %d", len(got), stats, calls)
	}
	// The 10th key to appear reaches its 50th item near position 50·1000.
	if stats.Scanned > 80_000 {
		t.Fatalf("scanned %d of %d items", stats.Scanned, len(keys))
	}
	want, _ := refBatch(keys[:stats.Scanned], func(int) int { return 50 }, func(int) int { return math.MaxInt }, 500)
	if !slices.Equal(seqs(got), want) {
		t.Fatal("early-exit batch differs from the reference on the scanned prefix")
	}
}

func TestTimeQuantaMatchesExact(t *testing.T) {
	forAll(t, "TimeQuanta equals the exact rational formula (one less only at exact integers)", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 5))
		n := r.IntN(30)
		consumed := make([]time.Duration, n)
		shared := time.Duration(r.Int64N(int64(time.Minute)))
		for i := range consumed {
			switch r.IntN(4) {
			case 0:
				consumed[i] = shared // equal consumption
			case 1:
				consumed[i] = time.Duration(r.IntN(200)) * time.Millisecond
			case 2:
				consumed[i] = 0
			default:
				consumed[i] = time.Duration(r.Int64N(int64(time.Hour)))
			}
		}
		if r.IntN(4) == 0 { // everyone consumed the same
			for i := range consumed {
				consumed[i] = shared
			}
		}
		floor := time.Duration(1 + r.Int64N(int64(time.Second)))
		size := r.IntN(2000)
		got, err := interleave.TimeQuanta(nil, consumed, floor, size)
		if err != nil {
			return err.Error()
		}
		want, integral := refTimeQuanta(consumed, floor, size)
		allEqual := true
		for _, d := range consumed {
			allEqual = allEqual && max(d, floor) == max(consumed[0], floor)
		}
		for i := range want {
			if got[i] != want[i] && (allEqual || !integral[i] || got[i] != want[i]-1) {
				return fmt.Sprintf("consumed %v floor %v size %d: quantum %d = %d, exact %d", consumed, floor, size, i, got[i], want[i])
			}
		}
		return ""
	})
}

func TestBatchTimeWeighted(t *testing.T) {
	forAll(t, "Batch with Time is Batch with TimeQuanta's quanta, keys in first-appearance order", *trials/2, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 6))
		keys := genKeys(r, 150)
		c := genBatchCase(r, len(keys))
		consumed := map[int]time.Duration{}
		cons := func(k int) time.Duration {
			if _, ok := consumed[k]; !ok {
				consumed[k] = time.Duration(r.IntN(5000)) * time.Millisecond
			}
			return consumed[k]
		}
		floor := 100 * time.Millisecond
		cfg := interleave.BatchConfig[int]{Size: c.size, Time: &interleave.TimeWeight[int]{Consumed: cons, Floor: floor}}
		if c.capped {
			cfg.Cap = c.capOf
		}
		got, stats, err := interleave.BatchWith(itemsOf(keys), keyOf, cfg)
		if err != nil {
			return err.Error()
		}
		var order []int
		var ds []time.Duration
		for _, k := range keys {
			if !slices.Contains(order, k) {
				order = append(order, k)
				ds = append(ds, cons(k))
			}
		}
		qs, _ := interleave.TimeQuanta(nil, ds, floor, c.size)
		c.perKeyQ = true
		c.quantum = func(k int) int { return qs[slices.Index(order, k)] }
		want, _ := refBatch(keys, c.quantum, c.capOf, c.size)
		out := seqs(got)
		if !slices.Equal(out, want) {
			return fmt.Sprintf("keys %v: time batch %v, reference %v", keys, out, want)
		}
		if stats.Scanned != len(keys) && c.size > 0 {
			return fmt.Sprintf("time-weighted batch scanned %d of %d", stats.Scanned, len(keys))
		}
		return checkInvariants(outcome{op: "batch", keys: keys, out: out, batch: c, stats: stats})
	})
}

// TestInterleaverReuse drives one Interleaver through a random sequence of calls of every
// kind and checks each against the one-shot functions: buffers left from earlier calls,
// larger or smaller, never leak into a result.
func TestInterleaverReuse(t *testing.T) {
	forAll(t, "a reused Interleaver computes what fresh calls compute", *trials/4, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 8))
		var iv interleave.Interleaver[item, int]
		var dst []item
		var idx []int
		for step := range 12 {
			keys := genKeys(r, 100+r.IntN(2)*2000)
			items := itemsOf(keys)
			prefix := r.IntN(3) // dst keeps what it held
			dst, idx = dst[:min(prefix, len(dst))], idx[:min(prefix, len(idx))]
			keep, keepIdx := slices.Clone(dst), slices.Clone(idx)
			var o outcome
			switch op := r.IntN(3); op {
			case 0:
				dst = iv.AppendByKey(dst, items, keyOf)
				idx = iv.AppendByKeyIndex(idx, items, keyOf)
				o = outcome{op: "bykey", keys: keys, out: seqs(dst[len(keep):])}
				if want := interleave.ByKey(items, keyOf); !slices.Equal(dst[len(keep):], want) {
					return fmt.Sprintf("step %d: AppendByKey differs from ByKey", step)
				}
			case 1:
				w := genWeight(r)
				var err error
				if dst, err = iv.AppendWeighted(dst, items, keyOf, w); err != nil {
					return err.Error()
				}
				if idx, err = iv.AppendWeightedIndex(idx, items, keyOf, w); err != nil {
					return err.Error()
				}
				o = outcome{op: "weighted", keys: keys, out: seqs(dst[len(keep):]), weight: w}
				if want, _ := interleave.Weighted(items, keyOf, w); !slices.Equal(dst[len(keep):], want) {
					return fmt.Sprintf("step %d: AppendWeighted differs from Weighted", step)
				}
			default:
				c := genBatchCase(r, len(keys))
				var st, st2 interleave.BatchStats
				var err error
				if dst, st, err = iv.AppendBatch(dst, items, keyOf, c.config()); err != nil {
					return err.Error()
				}
				if idx, st2, err = iv.AppendBatchIndex(idx, items, keyOf, c.config()); err != nil || st2 != st {
					return fmt.Sprintf("index stats %+v, %v; want %+v", st2, err, st)
				}
				o = outcome{op: "batch", keys: keys, out: seqs(dst[len(keep):]), batch: c, stats: st}
				if want, ws, _ := interleave.BatchWith(items, keyOf, c.config()); !slices.Equal(dst[len(keep):], want) || ws != st {
					return fmt.Sprintf("step %d: AppendBatch differs from BatchWith", step)
				}
			}
			if !slices.Equal(dst[:len(keep)], keep) || !slices.Equal(idx[:len(keepIdx)], keepIdx) {
				return fmt.Sprintf("step %d: the prefix of dst changed", step)
			}
			if !slices.Equal(idx[len(keepIdx):], o.out) {
				return fmt.Sprintf("step %d: index form %v differs from item form %v", step, idx[len(keepIdx):], o.out)
			}
			if msg := checkInvariants(o); msg != "" {
				return fmt.Sprintf("step %d (%s): %s", step, o.op, msg)
			}
		}
		return ""
	})
}

func TestPositionalUnfairnessMatchesBruteForce(t *testing.T) {
	forAll(t, "PositionalUnfairness equals the maximum over all prefixes and pairs", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 9))
		keys := genKeys(r, 60)
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		var w func(int) int
		if r.IntN(2) == 0 {
			w = genWeight(r)
		}
		u, err := interleave.PositionalUnfairness(itemsOf(keys), keyOf, w)
		if err != nil {
			return err.Error()
		}
		wt := w
		if wt == nil {
			wt = func(int) int { return 1 }
		}
		total := map[int]int{}
		var ks []int
		for _, k := range keys {
			if total[k] == 0 {
				ks = append(ks, k)
			}
			total[k]++
		}
		best, at := 0.0, 0
		got := map[int]int{}
		for t := range keys {
			got[keys[t]]++
			for _, a := range ks {
				for _, b := range ks {
					if got[a] == total[a] {
						continue
					}
					wa, wb := float64(wt(a)), float64(wt(b))
					if lag := 2 * (float64(got[b])*wa - float64(got[a])*wb) / (wa + wb); lag > best {
						best, at = lag, t+1
					}
				}
			}
		}
		if math.Abs(u.Lag-best) > 1e-9 || u.At != at {
			return fmt.Sprintf("keys %v: %+v, brute force %v at %d", keys, u, best, at)
		}
		// The reported pair realises the worst lag at that prefix: Ahead has just been served,
		// Behind still has items.
		if best > 0 {
			clear(got)
			for _, k := range keys[:at] {
				got[k]++
			}
			a, b := u.Behind, u.Ahead
			wa, wb := float64(wt(a)), float64(wt(b))
			lag := 2 * (float64(got[b])*wa - float64(got[a])*wb) / (wa + wb)
			if b != keys[at-1] || got[a] == total[a] || math.Abs(lag-best) > 1e-9 {
				return fmt.Sprintf("keys %v: %+v, but that pair's lag at %d is %v", keys, u, at, lag)
			}
		}
		return ""
	})
}

func TestMaxMinFairCharacterisation(t *testing.T) {
	forAll(t, "MaxMinFair is feasible, meets small demands and levels the rest", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 10))
		n := 1 + r.IntN(12)
		demands, weights := make([]float64, n), make([]float64, n)
		for i := range demands {
			demands[i] = float64(r.IntN(20))
			if r.IntN(6) == 0 {
				demands[i] = math.Inf(1)
			}
			weights[i] = float64(1 + r.IntN(4))
		}
		if r.IntN(4) == 0 { // weights far apart, where float sums lose the small ones
			for i := range weights {
				weights[i] = math.Pow(10, float64(r.IntN(41)-20))
			}
		}
		if r.IntN(3) == 0 {
			weights = nil
		}
		capacity := float64(r.IntN(100))
		alloc, err := interleave.MaxMinFair(demands, capacity, weights)
		if err != nil {
			return err.Error()
		}
		w := func(i int) float64 {
			if weights == nil {
				return 1
			}
			return weights[i]
		}
		const eps = 1e-9
		sum, want := 0.0, 0.0
		level := 0.0
		for i, a := range alloc {
			if a < -eps || a > demands[i]+eps {
				return fmt.Sprintf("alloc[%d] = %v outside [0, demand %v]", i, a, demands[i])
			}
			sum += a
			want += demands[i]
			if a < demands[i]-eps {
				level = max(level, a/w(i))
			}
		}
		if sum > capacity+eps*capacity+eps || sum < math.Min(capacity, want)-eps*capacity-eps {
			return fmt.Sprintf("allocated %v of capacity %v (demand %v)", sum, capacity, want)
		}
		// Every unsatisfied user is at the common level, and no one is above it.
		for i, a := range alloc {
			if a < demands[i]-eps && math.Abs(a/w(i)-level) > eps*(1+level) {
				return fmt.Sprintf("demands %v weights %v cap %v: unsatisfied %d at %v, level %v", demands, weights, capacity, i, a/w(i), level)
			}
			if a/w(i) > level+eps*(1+level) && a < demands[i]-eps {
				return fmt.Sprintf("user %d above the level", i)
			}
		}
		return ""
	})
}

func TestJainProperties(t *testing.T) {
	forAll(t, "Jain lies in [1/n, 1], ignores scale and gives k/n for k equal users", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 11))
		n := 1 + r.IntN(50)
		x := make([]float64, n)
		for i := range x {
			x[i] = r.Float64() * 100
		}
		j, err := interleave.Jain(x)
		if err != nil || j < 1/float64(n)-1e-12 || j > 1+1e-12 {
			return fmt.Sprintf("J(%v) = %v, %v", x, j, err)
		}
		scaled := make([]float64, n)
		for i := range x {
			scaled[i] = x[i] * 1e300
		}
		if js, _ := interleave.Jain(scaled); math.Abs(js-j) > 1e-9 {
			return fmt.Sprintf("J changes with scale: %v vs %v", js, j)
		}
		k := 1 + r.IntN(n)
		eq := make([]float64, n)
		for i := range k {
			eq[i] = 3
		}
		if je, _ := interleave.Jain(eq); math.Abs(je-float64(k)/float64(n)) > 1e-12 {
			return fmt.Sprintf("%d of %d equal: J = %v", k, n, je)
		}
		return ""
	})
}

// TestPrefixCheckersAgree checks the invariant checker itself: on random orders (FIFO within
// a key, otherwise arbitrary, so often unfair) the pairwise and the separable forms of the
// prefix bound accept and reject the same orders, and both reject a burst served first.
func TestPrefixCheckersAgree(t *testing.T) {
	forAll(t, "the pairwise and separable prefix checks agree", *trials/2, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 12))
		keys := genKeys(r, 80)
		w := genWeight(r)
		if r.IntN(3) == 0 {
			w = func(int) int { return 1 }
		}
		// A random FIFO interleave: pick a random key with items left, emit its next item.
		var out []int
		next := map[int][]int{}
		var live []int
		for i, k := range keys {
			if len(next[k]) == 0 {
				live = append(live, k)
			}
			next[k] = append(next[k], i)
		}
		if r.IntN(4) == 0 { // sometimes a fair order, which both must accept
			out = seqs(interleave.ByKey(itemsOf(keys), keyOf))
			w = func(int) int { return 1 }
		} else {
			for len(live) > 0 {
				j := r.IntN(len(live))
				k := live[j]
				out = append(out, next[k][0])
				if next[k] = next[k][1:]; len(next[k]) == 0 {
					live = slices.Delete(live, j, j+1)
				}
			}
		}
		pairs, sep := checkPrefixPairs(keys, out, w), checkPrefixSeparable(keys, out, w)
		if (pairs == "") != (sep == "") {
			return fmt.Sprintf("keys %v order %v: pairwise %q, separable %q", keys, out, pairs, sep)
		}
		return ""
	})
	burst := slices.Concat(slices.Repeat([]int{1}, 400), []int{2, 3})
	fifo := make([]int, len(burst))
	for i := range fifo {
		fifo[i] = i
	}
	one := func(int) int { return 1 }
	if checkPrefixBound(burst, fifo, one) == "" || checkPrefixSeparable(burst, fifo, one) == "" || checkPrefixPairs([]int{1, 1, 1, 2}, []int{0, 1, 2, 3}, one) == "" {
		t.Fatal("a burst served first passes the prefix check")
	}
	if msg := checkPrefixBound(burst, seqs(interleave.ByKey(itemsOf(burst), keyOf)), one); msg != "" {
		t.Fatal(msg)
	}
}
