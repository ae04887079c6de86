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
	equal := true
	for g, k := range iv.keys {
		w := weight(k)
		if w < 1 {
			return fmt.Errorf("interleave: weight must be >= 1, got %d for key %v", w, k)
		}
		iv.wt[g] = w
		equal = equal && w == iv.wt[0]
	}
	if equal { // equal virtual times per round: exactly the round robin, in O(n)
		iv.roundRobin()
		return nil
	}
	// A binary min-heap of the groups that still have items, ordered by the virtual time
	// (2j+1)/(2w) of their next item j; entries carry 2j+1 and w so that comparisons touch
	// only the heap. Initially every group's next item is its first.
	h := iv.heap[:0]
	for g := range groups {
		h = append(h, heapEntry{num: 1, w: uint64(iv.wt[g]), g: g})
	}
	for i := groups/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	iv.perm = resize(iv.perm, len(items))
	for out := range iv.perm {
		top := &h[0]
		j := int(top.num / 2)
		iv.perm[out] = iv.order[iv.begin[top.g]+j]
		if j+1 == iv.count[top.g] {
			last := len(h) - 1
			h[0] = h[last]
			h = h[:last]
		} else {
			top.num += 2
		}
		siftDown(h, 0)
	}
	iv.heap = h
	return nil
}

// heapEntry is a group in the weighted heap: its next item's virtual time is num/(2w).
type heapEntry struct {
	num, w uint64
	g      int
}

// before reports whether a's next item comes before b's: num_a/w_a < num_b/w_b, compared
// exactly as num_a·w_b < num_b·w_a in 128 bits, with ties to the group that appeared first.
func before(a, b *heapEntry) bool {
	ah, al := bits.Mul64(a.num, b.w)
	bh, bl := bits.Mul64(b.num, a.w)
	if ah != bh {
		return ah < bh
	}
	if al != bl {
		return al < bl
	}
	return a.g < b.g
}

func siftDown(h []heapEntry, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && before(&h[r], &h[l]) {
			m = r
		}
		if !before(&h[m], &h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
