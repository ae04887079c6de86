package interleave

import (
	"fmt"
	"math"
	"time"
)

// Batch selects up to size items from pending with dispatch_policy's two-phase round-robin
// fetch. pending must already be in priority order (oldest or most urgent first).
//
//   - Phase 1: keys in order of first appearance in pending each contribute their first
//     quantum items (or all of them, if fewer), key after key; the concatenation is cut at
//     size.
//   - Phase 2 (top-up): if phase 1 gave fewer than size items, the batch is filled up to size
//     with the oldest remaining items, in pending order.
//
// The result lists the phase-1 items key by key, then the top-up items. Its length is
// min(size, len(pending)). When keys·quantum <= size, every key gets min(quantum, its count)
// items in phase 1. [BatchWith] adds per-key caps that hold through the top-up, per-key quanta
// and dispatch_policy's time-weighted quanta.
//
// Batch returns an error if quantum < 1 or size < 0. The scan stops as soon as the batch is
// decided (see [BatchWith] for the cost).
func Batch[T any, K comparable](pending []T, key func(T) K, quantum, size int) ([]T, error) {
	switch {
	case quantum < 1:
		return nil, fmt.Errorf("interleave: quantum must be >= 1, got %d", quantum)
	case size < 0:
		return nil, fmt.Errorf("interleave: size must be >= 0, got %d", size)
	}
	var iv Interleaver[T, K]
	out, _, err := iv.AppendBatch(make([]T, 0, min(size, len(pending))), pending, key,
		BatchConfig[K]{Size: size, Quantum: quantum})
	return out, err
}

// BatchWith is [Batch] with the options of c: per-key quanta, time-weighted quanta and
// per-key caps. It also reports what the selection cost in a [BatchStats].
func BatchWith[T any, K comparable](pending []T, key func(T) K, c BatchConfig[K]) ([]T, BatchStats, error) {
	var iv Interleaver[T, K]
	return iv.AppendBatch(make([]T, 0, min(max(c.Size, 0), len(pending))), pending, key, c)
}

// BatchConfig configures [BatchWith] and [Interleaver.AppendBatch].
//
// Each key's phase-1 quantum comes from exactly one of Quantum, QuantumOf and Time. A key's
// phase-1 take is min(quantum, Cap, its count), and Cap also bounds what the top-up adds, so
// no key ever has more than Cap items in the batch.
type BatchConfig[K comparable] struct {
	// Size is the batch size (dispatch_policy's batch_size). It must be >= 0.
	Size int
	// Quantum is every key's phase-1 quantum (round_robin_quantum). It must be >= 1 unless
	// QuantumOf or Time is set, and 0 if either is.
	Quantum int
	// QuantumOf, if set, returns a key's phase-1 quantum, which must be >= 1. It is called
	// once per distinct key seen.
	QuantumOf func(K) int
	// Time, if set, derives each key's quantum from the time it has consumed
	// (dispatch_policy 0.2 weight: :time); see [TimeQuanta].
	Time *TimeWeight[K]
	// Cap, if set, returns the most items of a key the batch may hold, in phase 1 and top-up
	// together (for example a per-key concurrency limit minus the key's jobs in flight). It
	// must return >= 0; 0 excludes the key. It is called once per distinct key seen.
	Cap func(K) int
}

// TimeWeight configures time-weighted quanta: keys that consumed less time recently get a
// larger quantum.
type TimeWeight[K comparable] struct {
	// Consumed returns the time a key's jobs consumed in the caller's window (dispatch_policy
	// sums observed durations over the last window + 60 s). It must return >= 0 and is called
	// once per distinct key in pending.
	Consumed func(K) time.Duration
	// Floor is the least consumed time a key is credited with, so that idle keys do not get
	// an unbounded weight (dispatch_policy uses 100 ms). It must be > 0.
	Floor time.Duration
}

// BatchStats reports the work a batch selection did.
type BatchStats struct {
	// Scanned is the length of the prefix of pending that was scanned: the scan stops at the
	// first item where the batch is decided, so Scanned can be far below len(pending). Keys
	// are computed in blocks of 128 items, so the key function may also have been called
	// for up to 127 items after the prefix.
	Scanned int
	// Keys is the number of distinct keys among the scanned items.
	Keys int
	// Phase1 is the number of items the batch took in phase 1, and TopUp the number it took
	// in the top-up; their sum is the batch length.
	Phase1, TopUp int
}

