package tokenbucket

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTooManyPartitions is returned, wrapped, when a new partition would exceed
// [KeyedConfig.MaxPartitions].
var ErrTooManyPartitions = errors.New("tokenbucket: too many partitions")

// KeyedConfig configures a [Keyed] limiter. The zero value is the default.
type KeyedConfig struct {
	// Shards is the number of independently locked shards: a power of two, at most 65536.
	// Zero means 64.
	Shards int
	// MaxPartitions bounds the number of partitions stored. Zero means no bound. A call that
	// would store a new partition beyond the bound is refused: it reports false with an
	// error wrapping ErrTooManyPartitions, and nothing changes. Prune makes room.
	MaxPartitions int
}

// Keyed is a set of token buckets, one per partition key, each with the limit that the
// limit function returns for its key. Partitions are created on first use, full, and are
// stored only once they have been charged: a key that is never charged costs nothing.
//
// A Keyed has one clock, like a [Bucket]: a time earlier than the latest grant to any
// partition (or the latest Prune that removed one) is treated as that time. With non-decreasing times, as a
// dispatcher's clock gives, partitions are fully independent.
//
// The limit function is called on every call, outside any lock, and is the source of truth:
// when it returns a different Limit for a stored partition, the partition switches to it as
// [Bucket.SetLimit] would, at that call's time. It must not call back into the Keyed.
//
// A Keyed is safe for concurrent use by multiple goroutines. It is sharded by key hash;
// each shard has a mutex and groups its partitions by limit, storing each partition's key,
// hash and int64 state by value in an open-addressing table (about 50 bytes per string key
// with one limit, measured in BENCHMARKS.md). A partition's first call costs one lookup per
// other limit in use in its shard, to find it if its limit changed.
type Keyed[K comparable] struct {
	limit    func(K) Limit
	seed     maphash.Seed
	shards   []keyedShard[K]
	mask     uint64
	maxParts int64

	parts  atomic.Int64
	epoch  atomic.Pointer[origin] // set on first use; moved under every shard lock
	clock  atomic.Int64           // effective offset of the latest grant, or absent
	cursor atomic.Uint64          // the next shard Prune examines
}

type keyedShard[K comparable] struct {
	mu     sync.Mutex
	groups []*group[K]
	byLim  map[Limit]*group[K]
	hint   *group[K] // the group used last: most keys share one limit
	_      [64]byte  // shards are locked from different goroutines: no false sharing
}

// group holds the partitions of one shard whose limit function returned lim.
type group[K comparable] struct {
	lim  Limit
	p    params
	tats table[K]
}

// NewKeyed returns a Keyed limiter with the default configuration whose partitions take
// their limits from limit.
func NewKeyed[K comparable](limit func(K) Limit) *Keyed[K] {
	k, _ := NewKeyedConfig(limit, KeyedConfig{})
	return k
}

// NewKeyedConfig is NewKeyed with a configuration. It returns an error naming the field and
// the value if c is invalid. A nil limit is not an error here; every call then returns one.
func NewKeyedConfig[K comparable](limit func(K) Limit, c KeyedConfig) (*Keyed[K], error) {
	shards := c.Shards
	switch {
	case shards == 0:
		shards = 64
	case shards < 0 || shards > 1<<16 || shards&(shards-1) != 0:
		return nil, fmt.Errorf("tokenbucket: Shards must be a power of two in [1, 65536], got %d", c.Shards)
	}
	if c.MaxPartitions < 0 {
		return nil, fmt.Errorf("tokenbucket: MaxPartitions must be >= 0, got %d", c.MaxPartitions)
	}
	k := &Keyed[K]{
		limit:    limit,
		seed:     maphash.MakeSeed(),
		shards:   make([]keyedShard[K], shards),
		mask:     uint64(shards - 1),
		maxParts: int64(c.MaxPartitions),
	}
	k.clock.Store(absent)
	return k, nil
}

// Len returns the number of stored partitions.
func (k *Keyed[K]) Len() int { return int(k.parts.Load()) }

var errNoLimit = errors.New("tokenbucket: Keyed has no limit function")

// Allow is shorthand for AllowN(now, key, 1).
func (k *Keyed[K]) Allow(now time.Time, key K) (bool, error) { return k.AllowN(now, key, 1) }

