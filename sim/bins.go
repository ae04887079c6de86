package sim

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// bins is an exact multiset of DDSketch bin indices: what a sketch of positive values keeps,
// in less room. A DDSketch's quantiles depend only on the count in each bin of its index
// mapping, whatever its store, so a sketch filled from bins answers exactly as one fed the
// values did. While a tenant has few values (100,000 tenants of 100 jobs each), bins keeps
// their indices, 4 bytes each, where a sketch's buffered store keeps 8 bytes each plus two
// stores and their pages; once the values outnumber the bins they span (checked when their
// array is full, so that the counts take no more room than the array would grow to), it keeps
// a dense count per bin instead, so memory stays bounded by the span of the indices (at most
// a few thousand bins at 1% accuracy from 1ns to a century) however many values are added.
//
// Indices fit an int32: the mapping bounds them so that its indexable values are those whose
// index does (ddsketch's MaxIndexableValue).
type bins struct {
	raw    []int32  // the indices, in arrival order, until dense
	counts []uint64 // dense: counts[i] is the count of index lo+i
	lo, hi int32    // raw: the least and greatest index added; dense: counts covers [lo, hi]
}

// denseAfter is the fewest raw indices bins keeps before it considers dense counts.
const denseAfter = 32

func (b *bins) add(i int32) {
	switch {
	case b.counts != nil:
		if i < b.lo || i > b.hi {
			b.widen(i)
		}
		b.counts[i-b.lo]++
		return
	case len(b.raw) == 0:
		b.lo, b.hi = i, i
	default:
		b.lo, b.hi = min(b.lo, i), max(b.hi, i)
	}
	// A count is 8 bytes, an index 4: when the indices fill their array, dense counts are
	// no larger than the array they would grow into once they outnumber the span.
	if n := len(b.raw); n == cap(b.raw) && n >= denseAfter && n >= int(b.hi-b.lo+1) {
		b.counts = make([]uint64, b.hi-b.lo+1)
		for _, x := range b.raw {
			b.counts[x-b.lo]++
		}
		b.counts[i-b.lo]++
		b.raw = nil
		return
	}
	b.raw = append(b.raw, i)
}

// widen extends the dense counts to cover index i, with room for as many more bins again
// on that side (indices drift as a run's latencies do), so widening is amortised O(1).
func (b *bins) widen(i int32) {
	pad := int64(len(b.counts)) / 2
	lo, hi := int64(b.lo), int64(b.hi)
	if int64(i) < lo {
		lo = max(int64(i)-pad, math.MinInt32)
	} else {
		hi = min(int64(i)+pad, math.MaxInt32)
	}
	c := make([]uint64, hi-lo+1)
	copy(c[int64(b.lo)-lo:], b.counts)
	b.counts, b.lo, b.hi = c, int32(lo), int32(hi)
}

// windowBins are bins emptied at the end of every window, keeping their arrays: a series
// tenant's latencies of one window.
type windowBins struct {
	bins
	n int // values added since the last reset
}

func (w *windowBins) add(i int32) {
	w.bins.add(i)
	w.n++
}

// reset empties w. Dense counts stay dense (zeroed), so that a busy tenant's window does
// not allocate its counts again.
func (w *windowBins) reset() {
	w.n = 0
	w.raw = w.raw[:0]
	clear(w.counts)
}

func (b *bins) empty() bool { return len(b.raw) == 0 && b.counts == nil }

// addTo adds the bins' counts to s.
func (b *bins) addTo(s store.Store) {
	for _, x := range b.raw {
		s.Add(int(x))
	}
	for i, c := range b.counts {
		if c > 0 {
			s.AddWithCount(int(b.lo)+i, float64(c))
		}
	}
}

// sketcher turns bins into DDSketches for queries, reusing one sketch.
type sketcher struct {
	m   mapping.IndexMapping
	pos *store.DenseStore
	sk  *ddsketch.DDSketch
}

func newSketcher(m mapping.IndexMapping) *sketcher {
	pos := store.NewDenseStore()
	return &sketcher{m: m, pos: pos, sk: ddsketch.NewDDSketch(m, pos, store.NewDenseStore())}
}

// of returns a sketch holding exactly b's values, valid until the next call; nil if b is
// empty (as a tenant without measured jobs has no sketch).
func (s *sketcher) of(b *bins) *ddsketch.DDSketch {
	if b.empty() {
		return nil
	}
	s.sk.Clear()
	b.addTo(s.pos)
	return s.sk
}