// Validate reports why c cannot be used, or nil. Errors name the field and the value, for
// example "interleave: Quantum must be >= 1, got 0". The values QuantumOf, Cap and
// Time.Consumed return are checked as the scan examines each key; keys the scan never
// reaches (after an early stop, or with Size 0) are not asked.
func (c BatchConfig[K]) Validate() error {
	switch {
	case c.Size < 0:
		return fmt.Errorf("interleave: Size must be >= 0, got %d", c.Size)
	case c.QuantumOf != nil && c.Time != nil:
		return fmt.Errorf("interleave: QuantumOf and Time must not both be set")
	case (c.QuantumOf != nil || c.Time != nil) && c.Quantum != 0:
		return fmt.Errorf("interleave: Quantum must be 0 when QuantumOf or Time is set, got %d", c.Quantum)
	case c.QuantumOf == nil && c.Time == nil && c.Quantum < 1:
		return fmt.Errorf("interleave: Quantum must be >= 1, got %d", c.Quantum)
	case c.Time != nil && c.Time.Consumed == nil:
		return fmt.Errorf("interleave: Time.Consumed must not be nil")
	case c.Time != nil && c.Time.Floor <= 0:
		return fmt.Errorf("interleave: Time.Floor must be > 0, got %v", c.Time.Floor)
	}
	return nil
}

// AppendBatch appends the batch of [BatchWith] to dst and returns the extended slice and
// the cost of the selection. On error dst is returned unchanged. It does not allocate once
// dst and the Interleaver's buffers are large enough.
//
// Cost: one call of key, one map lookup and a few integer operations per scanned item, in
// one scan of a prefix of pending; never O(quantum·keys) or O(len(pending)·keys). Without
// Time the scan stops as soon as the leading keys, in first-appearance order, have each
// taken their whole quantum and together fill size; when they never do (phase 1 falls short
// and the top-up decides), and always with Time, whose quanta depend on every key, all of
// pending is scanned. Scratch space is O(keys + size·quantum) integers.
func (iv *Interleaver[T, K]) AppendBatch(dst, pending []T, key func(T) K, c BatchConfig[K]) ([]T, BatchStats, error) {
	st, err := iv.batch(pending, key, c)
	if err != nil {
		return dst, BatchStats{}, err
	}
	return appendPerm(dst, pending, iv.perm), st, nil
}

// AppendBatchIndex appends to dst the indices into pending of the batch of [BatchWith], in
// batch order, so that callers holding large job structs select without copying them.
// On error dst is returned unchanged.
func (iv *Interleaver[T, K]) AppendBatchIndex(dst []int, pending []T, key func(T) K, c BatchConfig[K]) ([]int, BatchStats, error) {
	st, err := iv.batch(pending, key, c)
	if err != nil {
		return dst, BatchStats{}, err
	}
	return append(dst, iv.perm...), st, nil
}

// batchState is the per-key and per-candidate scratch of a batch selection.
type batchState struct {
	limit []int // group id -> phase-1 limit, min(quantum, cap)
	capv  []int // group id -> cap
	rank  []int // group id -> items of the group scanned so far
	start []int // group id -> first slot of the group's phase-1 items in the batch
	cand  []candidate
	topup []int // indices of top-up candidates, in pending order
	cons  []time.Duration
	quant []int

	size    int
	posKeys int // keys with cap > 0 so far
	winEnd  int // groups [0, winEnd) may reach the batch in phase 1
	satPtr  int // groups [0, satPtr) have taken their whole phase-1 limit
	satSum  int // their limits' sum
}

// candidate is an item that phase 1 may take: group g's item at index i of pending.
type candidate struct{ g, i int }