// AllowN reports whether n tokens are available to key's partition at now, and takes them
// if so, as [Bucket.AllowN] does. The error is non-nil only when key's limit is invalid or a
// new partition would exceed MaxPartitions; the decision is then false.
func (k *Keyed[K]) AllowN(now time.Time, key K, n int) (bool, error) {
	if n <= 0 {
		return n == 0, nil
	}
	lim, h, err := k.lookup(key)
	if err != nil {
		return false, err
	}
	// The common case, written out: a stored partition, under the limit its shard used last,
	// charged within the epoch's range. It decides exactly as the general path below, with
	// less work, which matters more than it seems: at a million partitions, each nanosecond
	// of work per call measured as several, as fewer cache misses overlap between calls.
	s := &k.shards[h&k.mask]
	s.mu.Lock()
	if ep, g := k.epoch.Load(), s.hint; ep != nil && g != nil && g.lim == lim {
		if i := g.tats.find(key, marked(h)); i >= 0 {
			p := &g.p
			if t := max(ep.since(now), k.clock.Load()); t >= 0 && t <= p.horizon {
				slot := &g.tats.slots[i]
				need := int64(n) * p.b
				d := deficit(slot.tat, t, p)
				if int64(n) > p.burst || d > p.cap-need {
					s.mu.Unlock()
					return false, nil
				}
				slot.tat = charge(d, t, need, p)
				k.advance(t)
				s.mu.Unlock()
				return true, nil
			}
		}
	}
	s.mu.Unlock()
	for {
		var l loc[K]
		if err := k.locate(&l, now, key, lim, h); err != nil {
			return false, err
		}
		p := &l.g.p
		if int64(n) > p.burst {
			l.s.mu.Unlock()
			return false, nil
		}
		need := int64(n) * p.b
		d := deficit(l.tat, l.t, p)
		if d > p.cap-need {
			l.s.mu.Unlock()
			return false, nil
		}
		if err := k.reserve(&l); err != nil {
			return false, err
		}
		if !k.charge(&l, key, d, need) {
			continue // the epoch moved (and the reservation was released); decide again
		}
		l.s.mu.Unlock()
		return true, nil
	}
}

// TakeUpTo is [Bucket.TakeUpTo] for key's partition; the error is as for AllowN.
func (k *Keyed[K]) TakeUpTo(now time.Time, key K, max int) (granted int, retryAfter time.Duration, err error) {
	if max <= 0 {
		return 0, 0, nil
	}
	lim, h, err := k.lookup(key)
	if err != nil {
		return 0, 0, err
	}
	for {
		var l loc[K]
		if err := k.locate(&l, now, key, lim, h); err != nil {
			return 0, 0, err
		}
		p := &l.g.p
		d := deficit(l.tat, l.t, p)
		n := min(available(d, p), int64(max))
		if n > 0 {
			if err := k.reserve(&l); err != nil {
				return 0, 0, err
			}
			if !k.charge(&l, key, d, n*p.b) {
				continue
			}
			l.s.mu.Unlock()
			return int(n), wait(d+n*p.b, l.t, l.off, p.b, p), nil
		}
		l.s.mu.Unlock()
		return 0, wait(d, l.t, l.off, p.b, p), nil
	}
}

// Tokens returns the tokens key's partition holds at now. It changes nothing, unless key's
// limit changed (see [Keyed]).
func (k *Keyed[K]) Tokens(now time.Time, key K) (float64, error) {
	lim, h, err := k.lookup(key)
	if err != nil {
		return 0, err
	}
	var l loc[K]
	if err := k.locate(&l, now, key, lim, h); err != nil {
		return 0, err
	}
	defer l.s.mu.Unlock()
	return tokensOf(deficit(l.tat, l.t, &l.g.p), &l.g.p), nil
}

// Delay is [Bucket.Delay] for key's partition. It changes nothing, unless key's limit
// changed (see [Keyed]).
func (k *Keyed[K]) Delay(now time.Time, key K, n int) (time.Duration, bool, error) {
	if n <= 0 {
		return 0, true, nil
	}
	lim, h, err := k.lookup(key)
	if err != nil {
		return 0, false, err
	}
	var l loc[K]
	if err := k.locate(&l, now, key, lim, h); err != nil {
		return 0, false, err
	}
	defer l.s.mu.Unlock()
	p := &l.g.p
	if int64(n) > p.burst {
		return 0, false, nil
	}
	return wait(deficit(l.tat, l.t, p), l.t, l.off, int64(n)*p.b, p), true, nil
}

