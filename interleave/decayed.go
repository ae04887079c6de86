package interleave

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Decayed tracks, per key, an exponentially decayed count of recent admissions, and runs
// dispatch_policy 0.5's fair tick: keys are served in order of least decayed admissions, each
// with a fair share of the tick's budget, and a second pass hands the unused budget to the
// keys that used their whole share.
//
// A key's decayed count at time t is
//
//	decayed(t) = stored · exp(−max(t − at, 0)/τ),  τ = halfLife/ln 2,
//
// where stored is the count at the key's last update at; admitting n at time t sets stored =
// stored·exp(max(−(t − at)/τ, −700)) + n and at = t, with the seed's exponent clamp. The
// clamp is applied only there, as in the seed, where n >= 1 absorbs it; ranking keys with a
// clamped exponent would freeze stale counts at stored·e^−700, above fresh ones, and starve
// those keys (a bug the tests pin). A key that has never been admitted counts 0.
//
// Time is a parameter. A Decayed has one clock, the latest time passed to [Decayed.Admit] or
// [Decayed.Tick]; a call with an earlier time is treated as a call at that time, so time
// going backwards is no time passing. Because every key decays by the same factor between
// two instants, the order of keys changes only through admissions.
//
// A Decayed is not safe for concurrent use: it is keyed composite state owned by one
// goroutine, the dispatcher's tick loop; wrap it in a mutex to share it. It stores 24 bytes
// of state per key in a map (no pointer per key); [Decayed.Prune] removes keys whose count
// has decayed away.
type Decayed[K comparable] struct {
	halfLife time.Duration
	rate     float64 // ln 2 / halfLife, per nanosecond
	epoch    time.Time
	started  bool
	clock    int64 // the latest time, in nanoseconds since epoch
	m        map[K]decayEntry
	stamp    uint64 // tick number, to detect a key passed twice to one Tick
	ranked   []rankedKey
	pass1    []int
}

type decayEntry struct {
	stored float64
	at     int64 // nanoseconds since epoch
	stamp  uint64
}

type rankedKey struct {
	v float64
	i int
}

// maxExponent bounds −Δt/τ from below, as dispatch_policy does (exp(−700) ≈ 1e−304).
const maxExponent = 700

// NewDecayed returns a tracker whose counts halve every halfLife (dispatch_policy's
// fairness_half_life, 60 s by default). It returns an error if halfLife <= 0; the seed's
// "no fairness sort" setting is simply not using a Decayed. A time.Duration is an integer, so
// the seed's NaN or infinite half-life cannot reach this function as such: converting a NaN
// float64 of seconds to a Duration gives math.MinInt64 on amd64 and 0 on arm64, both
// rejected here.
func NewDecayed[K comparable](halfLife time.Duration) (*Decayed[K], error) {
	if halfLife <= 0 {
		return nil, fmt.Errorf("interleave: halfLife must be > 0, got %v", halfLife)
	}
	return &Decayed[K]{
		halfLife: halfLife,
		rate:     math.Ln2 / float64(halfLife),
		m:        make(map[K]decayEntry),
	}, nil
}

// HalfLife returns the half-life the tracker was created with.
func (d *Decayed[K]) HalfLife() time.Duration { return d.halfLife }

// Len returns the number of keys the tracker holds state for.
func (d *Decayed[K]) Len() int { return len(d.m) }

// at converts now to the tracker's clock without moving it: the latest of now and the clock.
func (d *Decayed[K]) at(now time.Time) int64 {
	if !d.started {
		return 0
	}
	return max(int64(now.Sub(d.epoch)), d.clock)
}

// advance moves the clock to now (never backwards) and returns it.
func (d *Decayed[K]) advance(now time.Time) int64 {
	if !d.started {
		d.epoch, d.started = now, true
	}
	d.clock = d.at(now)
	return d.clock
}

