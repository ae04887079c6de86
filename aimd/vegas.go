package aimd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

var _ Algorithm = (*Vegas)(nil)

// VegasConfig configures a [Vegas] limit. Zero fields mean Netflix's defaults; Rand is
// required.
type VegasConfig struct {
	// Initial is the starting limit, in [1, Max]; zero means 20 (or Max, if smaller).
	Initial int
	// Max is the ceiling of the limit (Netflix's maxConcurrency), >= 1; zero means 1000.
	Max int
	// Smoothing is the weight of a new estimate, in (0, 1]; zero means 1 (no smoothing).
	Smoothing float64
	// ProbeMultiplier sets how often the no-load RTT is re-probed: after about
	// jitter·ProbeMultiplier·limit samples, jitter uniform in [0.5, 1). >= 1; zero means 30.
	ProbeMultiplier int
	// Alpha, Beta and Threshold are the queue-size thresholds. Zero means Netflix's
	// functions of the limit: 3·L, 6·L and L, where L = max(1, ⌊log10 limit⌋).
	// Each must be >= 0.
	Alpha, Beta, Threshold int
	// Rand draws the probe jitter. It must not be nil, and must not be used concurrently
	// elsewhere: the Vegas uses it under its own lock.
	Rand *rand.Rand
}

func (c VegasConfig) normalize() (VegasConfig, error) {
	if c.Rand == nil {
		return c, fmt.Errorf("aimd: VegasConfig.Rand must not be nil")
	}
	switch {
	case c.Max < 0:
		return c, fmt.Errorf("aimd: VegasConfig.Max must be >= 1 (or 0 for 1000), got %d", c.Max)
	case c.Max == 0:
		c.Max = 1000
	}
	if c.Initial == 0 {
		c.Initial = min(20, c.Max)
	}
	if c.Initial < 1 || c.Initial > c.Max {
		return c, fmt.Errorf("aimd: VegasConfig.Initial must be in [1, Max (%d)], got %d", c.Max, c.Initial)
	}
	var err error
	if c.Smoothing, err = smoothing("VegasConfig.Smoothing", c.Smoothing, 1); err != nil {
		return c, err
	}
	switch {
	case c.ProbeMultiplier < 0:
		return c, fmt.Errorf("aimd: VegasConfig.ProbeMultiplier must be >= 1 (or 0 for 30), got %d", c.ProbeMultiplier)
	case c.ProbeMultiplier == 0:
		c.ProbeMultiplier = 30
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Alpha", c.Alpha}, {"Beta", c.Beta}, {"Threshold", c.Threshold}} {
		if f.v < 0 {
			return c, fmt.Errorf("aimd: VegasConfig.%s must be >= 0 (0 for the default), got %d", f.name, f.v)
		}
	}
	return c, nil
}

// smoothing validates a weight in (0, 1]; zero means def.
func smoothing(name string, v, def float64) (float64, error) {
	switch {
	case v == 0:
		return def, nil
	case !(v > 0 && v <= 1):
		return 0, fmt.Errorf("aimd: %s must be in (0, 1], got %v", name, v)
	}
	return v, nil
}

// Vegas is Netflix/concurrency-limits' VegasLimit: a delay-based limit after TCP Vegas.
// It keeps the no-load RTT (the smallest Latency seen since the last probe) and estimates
// the queue as ⌈limit·(1 − noLoad/rtt)⌉; a small queue grows the limit, a large one or a
// failure shrinks it. See the package documentation for the update.
//
// A Vegas is safe for concurrent use by multiple goroutines: Observe takes a mutex; Limit
// reads an atomic copy.
type Vegas struct {
	c     VegasConfig // read-only after NewVegas, except c.Rand, used under mu
	limit atomic.Int64

	mu         sync.Mutex
	est        float64       // Netflix's estimatedLimit
	noLoad     time.Duration // rtt_noload; 0 until the first sample
	probeCount int
	jitter     float64 // in [0.5, 1)
}

// NewVegas returns a Vegas limit. It draws the first probe jitter from c.Rand, as
// Netflix's constructor does.
func NewVegas(c VegasConfig) (*Vegas, error) {
	n, err := c.normalize()
	if err != nil {
		return nil, err
	}
	v := &Vegas{c: n, est: float64(n.Initial)}
	v.limit.Store(int64(n.Initial))
	v.resetJitter()
	return v, nil
}

// resetJitter draws U[0.5, 1) as Java's nextDouble(0.5, 1) does: r·(1 − 0.5) + 0.5.
func (v *Vegas) resetJitter() { v.jitter = float64(v.c.Rand.Float64()*0.5) + 0.5 }

// Limit returns the current limit, ⌊estimate⌋.
func (v *Vegas) Limit() int { return int(v.limit.Load()) }

// NoLoad returns the current no-load RTT estimate (0 before the first sample).
func (v *Vegas) NoLoad() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.noLoad
}

// Observe applies one sample, as VegasLimit._update does. s.Latency is the RTT; a sample
// with Latency <= 0 is ignored (Netflix rejects it with an exception). now is not used.
// Cost: O(1), one uncontended mutex.
func (v *Vegas) Observe(now time.Time, s Sample) {
	rtt := s.Latency
	if rtt <= 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.probeCount++
	if float64(v.jitter*float64(v.c.ProbeMultiplier))*v.est <= float64(v.probeCount) {
		// Probe: take this RTT as the new no-load RTT.
		v.resetJitter()
		v.probeCount = 0
		v.noLoad = rtt
		return
	}
	if v.noLoad == 0 || rtt < v.noLoad {
		v.noLoad = rtt
		return
	}
	est := v.est
	queue := int(math.Ceil(est * float64(1-float64(v.noLoad)/float64(rtt))))
	var next float64
	switch l := log10Root(int(est)); {
	case s.Failed:
		next = est - float64(l)
	case float64(s.InFlight)*2 < est:
		return // app-limited: no evidence for a larger limit
	case queue <= v.pick(v.c.Threshold, l):
		next = est + float64(v.pick(v.c.Beta, 6*l)) // no queueing: grow fast
	case queue < v.pick(v.c.Alpha, 3*l):
		next = est + float64(l)
	case queue > v.pick(v.c.Beta, 6*l):
		next = est - float64(l)
	default:
		return // within [alpha, beta]: steady
	}
	next = math.Max(1, math.Min(float64(v.c.Max), next))
	next = float64((1-v.c.Smoothing)*est) + float64(v.c.Smoothing*next)
	v.est = next
	v.limit.Store(int64(next))
}

// pick returns the configured value, or def when it is 0.
func (v *Vegas) pick(configured, def int) int {
	if configured != 0 {
		return configured
	}
	return def
}

// log10Root is Netflix's Log10RootIntFunction: max(1, ⌊log10 n⌋), in integers (Go's
// math.Log10(1000) is 2.9999999999999996, Java's is 3).
func log10Root(n int) int {
	d := 0
	for n >= 10 {
		n /= 10
		d++
	}
	return max(d, 1)
}