// Prune removes partitions whose buckets are full at now, and returns how many it removed.
// A full bucket is indistinguishable from one never used, so this is lossless: with
// non-decreasing times, decisions are identical with or without Prune at any points.
// A Prune that removes a partition counts as a use of the clock at now (later calls with
// earlier times read as now), so that a removed partition, full at now, cannot be seen as
// fresh at an earlier time; a Prune that removes nothing changes nothing.
//
// Prune is incremental and resumes where the last call stopped: it examines whole shards,
// in turn, until it has examined at least maxScan partitions or every shard once; maxScan
// <= 0 examines nothing. Which keys share a shard depends on a per-process hash seed, so a
// partial Prune's count may differ between runs; decisions never do. A table that a Prune
// leaves under a quarter of its growth bound is rebuilt smaller, so memory follows the
// live partitions. Cost: O(partitions examined), plus the size of the tables examined.
func (k *Keyed[K]) Prune(now time.Time, maxScan int) int {
	removed, examined := 0, 0
	for range k.shards {
		if examined >= maxScan {
			break
		}
		s := &k.shards[(k.cursor.Add(1)-1)&k.mask]
		s.mu.Lock()
		ep := k.epoch.Load()
		if ep == nil {
			s.mu.Unlock()
			return 0
		}
		t := max(ep.since(now), k.clock.Load())
		live, before := s.groups[:0], removed
		for _, g := range s.groups {
			examined += g.tats.Len()
			n := g.tats.Len()
			g.tats.sweep(func(_ K, tat int64) (int64, bool) {
				return tat, deficit(tat, t, &g.p) > 0
			})
			removed += n - g.tats.Len()
			if g.tats.Len() == 0 && len(s.groups) > keepGroups {
				s.forget(g)
				continue
			}
			live = append(live, g)
		}
		clear(s.groups[len(live):])
		s.groups = live
		if removed > before {
			k.advance(t) // before unlocking: no call can see a removed partition before t
		}
		s.mu.Unlock()
	}
	k.parts.Add(int64(-removed))
	return removed
}

// loc is a located partition: its shard (locked), group and tat, the epoch in force, and
// now's offset and effective offset.
type loc[K comparable] struct {
	now    time.Time
	s      *keyedShard[K]
	g      *group[K]
	ep     *origin
	tat    int64
	off, t int64
	fresh  bool   // key has no stored partition
	h      uint64 // key's marked hash
	idx    int    // key's slot in g.tats, or −1
}

// lookup returns key's limit and hash, which every call computes once.
func (k *Keyed[K]) lookup(key K) (Limit, uint64, error) {
	if k.limit == nil {
		return Limit{}, 0, errNoLimit
	}
	return k.limit(key), maphash.Comparable(k.seed, key), nil
}

// locate finds key's partition, whose limit is lim and hash h, and fills in l, with its
// shard locked. If key's limit changed, it first moves the partition to the new limit. (l
// is filled in place: returned by value, the struct was copied on every call.)
func (k *Keyed[K]) locate(l *loc[K], now time.Time, key K, lim Limit, h uint64) error {
	s := &k.shards[h&k.mask]
	for {
		s.mu.Lock()
		ep := k.epoch.Load()
		if ep == nil {
			start := originAt(now)
			if !k.epoch.CompareAndSwap(nil, &start) {
				s.mu.Unlock()
				continue
			}
			ep = &start
		}
		l.now, l.s, l.ep, l.off = now, s, ep, ep.since(now)
		l.t = max(l.off, k.clock.Load())
		var err error
		if l.g, err = s.group(lim); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("%w (limit of partition %v)", err, key)
		}
		l.h = marked(h)
		if l.idx = l.g.tats.find(key, l.h); l.idx >= 0 {
			l.tat, l.fresh = l.g.tats.slots[l.idx].tat, false
			return nil
		}
		l.tat, l.fresh = absent, true
		if len(s.groups) > 1 && !k.migrate(l, key) {
			continue // the epoch moved; look again
		}
		return nil
	}
}

// charge stores key's partition as short by d+need credits at l.t and advances the clock.
// If l.t is beyond the epoch's range it instead releases the reservation of a new
// partition, unlocks, moves the epoch, and reports false: the caller decides again.
func (k *Keyed[K]) charge(l *loc[K], key K, d, need int64) bool {
	if !fits(l.t, &l.g.p) {
		if l.fresh {
			k.parts.Add(-1)
		}
		l.s.mu.Unlock()
		k.moveEpoch(l.now, l.ep)
		return false
	}
	if tat := charge(d, l.t, need, &l.g.p); l.idx >= 0 {
		l.g.tats.slots[l.idx].tat = tat
	} else {
		l.idx = l.g.tats.insert(key, l.h, tat)
	}
	k.advance(l.t)
	return true
}

