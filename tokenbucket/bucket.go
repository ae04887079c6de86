package tokenbucket

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter is what a dispatcher needs from a rate limiter: take n tokens at now, or report
// that it cannot. *Bucket implements it; a user's own limiter can too.
type Limiter interface {
	// AllowN reports whether n tokens are available at now, and takes them if so.
	AllowN(now time.Time, n int) bool
}

var _ Limiter = (*Bucket)(nil)

// closed is the tat word of a bucketState that SetLimit, or a charge beyond its range, has
// replaced. Live tats lie within ±maxCredit, so it cannot be mistaken for one, and a
// closed state never reopens, so a compare-and-swap against an older value cannot succeed
// on it.
const closed = math.MinInt64

// Bucket is a token bucket for one partition. Rate tokens are added every Per, up to Burst;
// a new bucket starts full. Decisions are exact: see the package documentation.
//
// A Bucket is safe for concurrent use by multiple goroutines. Admitting is one
// compare-and-swap on one word, plus a store of the clock when time has advanced; denying
// and the read-only methods only read. SetLimit, and the first charge after the bucket has
// outlived its time range (see [New]), take a mutex and replace the bucket's state by a new
// one, continuing exactly where it left off.
type Bucket struct {
	st atomic.Pointer[bucketState]
	mu sync.Mutex // serialises replacing st
}

// bucketState is one span of a Bucket's life: a limit and an epoch, fixed, and the two words
// that charges change.
type bucketState struct {
	p     params
	epoch origin

	_ [64]byte // keep the hot words off the read-only fields' cache line
	// The theoretical arrival time (see tat.go), and the clock, the offset of the latest
	// grant. A stale clock only makes a decision stricter.
	tat   atomic.Int64
	clock atomic.Int64
	_     [48]byte
}

// New returns a full bucket with limit l, created at now. It returns an error, naming the
// field and the value, if l is invalid (see [Limit.Validate]).
//
// A bucket keeps time in units of 1/a nanoseconds from an epoch, where a is the numerator of
// the exact rate in tokens per nanosecond (a = 1 for most rates: 100 per second, 3 per
// minute), so one epoch serves about 2^62/a nanoseconds: centuries for a = 1, 106 days for
// 999 per second. The first charge beyond that moves the epoch, under the mutex; nothing else
// changes.
func New(l Limit, now time.Time) (*Bucket, error) {
	p, err := l.exact()
	if err != nil {
		return nil, err
	}
	b := &Bucket{}
	b.st.Store(&bucketState{p: p, epoch: originAt(now)}) // tat = 0 and clock = 0: full at now
	return b, nil
}

// Limit returns the limit in force. Its Rate is the exact rate the bucket uses, with an
// integer numerator: integer rates come back unchanged, Rate 0.5 per second comes back as
// 1 per 2s (see [Limit.Validate] for how a float Rate becomes exact).
func (b *Bucket) Limit() Limit { return b.st.Load().p.norm }

// Allow is shorthand for AllowN(now, 1).
func (b *Bucket) Allow(now time.Time) bool { return b.AllowN(now, 1) }

// AllowN reports whether n tokens are available at now, and takes them if so; otherwise it
// takes nothing. AllowN(now, 0) reports true; n < 0 or n > Burst reports false.
//
// A now earlier than the latest grant is treated as that grant's time: time going backwards
// is no time passing, and never admits more.
func (b *Bucket) AllowN(now time.Time, n int) bool {
	if n <= 0 {
		return n == 0
	}
	for {
		s := b.st.Load()
		if int64(n) > s.p.burst {
			return false
		}
		var off int64 // s.epoch.since(now), written out: the call would cost a nanosecond
		if !s.epoch.wall {
			off = int64(now.Sub(s.epoch.t))
		} else {
			off = s.epoch.wallSince(now)
		}
		c := s.clock.Load()
		t := max(off, c)
		tat := s.tat.Load()
		need := int64(n) * s.p.b
		if tat != closed && t <= s.p.horizon {
			ta := t * s.p.a
			for {
				d := max(0, tat-ta)
				if d > s.p.cap-need {
					return false // deny: nothing was written
				}
				if s.tat.CompareAndSwap(tat, ta+d+need) {
					if t > c {
						s.clock.Store(t)
					}
					return true
				}
				if tat = s.tat.Load(); tat == closed {
					break
				}
			}
		} else if tat != closed {
			// Beyond the epoch's range: decide in saturating arithmetic, and move the epoch
			// only to charge.
			if deficit(tat, t, &s.p) > s.p.cap-need {
				return false
			}
			if ok, d, _, _ := b.rebase(s, now, func(d int64) int64 {
				if d > s.p.cap-need {
					return 0
				}
				return need
			}); ok {
				return d <= s.p.cap-need
			}
			continue
		}
		b.await()
	}
}

