package aimd

import (
	"fmt"
	"math/bits"
	"sync"
	"time"
)

var (
	_ Algorithm  = (*Windowed)(nil)
	_ Availabler = (*Windowed)(nil)
	_ Fresher    = (*Windowed)(nil)
)

// WindowConfig configures a [Windowed] wrapper. The zero value passes every sample through
// unchanged, one window per sample.
type WindowConfig struct {
	// MinSamples is the least number of samples a window holds before it closes, >= 1;
	// zero means 1.
	MinSamples int
	// Duration is the least time a window stays open, measured from its first sample,
	// >= 0; zero means no time condition.
	Duration time.Duration
	// MinLatency drops samples whose Latency is below it, >= 0 (Netflix's minRttThreshold,
	// 100µs there, filters out trivially fast requests); zero keeps every sample.
	MinLatency time.Duration
}

func (c WindowConfig) normalize() (WindowConfig, error) {
	switch {
	case c.MinSamples < 0:
		return c, fmt.Errorf("aimd: WindowConfig.MinSamples must be >= 1 (or 0 for 1), got %d", c.MinSamples)
	case c.MinSamples == 0:
		c.MinSamples = 1
	}
	if c.Duration < 0 {
		return c, fmt.Errorf("aimd: WindowConfig.Duration must be >= 0, got %v", c.Duration)
	}
	if c.MinLatency < 0 {
		return c, fmt.Errorf("aimd: WindowConfig.MinLatency must be >= 0, got %v", c.MinLatency)
	}
	return c, nil
}

// Windowed aggregates samples into windows and feeds the wrapped algorithm one sample per
// window, after Netflix's WindowedLimit: a window closes at the first sample that finds it
// holding at least MinSamples samples and open for at least Duration. The aggregate has
// the mean Lag and mean Latency (exact, truncated to the nanosecond), the largest
// InFlight, and Failed if any sample failed. It is observed at the closing sample's now.
//
// It differs from Netflix's WindowedLimit in two ways, both deliberate: a window that has
// not reached MinSamples when its time is up stays open instead of being discarded (no
// sample is thrown away except by MinLatency), and the window length is fixed rather than
// twice the window's smallest RTT clamped to [min, max] window time. Netflix's defaults
// are MinSamples 10, Duration 1s, MinLatency 100µs.
//
// A Windowed is safe for concurrent use by multiple goroutines if the wrapped algorithm
// is: Observe takes a mutex and calls the wrapped Observe under it, so windows reach the
// algorithm in the order they close.
type Windowed struct {
	a  Algorithm
	c  WindowConfig
	mu sync.Mutex
	w  window // guarded by mu
}

// window is an open window's aggregate. Sums are 128-bit so the means are exact.
type window struct {
	n            uint64
	start        time.Time
	lagHi, lagLo uint64
	latHi, latLo uint64
	maxIn        int
	failed       bool
}

// NewWindowed wraps a. It returns an error if a is nil or c is invalid.
func NewWindowed(a Algorithm, c WindowConfig) (*Windowed, error) {
	if a == nil {
		return nil, fmt.Errorf("aimd: NewWindowed needs an Algorithm, got nil")
	}
	n, err := c.normalize()
	if err != nil {
		return nil, err
	}
	return &Windowed{a: a, c: n}, nil
}

// Unwrap returns the wrapped algorithm.
func (w *Windowed) Unwrap() Algorithm { return w.a }

// Limit returns the wrapped algorithm's limit.
func (w *Windowed) Limit() int { return w.a.Limit() }

// Available returns the wrapped algorithm's Available if it has one, otherwise
// max(0, Limit − inFlight).
func (w *Windowed) Available(inFlight int) int {
	if av, ok := w.a.(Availabler); ok {
		return av.Available(inFlight)
	}
	return max(w.a.Limit()-max(inFlight, 0), 0)
}

// Pending returns the number of samples in the open window.
func (w *Windowed) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int(w.w.n)
}

// Fresh reports whether the window is empty and the wrapped algorithm is a Fresher and
// fresh.
func (w *Windowed) Fresh() bool {
	w.mu.Lock()
	empty := w.w.n == 0
	w.mu.Unlock()
	f, ok := w.a.(Fresher)
	return empty && ok && f.Fresh()
}

// Observe adds s to the open window (unless its Latency is below MinLatency) and, if that
// closes the window, observes the aggregate on the wrapped algorithm. A now earlier than
// the window's first sample counts as no time passing. Cost: O(1) plus the wrapped
// Observe when a window closes.
func (w *Windowed) Observe(now time.Time, s Sample) {
	if s.Latency < w.c.MinLatency {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := &w.w
	if cur.n == 0 {
		cur.start = now
	}
	cur.n++
	cur.lagHi, cur.lagLo = add128(cur.lagHi, cur.lagLo, s.Lag)
	cur.latHi, cur.latLo = add128(cur.latHi, cur.latLo, s.Latency)
	cur.maxIn = max(cur.maxIn, s.InFlight)
	cur.failed = cur.failed || s.Failed
	if cur.n < uint64(w.c.MinSamples) || now.Sub(cur.start) < w.c.Duration {
		return
	}
	agg := Sample{
		Lag:      mean(cur.lagHi, cur.lagLo, cur.n),
		Latency:  mean(cur.latHi, cur.latLo, cur.n),
		InFlight: cur.maxIn,
		Failed:   cur.failed,
	}
	*cur = window{}
	w.a.Observe(now, agg)
}

// add128 adds max(d, 0) to the 128-bit sum hi:lo.
func add128(hi, lo uint64, d time.Duration) (uint64, uint64) {
	var c uint64
	lo, c = bits.Add64(lo, uint64(max(d, 0)), 0)
	return hi + c, lo
}

// mean returns ⌊(hi:lo)/n⌋; it fits an int64 because every term does.
func mean(hi, lo, n uint64) time.Duration {
	q, _ := bits.Div64(hi, lo, n)
	return time.Duration(q)
}