// ofLat is of for kind k of b.
func (s *sketcher) ofLat(b *latBins, k int) *ddsketch.DDSketch {
	if b.empty(k) {
		return nil
	}
	s.sk.Clear()
	b.addTo(k, s.pos)
	return s.sk
}

// index returns the bin of positive value v as a sketch would file it, and false if a sketch
// would refuse it (beyond MaxIndexableValue). Values are at least 1 here, far above the
// least indexable value, which sketches file as zero.
func index(m *mapping.CubicallyInterpolatedMapping, v float64) (int32, bool) {
	if v > m.MaxIndexableValue() {
		return 0, false
	}
	return int32(m.Index(v)), true
}

// latBins are one tenant's bins of its four latencies (the kinds latAdmission..latTotal),
// kept together: a measured job adds its four indices as one record of raw, so that a
// completion writes one place instead of four arrays (with 100,000 tenants each is a cache
// miss), and a tenant has one growing array instead of four. Once the records outnumber half
// the bins their kinds span (checked when raw is full, as bins does: dense counts of 8 bytes
// are then no larger than records of 16), each kind moves to its own bins, in dense counts,
// so memory stays bounded by the spans however many jobs complete. Queries see each kind as
// its own multiset of indices, as bins would hold it: the sketches answer the same. The zero
// value is empty.
type latBins struct {
	raw    []int32     // nLat indices per measured job, noIndex for a value not kept
	lo, hi [nLat]int32 // per kind with values in raw: the least and greatest index
	has    uint8       // bit k: kind k has values in raw
	split  *[nLat]bins // each kind's bins, once the records are split; then raw is nil
}

// noIndex marks a value a sketch refused (beyond MaxIndexableValue) or a kind not recorded
// (the admission lag without admission). Indices of values >= 1 are >= 0 (the mapping's
// logarithm is >= 0 there and its offset is 0), so no index is noIndex.
const noIndex = math.MinInt32

// add adds one job's indices, one per kind (noIndex: none for that kind).
func (b *latBins) add(x [nLat]int32) {
	if d := b.split; d != nil {
		for k, i := range x {
			if i != noIndex {
				d[k].add(i)
			}
		}
		return
	}
	for k, i := range x {
		switch {
		case i == noIndex:
		case b.has&(1<<k) == 0:
			b.has |= 1 << k
			b.lo[k], b.hi[k] = i, i
		default:
			b.lo[k], b.hi[k] = min(b.lo[k], i), max(b.hi[k], i)
		}
	}
	if n := len(b.raw); n == cap(b.raw) && n >= nLat*denseAfter && 2*(n/nLat) >= b.span() {
		b.toSplit(x)
		return
	}
	b.raw = append(b.raw, x[:]...)
}

// span returns the number of bins the kinds with values span.
func (b *latBins) span() int {
	n := 0
	for k := range nLat {
		if b.has&(1<<k) != 0 {
			n += int(b.hi[k]-b.lo[k]) + 1
		}
	}
	return n
}

// toSplit moves the records, and x, the record being added, to each kind's bins, in dense
// counts over the span of the kind's indices (a kind without values starts empty).
func (b *latBins) toSplit(x [nLat]int32) {
	d := new([nLat]bins)
	for k := range nLat {
		if b.has&(1<<k) != 0 {
			d[k] = bins{counts: make([]uint64, b.hi[k]-b.lo[k]+1), lo: b.lo[k], hi: b.hi[k]}
		}
	}
	for j := 0; j < len(b.raw); j += nLat {
		for k := range nLat {
			if i := b.raw[j+k]; i != noIndex {
				d[k].counts[i-b.lo[k]]++
			}
		}
	}
	b.split, b.raw = d, nil
	b.add(x)
}

// empty reports whether kind k has no values.
func (b *latBins) empty(k int) bool {
	if b.split != nil {
		return b.split[k].empty()
	}
	return b.has&(1<<k) == 0
}

// addTo adds kind k's counts to s.
func (b *latBins) addTo(k int, s store.Store) {
	if b.split != nil {
		b.split[k].addTo(s)
		return
	}
	for j := k; j < len(b.raw); j += nLat {
		if i := b.raw[j]; i != noIndex {
			s.Add(int(i))
		}
	}
}
