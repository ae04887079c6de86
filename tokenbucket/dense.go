package tokenbucket

import (
	"fmt"
	"time"
)

// Dense is a set of token buckets for partitions numbered 0..Len()−1 that share one limit,
// for callers that intern their partition keys as small integers. Each partition costs 8 bytes
// and a decision costs a few nanoseconds; partitions start full.
//
// A Dense has one clock, like a [Bucket]: a time earlier than the latest grant to any of its
// partitions is treated as that grant's time. It is not safe for concurrent use: it is meant
// to be owned by one dispatcher goroutine (guard it with a mutex to share it). Use a [Keyed]
// for concurrent, per-key limits.
type Dense struct {
	p       params
	f       frame
	started bool
	tats    []int64
}

// NewDense returns n full buckets with limit l. It returns an error if l is invalid (see
// [Limit.Validate]) or n < 0.
func NewDense(l Limit, n int) (*Dense, error) {
	p, err := l.exact()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("tokenbucket: n must be >= 0, got %d", n)
	}
	d := &Dense{p: p, tats: make([]int64, n)}
	for i := range d.tats {
		d.tats[i] = absent
	}
	return d, nil
}

// Len returns the number of partitions.
func (d *Dense) Len() int { return len(d.tats) }

// Grow adds k full partitions, numbered Len()..Len()+k−1. k < 0 is an error.
// It costs O(k) amortised.
func (d *Dense) Grow(k int) error {
	if k < 0 {
		return fmt.Errorf("tokenbucket: Grow needs k >= 0, got %d", k)
	}
	for range k {
		d.tats = append(d.tats, absent)
	}
	return nil
}

// Limit returns the limit in force, in the exact form [Bucket.Limit] describes.
func (d *Dense) Limit() Limit { return d.p.norm }

// at returns now's offset and effective offset, starting the clock on first use.
func (d *Dense) at(now time.Time) (off, t int64) {
	if !d.started {
		d.f, d.started = frame{epoch: originAt(now), clock: absent}, true
	}
	return d.f.at(now)
}

// AllowN reports whether n tokens are available to partition id at now, and takes them if
// so. Like [Bucket.AllowN], n = 0 reports true and n < 0 or n > Burst reports false.
// It panics if id is not in [0, Len()), as indexing a slice does.
func (d *Dense) AllowN(now time.Time, id, n int) bool {
	tat := d.tats[id]
	if n <= 0 || int64(n) > d.p.burst {
		return n == 0
	}
	_, t := d.at(now)
	need := int64(n) * d.p.b
	def := deficit(tat, t, &d.p)
	if def > d.p.cap-need {
		return false
	}
	d.charge(now, id, t, def, need)
	return true
}

// Allow is shorthand for AllowN(now, id, 1).
func (d *Dense) Allow(now time.Time, id int) bool { return d.AllowN(now, id, 1) }

// TakeUpTo is [Bucket.TakeUpTo] for partition id. It panics if id is out of range.
func (d *Dense) TakeUpTo(now time.Time, id, max int) (granted int, retryAfter time.Duration) {
	tat := d.tats[id]
	if max <= 0 {
		return 0, 0
	}
	off, t := d.at(now)
	def := deficit(tat, t, &d.p)
	k := min(available(def, &d.p), int64(max))
	if k > 0 {
		d.charge(now, id, t, def, k*d.p.b)
		def += k * d.p.b
	}
	return int(k), wait(def, t, off, d.p.b, &d.p)
}

// Tokens returns the tokens partition id holds at now. It panics if id is out of range.
func (d *Dense) Tokens(now time.Time, id int) float64 {
	tat := d.tats[id]
	_, t := d.at(now)
	return tokensOf(deficit(tat, t, &d.p), &d.p)
}

// Delay is [Bucket.Delay] for partition id. It panics if id is out of range.
func (d *Dense) Delay(now time.Time, id, n int) (time.Duration, bool) {
	tat := d.tats[id]
	if n <= 0 {
		return 0, true
	}
	if int64(n) > d.p.burst {
		return 0, false
	}
	off, t := d.at(now)
	return wait(deficit(tat, t, &d.p), t, off, int64(n)*d.p.b, &d.p), true
}

// charge records that partition id, short by def credits at effective offset t, took need
// more. Once in about 2^62/a nanoseconds the epoch must move, which rewrites every
// partition: O(Len()).
func (d *Dense) charge(now time.Time, id int, t, def, need int64) {
	if !fits(t, &d.p) {
		for i, tat := range d.tats {
			d.tats[i] = rebased(tat, t, &d.p)
		}
		d.f.moveTo(now, t)
		t = 0
	}
	d.tats[id] = charge(def, t, need, &d.p)
	d.f.clock = max(d.f.clock, t)
}
