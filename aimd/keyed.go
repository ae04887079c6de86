package aimd

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrDoubleRelease is returned when a token is released or cancelled a second time.
	// Nothing changes: in-flight counts are never decremented twice.
	ErrDoubleRelease = errors.New("aimd: token already released")
	// ErrForeignToken is returned for the zero Token, or a token another Keyed issued.
	ErrForeignToken = errors.New("aimd: token not issued by this Keyed")
)

// KeyedConfig configures a [Keyed] limiter. The zero value is the default.
type KeyedConfig struct {
	// Shards is the number of independently locked shards: a power of two, at most 65536.
	// Zero means 64.
	Shards int
}

func (c KeyedConfig) shards() (int, error) {
	switch n := c.Shards; {
	case n == 0:
		return 64, nil
	case n < 0 || n > 1<<16 || n&(n-1) != 0:
		return 0, fmt.Errorf("aimd: KeyedConfig.Shards must be a power of two in [1, 65536], got %d", n)
	default:
		return n, nil
	}
}

// Keyed is a set of concurrency limiters, one per partition key, with in-flight accounting:
// the concurrency gate of a dispatcher. [Keyed.Acquire] takes a slot if the partition's
// algorithm has one free and returns a [Token]; [Keyed.Release] returns the slot and feeds
// the job's completion sample to the algorithm; [Keyed.Cancel] returns it without a
// sample. A partition is created on its first Acquire, from the factory.
//
// In-flight accounting is exact: a partition's in-flight count is the number of its tokens
// acquired and not yet released or cancelled; it is never negative, and a token released
// twice is refused with [ErrDoubleRelease] rather than decremented twice.
//
// A Keyed is safe for concurrent use by multiple goroutines. It is sharded by key hash
// with a mutex per shard; a partition's state, its algorithm's updates included, is
// guarded by its shard's mutex, so an Acquire that follows a Release sees the limit that
// Release produced. Release and Cancel find the partition through the token, without
// hashing the key. The factory is called outside any lock; algorithms from NewKeyedFunc
// are called with the shard locked and must not call back into the Keyed.
type Keyed[K comparable] struct {
	owner  *owner
	config func(K) Config
	newAlg func(K) (Algorithm, error)
	seed   maphash.Seed
	shards []shard[K]
	mask   uint64
	parts  atomic.Int64
	cursor atomic.Uint64
}

// owner identifies a Keyed to its tokens (it has a size, so distinct owners have distinct
// addresses).
type owner struct{ _ byte }

type shard[K comparable] struct {
	mu    sync.Mutex
	parts map[K]*part
	peak  int      // the most entries since parts was last rebuilt: Go maps never shrink
	_     [40]byte // shards are locked from different goroutines: no false sharing
}

// part is one partition. Every field after mu and owner is guarded by *mu, the shard's
// mutex. A partition runs either an inline AIMD (alg == nil: Keyed from NewKeyed, no
// second lock and no interface call) or an Algorithm from NewKeyedFunc.
type part struct {
	mu    *sync.Mutex
	owner *owner

	p   params // inline AIMD: configuration
	st  state  // inline AIMD: state
	alg Algorithm
	av  Availabler // alg's, if it has one
	fr  Fresher    // alg's, if it has one

	inFlight int
	seq      uint64 // tokens issued so far: each token's identity
	slots    []slot // the tokens in flight, at most one slot per token
	free     int32  // 1 + index of the first free slot; 0 if none
	last     time.Time
}

// slot is one token in flight.
type slot struct {
	seq      uint64 // the token's sequence number; 0 when the slot is free
	next     int32  // free list: 1 + index of the next free slot, 0 at the end
	inFlight int32  // the partition's in-flight count just after this token was acquired
	at       time.Time
}

// maxSlots bounds a partition's in-flight count so that slot indices fit an int32.
const maxSlots = math.MaxInt32

