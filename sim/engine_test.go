package sim

import (
	"container/heap"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	trials = flag.Int("trials", 500, "gopter trials")
	seed   = flag.Int64("seed", 1, "gopter seed; CI pins it")
)

func forAll(t *testing.T, name string, n int, check func(seed uint64) string) {
	t.Helper()
	p := gopter.DefaultTestParametersWithSeed(*seed)
	p.MinSuccessfulTests = n
	p.MaxShrinkCount = 0
	props := gopter.NewProperties(p)
	props.Property(name, prop.ForAll(check, gen.UInt64()))
	props.TestingRun(t)
}

func TestEngineOrderAndCancel(t *testing.T) {
	var got []string
	e := NewEngine(func(now time.Duration, ev string) { got = append(got, fmt.Sprint(int64(now), ev)) })
	e.At(2, "b")
	e.At(1, "a")
	c := e.At(2, "cancelled")
	e.At(2, "c") // same time: insertion order
	e.At(3, "d")
	assert.True(t, e.Cancel(c))
	assert.False(t, e.Cancel(c), "cancelling twice")
	assert.False(t, e.Cancel(Timer{}), "the zero Timer")
	e.RunUntil(2)
	assert.Equal(t, []string{"1a", "2b", "2c"}, got)
	assert.Equal(t, time.Duration(2), e.Now())
	e.Run()
	assert.Equal(t, []string{"1a", "2b", "2c", "3d"}, got)
	assert.False(t, e.Step())
	assert.Panics(t, func() { e.At(1, "past") }, "scheduling in the past is a programmer error")
	assert.Panics(t, func() { e.RunUntil(0) })
}

// TestRunUntilSkipsCancelledTop: a cancelled entry at the top of the heap must not make
// RunUntil run the next live event past its bound.
func TestRunUntilSkipsCancelledTop(t *testing.T) {
	var got []time.Duration
	e := NewEngine(func(now time.Duration, _ int) { got = append(got, now) })
	c := e.At(1, 0)
	e.At(5, 0)
	require.True(t, e.Cancel(c))
	e.RunUntil(2)
	assert.Empty(t, got, "the event at 5 ran during RunUntil(2)")
	assert.Equal(t, time.Duration(2), e.Now())
	next, ok := e.Next()
	assert.True(t, ok)
	assert.Equal(t, time.Duration(5), next)
	e.RunUntil(5)
	assert.Equal(t, []time.Duration{5}, got)
	_, ok = e.Next()
	assert.False(t, ok)
}

