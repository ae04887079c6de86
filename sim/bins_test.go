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

// A sketch made from bins answers every quantile exactly as a DDSketch fed the same values
// (the recorder's sketch), for few values (raw indices), many (dense counts, widened both
// ways), values beyond the indexable range, and the merge of several tenants.
func TestBinsMatchSketch(t *testing.T) {
	forAll(t, "sketches from bins equal sketches of the values", *trials/5, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 3))
		acc := []float64{0.01, 0.02, 0.001, 0.3}[r.IntN(4)]
		m, err := mapping.NewCubicallyInterpolatedMapping(acc)
		if err != nil {
			return err.Error()
		}
		newRef := func() *ddsketch.DDSketch {
			return ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
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
