package admission

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// orderInvariants checks an order's structure: levels strictly in priority order, each
// level's list linked both ways in increasing seq with its tail last, its side heap a valid
// min-heap by seq whose nodes know their index, every node of the level at that level and
// in exactly one of the two, and the count.
func orderInvariants[C any](o *order[C]) error {
	n := 0
	for li, lv := range o.levels {
		if li > 0 && !o.before(o.levels[li-1].prio, lv.prio) {
			return fmt.Errorf("level %d (priority %d) after priority %d", li, lv.prio, o.levels[li-1].prio)
		}
		var prev *node[C]
		for a := lv.head; a != nil; a = a.link[o.w].next {
			lk := &a.link[o.w]
			switch {
			case lk.inSide || lk.lv != lv || a.job.Priority != lv.prio:
				return fmt.Errorf("job %q in the list of level %d: inSide %v, level %p, priority %d", a.job.ID, lv.prio, lk.inSide, lk.lv, a.job.Priority)
			case lk.prev != prev:
				return fmt.Errorf("job %q: prev link broken", a.job.ID)
			case prev != nil && prev.seq >= a.seq:
				return fmt.Errorf("level %d lists seq %d after %d", lv.prio, a.seq, prev.seq)
			}
			prev = a
			n++
		}
		if lv.tail != prev {
			return fmt.Errorf("level %d: tail is not the last job", lv.prio)
		}
		for i, x := range lv.side {
			lk := &x.link[o.w]
			switch {
			case !lk.inSide || lk.lv != lv || int(lk.hi) != i || x.job.Priority != lv.prio:
				return fmt.Errorf("job %q at side index %d of level %d: inSide %v, index %d", x.job.ID, i, lv.prio, lk.inSide, lk.hi)
			case i > 0 && lv.side[(i-1)/2].seq >= x.seq:
				return fmt.Errorf("level %d: side heap has seq %d under %d", lv.prio, x.seq, lv.side[(i-1)/2].seq)
			}
			n++
		}
	}
	if n != o.n || n != o.len() {
		return fmt.Errorf("order holds %d jobs, counts %d", n, o.n)
	}
	return nil
}

// TestOrderMatchesModel drives an order with random insertions (in sequence, and out of it,
// as reverted and delayed jobs arrive), removals from anywhere and iterations stopped
// anywhere, and compares each iteration with a sorted model.
func TestOrderMatchesModel(t *testing.T) {
	forAll(t, "order iterates as (priority, seq) sorted, whatever the arrivals and removals", *trials, func(seed uint64) string {
		r := rand.New(rand.NewPCG(seed, 3))
		o := &order[int]{w: r.IntN(2), desc: r.IntN(2) == 0}
		var in []*node[int] // the model: the nodes o holds
		var out []*node[int]
		var seq uint64
		for step := range 300 {
			switch k := r.IntN(20); {
			case k == 0: // many old jobs come back at once, in random order: a large side heap
				r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
				for _, n := range out {
					o.insert(n)
				}
				in, out = append(in, out...), out[:0]
			case k < 8: // a new job: the next seq
				seq++
				n := &node[int]{seq: seq, job: jobRec[int]{ID: JobID(fmt.Sprint(seq)), Priority: r.IntN(3)}}
				o.insert(n)
				in = append(in, n)
			case k < 12 && len(out) > 0: // an old job comes back (revert, delayed job due): out of order
				i := r.IntN(len(out))
				n := out[i]
				out = slices.Delete(out, i, i+1)
				o.insert(n)
				in = append(in, n)
			default:
				if len(in) == 0 {
					continue
				}
				// Remove the first job of the order more often (admission), else any.
				i := r.IntN(len(in))
				if r.IntN(2) == 0 {
					i = slices.IndexFunc(in, func(n *node[int]) bool { return n == first(o) })
				}
				n := in[i]
				in = slices.Delete(in, i, i+1)
				o.remove(n)
				out = append(out, n)
			}
			if err := orderInvariants(o); err != nil {
				return fmt.Sprintf("step %d: %v", step, err)
			}
			want := slices.Clone(in)
			slices.SortFunc(want, func(a, b *node[int]) int {
				if a.job.Priority != b.job.Priority {
					if o.before(a.job.Priority, b.job.Priority) {
						return -1
					}
					return 1
				}
				return cmp.Compare(a.seq, b.seq)
			})
			stop := r.IntN(len(want) + 2)
			var got []*node[int]
			o.each(func(n *node[int]) bool {
				got = append(got, n)
				return len(got) < stop
			})
			if w := want[:min(max(stop, 1), len(want))]; !slices.Equal(got, w) {
				return fmt.Sprintf("step %d: each (stopping after %d) visits %v, want %v", step, stop, seqs(got), seqs(w))
			}
		}
		return ""
	})
}

func first[C any](o *order[C]) *node[C] {
	var f *node[C]
	o.each(func(n *node[C]) bool { f = n; return false })
	return f
}

func seqs[C any](ns []*node[C]) []uint64 {
	out := make([]uint64, len(ns))
	for i, n := range ns {
		out[i] = n.seq
	}
	return out
}