// Token is a slot acquired from a [Keyed]. It is a small value (no heap allocation), to be
// passed back to exactly one Release or Cancel. The zero Token is not a valid token.
type Token struct {
	p    *part
	seq  uint64
	slot int32
}

// Valid reports whether t was issued by an Acquire: it is not the zero Token.
func (t Token) Valid() bool { return t.p != nil }

// NewKeyed returns a Keyed whose partitions each run an [AIMD] limiter configured by
// config(key), called once when the partition is created. Its AIMD state is kept inline
// in the partition. It returns an error if config is nil or c is invalid; an invalid
// Config for a key is reported when that partition is first used (see AcquireUpTo).
func NewKeyed[K comparable](config func(K) Config, c KeyedConfig) (*Keyed[K], error) {
	if config == nil {
		return nil, fmt.Errorf("aimd: NewKeyed needs a config function, got nil")
	}
	return newKeyed[K](config, nil, c)
}

// NewKeyedFunc returns a Keyed whose partitions each run the Algorithm newAlg(key)
// returns, called once when the partition is created. newAlg must return a new Algorithm
// on every call: partitions sharing one would share its limit. It returns an error if
// newAlg is nil or c is invalid.
func NewKeyedFunc[K comparable](newAlg func(K) (Algorithm, error), c KeyedConfig) (*Keyed[K], error) {
	if newAlg == nil {
		return nil, fmt.Errorf("aimd: NewKeyedFunc needs an algorithm factory, got nil")
	}
	return newKeyed(nil, newAlg, c)
}

func newKeyed[K comparable](config func(K) Config, newAlg func(K) (Algorithm, error), c KeyedConfig) (*Keyed[K], error) {
	n, err := c.shards()
	if err != nil {
		return nil, err
	}
	k := &Keyed[K]{
		owner:  new(owner),
		config: config,
		newAlg: newAlg,
		seed:   maphash.MakeSeed(),
		shards: make([]shard[K], n),
		mask:   uint64(n - 1),
	}
	for i := range k.shards {
		k.shards[i].parts = make(map[K]*part)
	}
	return k, nil
}

// Len returns the number of stored partitions.
func (k *Keyed[K]) Len() int { return int(k.parts.Load()) }

func (k *Keyed[K]) shardOf(key K) *shard[K] {
	if k.mask == 0 {
		return &k.shards[0]
	}
	return &k.shards[maphash.Comparable(k.seed, key)&k.mask]
}

// initPart sets up p as a fresh partition for key in shard s.
func (k *Keyed[K]) initPart(p *part, s *shard[K], key K) error {
	*p = part{mu: &s.mu, owner: k.owner}
	if k.config != nil {
		pp, err := newParams(k.config(key))
		if err != nil {
			return fmt.Errorf("%w (partition %v)", err, key)
		}
		p.p, p.st = pp, pp.fresh()
		return nil
	}
	a, err := k.newAlg(key)
	if err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("aimd: the algorithm factory returned nil for partition %v", key)
	}
	p.alg = a
	p.av, _ = a.(Availabler)
	p.fr, _ = a.(Fresher)
	return nil
}

// locate returns key's shard, locked, and its partition: the stored one, or a new one not
// yet stored (stored false). The factory runs outside the lock.
func (k *Keyed[K]) locate(key K) (s *shard[K], p *part, stored bool, err error) {
	s = k.shardOf(key)
	s.mu.Lock()
	if p = s.parts[key]; p != nil {
		return s, p, true, nil
	}
	s.mu.Unlock()
	p = new(part)
	if err = k.initPart(p, s, key); err != nil {
		return nil, nil, false, err
	}
	s.mu.Lock()
	if q := s.parts[key]; q != nil { // another goroutine created it meanwhile
		return s, q, true, nil
	}
	return s, p, false, nil
}

// store adds p under key; it requires s.mu.
func (k *Keyed[K]) store(s *shard[K], key K, p *part) {
	s.parts[key] = p
	s.peak = max(s.peak, len(s.parts))
	k.parts.Add(1)
}

