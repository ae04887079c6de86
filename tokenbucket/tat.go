package tokenbucket

import (
	"math"
	"math/bits"
	"time"
)

// A partition's whole state is one int64: GCRA's theoretical arrival time, kept in credits.
// tat = a·T, where T is the offset (nanoseconds from the owner's epoch) at which the bucket is
// full again. At offset t the bucket is short of full by
//
//	deficit(t) = max(0, tat − a·t) credits,
//
// holds (cap − deficit)/b tokens, and admits n tokens iff deficit + n·b <= cap, after which
// tat = max(tat, a·t) + n·b. This is the credit token bucket (refill a credits per ns, a token
// costs b) written as a single word, so every decision is exact integer arithmetic.
//
// Owners keep offsets and tats within ±maxCredit; saturating arithmetic makes values outside
// that range read as "very far" rather than wrap.

// absent marks a partition that has never been charged: it is full at every time.
const absent = math.MinInt64

// mulSat returns x·y (y > 0), saturated to the int64 range.
func mulSat(x, y int64) int64 {
	neg := x < 0
	ux := uint64(x)
	if neg {
		ux = -ux
	}
	hi, lo := bits.Mul64(ux, uint64(y))
	if hi != 0 || lo > math.MaxInt64 {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}

// subSat returns x − y saturated to the int64 range.
func subSat(x, y int64) int64 {
	d := x - y
	if (x >= 0) != (y >= 0) && (d >= 0) != (x >= 0) {
		if x >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return d
}

// addSat returns x + y saturated to the int64 range.
func addSat(x, y int64) int64 {
	s := x + y
	if (x >= 0) == (y >= 0) && (s >= 0) != (x >= 0) {
		if x >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// deficit returns the credits missing from a full bucket at offset t.
func deficit(tat, t int64, p *params) int64 {
	if tat == absent {
		return 0
	}
	if t >= 0 && t <= p.horizon { // the common case: no overflow is possible
		return max(0, tat-t*p.a)
	}
	return max(0, subSat(tat, mulSat(t, p.a)))
}

// fits reports whether a charge at offset t keeps tat within ±maxCredit; owners move their
// epoch before charging when it does not.
func fits(t int64, p *params) bool {
	if t >= 0 {
		return t <= p.horizon
	}
	return mulSat(t, p.a) >= -maxCredit
}

// charge returns the tat after taking need credits at offset t from a bucket short by d
// credits. It requires fits(t, p) and d + need <= cap.
func charge(d, t, need int64, p *params) int64 {
	return t*p.a + d + need
}

// available returns how many whole tokens a bucket short by d credits holds.
func available(d int64, p *params) int64 {
	if d >= p.cap {
		return 0
	}
	return (p.cap - d) / p.b
}

// wait returns how long after now (at offset off, effective offset t >= off) a bucket short
// by d credits holds need credits: zero if it already does. The answer is exact and tight:
// at now+wait the charge succeeds and at now+wait−1ns it does not. It saturates at the
// largest Duration.
func wait(d, t, off, need int64, p *params) time.Duration {
	room := p.cap - need
	if d <= room {
		return 0
	}
	short := d - room
	ns := short / p.a
	if short%p.a != 0 {
		ns++
	}
	// Backwards time is clamped to t, so the caller also waits out t − off.
	return time.Duration(addSat(ns, subSat(t, off)))
}

// tokensOf converts a deficit to the tokens a bucket holds, for reporting.
func tokensOf(d int64, p *params) float64 {
	if d >= p.cap {
		return 0
	}
	c := p.cap - d
	// Whole tokens and the fraction separately, so that a whole balance is exact.
	return float64(c/p.b) + float64(c%p.b)/float64(p.b)
}

// convert re-expresses a bucket short by d credits under old as the deficit under new. A full
// bucket stays full (it carries no information, so Keyed may drop it at any time); any other
// keeps its token balance, rounded down to new's resolution of 1/new.b token (so a limit
// change never creates credit) and capped at the new burst.
func convert(d int64, old, new *params) int64 {
	if d == 0 {
		return 0
	}
	c := int64(0)
	if d < old.cap {
		c = old.cap - d
	}
	hi, lo := bits.Mul64(uint64(c), uint64(new.b))
	nc := new.cap
	if hi < uint64(old.b) {
		if q, _ := bits.Div64(hi, lo, uint64(old.b)); q < uint64(new.cap) {
			nc = int64(q)
		}
	}
	return new.cap - nc
}

// origin is an epoch, with what offsets from it need precomputed.
type origin struct {
	t    time.Time
	sec  int64 // t.Unix()
	nsec int64 // t.Nanosecond()
	// wall reports whether offsets from t may be computed from wall-clock seconds and
	// nanoseconds: t has no monotonic clock reading (then time.Time.Sub always measures by
	// the wall clock), and its Unix seconds are well inside int64.
	wall bool
}

func originAt(t time.Time) origin {
	s := t.Unix()
	// Round(0) strips the monotonic reading, so t equals it iff t has none.
	return origin{t: t, sec: s, nsec: int64(t.Nanosecond()), wall: t == t.Round(0) && s > -1<<62 && s < 1<<62}
}

// since returns now − o in nanoseconds, exactly as now.Sub(o.t) does (saturated). For
// synthetic times (no monotonic reading, as in tests and simulations) it skips Sub's
// overflow check, which costs more than the rest of an admit, when no overflow is possible.
//
// It is not small enough to inline; hot paths write out its first branch (a monotonic
// origin: one call to Sub) and call wallSince otherwise.
func (o *origin) since(now time.Time) int64 {
	if !o.wall {
		return int64(now.Sub(o.t))
	}
	return o.wallSince(now)
}

// wallSince is since for an origin with wall set.
func (o *origin) wallSince(now time.Time) int64 {
	// With |o.sec| < 2^62 the difference cannot wrap into this range, and
	// |ds| <= 9,223,372,035 s keeps ds·1e9 ± 1e9 inside int64: Sub's answer, unsaturated.
	if ds := now.Unix() - o.sec; ds >= -9_223_372_035 && ds <= 9_223_372_035 {
		return ds*1e9 + int64(now.Nanosecond()) - o.nsec
	}
	return int64(now.Sub(o.t))
}

// frame is a single-owner time base: an epoch and a clock, the effective offset of the
// latest grant. Times before the clock read as the clock, so a clock that goes backwards is
// treated as no time passing. Dense uses one.
type frame struct {
	epoch origin
	clock int64 // absent until the first grant
}

// at returns now's offset from the epoch and its effective offset (never before the clock).
func (f *frame) at(now time.Time) (off, t int64) {
	if !f.epoch.wall {
		off = int64(now.Sub(f.epoch.t))
	} else {
		off = f.epoch.wallSince(now)
	}
	return off, max(off, f.clock)
}

// moveTo moves the epoch forward to effective offset t (the caller rewrites each stored tat
// with rebased). Saturated offsets mean the epoch is centuries away: every bucket is full, and
// the epoch becomes now.
func (f *frame) moveTo(now time.Time, t int64) {
	f.epoch, f.clock = movedEpoch(f.epoch, now, t), movedClock(f.clock, t)
}

func movedEpoch(epoch origin, now time.Time, t int64) origin {
	if t == math.MaxInt64 || t == math.MinInt64 {
		return originAt(now)
	}
	return originAt(epoch.t.Add(time.Duration(t)))
}

// movedClock returns the clock after the epoch moves to offset t. A clock more than
// maxCredit (146 years) behind is forgotten: every bucket is full by then.
func movedClock(clock, t int64) int64 {
	if clock == absent {
		return absent
	}
	if c := subSat(clock, t); c >= -maxCredit {
		return c
	}
	return absent
}

// rebased returns tat relative to an epoch moved to offset t, or absent when the bucket is
// full by t (a full bucket carries no information).
func rebased(tat, t int64, p *params) int64 {
	if d := deficit(tat, t, p); d > 0 && t != math.MaxInt64 {
		return d
	}
	return absent
}