// batch leaves the batch, as indices into pending, in iv.perm.
//
// Phase 1's result is the concatenation, over keys in first-appearance order, of each key's
// first min(limit, count) items, cut at size. A key can only reach the batch if fewer than
// size keys with a positive limit appear before it (each of those takes at least one item),
// so only such keys' candidates are kept: those keys form a prefix [0, winEnd) of the group
// ids. The top-up only happens when phase 1 falls short of size, and then takes items whose
// rank within their key r satisfies limit <= r < cap, in pending order; the first size such
// items suffice.
//
// The scan may stop early: once groups [0, satPtr) have each taken their whole limit and
// those limits sum to at least size, phase 1 fills the batch with them whatever comes later,
// and no top-up is needed.
func (iv *Interleaver[T, K]) batch(pending []T, key func(T) K, c BatchConfig[K]) (BatchStats, error) {
	if err := c.Validate(); err != nil {
		return BatchStats{}, err
	}
	if key == nil && len(pending) > 0 {
		return BatchStats{}, fmt.Errorf("interleave: key must not be nil")
	}
	iv.resetKeys(false)
	b := &iv.b
	b.limit, b.capv, b.rank = b.limit[:0], b.capv[:0], b.rank[:0]
	b.cand, b.topup = b.cand[:0], b.topup[:0]
	b.size, b.posKeys, b.winEnd, b.satPtr, b.satSum = c.Size, 0, 0, 0, 0
	iv.perm = iv.perm[:0]
	if c.Size == 0 {
		return BatchStats{}, nil
	}

	scanned := 0
	if c.Time == nil {
		// Keys are computed a block at a time, then the block is visited: separating the
		// independent map lookups from the dependent bookkeeping lets the CPU overlap the
		// lookups (10-20% less per item here). A key's QuantumOf and Cap are
		// asked at its first visited item, so keys past the stopping point are never asked.
		gids := resize(iv.gid, min(len(pending), scanBlock))
	scan:
		for lo := 0; lo < len(pending); lo += scanBlock {
			hi := min(lo+scanBlock, len(pending))
			for i := lo; i < hi; i++ {
				gids[i-lo] = iv.keyID(key(pending[i]))
			}
			for i := lo; i < hi; i++ {
				g := gids[i-lo]
				if g == len(b.limit) { // the key's first item
					if err := iv.configureKey(iv.keys[g], c); err != nil {
						return BatchStats{}, err
					}
				}
				scanned = i + 1
				if iv.visit(i, g) {
					break scan
				}
			}
		}
		iv.gid = gids
	} else {
		// Time-weighted quanta depend on every key in pending: group everything first.
		iv.gid = resize(iv.gid, len(pending))
		for i, it := range pending {
			g := iv.keyID(key(it))
			if g == len(b.limit) {
				if err := iv.configureKey(iv.keys[g], c); err != nil {
					return BatchStats{}, err
				}
			}
			iv.gid[i] = g
		}
		scanned = len(pending)
		if err := iv.timeLimits(c); err != nil {
			return BatchStats{}, err
		}
		// Leading keys with cap 0 are saturated before any item is visited.
		if !iv.saturated() {
			for i, g := range iv.gid {
				if iv.visit(i, g) {
					break
				}
			}
		}
	}
	phase1, topup := iv.assemble()
	return BatchStats{Scanned: scanned, Keys: len(b.limit), Phase1: phase1, TopUp: topup}, nil
}

// scanBlock is the number of items whose keys Batch computes before visiting them.
const scanBlock = 128

// keyID returns k's group id, registering k if it is new.
func (iv *Interleaver[T, K]) keyID(k K) int {
	g, ok := iv.ids[k]
	if !ok {
		g = len(iv.keys)
		iv.ids[k] = g
		iv.keys = append(iv.keys, k)
	}
	return g
}

// configureKey sets up the next group, of key k, at its first visited item.
func (iv *Interleaver[T, K]) configureKey(k K, c BatchConfig[K]) error {
	b := &iv.b
	q := c.Quantum
	if c.QuantumOf != nil {
		if q = c.QuantumOf(k); q < 1 {
			return fmt.Errorf("interleave: QuantumOf must return >= 1, got %d for key %v", q, k)
		}
	}
	capk := math.MaxInt
	if c.Cap != nil {
		if capk = c.Cap(k); capk < 0 {
			return fmt.Errorf("interleave: Cap must return >= 0, got %d for key %v", capk, k)
		}
	}
	g := len(b.limit)
	// With Time the quantum is not known yet; every quantum is >= 1, so a key's limit is
	// positive exactly when its cap is, which is all the window needs.
	b.limit = append(b.limit, min(q, capk))
	b.capv = append(b.capv, capk)
	b.rank = append(b.rank, 0)
	if b.posKeys < b.size {
		b.winEnd = g + 1
	}
	if capk > 0 {
		b.posKeys++
	}
	return nil
}

// visit processes pending[i], of group g, and reports whether the batch is decided.
func (iv *Interleaver[T, K]) visit(i, g int) bool {
	b := &iv.b
	r := b.rank[g]
	b.rank[g] = r + 1
	if r < b.limit[g] {
		if g < b.winEnd {
			b.cand = append(b.cand, candidate{g, i})
		}
	} else if r < b.capv[g] && len(b.topup) < b.size {
		b.topup = append(b.topup, i)
	}
	// The saturated prefix can only advance when its first key takes its last phase-1 item,
	// or is a key with limit 0 seen for the first time.
	return g == b.satPtr && r+1 >= b.limit[g] && iv.saturated()
}