// Acquire takes one slot in key's partition if one is free, as Available counts them, and
// returns its token. It reports false if no slot is free, or if the partition cannot be
// created because its factory failed (AcquireUpTo reports that error). A partition is
// stored only once it has issued a token. Cost: a key hash and a map lookup under the
// shard's lock, O(1); no allocation once the partition exists.
func (k *Keyed[K]) Acquire(now time.Time, key K) (Token, bool) {
	s, p, stored, err := k.locate(key)
	if err != nil {
		return Token{}, false
	}
	if p.available() <= 0 || p.inFlight >= maxSlots {
		s.mu.Unlock()
		return Token{}, false
	}
	if !stored {
		k.store(s, key, p)
	}
	t := p.take(now)
	s.mu.Unlock()
	return t, true
}

// AcquireUpTo takes min(n, Available) slots in key's partition at once and appends their
// tokens to dst. Available is evaluated once, as the seed's gate does for a tick's batch:
// an idle partition whose limit has collapsed below Initial still admits up to Initial
// jobs together (the safety valve), where n separate Acquires would admit one. The error
// is non-nil only if the partition cannot be created; then nothing is appended.
func (k *Keyed[K]) AcquireUpTo(now time.Time, key K, n int, dst []Token) ([]Token, error) {
	if n <= 0 {
		return dst, nil
	}
	s, p, stored, err := k.locate(key)
	if err != nil {
		return dst, err
	}
	free := min(n, p.available(), maxSlots-p.inFlight)
	if free <= 0 {
		s.mu.Unlock()
		return dst, nil
	}
	if !stored {
		k.store(s, key, p)
	}
	for range free {
		dst = append(dst, p.take(now))
	}
	s.mu.Unlock()
	return dst, nil
}

// Release returns tok's slot and feeds the job's completion sample to its partition's
// algorithm, at now. The Keyed owns the in-flight accounting, so it sets s.InFlight to the
// partition's in-flight count when tok was acquired (tok included), as Netflix's limiter
// does; if s.Latency is zero it sets it to now minus tok's acquire time (zero if the clock
// went backwards). It returns ErrDoubleRelease if tok was already released or cancelled,
// and ErrForeignToken for a token this Keyed did not issue; nothing changes then.
// Cost: O(1) under the shard's lock, no hashing; no allocation.
func (k *Keyed[K]) Release(now time.Time, tok Token, s Sample) error {
	p := tok.p
	if p == nil || p.owner != k.owner {
		return ErrForeignToken
	}
	p.mu.Lock()
	if !p.holds(tok) {
		p.mu.Unlock()
		return ErrDoubleRelease
	}
	sl := &p.slots[tok.slot]
	s.InFlight = int(sl.inFlight)
	if s.Latency == 0 {
		s.Latency = max(now.Sub(sl.at), 0)
	}
	p.put(tok.slot, now)
	if p.alg == nil {
		p.p.observe(&p.st, s)
	} else {
		p.alg.Observe(now, s)
	}
	p.mu.Unlock()
	return nil
}

