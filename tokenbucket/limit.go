package tokenbucket

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Limit describes a token bucket: Rate tokens are added every Per, up to Burst tokens.
// A new bucket starts full.
//
// The zero Limit is invalid. [Limit.Validate] lists what is rejected.
type Limit struct {
	// Rate is the number of tokens added every Per. It must be finite and > 0.
	// Fractions are fine: Rate 0.5 per second is one token every two seconds.
	Rate float64 `json:"rate" yaml:"rate"`
	// Per is the refill period. It must be > 0.
	Per time.Duration `json:"per" yaml:"per"`
	// Burst is the bucket's capacity, the most tokens that can be taken at once.
	// It must be >= 1.
	Burst int `json:"burst" yaml:"burst"`
}

// Every returns the limit of one token every interval, with the given burst.
func Every(interval time.Duration, burst int) Limit {
	return Limit{Rate: 1, Per: interval, Burst: burst}
}

// String formats l as "Rate/Per burst Burst", for example "100/1s burst 10".
func (l Limit) String() string {
	return fmt.Sprintf("%v/%v burst %d", l.Rate, l.Per, l.Burst)
}

// Validate reports why l cannot be used, or nil. It rejects:
//   - Rate that is NaN, ±Inf or <= 0;
//   - Per <= 0;
//   - Burst < 1;
//   - a Rate that is too large (more than 2^53 tokens per Per) or too small (its exact
//     period, in the bucket's integer units, exceeds 2^62 ns: slower than about one token
//     per 146 years, so one per 1000 years is an error);
//   - a Burst whose exact capacity, Burst·Per/Rate in the bucket's integer units, exceeds 2^62.
//
// Every error names the field and the value, for example
// "tokenbucket: Per must be > 0, got -1s".
func (l Limit) Validate() error {
	_, err := l.exact()
	return err
}

// maxCredit bounds every integer the arithmetic keeps (capacities, theoretical arrival
// times, offsets), leaving a factor of two of headroom below math.MaxInt64 so that sums of
// two bounded values never overflow.
const maxCredit = 1 << 62

// params is a validated limit in exact integer form. Credits are the bucket's unit: a token
// costs b credits and a credits accrue every nanosecond, so the rate is exactly a/b tokens
// per nanosecond. gcd(a, b) = 1.
type params struct {
	a     int64 // credits added per nanosecond
	b     int64 // credits per token
	cap   int64 // burst·b: a full bucket, in credits
	burst int64
	// horizon is the largest offset t >= 0 at which a charge fits (t·a + cap <= maxCredit),
	// so t·a needs no overflow check on [0, horizon].
	horizon int64
	norm    Limit // the exact limit in force, as Limit reports it
}

// exact converts l to its exact integer form.
//
// Rate is a float64 for convenience, so it is first turned into a fraction p/q: the first
// continued-fraction convergent of the float that rounds back to it (0.1 becomes 1/10,
// 1/3.0 becomes 1/3, integers stay themselves). If that fraction would overflow, the last
// convergent that fits is used instead, and Limit reports it. The rate in force is then
// exactly p tokens per q·Per.
func (l Limit) exact() (params, error) {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0):
		return params{}, fmt.Errorf("tokenbucket: Rate must be finite, got %v", l.Rate)
	case l.Rate <= 0:
		return params{}, fmt.Errorf("tokenbucket: Rate must be > 0, got %v", l.Rate)
	case l.Per <= 0:
		return params{}, fmt.Errorf("tokenbucket: Per must be > 0, got %v", l.Per)
	case l.Burst < 1:
		return params{}, fmt.Errorf("tokenbucket: Burst must be >= 1, got %d", l.Burst)
	}
	if r := l.Rate; r == math.Trunc(r) && r <= 1<<53 {
		// An integer rate is its own first convergent (the walk below would stop there).
		return l.fromInts(int64(r), 1)
	}
	return l.walk()
}

