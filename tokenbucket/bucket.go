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

// locked is the tat word's value once a Bucket has moved to its mutex-guarded path.
// Live tats lie within ±maxCredit, so it cannot be mistaken for one.
const locked = math.MinInt64

// Bucket is a token bucket for one partition. Rate tokens are added every Per, up to Burst;
// a new bucket starts full. Decisions are exact: see the package documentation.
//
// A Bucket is safe for concurrent use by multiple goroutines. Admitting is one
// compare-and-swap on one word plus a store of the clock when time has advanced; denying only
// reads. SetLimit, and a bucket that outlives its lock-free horizon (see [New]), move it to a
// mutex-guarded path that is equally exact and about twice as slow.
type Bucket struct {
	// Read-only after New.
	p     params
	epoch time.Time

	_ [64]byte // keep the hot words off the read-only fields' cache line
	// The lock-free state: the theoretical arrival time (see tat.go), and the clock, the
	// offset of the latest grant. A stale clock only makes a decision stricter.
	tat   atomic.Int64
	clock atomic.Int64
	_     [48]byte

	mu   sync.Mutex
	slow bool   // guarded by mu: the bucket has moved to the locked path
	lp   params // guarded by mu: the locked path's limit
	lf   frame  // guarded by mu
	lt   int64  // guarded by mu: the locked path's tat
}

// New returns a full bucket with limit l, created at now. It returns an error, naming the
// field and the value, if l is invalid (see [Limit.Validate]).
//
// The lock-free path keeps time in units of 1/a nanoseconds, where a is the numerator of the
// exact rate in tokens per nanosecond (a = 1 for most rates: 100 per second, 3 per minute).
// It therefore serves the bucket for about 2^62/a nanoseconds from now — centuries for a = 1,
// 106 days for 999 per second — after which the bucket moves to the locked path, exactly and
// transparently.
func New(l Limit, now time.Time) (*Bucket, error) {
	p, err := l.exact()
	if err != nil {
		return nil, err
	}
	return &Bucket{p: p, epoch: now}, nil // tat = 0 and clock = 0: full at now
}

// Limit returns the limit in force. Its Rate is the exact rate the bucket uses, with an
// integer numerator: integer rates come back unchanged, Rate 0.5 per second comes back as
// 1 per 2s (see [Limit.Validate] for how a float Rate becomes exact).
func (b *Bucket) Limit() Limit {
	if b.tat.Load() != locked {
		return b.p.norm
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lp.norm
}

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
	off := offsetOf(now, b.epoch)
	c := b.clock.Load()
	t := max(off, c)
	if tat := b.tat.Load(); tat != locked && t <= b.p.horizon {
		if int64(n) > b.p.burst {
			return false
		}
		ta, need := t*b.p.a, int64(n)*b.p.b
		for {
			d := max(0, tat-ta)
			if d > b.p.cap-need {
				return false // deny: nothing was written
			}
			if b.tat.CompareAndSwap(tat, ta+d+need) {
				if t > c {
					b.clock.Store(t)
				}
				return true
			}
			if tat = b.tat.Load(); tat == locked {
				break
			}
		}
	}
	return b.lockedAllowN(now, n)
}