// reserve counts the partition that a charge is about to create, if l is a new one. If that
// would exceed MaxPartitions it unlocks the shard and returns the error: nothing changes,
// the clock included.
func (k *Keyed[K]) reserve(l *loc[K]) error {
	if !l.fresh {
		return nil
	}
	for {
		n := k.parts.Load()
		if k.maxParts > 0 && n >= k.maxParts {
			l.s.mu.Unlock()
			return fmt.Errorf("%w: MaxPartitions is %d", ErrTooManyPartitions, k.maxParts)
		}
		if k.parts.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

// group returns the shard's group for limit l, creating it if l is valid. It requires s.mu.
func (s *keyedShard[K]) group(l Limit) (*group[K], error) {
	if g := s.hint; g != nil && g.lim == l {
		return g, nil // the common case: one map lookup fewer
	}
	g := s.byLim[l]
	if g == nil {
		p, err := l.exact()
		if err != nil {
			return nil, err
		}
		if s.byLim == nil {
			s.byLim = make(map[Limit]*group[K])
		}
		// Limits that are equal once exact (0.5 per 1s and 1 per 2s) share a group, so
		// switching between them is no change at all.
		for _, o := range s.groups {
			if o.p.a == p.a && o.p.b == p.b && o.p.burst == p.burst {
				g = o
				break
			}
		}
		if g == nil {
			g = &group[K]{lim: l, p: p}
			s.groups = append(s.groups, g)
		}
		s.byLim[l] = g
	}
	s.hint = g
	return g, nil
}

// forget drops an empty group, and every limit that names it, from the shard's index.
// It requires s.mu.
func (s *keyedShard[K]) forget(g *group[K]) {
	for l, o := range s.byLim {
		if o == g {
			delete(s.byLim, l)
		}
	}
	if s.hint == g {
		s.hint = nil
	}
}

// migrate looks for key under the shard's other limits; if found, it moves the partition to
// l.g, converting its balance at l.t as Bucket.SetLimit does, and updates l. It reports
// false, with the shard unlocked and the epoch moved, if the conversion did not fit; the
// caller then looks again.
func (k *Keyed[K]) migrate(l *loc[K], key K) bool {
	s, g := l.s, l.g
	for i, o := range s.groups {
		if o == g {
			continue
		}
		oi := o.tats.find(key, l.h)
		if oi < 0 {
			continue
		}
		ot := o.tats.slots[oi].tat
		d := deficit(ot, l.t, &o.p)
		if d > 0 && !fits(l.t, &g.p) {
			s.mu.Unlock()
			k.moveEpoch(l.now, l.ep)
			return false
		}
		o.tats.deleteAt(oi)
		if o.tats.Len() == 0 {
			s.forget(o)
			s.groups = append(s.groups[:i], s.groups[i+1:]...)
		}
		if d == 0 {
			// A full bucket is the same under any limit: no state to carry over.
			k.parts.Add(-1)
			return true
		}
		// Converting a partial balance is a state change at l.t.
		l.tat, l.fresh = charge(convert(d, &o.p, &g.p), l.t, 0, &g.p), false
		l.idx = g.tats.insert(key, l.h, l.tat)
		k.advance(l.t)
		return true
	}
	return true
}

// advance moves the clock forward to t.
func (k *Keyed[K]) advance(t int64) {
	for {
		c := k.clock.Load()
		if t <= c || k.clock.CompareAndSwap(c, t) {
			return
		}
	}
}

// moveEpoch moves the epoch forward to the effective offset of the charge that needs it,
// unless another call already moved it from seen. Only charges move the epoch, and a charge
// at t moves the clock to t, so partitions full at t carry no information and are dropped;
// the clock moves to t here already, so that a charge decided again after the move cannot
// see a bucket as full before t. It locks every shard and rewrites every partition:
// O(partitions), once in about 2^62/a nanoseconds for the largest rate numerator a in use.
func (k *Keyed[K]) moveEpoch(now time.Time, seen *origin) {
	for i := range k.shards {
		k.shards[i].mu.Lock()
	}
	defer func() {
		for i := range k.shards {
			k.shards[i].mu.Unlock()
		}
	}()
	ep := k.epoch.Load()
	if ep != seen {
		return
	}
	t := max(ep.since(now), k.clock.Load())
	removed := 0
	for i := range k.shards {
		s := &k.shards[i]
		live := s.groups[:0]
		for _, g := range s.groups {
			before := g.tats.Len()
			g.tats.sweep(func(_ K, tat int64) (int64, bool) {
				nt := rebased(tat, t, &g.p)
				return nt, nt != absent
			})
			removed += before - g.tats.Len()
			if g.tats.Len() == 0 && len(s.groups) > keepGroups {
				s.forget(g)
				continue
			}
			live = append(live, g)
		}
		clear(s.groups[len(live):])
		s.groups = live
	}
	k.parts.Add(int64(-removed))
	moved := movedEpoch(*ep, now, t)
	k.epoch.Store(&moved)
	k.clock.Store(0) // t, in the new frame
}

// keepGroups is how many groups a shard keeps even when they are empty: a limit in use comes
// back, and recreating its group would convert the limit again.
const keepGroups = 8
