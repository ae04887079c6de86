package tokenbucket

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// The integer-rate shortcut of exact gives what the convergent walk gives, errors included.
func TestExactIntegerShortcut(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		l := Limit{
			Rate:  float64([]int64{1, 2, 3, 10, 999, 1e6, 1 << 40, 1 << 53}[r.IntN(8)] + r.Int64N(3) - 1),
			Per:   time.Duration(1 + r.Int64N([]int64{10, 1e9, 1e15, 1 << 62}[r.IntN(4)])),
			Burst: 1 + r.IntN([]int{1, 10, 1 << 20, 1 << 40}[r.IntN(4)]),
		}
		if l.Rate <= 0 {
			continue
		}
		got, gerr := l.exact()
		want, werr := l.walk()
		if got != want || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("case %d: %+v: exact = %+v, %v; walk = %+v, %v", i, l, got, gerr, want, werr)
		}
	}
}

// TestWalkMatchesBig holds the integer convergent walk to the same walk in math/big, over
// floats of every kind: short fractions, arbitrary bit patterns, subnormals, the largest
// floats, and values around the limits of the exact range.
func TestWalkMatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 20000 {
		var rate float64
		switch r.IntN(6) {
		case 0: // a short fraction
			rate = float64(1+r.IntN(100000)) / float64(1+r.IntN(100000))
		case 1: // any positive finite float
			rate = math.Float64frombits(r.Uint64() >> 1)
		case 2: // a subnormal
			rate = math.Float64frombits(1 + r.Uint64N(1<<52-1))
		case 3: // around the exact range: 2^-70 .. 2^60
			rate = math.Ldexp(1+r.Float64(), -70+r.IntN(131))
		case 4: // an integer, possibly huge
			rate = math.Ldexp(float64(1+r.IntN(1<<20)), r.IntN(70))
		default: // a decimal
			rate = float64(1+r.IntN(1e6)) * math.Pow(10, float64(-12+r.IntN(20)))
		}
		if math.IsInf(rate, 0) || math.IsNaN(rate) || rate <= 0 {
			continue
		}
		l := Limit{
			Rate:  rate,
			Per:   time.Duration(1 + r.Int64N([]int64{10, 1e9, 1e15, 1 << 62}[r.IntN(4)])),
			Burst: 1 + r.IntN([]int{1, 10, 1 << 20}[r.IntN(3)]),
		}
		got, gerr := l.walk()
		want, werr := l.bigWalk()
		if got != want || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("case %d: %+v (%b): walk = %+v, %v; big = %+v, %v", i, l, rate, got, gerr, want, werr)
		}
	}
}

// bigWalk is walk in math/big rationals, written as the definition: the convergents h/k of
// the float's exact value, stopping at the first that rounds back to it, or keeping the last
// that fits when one does not.
func (l Limit) bigWalk() (params, error) {
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
			p, err := l.bigFraction(h, k)
			if err != nil {
				if !found {
					return params{}, err
				}
				break
			}
			best, found = p, true
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

func (l Limit) bigFraction(h, k *big.Int) (params, error) {
	if !h.IsInt64() || h.Int64() > 1<<53 {
		return params{}, errTooLarge(l)
	}
	if !k.IsInt64() {
		return params{}, errTooSmall(l)
	}
	return l.fromInts(h.Int64(), k.Int64())
}
