package wdrr

import "math/bits"

// choose returns the index of the winner among the members with ok[i], after accrual: each
// eligible slot's cur already includes this scan's effective weight, and total is the sum
// of the eligible effective weights. At least one member is eligible.
func choose(rule Rule, sl []slot, ok []bool, total int64) int {
	switch rule {
	case DripDrop:
		return chooseDripDrop(sl, ok)
	case Strict:
		return chooseStrict(sl, ok, total)
	default:
		return chooseNginx(sl, ok)
	}
}

// chooseNginx: the largest current weight, the earliest on ties.
func chooseNginx(sl []slot, ok []bool) int {
	best := -1
	for i := range sl {
		if ok[i] && (best < 0 || sl[i].cur > sl[best].cur) {
			best = i
		}
	}
	return best
}

// chooseDripDrop: the largest (current, static weight), the earliest on ties, which is
// Elixir's Enum.max_by over {current, weight} in member order.
func chooseDripDrop(sl []slot, ok []bool) int {
	best := -1
	for i := range sl {
		if !ok[i] {
			continue
		}
		if best < 0 || sl[i].cur > sl[best].cur || sl[i].cur == sl[best].cur && sl[i].wt > sl[best].wt {
			best = i
		}
	}
	return best
}

// chooseStrict is Tijdeman's rule in lag form. With p_i = e_i/T the share of eligible member
// i (e its effective weight, T the eligible total) and lag_i = cur_i/T its picks owed, the
// members with lag_i >= c, c = 1/(2n−2), are released, and the winner is the released member
// with the earliest deadline (1 − c − lag_i)/p_i, the earliest member on ties. n counts the
// eligible members with e > 0; a member with e = 0 has no share and is never released.
//
// Two guards hand the choice to the Nginx rule (the largest current weight): when some
// eligible member is owed a whole pick or more (lag >= 1), and when no member is released.
// Neither can happen while every member is eligible at full weight, where Tijdeman's theorem
// keeps |lag| <= 1 − c < 1 and always releases someone, so the guards leave his sequence
// alone; after filtering, failures or membership changes they repay the largest debt first,
// which keeps current weights as bounded as nginx's (without them, adversarial filters
// drove them past 2·W in tests).
//
// In integers, with u = 2n−2: released iff u·cur >= T, and the deadline is
// (u·(T − cur) − T)/(u·e), compared by cross-multiplication in 128 bits.
func chooseStrict(sl []slot, ok []bool, total int64) int {
	var n int64
	last := -1
	top := chooseNginx(sl, ok)
	for i := range sl {
		if ok[i] && sl[i].eff > 0 {
			n++
			last = i
		}
	}
	switch {
	case n == 0 || sl[top].cur >= total:
		return top
	case n == 1:
		return last
	}
	u := 2*n - 2
	t := from64(total)
	rel := -1
	var relKey i128
	var relE int64
	for i := range sl {
		if !ok[i] || sl[i].eff == 0 {
			continue
		}
		c, e := sl[i].cur, int64(sl[i].eff)
		if mul64(u, c).cmp(t) < 0 {
			continue // not released
		}
		key := mul64(u, total-c).sub(t)
		if rel < 0 || earlier(key, e, relKey, relE) {
			rel, relKey, relE = i, key, e
		}
	}
	if rel < 0 {
		return top
	}
	return rel
}

// earlier reports a/ea < b/eb for ea, eb in [1, 2^31): a·eb < b·ea. |a|, |b| < 2^96, so the
// products fit 128 bits.
func earlier(a i128, ea int64, b i128, eb int64) bool {
	return a.mul(eb).cmp(b.mul(ea)) < 0
}

// i128 is a two's-complement signed 128-bit integer, hi·2^64 + lo.
type i128 struct {
	hi int64
	lo uint64
}

func from64(v int64) i128 { return i128{hi: v >> 63, lo: uint64(v)} }

// mul64 returns a·b exactly.
func mul64(a, b int64) i128 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	h := int64(hi)
	// Correct the unsigned product for the signs (two's complement).
	if a < 0 {
		h -= b
	}
	if b < 0 {
		h -= a
	}
	return i128{hi: h, lo: lo}
}

// mul returns x·e for e > 0, exact when the result fits 128 bits.
func (x i128) mul(e int64) i128 {
	hi, lo := bits.Mul64(x.lo, uint64(e))
	return i128{hi: x.hi*e + int64(hi), lo: lo}
}

func (x i128) sub(y i128) i128 {
	lo, borrow := bits.Sub64(x.lo, y.lo, 0)
	return i128{hi: x.hi - y.hi - int64(borrow), lo: lo}
}

func (x i128) cmp(y i128) int {
	switch {
	case x.hi < y.hi:
		return -1
	case x.hi > y.hi:
		return 1
	case x.lo < y.lo:
		return -1
	case x.lo > y.lo:
		return 1
	}
	return 0
}