// TakeUpTo takes as many whole tokens as are available at now, up to max, and returns how
// many it took. retryAfter is how long after now until the next token is available once
// these are taken: zero if one already is. max <= 0 takes nothing and returns (0, 0).
func (b *Bucket) TakeUpTo(now time.Time, max int) (granted int, retryAfter time.Duration) {
	if max <= 0 {
		return 0, 0
	}
	for {
		s := b.st.Load()
		p := &s.p
		off := s.epoch.since(now)
		c := s.clock.Load()
		t := maxI(off, c)
		tat := s.tat.Load()
		if tat != closed && t <= p.horizon {
			ta := t * p.a
			for {
				d := maxI(0, tat-ta)
				k := min(available(d, p), int64(max))
				if k == 0 {
					return 0, wait(d, t, off, p.b, p)
				}
				d += k * p.b
				if s.tat.CompareAndSwap(tat, ta+d) {
					if t > c {
						s.clock.Store(t)
					}
					return int(k), wait(d, t, off, p.b, p)
				}
				if tat = s.tat.Load(); tat == closed {
					break
				}
			}
		} else if tat != closed {
			if d := deficit(tat, t, p); available(d, p) == 0 {
				return 0, wait(d, t, off, p.b, p)
			}
			var k int64
			if ok, d, t, off := b.rebase(s, now, func(d int64) int64 {
				k = min(available(d, p), int64(max))
				return k * p.b
			}); ok {
				return int(k), wait(d+k*p.b, t, off, p.b, p)
			}
			continue
		}
		b.await()
	}
}

// Tokens returns the number of tokens available at now, including a fraction of a token.
// It changes nothing.
func (b *Bucket) Tokens(now time.Time) float64 {
	for {
		s := b.st.Load()
		t := maxI(s.epoch.since(now), s.clock.Load())
		if tat := s.tat.Load(); tat != closed {
			return tokensOf(deficit(tat, t, &s.p), &s.p)
		}
		b.await()
	}
}

// Delay returns how long after now until n tokens are available, absent other calls: zero
// if they are available now. It is exact and tight: AllowN(now+d, n) would succeed and
// AllowN(now+d−1ns, n) would not. It reports false, with zero, if n > Burst (no wait is
// long enough); n <= 0 reports (0, true). It changes nothing.
func (b *Bucket) Delay(now time.Time, n int) (time.Duration, bool) {
	if n <= 0 {
		return 0, true
	}
	for {
		s := b.st.Load()
		if int64(n) > s.p.burst {
			return 0, false
		}
		off := s.epoch.since(now)
		t := maxI(off, s.clock.Load())
		if tat := s.tat.Load(); tat != closed {
			return wait(deficit(tat, t, &s.p), t, off, int64(n)*s.p.b, &s.p), true
		}
		b.await()
	}
}

// SetLimit changes the limit at now: the bucket refills at the old rate up to now, then
// refills at the new rate. A full bucket stays full; any other keeps its balance, rounded
// down to the new rate's exact resolution (so a change never creates credit) and capped at
// the new Burst. It returns an error, and changes nothing, if l is invalid. It takes the
// mutex and allocates the bucket's new state; calls on other goroutines meanwhile wait for
// it (or, if they decided before it, are ordered before it).
func (b *Bucket) SetLimit(now time.Time, l Limit) error {
	np, err := l.exact()
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.st.Load()
	tat := s.tat.Swap(closed)
	t := maxI(s.epoch.since(now), s.clock.Load())
	d := convert(deficit(tat, t, &s.p), &s.p, &np)
	// A change of state at t: the successor's epoch is t, which is also its clock.
	ns := &bucketState{p: np, epoch: movedEpoch(s.epoch, now, t)}
	ns.tat.Store(d)
	b.st.Store(ns)
	return nil
}

// rebase charges, under the mutex, for a call whose effective offset lies beyond state s's
// range. It closes s, decides on its final words (take returns the credits to charge to a
// bucket short by d credits, or 0), and publishes a successor: with its epoch at the
// effective offset if take charged, else with s's words unchanged. It returns the deficit
// take saw and the offsets of now, or false if s had already been replaced (the caller
// starts again).
func (b *Bucket) rebase(s *bucketState, now time.Time, take func(d int64) int64) (ok bool, d, t, off int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st.Load() != s {
		return false, 0, 0, 0
	}
	tat := s.tat.Swap(closed)
	c := s.clock.Load()
	off = s.epoch.since(now)
	t = maxI(off, c)
	d = deficit(tat, t, &s.p)
	ns := &bucketState{p: s.p, epoch: s.epoch}
	if need := take(d); need > 0 {
		ns.epoch = movedEpoch(s.epoch, now, t)
		ns.tat.Store(d + need) // a charge at offset 0 of the new epoch, which is the clock
	} else {
		ns.tat.Store(tat)
		ns.clock.Store(c)
	}
	b.st.Store(ns)
	return true, d, t, off
}

// await waits for the SetLimit or rebase that closed the state a caller saw to publish its
// successor: both close and publish under the mutex.
func (b *Bucket) await() {
	b.mu.Lock()
	defer b.mu.Unlock()
}

// maxI is max for int64, named so that TakeUpTo's max parameter does not shadow it.
func maxI(x, y int64) int64 {
	if x > y {
		return x
	}
	return y
}