// value returns e's decayed count at t >= e.at. It does not clamp the exponent: the clamp
// belongs to the admit update only. A clamped value stored·e^−700 no longer decays with
// time, so a key's stale history would outrank the fresh admissions of others forever;
// math.Exp underflows gracefully to 0 instead.
func (d *Decayed[K]) value(e decayEntry, t int64) float64 {
	if e.stored == 0 {
		return 0
	}
	return e.stored * math.Exp(-float64(t-e.at)*d.rate)
}

// Value returns key's decayed admission count at now. It does not move the clock.
func (d *Decayed[K]) Value(now time.Time, key K) float64 {
	return d.value(d.m[key], d.at(now))
}

// Admit records n admissions of key at now. It returns an error if n < 0.
func (d *Decayed[K]) Admit(now time.Time, key K, n int) error {
	if n < 0 {
		return fmt.Errorf("interleave: admitted count must be >= 0, got %d for key %v", n, key)
	}
	d.admit(d.advance(now), key, n)
	return nil
}

func (d *Decayed[K]) admit(t int64, key K, n int) {
	if n == 0 {
		return
	}
	e := d.m[key]
	// The seed clamps the exponent here to prevent underflow. In float64 the clamped term,
	// at most stored·e^−700, is absorbed by n >= 1, so the clamp changes nothing and is kept
	// only to mirror the seed's formula.
	e.stored = e.stored*math.Exp(max(-float64(t-e.at)*d.rate, -maxExponent)) + float64(n)
	e.at = t
	d.m[key] = e
}

// Order appends keys to dst sorted by least decayed count at now, and returns the extended
// slice. Ties keep the order of keys, so the caller's order (dispatch_policy claims
// partitions least recently checked first) breaks them. It does not move the clock.
// Order costs O(n log n) for n keys.
func (d *Decayed[K]) Order(dst []K, now time.Time, keys []K) []K {
	t := d.at(now)
	d.ranked = d.ranked[:0]
	for i, k := range keys {
		d.ranked = append(d.ranked, rankedKey{d.value(d.m[k], t), i})
	}
	d.sortRanked()
	for _, r := range d.ranked {
		dst = append(dst, keys[r.i])
	}
	return dst
}

func (d *Decayed[K]) sortRanked() {
	slices.SortStableFunc(d.ranked, func(a, b rankedKey) int { return cmp.Compare(a.v, b.v) })
}

// Prune removes the keys whose decayed count at now is below threshold or 0 (keys never
// admitted count 0) and returns how many it removed. A removed key behaves as a key never
// seen, so pruning with a threshold near 0 (say 1e−3) loses almost nothing, and threshold 0
// removes only keys whose count is exactly 0. It does not move the clock and costs O(keys
// held). It returns an error, removing nothing, if threshold is NaN or negative.
func (d *Decayed[K]) Prune(now time.Time, threshold float64) (int, error) {
	if !(threshold >= 0) {
		return 0, fmt.Errorf("interleave: threshold must be >= 0, got %v", threshold)
	}
	t := d.at(now)
	n := 0
	for k, e := range d.m { // the set removed does not depend on iteration order
		if v := d.value(e, t); v < threshold || v == 0 {
			delete(d.m, k)
			n++
		}
	}
	return n, nil
}

// Budget is the budget of one [Decayed.Tick]. Exactly one of its fields is set.
type Budget struct {
	// TickCap is the most items the whole tick may admit (dispatch_policy's
	// tick_admission_budget). With N keys, each key's fair share is ⌈TickCap/N⌉ and a second
	// pass redistributes what the first left unused.
	TickCap int
	// PerKey is each key's budget when there is no tick cap (dispatch_policy's
	// admission_batch_size, 100 by default); there is then no second pass.
	PerKey int
}

// Validate reports why b cannot be used, or nil.
func (b Budget) Validate() error {
	switch {
	case b.TickCap < 0:
		return fmt.Errorf("interleave: TickCap must be >= 0, got %d", b.TickCap)
	case b.PerKey < 0:
		return fmt.Errorf("interleave: PerKey must be >= 0, got %d", b.PerKey)
	case b.TickCap > 0 && b.PerKey > 0:
		return fmt.Errorf("interleave: set one of TickCap and PerKey, got TickCap %d and PerKey %d", b.TickCap, b.PerKey)
	case b.TickCap == 0 && b.PerKey == 0:
		return fmt.Errorf("interleave: set one of TickCap and PerKey, got neither")
	}
	return nil
}

