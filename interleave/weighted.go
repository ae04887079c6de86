package interleave

import (
	"fmt"
	"math/bits"
)

// Weighted returns a new slice holding items interleaved across keys in proportion to
// integer weights, smoothly: over any prefix of the result, each key that still has items
// has received about weight/Σweights of the positions. Items keep their order within a key,
// and the result is a permutation of items.
//
// The j-th item (j = 0, 1, ...) of a key with weight w gets the virtual time (j + ½)/w, and
// items are emitted in increasing virtual time; ties go to the key that appeared first in
// items. This is stride scheduling with a half-step offset, and the order in which it hands
// out positions is the Sainte-Laguë (Webster) apportionment sequence. With equal weights it
// is exactly [ByKey]. Weights {a:5, b:1, c:1} give a a a b c a a.
//
// Bound: for every prefix of the result and every two keys a and b such that a still has
// items after the prefix, with c_a and c_b items in the prefix,
//
//	2·(c_b·w_a − c_a·w_b) <= w_a + w_b,
//
// that is, c_b/w_b − c_a/w_a <= ½·(1/w_a + 1/w_b). With equal weights this is c_b − c_a <= 1.
// [PositionalUnfairness] measures this quantity.
//
// weight is called once per distinct key and must return a value >= 1; a smaller value is
// an error naming the key. key is called once per item. Weighted costs
// O(len(items)·log(keys)) time.
func Weighted[T any, K comparable](items []T, key func(T) K, weight func(K) int) ([]T, error) {
	var iv Interleaver[T, K]
	return iv.AppendWeighted(make([]T, 0, len(items)), items, key, weight)
}

// AppendWeighted appends items to dst in the order of [Weighted] and returns the extended
// slice. On error dst is returned unchanged. It does not allocate once dst and the
// Interleaver's buffers have the capacity for items.
func (iv *Interleaver[T, K]) AppendWeighted(dst, items []T, key func(T) K, weight func(K) int) ([]T, error) {
	if err := iv.weighted(items, key, weight); err != nil {
		return dst, err
	}
	return appendPerm(dst, items, iv.perm), nil
}

// AppendWeightedIndex appends to dst the indices into items of the order of [Weighted].
// On error dst is returned unchanged.
func (iv *Interleaver[T, K]) AppendWeightedIndex(dst []int, items []T, key func(T) K, weight func(K) int) ([]int, error) {
	if err := iv.weighted(items, key, weight); err != nil {
		return dst, err
	}
	return append(dst, iv.perm...), nil
}

// weighted leaves the weighted permutation of items in iv.perm.
func (iv *Interleaver[T, K]) weighted(items []T, key func(T) K, weight func(K) int) error {
	switch {
	case weight == nil:
		return fmt.Errorf("interleave: weight must not be nil")
	case key == nil && len(items) > 0:
		return fmt.Errorf("interleave: key must not be nil")
	}
	iv.group(items, key)
	groups := len(iv.keys)
	iv.wt = resize(iv.wt, groups)
	for g, k := range iv.keys {
		w := weight(k)
		if w < 1 {
			return fmt.Errorf("interleave: weight must be >= 1, got %d for key %v", w, k)
		}
		iv.wt[g] = w
	}
	iv.next = resize(iv.next, groups)
	clear(iv.next)
	// A binary min-heap of the groups that still have items, ordered by the virtual time of
	// their next item. Initially every group's next item is its first, at 1/(2w).
	h := resize(iv.work, groups)
	for g := range h {
		h[g] = g
	}
	for i := groups/2 - 1; i >= 0; i-- {
		iv.siftDown(h, i)
	}
	iv.perm = resize(iv.perm, len(items))
	for out := range iv.perm {
		g := h[0]
		iv.perm[out] = iv.order[iv.begin[g]+iv.next[g]]
		iv.next[g]++
		if iv.next[g] == iv.count[g] {
			last := len(h) - 1
			h[0] = h[last]
			h = h[:last]
		}
		iv.siftDown(h, 0)
	}
	iv.work = h
	return nil
}

// before reports whether group a's next item comes before group b's: (2j_a+1)/w_a <
// (2j_b+1)/w_b, compared exactly as (2j_a+1)·w_b < (2j_b+1)·w_a in 128 bits, with ties to
// the group that appeared first.
func (iv *Interleaver[T, K]) before(a, b int) bool {
	ah, al := bits.Mul64(uint64(2*iv.next[a]+1), uint64(iv.wt[b]))
	bh, bl := bits.Mul64(uint64(2*iv.next[b]+1), uint64(iv.wt[a]))
	if ah != bh {
		return ah < bh
	}
	if al != bl {
		return al < bl
	}
	return a < b
}

func (iv *Interleaver[T, K]) siftDown(h []int, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && iv.before(h[r], h[l]) {
			m = r
		}
		if !iv.before(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
