package tokenbucket_test

import (
	"flag"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/leanovate/gopter"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

var (
	trials = flag.Int("trials", 10000, "gopter trials for the oracle properties (use 100000 to explore)")
	seed   = flag.Int64("seed", 1, "gopter seed; CI pins it, change it to explore")
)

// params returns gopter parameters with the pinned seed and n successful trials.
func params(n int) *gopter.TestParameters {
	p := gopter.DefaultTestParametersWithSeed(*seed)
	p.MinSuccessfulTests = n
	return p
}

// oracle is an exact reference token bucket over math/big rationals, written independently
// of the package's integer arithmetic: tokens are a rational balance refilled continuously.
// It keeps one clock for all its partitions, as Keyed and Dense do.
type oracle struct {
	clock    int64 // effective offset of the latest state change
	hasClock bool
	parts    map[string]*opart
}

type opart struct {
	lim   tokenbucket.Limit // the exact limit, as Limit() reports it
	rate  *big.Rat          // tokens per nanosecond
	burst int64
	tok   *big.Rat // balance at offset at
	at    int64
}

func newOracle() *oracle { return &oracle{parts: map[string]*opart{}} }

// exactRate returns the reported limit's rate in tokens per nanosecond. Limit() reports an
// integer Rate, so this is exact.
func exactRate(l tokenbucket.Limit) *big.Rat {
	r, acc := new(big.Float).SetFloat64(l.Rate).Int(nil)
	if acc != big.Exact {
		panic(fmt.Sprintf("reported Rate %v is not an integer", l.Rate))
	}
	return new(big.Rat).SetFrac(r, big.NewInt(int64(l.Per)))
}

// eff returns the effective offset of a call at off.
func (o *oracle) eff(off int64) int64 {
	if o.hasClock && o.clock > off {
		return o.clock
	}
	return off
}

func (o *oracle) touch(t int64) {
	if !o.hasClock || t > o.clock {
		o.clock, o.hasClock = t, true
	}
}

// balance returns key's tokens at effective offset t under limit lim (exact form), applying a
// limit change first, as the package does.
func (o *oracle) balance(key string, lim tokenbucket.Limit, t int64) (*opart, *big.Rat) {
	p := o.parts[key]
	if p != nil && p.lim != lim && (p.burst != int64(lim.Burst) || p.rate.Cmp(exactRate(lim)) != 0) {
		old := o.tokensAt(p, t)
		if old.Cmp(new(big.Rat).SetInt64(p.burst)) >= 0 {
			p = nil // full: the same as fresh under any limit
			delete(o.parts, key)
		} else {
			np := newPart(lim)
			// keep the balance, rounded down to the new resolution 1/b tokens
			b := np.rate.Denom()
			scaled := new(big.Rat).Mul(old, new(big.Rat).SetInt(b))
			floor := new(big.Int).Quo(scaled.Num(), scaled.Denom())
			np.tok = new(big.Rat).SetFrac(floor, b)
			if np.tok.Cmp(new(big.Rat).SetInt64(np.burst)) > 0 {
				np.tok.SetInt64(np.burst)
			}
			np.at = t
			o.parts[key] = np
			o.touch(t)
			p = np
		}
	}
	if p == nil {
		p = newPart(lim)
		return p, new(big.Rat).SetInt64(p.burst)
	}
	return p, o.tokensAt(p, t)
}

func newPart(lim tokenbucket.Limit) *opart {
	return &opart{lim: lim, rate: exactRate(lim), burst: int64(lim.Burst)}
}

func (o *oracle) tokensAt(p *opart, t int64) *big.Rat {
	if p.tok == nil {
		return new(big.Rat).SetInt64(p.burst)
	}
	if t == p.at { // the same instant: no refill (saves big.Rat work, the tests' main cost)
		return new(big.Rat).Set(p.tok)
	}
	dt := new(big.Rat).SetInt64(t - p.at)
	v := new(big.Rat).Add(p.tok, dt.Mul(dt, p.rate))
	if b := new(big.Rat).SetInt64(p.burst); v.Cmp(b) > 0 {
		return b
	}
	return v
}

func (o *oracle) set(key string, p *opart, tok *big.Rat, t int64) {
	p.tok, p.at = tok, t
	o.parts[key] = p
	o.touch(t)
}

// waitFor returns the exact nanoseconds until balance reaches need tokens (0 if it has).
func waitFor(p *opart, balance *big.Rat, need int64) int64 {
	short := new(big.Rat).Sub(new(big.Rat).SetInt64(need), balance)
	if short.Sign() <= 0 {
		return 0
	}
	q := short.Quo(short, p.rate)
	n := new(big.Int).Quo(q.Num(), q.Denom())
	if !q.IsInt() {
		n.Add(n, big.NewInt(1))
	}
	return n.Int64()
}

func (o *oracle) allowN(key string, lim tokenbucket.Limit, off int64, n int) bool {
	if n <= 0 {
		return n == 0
	}
	t := o.eff(off)
	p, bal := o.balance(key, lim, t)
	if int64(n) > p.burst {
		return false
	}
	need := new(big.Rat).SetInt64(int64(n))
	if bal.Cmp(need) < 0 {
		return false
	}
	o.set(key, p, bal.Sub(bal, need), t)
	return true
}

func (o *oracle) takeUpTo(key string, lim tokenbucket.Limit, off int64, max int) (int, time.Duration) {
	if max <= 0 {
		return 0, 0
	}
	t := o.eff(off)
	p, bal := o.balance(key, lim, t)
	whole := new(big.Int).Quo(bal.Num(), bal.Denom()).Int64()
	k := min(whole, int64(max))
	if k > 0 {
		bal = bal.Sub(bal, new(big.Rat).SetInt64(k))
		o.set(key, p, bal, t)
	}
	if w := waitFor(p, bal, 1); w > 0 {
		return int(k), time.Duration(w + (t - off))
	}
	return int(k), 0
}

func (o *oracle) delay(key string, lim tokenbucket.Limit, off int64, n int) (time.Duration, bool) {
	if n <= 0 {
		return 0, true
	}
	t := o.eff(off)
	p, bal := o.balance(key, lim, t)
	if int64(n) > p.burst {
		return 0, false
	}
	w := waitFor(p, bal, int64(n))
	if w == 0 {
		return 0, true
	}
	return time.Duration(w + (t - off)), true
}

func (o *oracle) tokens(key string, lim tokenbucket.Limit, off int64) float64 {
	_, bal := o.balance(key, lim, o.eff(off))
	f, _ := bal.Float64()
	return f
}

// setLimit is Bucket.SetLimit: refill to now, then keep the balance under the new limit.
func (o *oracle) setLimit(key string, old, lim tokenbucket.Limit, off int64) {
	t := o.eff(off)
	p, bal := o.balance(key, old, t)
	o.set(key, p, bal, t) // anchor the old balance at t, then convert
	o.balance(key, lim, t)
	o.touch(t)
}

// prune is a Keyed.Prune that removed partitions: the clock moves to now; full partitions
// are the same as fresh ones.
func (o *oracle) prune(off int64) { o.touch(o.eff(off)) }

// closeTo reports whether a reported Tokens value matches the exact balance.
func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// start creates key's partition full at offset at, as New does, and starts the clock there.
func (o *oracle) start(key string, lim tokenbucket.Limit, at int64) {
	p := newPart(lim)
	o.set(key, p, new(big.Rat).SetInt64(p.burst), at)
}