// FairShare returns each key's first-pass budget for n keys: ⌈TickCap/n⌉, or PerKey.
func (b Budget) FairShare(n int) int {
	if b.TickCap == 0 || n <= 0 {
		return b.PerKey
	}
	share := b.TickCap / n
	if b.TickCap%n != 0 {
		share++
	}
	return share
}

// Tick runs one admission tick at now over keys, the partitions that have pending work, in
// the caller's claim order. admit(key, budget) must admit up to budget of key's pending items
// (through whatever gates the caller runs) and return how many it admitted, 0 <= n <= budget;
// Tick records them and returns the total.
//
// With N keys and fair = b.FairShare(N):
//
//   - Keys are sorted by least decayed count at now; ties keep the caller's order.
//   - Pass 1, in that order: a key gets budget fair, or min(fair, TickCap − used) with a tick
//     cap; once the tick cap is used up the remaining keys are skipped.
//   - Pass 2, only with a tick cap, in the same order: each key that admitted at least fair in
//     pass 1 gets min(remaining, fair) more, until the cap is used up.
//
// Pass-1 admissions are recorded before pass 2 runs, so state a caller's gates keep (throttle
// tokens) is consumed before the second pass asks again.
//
// Tick returns an error, having changed nothing, if b is invalid or a key appears twice in
// keys; it returns an error and stops if admit returns a count outside [0, budget], having
// recorded the admissions before it. It costs O(N log N) plus the admit calls, and does not
// allocate once its buffers have grown to N.
func (d *Decayed[K]) Tick(now time.Time, keys []K, b Budget, admit func(key K, budget int) int) (int, error) {
	if err := b.Validate(); err != nil {
		return 0, err
	}
	if admit == nil {
		return 0, fmt.Errorf("interleave: admit must not be nil")
	}
	// The clock moves only once keys are known to be valid: a rejected tick changes nothing.
	t := d.at(now)
	d.stamp++
	d.ranked = d.ranked[:0]
	d.pass1 = d.pass1[:0] // the keys this tick adds to the map, to remove if it is rejected
	for i, k := range keys {
		e, ok := d.m[k]
		if ok && e.stamp == d.stamp {
			for _, j := range d.pass1 {
				delete(d.m, keys[j])
			}
			return 0, fmt.Errorf("interleave: key %v appears twice in keys", k)
		}
		if !ok {
			d.pass1 = append(d.pass1, i)
		}
		e.stamp = d.stamp
		d.m[k] = e
		d.ranked = append(d.ranked, rankedKey{d.value(e, t), i})
	}
	d.advance(now) // the same instant as t
	d.sortRanked()

	fair := b.FairShare(len(keys))
	used := 0
	d.pass1 = resize(d.pass1, len(keys))
	clear(d.pass1)
	call := func(k K, budget int) (int, error) {
		n := admit(k, budget)
		if n < 0 || n > budget {
			return 0, fmt.Errorf("interleave: admit returned %d for key %v with budget %d", n, k, budget)
		}
		d.admit(t, k, n)
		used += n
		return n, nil
	}
	for j, r := range d.ranked {
		budget := fair
		if b.TickCap > 0 {
			if used >= b.TickCap {
				break
			}
			budget = min(fair, b.TickCap-used)
		}
		n, err := call(keys[r.i], budget)
		if err != nil {
			return used, err
		}
		d.pass1[j] = n
	}
	if b.TickCap == 0 {
		return used, nil
	}
	for j, r := range d.ranked {
		if used >= b.TickCap {
			break
		}
		if d.pass1[j] < fair {
			continue
		}
		if _, err := call(keys[r.i], min(b.TickCap-used, fair)); err != nil {
			return used, err
		}
	}
	return used, nil
}