// TestEngineMatchesSortedModel: any interleaving of scheduling (in either lane), cancelling
// and stepping handles the live events in (time, insertion) order, also across renumberings
// of the sequence, and a fired or cancelled timer cannot be cancelled.
func TestEngineMatchesSortedModel(t *testing.T) {
	type ev struct {
		at  time.Duration
		seq int
	}
	forAll(t, "events run in (time, insertion) order; cancelled ones never run", *trials, func(s uint64) string {
		r := rand.New(rand.NewPCG(s, 9))
		var fired []ev
		var live []ev
		timers := map[int]Timer{}
		far := map[uint32]ev{} // events in the far lane, by id: not cancellable
		seq := 0
		inStep := false // handlers schedule during Step (not RunUntil, whose expectation is fixed up front)
		var e *Engine[ev]
		var schedule func(ev)
		e = NewEngine(func(now time.Duration, x ev) {
			if now != x.at {
				fired = append(fired, ev{-1, -1})
			}
			fired = append(fired, x)
			if inStep && r.IntN(2) == 0 { // scheduling from a handler, also at the same instant
				y := ev{now + time.Duration(r.IntN(3)*r.IntN(10)), seq}
				schedule(y)
				live = append(live, y)
				seq++
			}
		})
		e.far = func(id uint32) ev { return far[id] }
		// schedule schedules x in either lane: one order.
		schedule = func(x ev) {
			if r.IntN(2) == 0 {
				far[uint32(x.seq)] = x
				e.atFar(x.at, uint32(x.seq))
				return
			}
			timers[x.seq] = e.At(x.at, x)
		}
		if r.IntN(2) == 0 {
			e.maxSeq = uint32(3 + r.IntN(40)) // renumber often: order must survive it
		}
		for range 300 {
			switch k := r.IntN(10); {
			case k < 5:
				x := ev{e.Now() + time.Duration(r.IntN(20)), seq}
				schedule(x)
				live = append(live, x)
				seq++
			case k < 7 && len(live) > 0:
				i := r.IntN(len(live))
				if _, ok := far[uint32(live[i].seq)]; ok {
					continue // far events cannot be cancelled
				}
				if !e.Cancel(timers[live[i].seq]) {
					return fmt.Sprintf("cancel of live event %v failed", live[i])
				}
				delete(timers, live[i].seq)
				live = slices.Delete(live, i, i+1)
			case k == 9:
				bound := e.Now() + time.Duration(r.IntN(10))
				slices.SortFunc(live, func(a, b ev) int {
					if a.at != b.at {
						return int(a.at - b.at)
					}
					return a.seq - b.seq
				})
				n := 0
				for n < len(live) && live[n].at <= bound {
					n++
				}
				fired = fired[:0]
				e.RunUntil(bound)
				if !slices.Equal(fired, live[:n]) || e.Now() != bound {
					return fmt.Sprintf("RunUntil(%v) ran %v, want %v", bound, fired, live[:n])
				}
				for _, x := range live[:n] {
					delete(timers, x.seq)
				}
				live = live[n:]
			default:
				if len(live) == 0 {
					if e.Step() {
						return "Step ran an event with none live"
					}
					continue
				}
				slices.SortFunc(live, func(a, b ev) int {
					if a.at != b.at {
						return int(a.at - b.at)
					}
					return a.seq - b.seq
				})
				want := live[0]
				live = live[1:]
				fired = fired[:0]
				inStep = true
				ok := e.Step()
				inStep = false
				if !ok || len(fired) != 1 || fired[0] != want {
					return fmt.Sprintf("Step ran %v, want %v", fired, want)
				}
				if e.Cancel(timers[want.seq]) {
					return "cancelled an event that already ran"
				}
				delete(timers, want.seq)
			}
		}
		return ""
	})
}

func TestStreamsAreIndependentOfOrder(t *testing.T) {
	a := Stream(7, 3, "arrivals/acme")
	Stream(7, 3, "arrivals/new-tenant").Uint64() // creating another stream shifts nothing
	b := Stream(7, 3, "arrivals/acme")
	for range 10 {
		require.Equal(t, a.Uint64(), b.Uint64())
	}
	assert.NotEqual(t, Stream(7, 3, "x").Uint64(), Stream(7, 4, "x").Uint64(), "replications differ")
	assert.NotEqual(t, Stream(7, 3, "x").Uint64(), Stream(8, 3, "x").Uint64(), "seeds differ")
}

// containerHeap is the anchor for the event-queue benchmark: container/heap over
// interface-boxed events.
type chEvent struct {
	at  float64
	seq uint64
	id  int32
}
type containerHeap []chEvent

func (h containerHeap) Len() int { return len(h) }
func (h containerHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h containerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *containerHeap) Push(x any)   { *h = append(*h, x.(chEvent)) }
func (h *containerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// BenchmarkEventQueue is the hold model (reference/simulation.md §1.3): the queue stays at
// 1,000 pending events; one op is pop-min plus push(t + Exp). ops/s = 1e9 / ns/op.
func BenchmarkEventQueue(b *testing.B) {
	const pending = 1000
	b.Run("pending=1000/impl=dispatchlab", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		var e *Engine[int32]
		e = NewEngine(func(now time.Duration, id int32) {
			e.At(now+time.Duration(r.ExpFloat64()*1e6), id)
		})
		for i := range pending {
			e.At(time.Duration(r.ExpFloat64()*1e6), int32(i))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			e.Step()
		}
	})
	b.Run("pending=1000/impl=container-heap", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		h := &containerHeap{}
		var seq uint64
		for i := range pending {
			seq++
			heap.Push(h, chEvent{at: r.ExpFloat64(), seq: seq, id: int32(i)})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			x := heap.Pop(h).(chEvent)
			seq++
			heap.Push(h, chEvent{at: x.at + r.ExpFloat64(), seq: seq, id: x.id})
		}
	})
}
