package interleave

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Jain returns Jain's fairness index of the allocations x (Jain, Chiu and Hawe, DEC TR-301,
// 1984):
//
//	J(x) = (Σ x_i)² / (n · Σ x_i²)
//
// J lies in [1/n, 1]: 1 when all allocations are equal, k/n when k of n share equally and
// the rest get nothing. All zeros count as equal (J = 1). When fair shares differ (weights,
// or max-min shares with small demands), pass x_i = measured_i / fair_i.
//
// Jain returns an error if x is empty or holds a negative, NaN or infinite value. It scales
// by the largest value first, so large values do not overflow.
func Jain(x []float64) (float64, error) {
	if len(x) == 0 {
		return 0, fmt.Errorf("interleave: Jain needs at least one value")
	}
	top := 0.0
	for i, v := range x {
		if !(v >= 0) || math.IsInf(v, 1) {
			return 0, fmt.Errorf("interleave: Jain values must be finite and >= 0, got %v at index %d", v, i)
		}
		top = max(top, v)
	}
	if top == 0 {
		return 1, nil
	}
	var sum, sq float64
	for _, v := range x {
		s := v / top
		sum += s
		sq += s * s
	}
	return sum * sum / (float64(len(x)) * sq), nil
}

// MaxMinFair returns the weighted max-min fair allocation of capacity among demands, by
// water-filling (Bertsekas and Gallager, Data Networks): raise a common level λ and give
// each user min(demand_i, λ·w_i), until the capacity is used or every demand is met. No
// user's allocation can then grow without shrinking that of a user whose allocation per
// unit of weight is no larger. weights may be nil for equal weights; with equal weights this
// is Kubernetes API Priority and Fairness's fairAlloc.
//
// For example demands {3, 7, 9, 1} with capacity 14 get {3, 5, 5, 1}; with weights
// {1, 1, 2, 1} they get {3, 10/3, 20/3, 1}.
//
// A demand may be +Inf (always backlogged), as may capacity (every demand met). MaxMinFair
// returns an error for a negative or NaN demand or capacity, a weight that is not finite and
// > 0, or len(weights) != len(demands). It costs O(n log n).
func MaxMinFair(demands []float64, capacity float64, weights []float64) ([]float64, error) {
	if !(capacity >= 0) {
		return nil, fmt.Errorf("interleave: capacity must be >= 0, got %v", capacity)
	}
	if weights != nil && len(weights) != len(demands) {
		return nil, fmt.Errorf("interleave: weights must have one entry per demand, got %d weights for %d demands", len(weights), len(demands))
	}
	w := func(i int) float64 {
		if weights == nil {
			return 1
		}
		return weights[i]
	}
	for i, d := range demands {
		if !(d >= 0) {
			return nil, fmt.Errorf("interleave: demand must be >= 0, got %v at index %d", d, i)
		}
		if wi := w(i); !(wi > 0) || math.IsInf(wi, 1) {
			return nil, fmt.Errorf("interleave: weight must be finite and > 0, got %v at index %d", wi, i)
		}
	}
	alloc := make([]float64, len(demands))
	if math.IsInf(capacity, 1) {
		copy(alloc, demands)
		return alloc, nil
	}
	// Serve users in increasing demand per unit of weight: each is either satisfied below
	// the level the remaining capacity would give the remaining users, or the level is
	// reached and everyone left shares the rest in proportion to weight.
	idx := make([]int, len(demands))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(demands[a]/w(a), demands[b]/w(b)) })
	// The remaining users' weight is summed from the end rather than subtracted from the
	// total: with weights far apart (1e20 and 1) the subtraction leaves 0, and the level
	// left/0 would give a user its whole demand beyond the capacity. leftW[n] weighs idx[n:].
	leftW := make([]float64, len(idx)+1)
	for n := len(idx) - 1; n >= 0; n-- {
		leftW[n] = leftW[n+1] + w(idx[n])
	}
	left := capacity
	for n, i := range idx {
		level := left / leftW[n]
		if demands[i]/w(i) > level {
			for _, j := range idx[n:] {
				alloc[j] = level * w(j)
			}
			return alloc, nil
		}
		alloc[i] = demands[i]
		left = max(left-demands[i], 0)
	}
	return alloc, nil
}