// walk finds the exact form of l's Rate, validated, from the continued-fraction
// convergents h/k of the float's exact value m/2^e. Euclid's algorithm on (m, 2^e) gives the
// partial quotients; only the second can need more than 64 bits (2^e may be up to 2^1074),
// so it is a 128-bit division, and a quotient that overflows even that makes k too large
// for any valid limit. Convergents alternate around the float and their denominators grow
// at least as fast as the Fibonacci numbers, so this stops within ~90 steps, with no
// allocation. (limit_internal_test.go holds the same walk in math/big and checks that they
// agree.)
func (l Limit) walk() (params, error) {
	frac, exp := math.Frexp(l.Rate) // Rate = frac·2^exp, 0.5 <= frac < 1
	m, e := uint64(frac*(1<<53)), 53-exp
	if e < 0 { // an integer of at least 2^53 (m >= 2^52)
		if e < -1 || m != 1<<52 {
			return params{}, errTooLarge(l)
		}
		m, e = 1<<53, 0
	}
	tz := min(bits.TrailingZeros64(m), e)
	m, e = m>>tz, e-tz
	if e == 0 { // an integer
		if m > 1<<53 {
			return params{}, errTooLarge(l)
		}
		return l.fromInts(int64(m), 1)
	}
	// Now Rate = m/2^e in lowest terms: m odd, e >= 1.
	w := cfWalk{l: l, h1: 1, k2: 1}
	// The first quotient, m / 2^e.
	a0, r0 := uint64(0), m
	if e < 64 {
		a0, r0 = m>>e, m&(1<<e-1)
	}
	if w.step(a0) {
		return w.result()
	}
	// The second, 2^e / r0, in 128 bits.
	var hi, lo uint64
	switch {
	case e < 64:
		lo = 1 << e
	case e < 128:
		hi = 1 << (e - 64)
	}
	if e >= 128 || hi >= r0 {
		// The quotient is at least 2^64. Then Rate < 2^-11, so a0 = 0 and this convergent
		// is 1/a: too slow for any valid limit, as is every later one.
		if !w.found {
			w.err = errTooSmall(l)
		}
		return w.result()
	}
	a1, r1 := bits.Div64(hi, lo, r0)
	if w.step(a1) {
		return w.result()
	}
	for num, den := r0, r1; den != 0; num, den = den, num%den {
		if w.step(num / den) {
			break
		}
	}
	return w.result()
}

// cfWalk follows the convergents h/k of a continued fraction and keeps the last one that
// gives a valid limit.
type cfWalk struct {
	l              Limit
	h1, h2, k1, k2 uint64 // the last two convergents, each within the exact range
	best           params
	found          bool
	err            error // the first convergent's error, if it had one
}

// step applies partial quotient a and reports whether the walk is over: the convergent
// rounds back to Rate, or it does not fit (the previous one then stands).
func (w *cfWalk) step(a uint64) bool {
	hh, h := bits.Mul64(a, w.h1)
	h, c := bits.Add64(h, w.h2, 0)
	hh += c
	kh, k := bits.Mul64(a, w.k1)
	k, c = bits.Add64(k, w.k2, 0)
	kh += c
	if hh == 0 && h == 0 {
		// 0/1, from the first quotient of a Rate below 1: not a rate.
		w.h2, w.h1, w.k2, w.k1 = w.h1, h, w.k1, k
		return false
	}
	var p params
	var err error
	switch {
	case hh != 0 || h > 1<<53:
		err = errTooLarge(w.l)
	case kh != 0 || k > math.MaxInt64:
		err = errTooSmall(w.l)
	default:
		p, err = w.l.fromInts(int64(h), int64(k))
	}
	if err != nil {
		if !w.found {
			w.err = err
		}
		return true
	}
	w.best, w.found = p, true
	// h <= 2^53 is exact as a float64; IEEE division rounds h/k correctly.
	if float64(h)/float64(k) == w.l.Rate {
		return true
	}
	w.h2, w.h1, w.k2, w.k1 = w.h1, h, w.k1, k
	return false
}

func (w *cfWalk) result() (params, error) {
	if !w.found {
		return params{}, w.err
	}
	return w.best, nil
}

// fromInts builds params for exactly hv tokens per kv·Per, for 0 < hv <= 2^53 and kv > 0.
func (l Limit) fromInts(hv, kv int64) (params, error) {
	per := int64(l.Per)
	// gcd(h, k) = 1 for convergents, so gcd(h, k·Per) = gcd(h, Per).
	g := gcd(hv, per)
	hi, b := bits.Mul64(uint64(kv), uint64(per/g))
	if hi != 0 || b > maxCredit {
		return params{}, errTooSmall(l)
	}
	hi, c := bits.Mul64(uint64(l.Burst), b)
	if hi != 0 || c > maxCredit {
		return params{}, fmt.Errorf("tokenbucket: Burst must be small enough that Burst×Per/Rate fits the exact range, got Burst %d at %v per %v", l.Burst, l.Rate, l.Per)
	}
	p := params{a: hv / g, b: int64(b), cap: int64(c), burst: int64(l.Burst)}
	p.horizon = (maxCredit - p.cap) / p.a
	// Report the rate with an integer numerator so that it is exact: integer rates come
	// back unchanged, 0.5 per second comes back as 1 per 2s.
	switch hi, kp := bits.Mul64(uint64(kv), uint64(per)); {
	case kv == 1:
		p.norm = Limit{Rate: float64(hv), Per: l.Per, Burst: l.Burst}
	case hi == 0 && kp <= math.MaxInt64:
		p.norm = Limit{Rate: float64(hv), Per: time.Duration(kp), Burst: l.Burst}
	default:
		p.norm = Limit{Rate: float64(p.a), Per: time.Duration(p.b), Burst: l.Burst}
	}
	return p, nil
}

func errTooLarge(l Limit) error {
	return fmt.Errorf("tokenbucket: Rate must be <= 2^53 tokens per Per, got %v per %v", l.Rate, l.Per)
}

func errTooSmall(l Limit) error {
	return fmt.Errorf("tokenbucket: Rate must be at least about one token per 146 years, got %v per %v", l.Rate, l.Per)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
