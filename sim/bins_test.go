package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// randomMapping returns a random accuracy, the sketch mapping for it, and a constructor of
// reference sketches (the recorder's kind) over that mapping.
func randomMapping(r *rand.Rand) (float64, *mapping.CubicallyInterpolatedMapping, func() *ddsketch.DDSketch, error) {
	acc := []float64{0.01, 0.02, 0.001, 0.3}[r.IntN(4)]
	m, err := mapping.NewCubicallyInterpolatedMapping(acc)
	newRef := func() *ddsketch.DDSketch {
		return ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
	}
	return acc, m, newRef, err
}

// A sketch made from bins answers every quantile exactly as a DDSketch fed the same values
// (the recorder's sketch), for few values (raw indices), many (dense counts, widened both
// ways), values beyond the indexable range, and the merge of several tenants.
func TestBinsMatchSketch(t *testing.T) {
	forAll(t, "sketches from bins equal sketches of the values", *trials/5, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 3))
		acc, m, newRef, err := randomMapping(r)
		if err != nil {
			return err.Error()
		}
		sks := newSketcher(m)
		all, allRef := store.NewDenseStore(), newRef()
		for tenant := range 1 + r.IntN(4) {
			var b bins
			ref := newRef()
			n := []int{0, 1, 5, 31, 32, 33, 200, 3000}[r.IntN(8)]
			scale := math.Exp(r.Float64() * 30)
			for range n {
				v := max(1, r.ExpFloat64()*scale)
				switch r.IntN(50) {
				case 0:
					v = 1
				case 1:
					v = math.MaxFloat64 // refused by both
				case 2:
					v = scale * 1e6 // far out: widens dense counts
				}
				_ = ref.Add(v)
				if i, ok := index(m, v); ok {
					b.add(i)
				}
			}
			got := sks.of(&b)
			if msg := sameSketch(got, ref); msg != "" {
				return fmt.Sprintf("tenant %d (%d values, accuracy %v): %s", tenant, n, acc, msg)
			}
			if b.counts != nil && len(b.raw) != 0 {
				return "bins keep raw indices and counts at once"
			}
			b.addTo(all)
			_ = allRef.MergeWith(ref)
		}
		if msg := sameSketch(ddsketch.NewDDSketch(m, all, store.NewDenseStore()), allRef); msg != "" {
			return "merged: " + msg
		}
		return ""
	})
}

// sameSketch compares got (nil for no values) with ref at many quantiles.
func sameSketch(got, ref *ddsketch.DDSketch) string {
	if got == nil {
		if !ref.IsEmpty() {
			return "no sketch, reference holds values"
		}
		return ""
	}
	if got.IsEmpty() != ref.IsEmpty() || got.GetCount() != ref.GetCount() {
		return fmt.Sprintf("count %v, reference %v", got.GetCount(), ref.GetCount())
	}
	if ref.IsEmpty() {
		return ""
	}
	qs := append([]float64{0, 0.5, 0.95, 0.99, 1}, cdfProbs...)
	a, _ := got.GetValuesAtQuantiles(qs)
	b, _ := ref.GetValuesAtQuantiles(qs)
	for i := range qs {
		if a[i] != b[i] {
			return fmt.Sprintf("quantile %v = %v, reference %v", qs[i], a[i], b[i])
		}
	}
	return ""
}

// Window bins reused window after window (reset keeps their arrays, dense or raw) answer
// each window exactly as a fresh DDSketch fed that window's values, as the recorder's
// per-window sketches did.
func TestWindowBinsMatchFreshSketch(t *testing.T) {
	forAll(t, "reset window bins equal a fresh sketch per window", *trials/10, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 4))
		m, err := mapping.NewCubicallyInterpolatedMapping(0.01)
		if err != nil {
			return err.Error()
		}
		sks := newSketcher(m)
		var w windowBins
		for win := range 12 {
			ref := ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
			n := []int{0, 1, 20, 40, 500, 5000}[r.IntN(6)]
			scale := math.Exp(r.Float64() * 25)
			for range n {
				v := max(1, r.ExpFloat64()*scale)
				_ = ref.Add(v)
				if i, ok := index(m, v); ok {
					w.add(i)
				}
			}
			if w.n != n {
				return fmt.Sprintf("window %d: %d values counted, %d added", win, w.n, n)
			}
			var got *ddsketch.DDSketch
			if w.n > 0 {
				got = sks.of(&w.bins)
			}
			if msg := sameSketch(got, ref); msg != "" {
				return fmt.Sprintf("window %d (%d values, dense %v): %s", win, n, w.counts != nil, msg)
			}
			w.reset()
		}
		return ""
	})
}

// Each kind of a tenant's latBins answers every quantile exactly as a DDSketch fed that
// kind's values, whether the records stay raw or go dense, with kinds never recorded (the
// admission lag without admission), kinds recorded only after the others went dense, values
// beyond the indexable range, and the merge of several tenants.
func TestLatBinsMatchSketch(t *testing.T) {
	forAll(t, "sketches from latBins equal sketches of each kind's values", *trials/5, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 5))
		acc, m, newRef, err := randomMapping(r)
		if err != nil {
			return err.Error()
		}
		sks := newSketcher(m)
		var all, allRef [nLat]*ddsketch.DDSketch
		for k := range nLat {
			all[k], allRef[k] = ddsketch.NewDDSketch(m, store.NewDenseStore(), store.NewDenseStore()), newRef()
		}
		for tenant := range 1 + r.IntN(4) {
			var b latBins
			var ref [nLat]*ddsketch.DDSketch
			var scale [nLat]float64
			for k := range nLat {
				ref[k] = newRef()
				scale[k] = math.Exp(r.Float64() * 30)
			}
			skip := r.IntN(nLat + 1) // a kind never recorded (none if nLat)
			late := r.IntN(nLat + 1) // a kind recorded only in the second half
			n := []int{0, 1, 5, 31, 32, 33, 200, 3000}[r.IntN(8)]
			for j := range n {
				var x [nLat]int32
				for k := range nLat {
					x[k] = noIndex
					if k == skip || (k == late && j < n/2) {
						continue
					}
					v := max(1, r.ExpFloat64()*scale[k])
					switch r.IntN(50) {
					case 0:
						v = 1
					case 1:
						v = math.MaxFloat64 // refused by both
					case 2:
						v = scale[k] * 1e6 // far out: widens dense counts
					case 3:
						v = max(1, scale[k]*1e-6) // and the other way
					}
					_ = ref[k].Add(v)
					if i, ok := index(m, v); ok {
						x[k] = i
					}
				}
				b.add(x)
			}
			if b.split != nil && len(b.raw) != 0 {
				return "latBins keep raw records and split bins at once"
			}
			for k := range nLat {
				if msg := sameSketch(sks.ofLat(&b, k), ref[k]); msg != "" {
					return fmt.Sprintf("tenant %d kind %d (%d jobs, accuracy %v, split %v): %s", tenant, k, n, acc, b.split != nil, msg)
				}
				if !b.empty(k) {
					b.addTo(k, all[k].GetPositiveValueStore())
				}
				_ = allRef[k].MergeWith(ref[k])
			}
		}
		for k := range nLat {
			if msg := sameSketch(all[k], allRef[k]); msg != "" {
				return fmt.Sprintf("merged kind %d: %s", k, msg)
			}
		}
		return ""
	})
}
