package tokenbucket

import (
	"fmt"
	"math"
	"math/big"
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
//     period overflows int64 nanoseconds, about one token per 292 years);
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
		// An integer rate is its own first convergent (the walk below would stop there):
		// skip the big numbers, which cost microseconds per bucket.
		return l.fromInts(int64(r), 1)
	}
	return l.walk()
}

// walk finds the exact form of l's Rate, validated, from the convergents of the float.
func (l Limit) walk() (params, error) {
	// Walk the convergents h/k of the float's exact value; they alternate around it and
	// their denominators grow at least as fast as the Fibonacci numbers, so this stops
	// within ~90 steps.
	x := new(big.Rat).SetFloat64(l.Rate)
	h1, h2 := big.NewInt(1), big.NewInt(0)
	k1, k2 := big.NewInt(0), big.NewInt(1)
	var (
		best  params
		found bool
		ai    = new(big.Int)
		frac  = new(big.Rat)
	)
	for {
		ai.Quo(x.Num(), x.Denom()) // floor, as x > 0
		h := new(big.Int).Add(new(big.Int).Mul(ai, h1), h2)
		k := new(big.Int).Add(new(big.Int).Mul(ai, k1), k2)
		if h.Sign() > 0 {
			p, err := l.fromFraction(h, k)
			if err != nil {
				if !found {
					return params{}, err
				}
				break
			}
			best, found = p, true
			// h <= 2^53 is exact as a float64; IEEE division rounds h/k correctly.
			if float64(h.Int64())/float64(k.Int64()) == l.Rate {
				break
			}
		}
		frac.SetInt(ai)
		frac.Sub(x, frac)
		if frac.Sign() == 0 {
			break
		}
		x.Inv(frac)
		h2, h1 = h1, h
		k2, k1 = k1, k
	}
	return best, nil
}

// fromFraction builds params for exactly h tokens per k·Per.
func (l Limit) fromFraction(h, k *big.Int) (params, error) {
	if !h.IsInt64() || h.Int64() > 1<<53 {
		return params{}, fmt.Errorf("tokenbucket: Rate must be <= 2^53 tokens per Per, got %v per %v", l.Rate, l.Per)
	}
	if !k.IsInt64() {
		return params{}, errTooSmall(l)
	}
	return l.fromInts(h.Int64(), k.Int64())
}

// fromInts is fromFraction for h <= 2^53 and k that fit an int64.
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

func errTooSmall(l Limit) error {
	return fmt.Errorf("tokenbucket: Rate must be at least about one token per 146 years, got %v per %v", l.Rate, l.Per)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