// TakeUpTo takes as many whole tokens as are available at now, up to max, and returns how
// many it took. retryAfter is how long after now until the next token is available once
// these are taken: zero if one already is. max <= 0 takes nothing and returns (0, 0).
func (b *Bucket) TakeUpTo(now time.Time, max int) (granted int, retryAfter time.Duration) {
	if max <= 0 {
		return 0, 0
	}
	off := offsetOf(now, b.epoch)
	c := b.clock.Load()
	t := maxI(off, c)
	if tat := b.tat.Load(); tat != locked && t <= b.p.horizon {
		ta := t * b.p.a
		for {
			d := maxI(0, tat-ta)
			k := min(available(d, &b.p), int64(max))
			if k == 0 {
				return 0, wait(d, t, off, b.p.b, &b.p)
			}
			d += k * b.p.b
			if b.tat.CompareAndSwap(tat, ta+d) {
				if t > c {
					b.clock.Store(t)
				}
				return int(k), wait(d, t, off, b.p.b, &b.p)
			}
			if tat = b.tat.Load(); tat == locked {
				break
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.enterLocked()
	off, t = b.lf.at(now)
	p := &b.lp
	d := deficit(b.lt, t, p)
	k := min(available(d, p), int64(max))
	if k > 0 {
		b.chargeLocked(now, t, d, k*p.b)
		d += k * p.b
	}
	return int(k), wait(d, t, off, p.b, p)
}

// Tokens returns the number of tokens available at now, including a fraction of a token.
// It changes nothing.
func (b *Bucket) Tokens(now time.Time) float64 {
	off := offsetOf(now, b.epoch)
	t := maxI(off, b.clock.Load())
	if tat := b.tat.Load(); tat != locked {
		return tokensOf(deficit(tat, t, &b.p), &b.p)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, t = b.lf.at(now)
	return tokensOf(deficit(b.lt, t, &b.lp), &b.lp)
}

// Delay returns how long after now until n tokens are available, absent other calls: zero
// if they are available now. It is exact and tight: AllowN(now+d, n) would succeed and
// AllowN(now+d−1ns, n) would not. It reports false, with zero, if n > Burst (no wait is
// long enough); n <= 0 reports (0, true). It changes nothing.
func (b *Bucket) Delay(now time.Time, n int) (time.Duration, bool) {
	if n <= 0 {
		return 0, true
	}
	off := offsetOf(now, b.epoch)
	t := maxI(off, b.clock.Load())
	if tat := b.tat.Load(); tat != locked {
		if int64(n) > b.p.burst {
			return 0, false
		}
		return wait(deficit(tat, t, &b.p), t, off, int64(n)*b.p.b, &b.p), true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if int64(n) > b.lp.burst {
		return 0, false
	}
	off, t = b.lf.at(now)
	return wait(deficit(b.lt, t, &b.lp), t, off, int64(n)*b.lp.b, &b.lp), true
}

// SetLimit changes the limit at now: the bucket refills at the old rate up to now, then
// refills at the new rate. A full bucket stays full; any other keeps its balance, rounded
// down to the new rate's exact resolution (so a change never creates credit) and capped at
// the new Burst. It returns an error, and
// changes nothing, if l is invalid. After SetLimit the bucket uses the locked path.
func (b *Bucket) SetLimit(now time.Time, l Limit) error {
	np, err := l.exact()
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.enterLocked()
	_, t := b.lf.at(now)
	d := convert(deficit(b.lt, t, &b.lp), &b.lp, &np)
	b.lp = np
	b.chargeLocked(now, t, d, 0)
	return nil
}

// lockedAllowN is AllowN on the locked path.
func (b *Bucket) lockedAllowN(now time.Time, n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.enterLocked()
	p := &b.lp
	if int64(n) > p.burst {
		return false
	}
	_, t := b.lf.at(now)
	need := int64(n) * p.b
	d := deficit(b.lt, t, p)
	if d > p.cap-need {
		return false
	}
	b.chargeLocked(now, t, d, need)
	return true
}

// chargeLocked sets the locked path's state to "short by d+need credits at effective offset
// t", moving the epoch first if t is beyond the representable range. It requires b.mu.
func (b *Bucket) chargeLocked(now time.Time, t, d, need int64) {
	if !fits(t, &b.lp) {
		b.lf.moveTo(now, t) // the only tat is rewritten below
		t = 0
	}
	b.lt = charge(d, t, need, &b.lp)
	b.lf.clock = maxI(b.lf.clock, t)
}

// enterLocked moves the bucket to the locked path, once. It requires b.mu. The tat word is
// swapped for locked atomically, so no lock-free charge is lost; a clock read before a
// concurrent charge stored its own is older than the truth, which only makes later
// decisions stricter.
func (b *Bucket) enterLocked() {
	if b.slow {
		return
	}
	tat := b.tat.Swap(locked)
	b.lp = b.p
	b.lf = frame{epoch: b.epoch, clock: b.clock.Load()}
	b.lt = tat
	b.slow = true
}

// maxI is max for int64, named so that TakeUpTo's max parameter does not shadow it.
func maxI(x, y int64) int64 {
	if x > y {
		return x
	}
	return y
}