// saturated advances the saturated prefix of groups and reports whether it fills the batch.
func (iv *Interleaver[T, K]) saturated() bool {
	b := &iv.b
	for b.satPtr < len(b.limit) && b.rank[b.satPtr] >= b.limit[b.satPtr] {
		b.satSum += b.limit[b.satPtr]
		b.satPtr++
	}
	return b.satSum >= b.size
}

// timeLimits replaces each key's limit with min(time-weighted quantum, cap).
func (iv *Interleaver[T, K]) timeLimits(c BatchConfig[K]) error {
	b := &iv.b
	b.cons = b.cons[:0]
	for _, k := range iv.keys {
		d := c.Time.Consumed(k)
		if d < 0 {
			return fmt.Errorf("interleave: Time.Consumed must return >= 0, got %v for key %v", d, k)
		}
		b.cons = append(b.cons, d)
	}
	var err error
	b.quant, err = TimeQuanta(b.quant[:0], b.cons, c.Time.Floor, c.Size)
	if err != nil {
		return err
	}
	for g, q := range b.quant {
		b.limit[g] = min(q, b.capv[g])
	}
	return nil
}

// assemble writes the batch into iv.perm from the scan's candidates and returns the sizes of
// its two phases.
func (iv *Interleaver[T, K]) assemble() (phase1, topup int) {
	b := &iv.b
	// Each key's phase-1 take is min(limit, items scanned). The keys whose takes start
	// before size reach the batch; the last of them may be cut.
	b.start = resize(b.start, len(b.limit))
	end := 0
	for g := 0; g < len(b.limit) && phase1 < b.size; g++ {
		b.start[g] = phase1
		phase1 += min(b.limit[g], b.rank[g])
		end = g + 1
	}
	phase1 = min(phase1, b.size)
	iv.perm = resize(iv.perm, phase1)
	// Candidates are in pending order, so each key's come in FIFO order; start[g] serves as
	// the key's cursor.
	for _, cd := range b.cand {
		if cd.g >= end {
			continue
		}
		if s := b.start[cd.g]; s < phase1 {
			iv.perm[s] = cd.i
			b.start[cd.g] = s + 1
		}
	}
	if phase1 < b.size {
		topup = min(b.size-phase1, len(b.topup))
		iv.perm = append(iv.perm, b.topup[:topup]...)
	}
	return phase1, topup
}

// TimeQuanta appends to dst the time-weighted quantum of each key given the time it
// consumed, as dispatch_policy 0.2 computes it for round_robin_by weight: :time:
//
//	w_k = 1 / max(consumed_k, floor)
//	quantum_k = max(⌊size·w_k / Σ w⌋, 1)
//
// so a key that used half the time of another gets twice its quantum, and every key gets at
// least one. The weights are normalised by the largest before summing, in the order given,
// so the result is deterministic bit for bit and keys with equal consumption get exactly
// equal quanta (size/N when N divides size). The arithmetic is float64, as in the seed: when
// size·w_k/Σw is an exact integer for unequal weights, rounding may give one less, and sizes
// above 2^53, which float64 does not hold exactly, are rounded. No quantum exceeds size.
//
// TimeQuanta returns an error, and dst unchanged, if floor <= 0, size < 0 or a consumed time
// is negative.
func TimeQuanta(dst []int, consumed []time.Duration, floor time.Duration, size int) ([]int, error) {
	switch {
	case floor <= 0:
		return dst, fmt.Errorf("interleave: floor must be > 0, got %v", floor)
	case size < 0:
		return dst, fmt.Errorf("interleave: size must be >= 0, got %d", size)
	}
	least := time.Duration(math.MaxInt64)
	for i, d := range consumed {
		if d < 0 {
			return dst, fmt.Errorf("interleave: consumed must be >= 0, got %v at index %d", d, i)
		}
		least = min(least, max(d, floor))
	}
	// w_k/Σw is unchanged by scaling every weight by least, which makes the largest weight
	// exactly 1 and equal weights exactly equal.
	sum := 0.0
	for _, d := range consumed {
		sum += float64(least) / float64(max(d, floor))
	}
	for _, d := range consumed {
		w := float64(least) / float64(max(d, floor))
		q := math.Floor(float64(size) * w / sum)
		// w/sum <= 1, so the quantum is at most size; near MaxInt, float64(size) rounds up
		// to 2^63, which int() would turn into a negative number.
		quantum := size
		if q < float64(size) {
			quantum = int(q)
		}
		dst = append(dst, max(quantum, 1))
	}
	return dst, nil
}