// Unfairness describes the worst moment of an ordering, as [PositionalUnfairness] reports it.
type Unfairness[K comparable] struct {
	// Lag is the largest 2·(c_b·w_a − c_a·w_b)/(w_a + w_b) over prefixes of the ordering and
	// keys a, b where a still has items after the prefix; c_a, c_b are the keys' items in the
	// prefix and w_a, w_b their weights. With equal weights it is c_b − c_a: how far a key
	// that is still waiting has fallen behind another. [ByKey] and [Weighted] keep it <= 1;
	// a FIFO order with one key's burst first has Lag equal to the burst.
	Lag float64
	// At is the length of the first prefix where Lag occurs (0 if Lag is 0).
	At int
	// Ahead is b and Behind is a at that prefix (zero values if Lag is 0).
	Ahead, Behind K
}

// PositionalUnfairness reports the worst positional unfairness of order, a sequence of
// items of several keys: the largest amount by which a key that still has items is behind
// another key at some prefix, normalised by weight (see [Unfairness]). weight may be nil
// for equal weights; otherwise it is called once per key and must return >= 1. Keys count
// from the start of order, including keys whose first item comes late, which is what makes
// FIFO unfair.
//
// It costs O(len(order) + keys) with equal weights and O(len(order)·keys) with weights.
// It returns an error if a weight is < 1.
func PositionalUnfairness[T any, K comparable](order []T, key func(T) K, weight func(K) int) (Unfairness[K], error) {
	var u Unfairness[K]
	if key == nil && len(order) > 0 {
		return u, fmt.Errorf("interleave: key must not be nil")
	}
	ids := make(map[K]int)
	var keys []K
	gid := make([]int, len(order))
	var total []int
	for i, it := range order {
		k := key(it)
		g, ok := ids[k]
		if !ok {
			g = len(keys)
			ids[k] = g
			keys = append(keys, k)
			total = append(total, 0)
		}
		gid[i] = g
		total[g]++
	}
	got := make([]int, len(keys))
	if weight == nil {
		// hist[c] counts the keys with items left that have c items in the prefix; the least
		// such c and the largest count overall only grow, so each moves O(len(order)) times.
		hist := make([]int, len(order)+1)
		hist[0] = len(keys)
		low, top, worstLow := 0, 0, 0
		for t, g := range gid {
			hist[got[g]]--
			got[g]++
			if got[g] < total[g] {
				hist[got[g]]++
			}
			for low < len(order) && hist[low] == 0 {
				low++
			}
			top = max(top, got[g])
			if hist[low] > 0 && float64(top-low) > u.Lag {
				u.Lag, u.At, u.Ahead, worstLow = float64(top-low), t+1, keys[g], low
			}
		}
		if u.Lag > 0 {
			// Behind is the first key, in first-appearance order, with worstLow items in the
			// worst prefix and items left. It is found once, by replaying that prefix: searching
			// the keys at every new worst cost O(len(order)·keys) when a late key waits behind
			// a long run.
			clear(got)
			for _, g := range gid[:u.At] {
				got[g]++
			}
			for a := range keys {
				if got[a] == worstLow && got[a] < total[a] {
					u.Behind = keys[a]
					break
				}
			}
		}
		return u, nil
	}
	wt := make([]int, len(keys))
	for g, k := range keys {
		if wt[g] = weight(k); wt[g] < 1 {
			return u, fmt.Errorf("interleave: weight must be >= 1, got %d for key %v", wt[g], k)
		}
	}
	// A pair's lag grows only when b gets an item, so it is enough to check b against every
	// waiting key right after each of b's items.
	for t, b := range gid {
		got[b]++
		for a := range keys {
			if a == b || got[a] == total[a] {
				continue
			}
			lag := 2 * (float64(got[b])*float64(wt[a]) - float64(got[a])*float64(wt[b])) / float64(wt[a]+wt[b])
			if lag > u.Lag {
				u.Lag, u.At, u.Ahead, u.Behind = lag, t+1, keys[b], keys[a]
			}
		}
	}
	return u, nil
}