// Cancel returns tok's slot without a sample, as the seed does when an admission is
// reverted or a lease is reaped: the algorithm learns nothing. Errors are as for Release.
func (k *Keyed[K]) Cancel(now time.Time, tok Token) error {
	p := tok.p
	if p == nil || p.owner != k.owner {
		return ErrForeignToken
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.holds(tok) {
		return ErrDoubleRelease
	}
	p.put(tok.slot, now)
	return nil
}

// Stats is a partition's state, for admission decisions and metrics.
type Stats struct {
	Limit     int // the algorithm's limit
	InFlight  int // tokens acquired and not yet released or cancelled
	Available int // slots free now, with the idle safety valve
	// Ewma and Samples are the AIMD's EWMA of queue lag and sample count; for other
	// algorithms they are filled in if the algorithm has methods Ewma() time.Duration and
	// Samples() int64, and are zero otherwise.
	Ewma    time.Duration
	Samples int64
}

// Stats returns the state of key's partition and reports whether it is stored. For a key
// with no stored partition it returns the state a new one would have, which costs a
// factory call (and, with NewKeyedFunc, an allocation); if the factory fails, it returns
// the zero Stats.
func (k *Keyed[K]) Stats(key K) (Stats, bool) {
	s := k.shardOf(key)
	s.mu.Lock()
	if p := s.parts[key]; p != nil {
		st := p.stats()
		s.mu.Unlock()
		return st, true
	}
	s.mu.Unlock()
	var p part
	if k.initPart(&p, s, key) != nil {
		return Stats{}, false
	}
	return p.stats(), false
}

// Available returns the slots free in key's partition now: what Acquire would grant, as
// the partition's algorithm counts them (AIMD: max(limit, Min) − in-flight, but at least
// Initial when nothing is in flight). now is not used by the algorithms here; it is in the
// signature so that time-aware algorithms can be added without an API change. For a key
// with no stored partition, it is the value a new partition would have (0 if the factory
// fails). Cost: as Acquire, without the allocation of a token.
func (k *Keyed[K]) Available(now time.Time, key K) int {
	s := k.shardOf(key)
	s.mu.Lock()
	if p := s.parts[key]; p != nil {
		n := p.available()
		s.mu.Unlock()
		return n
	}
	s.mu.Unlock()
	var p part
	if k.initPart(&p, s, key) != nil {
		return 0
	}
	return p.available()
}

// Limit returns the limit of key's partition (a new partition's, if none is stored; 0 if
// the factory fails).
func (k *Keyed[K]) Limit(key K) int {
	s := k.shardOf(key)
	s.mu.Lock()
	if p := s.parts[key]; p != nil {
		n := p.limit()
		s.mu.Unlock()
		return n
	}
	s.mu.Unlock()
	var p part
	if k.initPart(&p, s, key) != nil {
		return 0
	}
	return p.limit()
}

// InFlight returns the number of tokens of key's partition acquired and not yet released
// or cancelled.
func (k *Keyed[K]) InFlight(key K) int {
	s := k.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.parts[key]; p != nil {
		return p.inFlight
	}
	return 0
}

// Prune removes partitions that are indistinguishable from new ones: nothing in flight and
// a fresh algorithm (an inline AIMD that has observed no sample; from NewKeyedFunc, an
// algorithm that is a [Fresher] and reports Fresh). It returns how many it removed. This
// is lossless: with or without Prune at any points, every Acquire, AcquireUpTo, Release,
// Cancel, Available, Limit, InFlight and Stats returns the same (Stats' stored flag
// aside), provided the factory returns the same for a key each time it is called; only
// Len and the counts that Prune and Expire return differ. With non-decreasing times the
// partitions an Expire removes are the same too; when time goes backwards, a pruned
// partition's idle time restarts from its next use.
//
// Prune is incremental and resumes where the last call stopped: it examines whole shards,
// in turn, until it has examined at least maxScan partitions or every shard once; maxScan
// <= 0 examines nothing. Which keys share a shard depends on a per-process hash seed, so
// the count of a partial Prune may differ between runs; decisions never do. A shard map
// that has shrunk below a quarter of its peak is rebuilt, since Go maps never release
// memory on delete. Cost: O(partitions examined).
func (k *Keyed[K]) Prune(maxScan int) int {
	removed, examined := 0, 0
	for range k.shards {
		if examined >= maxScan {
			break
		}
		s := &k.shards[(k.cursor.Add(1)-1)&k.mask]
		s.mu.Lock()
		for key, p := range s.parts {
			examined++
			if p.fresh() {
				delete(s.parts, key)
				removed++
			}
		}
		s.compact()
		s.mu.Unlock()
	}
	k.parts.Add(int64(-removed))
	return removed
}

// Expire removes every partition with nothing in flight whose last Acquire, Release or
// Cancel was at least idle before now, and returns how many it removed. Unlike Prune this
// is lossy: an expired partition's learned limit and EWMA are forgotten, and it restarts
// from its factory's initial state when next used (the seed keeps adaptive state forever;
// this is the bound on memory it lacks). Partitions with tokens in flight are never
// removed. It examines every partition, so its result does not depend on hash order.
// Cost: O(partitions).
func (k *Keyed[K]) Expire(now time.Time, idle time.Duration) int {
	removed := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		for key, p := range s.parts {
			if p.inFlight == 0 && now.Sub(p.last) >= idle {
				delete(s.parts, key)
				removed++
			}
		}
		s.compact()
		s.mu.Unlock()
	}
	k.parts.Add(int64(-removed))
	return removed
}

