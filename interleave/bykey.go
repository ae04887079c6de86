package interleave

import "slices"

// ByKey returns a new slice holding items in round-robin order across keys: the first item
// of every key, then the second item of every key that has one, and so on. Keys take turns
// in the order of their first appearance in items, and a key's items keep their order in
// items (FIFO within a key). The result is a permutation of items and is fully determined by
// the input order; no map iteration order leaks into it.
//
// For example, keys A A A B C B give A B C A B A.
//
// key is called once per item and must not be nil. ByKey costs O(len(items)) time: one map
// lookup per item, then two passes over integer arrays. It allocates its result and scratch
// space; use an [Interleaver] to reuse buffers across calls.
func ByKey[T any, K comparable](items []T, key func(T) K) []T {
	var iv Interleaver[T, K]
	return iv.AppendByKey(make([]T, 0, len(items)), items, key)
}

// AppendByKey appends items to dst in the order of [ByKey] and returns the extended slice.
// It allocates scratch space on every call; an [Interleaver] reuses it.
func AppendByKey[T any, K comparable](dst, items []T, key func(T) K) []T {
	var iv Interleaver[T, K]
	return iv.AppendByKey(dst, items, key)
}

// Interleaver holds the scratch buffers of the reordering and batching functions so that
// repeated calls do not allocate once the buffers have grown to the largest input seen
// (a dispatcher calls it once per tick). Its methods compute exactly what the corresponding
// package-level functions compute: AppendByKey as ByKey, AppendWeighted as Weighted,
// AppendBatch as BatchWith; the Index forms return positions in the input instead of items.
//
// The zero value is ready to use. An Interleaver is not safe for concurrent use: it belongs
// to one goroutine, typically a dispatcher's tick loop, because its buffers are overwritten
// by every call. It keeps no items between calls, only integer buffers and the map from keys
// to small integers, which it empties at the start of each call; the map is replaced by a
// smaller one after several consecutive calls that use under an eighth of its peak size, so
// one large call does not make later small calls pay for clearing a large map.
type Interleaver[T any, K comparable] struct {
	ids   map[K]int // key -> group id, in first-appearance order
	keys  []K       // group id -> key
	peak  int       // most keys the map has held since it was made
	small int       // consecutive calls that used under peak/8 keys

	gid   []int       // item -> group id
	count []int       // group id -> number of items
	begin []int       // group id -> first position of the group in order
	order []int       // item indices grouped by key, FIFO within a key
	perm  []int       // the output permutation, as indices into items
	work  []int       // round-robin active list
	heap  []heapEntry // weighted heap
	wt    []int       // group id -> weight (weighted)

	b batchState
}

// AppendByKey appends items to dst in the order of [ByKey] and returns the extended slice.
// It does not allocate once dst and the Interleaver's buffers have the capacity for items.
func (iv *Interleaver[T, K]) AppendByKey(dst, items []T, key func(T) K) []T {
	iv.byKey(items, key)
	return appendPerm(dst, items, iv.perm)
}

// AppendByKeyIndex appends to dst the indices into items of the order of [ByKey]: the
// result's j-th new element is the index of the item that ByKey would place at position j.
// Callers that keep large structs in items reorder them without copying, or reorder a
// parallel slice.
func (iv *Interleaver[T, K]) AppendByKeyIndex(dst []int, items []T, key func(T) K) []int {
	iv.byKey(items, key)
	return append(dst, iv.perm...)
}

// byKey leaves the round-robin permutation of items in iv.perm.
func (iv *Interleaver[T, K]) byKey(items []T, key func(T) K) {
	iv.group(items, key)
	iv.roundRobin()
}

// roundRobin leaves in iv.perm the round-robin order of the groups iv.group built.
func (iv *Interleaver[T, K]) roundRobin() {
	n, groups := len(iv.gid), len(iv.keys)
	iv.perm = resize(iv.perm, n)
	// The active list holds the groups that still have items, in first-appearance order;
	// round r emits the r-th item of each and drops the groups it exhausts, so the whole
	// loop does O(n) work.
	active := resize(iv.work, groups)
	for g := range active {
		active[g] = g
	}
	out := 0
	for r := 0; len(active) > 0; r++ {
		w := 0
		for _, g := range active {
			iv.perm[out] = iv.order[iv.begin[g]+r]
			out++
			if r+1 < iv.count[g] {
				active[w] = g
				w++
			}
		}
		active = active[:w]
	}
	iv.work = active
}

// group assigns every item its key's group id (first-appearance order) and counting-sorts
// the item indices by group into iv.order, stably. It costs one map operation per item.
func (iv *Interleaver[T, K]) group(items []T, key func(T) K) {
	small := len(items) <= smallGroup
	iv.resetKeys(small)
	iv.gid = resize(iv.gid, len(items))
	count := iv.count[:0]
	for i, it := range items {
		k := key(it)
		if small { // a linear scan beats hashing into a map for a few keys
			g := slices.Index(iv.keys, k)
			if g < 0 {
				g = len(iv.keys)
				iv.keys = append(iv.keys, k)
				count = append(count, 0)
			}
			iv.gid[i] = g
			count[g]++
			continue
		}
		g, ok := iv.ids[k]
		if !ok {
			g = len(iv.keys)
			iv.ids[k] = g
			iv.keys = append(iv.keys, k)
			count = append(count, 0)
		}
		iv.gid[i] = g
		count[g]++
	}
	iv.count = count
	begin := resize(iv.begin, len(count))
	sum := 0
	for g, c := range count {
		begin[g] = sum
		sum += c
	}
	// Place each item at its group's cursor; the cursors end at the groups' ends, from which
	// the beginnings are recovered without a second array.
	iv.order = resize(iv.order, len(items))
	for i, g := range iv.gid {
		iv.order[begin[g]] = i
		begin[g]++
	}
	for g, c := range count {
		begin[g] -= c
	}
	iv.begin = begin
}

// smallGroup is the most items grouped by a linear scan of the keys instead of the map.
const smallGroup = 8

// resetKeys empties the key map and key list for a new call; a small call does not use the
// map, so it leaves it as it is.
func (iv *Interleaver[T, K]) resetKeys(small bool) {
	used := len(iv.keys)
	clear(iv.keys) // drop references held by keys (strings, pointers)
	iv.keys = iv.keys[:0]
	if small {
		if len(iv.ids) > 0 {
			clear(iv.ids) // drop references held by a larger call's keys
		}
		return
	}
	if iv.ids == nil {
		iv.ids = make(map[K]int)
		return
	}
	iv.peak = max(iv.peak, used)
	if iv.peak > 4096 && used*8 < iv.peak {
		iv.small++
	} else {
		iv.small = 0
	}
	if iv.small >= 8 {
		iv.ids = make(map[K]int, used)
		iv.peak, iv.small = used, 0
		return
	}
	clear(iv.ids)
}

// resize returns s with length n, reusing its backing array when it is large enough.
// The contents are not cleared.
func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n, n+n/4)
	}
	return s[:n]
}

// appendPerm appends items[perm[0]], items[perm[1]], ... to dst.
func appendPerm[T any](dst, items []T, perm []int) []T {
	base := len(dst)
	dst = slices.Grow(dst, len(perm))[:base+len(perm)]
	out := dst[base:]
	for j, i := range perm {
		out[j] = items[i]
	}
	return dst
}
