package aimd

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

var _ Algorithm = (*Gradient2)(nil)

// Gradient2Config configures a [Gradient2] limit. Zero fields mean Netflix's defaults.
type Gradient2Config struct {
	// Initial is the starting limit, in [Min, Max]; zero means 20 (clamped into [Min, Max]).
	Initial int
	// Min is the floor of the limit, >= 1; zero means 20 (or Max, if smaller).
	Min int
	// Max is the ceiling of the limit (Netflix's maxConcurrency), >= Min; zero means 200.
	Max int
	// Smoothing is the weight of a new estimate, in (0, 1]; zero means 0.2.
	Smoothing float64
	// QueueSize is the headroom added to the gradient-scaled limit, >= 0; zero means 4.
	// (Netflix allows a function of the limit; the default is this constant.)
	QueueSize float64
	// LongWindow is the number of samples of the long-term RTT average (an exponential
	// average with factor 2/(LongWindow+1) after a 10-sample warm-up), >= 1; zero means 600.
	LongWindow int
	// Tolerance is how much the RTT may exceed the long-term average before the limit
	// shrinks (Netflix's rttTolerance), >= 1; zero means 1.5.
	Tolerance float64

	// Options for two known Netflix problems; false keeps Netflix's behaviour.

	// BackOffOnFailure makes a failed sample use the floor gradient 0.5, whatever the RTT
	// and even when app-limited. Netflix's Gradient2 ignores failures (issue #176).
	BackOffOnFailure bool
	// QueueOnlyWhenUnloaded adds QueueSize only when the gradient is 1 (no queueing seen),
	// so that a modest steady overload (gradient ≈ 0.8) cannot creep the limit up (PR #134).
	QueueOnlyWhenUnloaded bool
}

func (c Gradient2Config) normalize() (Gradient2Config, error) {
	switch {
	case c.Max < 0:
		return c, fmt.Errorf("aimd: Gradient2Config.Max must be >= 1 (or 0 for 200), got %d", c.Max)
	case c.Max == 0:
		c.Max = 200
	}
	switch {
	case c.Min < 0:
		return c, fmt.Errorf("aimd: Gradient2Config.Min must be >= 1 (or 0 for 20), got %d", c.Min)
	case c.Min == 0:
		c.Min = min(20, c.Max)
	}
	if c.Max < c.Min {
		return c, fmt.Errorf("aimd: Gradient2Config.Max must be >= Min (%d), got %d", c.Min, c.Max)
	}
	if c.Initial == 0 {
		c.Initial = min(max(20, c.Min), c.Max)
	}
	if c.Initial < c.Min || c.Initial > c.Max {
		return c, fmt.Errorf("aimd: Gradient2Config.Initial must be in [Min (%d), Max (%d)], got %d", c.Min, c.Max, c.Initial)
	}
	var err error
	if c.Smoothing, err = smoothing("Gradient2Config.Smoothing", c.Smoothing, 0.2); err != nil {
		return c, err
	}
	switch {
	case !(c.QueueSize >= 0) || math.IsInf(c.QueueSize, 0):
		return c, fmt.Errorf("aimd: Gradient2Config.QueueSize must be finite and >= 0 (0 for 4), got %v", c.QueueSize)
	case c.QueueSize == 0:
		c.QueueSize = 4
	}
	switch {
	case c.LongWindow < 0:
		return c, fmt.Errorf("aimd: Gradient2Config.LongWindow must be >= 1 (or 0 for 600), got %d", c.LongWindow)
	case c.LongWindow == 0:
		c.LongWindow = 600
	}
	switch {
	case c.Tolerance == 0:
		c.Tolerance = 1.5
	case !(c.Tolerance >= 1) || math.IsInf(c.Tolerance, 0):
		return c, fmt.Errorf("aimd: Gradient2Config.Tolerance must be finite and >= 1 (or 0 for 1.5), got %v", c.Tolerance)
	}
	return c, nil
}

// Gradient2 is Netflix/concurrency-limits' Gradient2Limit, the limit it recommends for
// servers: it compares each RTT with a long-term average RTT and scales the limit by the
// gradient, clamped to [0.5, 1], plus a small queue. See the package documentation.
//
// A Gradient2 is safe for concurrent use by multiple goroutines: Observe takes a mutex;
// Limit reads an atomic copy.
type Gradient2 struct {
	c      Gradient2Config // read-only after NewGradient2
	factor float64         // 2/(LongWindow+1)
	limit  atomic.Int64

	mu    sync.Mutex
	est   float64 // Netflix's estimatedLimit
	long  float64 // the long-term RTT average, in nanoseconds (ExpAvgMeasurement)
	sum   float64 // warm-up sum
	count int     // warm-up samples, up to 10
}

// gradient2Warmup is Netflix's ExpAvgMeasurement warm-up window for the long RTT.
const gradient2Warmup = 10

// NewGradient2 returns a Gradient2 limit.
func NewGradient2(c Gradient2Config) (*Gradient2, error) {
	n, err := c.normalize()
	if err != nil {
		return nil, err
	}
	g := &Gradient2{c: n, factor: 2.0 / float64(n.LongWindow+1), est: float64(n.Initial)}
	g.limit.Store(int64(n.Initial))
	return g, nil
}

// Limit returns the current limit, ⌊estimate⌋.
func (g *Gradient2) Limit() int { return int(g.limit.Load()) }

// LongRTT returns the long-term RTT average (0 before the first sample).
func (g *Gradient2) LongRTT() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Duration(g.long)
}

// Observe applies one sample, as Gradient2Limit._update does. s.Latency is the RTT; a
// sample with Latency <= 0 is ignored (it would divide by zero). now is not used.
// Cost: O(1), one uncontended mutex.
func (g *Gradient2) Observe(now time.Time, s Sample) {
	if s.Latency <= 0 {
		return
	}
	rtt := float64(s.Latency)
	g.mu.Lock()
	defer g.mu.Unlock()
	long := g.addLong(rtt)
	// After a long overload the average lags far above the RTT: decay it faster.
	if long/rtt > 2 {
		g.long *= 0.95
	}
	failed := g.c.BackOffOnFailure && s.Failed
	if !failed && float64(s.InFlight) < g.est/2 {
		return // app-limited
	}
	gradient := math.Max(0.5, math.Min(1.0, g.c.Tolerance*long/rtt))
	if failed {
		gradient = 0.5
	}
	queue := g.c.QueueSize
	if g.c.QueueOnlyWhenUnloaded && gradient < 1 {
		queue = 0
	}
	next := float64(g.est*gradient) + queue
	next = float64(g.est*(1-g.c.Smoothing)) + float64(next*g.c.Smoothing)
	next = math.Max(float64(g.c.Min), math.Min(float64(g.c.Max), next))
	g.est = next
	g.limit.Store(int64(next))
}

// addLong is ExpAvgMeasurement.add: the mean of the first 10 samples, then an exponential
// average with factor 2/(LongWindow+1).
func (g *Gradient2) addLong(rtt float64) float64 {
	if g.count < gradient2Warmup {
		g.count++
		g.sum += rtt
		g.long = g.sum / float64(g.count)
	} else {
		g.long = float64(g.long*(1-g.factor)) + float64(rtt*g.factor)
	}
	return g.long
}