// compact rebuilds s.parts once it has shrunk below a quarter of its peak. It requires s.mu.
func (s *shard[K]) compact() {
	if s.peak < 64 || len(s.parts) >= s.peak/4 {
		return
	}
	m := make(map[K]*part, len(s.parts))
	for key, p := range s.parts {
		m[key] = p
	}
	s.parts, s.peak = m, len(m)
}

// available returns the partition's free slots. It requires p.mu.
func (p *part) available() int {
	switch {
	case p.alg == nil:
		return p.p.available(p.st.limit, p.inFlight)
	case p.av != nil:
		return p.av.Available(p.inFlight)
	default:
		return max(p.alg.Limit()-p.inFlight, 0)
	}
}

func (p *part) limit() int {
	if p.alg == nil {
		return p.st.limit
	}
	return p.alg.Limit()
}

func (p *part) stats() Stats {
	st := Stats{Limit: p.limit(), InFlight: p.inFlight, Available: p.available()}
	if p.alg == nil {
		st.Ewma, st.Samples = ewmaDuration(p.st.ewma), p.st.samples
		return st
	}
	if e, ok := p.alg.(interface{ Ewma() time.Duration }); ok {
		st.Ewma = e.Ewma()
	}
	if n, ok := p.alg.(interface{ Samples() int64 }); ok {
		st.Samples = n.Samples()
	}
	return st
}

// fresh reports whether p is indistinguishable from a new partition. It requires p.mu.
func (p *part) fresh() bool {
	if p.inFlight != 0 {
		return false
	}
	if p.alg == nil {
		return p.st.samples == 0 // nothing else changes an inline AIMD
	}
	return p.fr != nil && p.fr.Fresh()
}

// take issues a token. It requires p.mu and p.inFlight < maxSlots.
func (p *part) take(now time.Time) Token {
	p.inFlight++
	p.seq++
	var i int32
	switch n := len(p.slots); {
	case p.free != 0:
		i = p.free - 1
		p.free = p.slots[i].next
	case n < cap(p.slots):
		p.slots, i = p.slots[:n+1], int32(n) // reuse the capacity: no zeroing pass
	default:
		p.slots, i = append(p.slots, slot{}), int32(n)
	}
	sl := &p.slots[i]
	sl.seq, sl.next, sl.inFlight, sl.at = p.seq, 0, int32(p.inFlight), now
	p.touch(now)
	return Token{p: p, seq: p.seq, slot: i}
}

// holds reports whether tok is in flight in p. It requires p.mu.
func (p *part) holds(tok Token) bool {
	return tok.slot >= 0 && int(tok.slot) < len(p.slots) && p.slots[tok.slot].seq == tok.seq
}

// put frees slot i. It requires p.mu and p.holds the slot's token.
func (p *part) put(i int32, now time.Time) {
	p.inFlight--
	if p.inFlight == 0 {
		// Every slot is free: drop the free list and keep the capacity. A stale token
		// now fails the bounds check, or the sequence check once its slot is reissued.
		p.slots, p.free = p.slots[:0], 0
	} else {
		p.slots[i] = slot{next: p.free}
		p.free = i + 1
	}
	p.touch(now)
}

// touch records now as the partition's latest use.
func (p *part) touch(now time.Time) {
	if now.After(p.last) {
		p.last = now
	}
}
