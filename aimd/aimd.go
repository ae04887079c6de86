package aimd

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Sample is what a dispatcher learns when a job completes.
type Sample struct {
	// Lag is the job's queue lag: the wait from its admission to the start of its execution.
	// It is AIMD's signal. A negative Lag (a clock that went backwards) counts as zero.
	Lag time.Duration
	// Latency is the job's round trip: from acquiring its slot to its completion. It is the
	// signal of Vegas and Gradient2; AIMD uses it only with Config.Timeout.
	Latency time.Duration
	// InFlight is the partition's in-flight count when the job was admitted, the job
	// included (Netflix's "inflight"). Keyed fills it in.
	InFlight int
	// Failed reports whether the job failed: it raised, was dropped, or timed out.
	Failed bool
}

// Algorithm is an adaptive (or fixed) concurrency limit driven by completion samples.
type Algorithm interface {
	// Limit returns the current concurrency limit.
	Limit() int
	// Observe feeds one completion sample, observed at now, to the algorithm.
	Observe(now time.Time, s Sample)
}

// Availabler is implemented by algorithms that decide their free slots themselves, as
// AIMD does with its idle safety valve. [Keyed] uses it when present; otherwise the free
// slots are max(0, Limit() − inFlight).
type Availabler interface {
	// Available returns the slots free when inFlight jobs are running; never negative.
	Available(inFlight int) int
}

// Fresher is implemented by algorithms that can tell that their state is exactly that of
// a newly created one. [Keyed.Prune] removes such partitions when nothing is in flight:
// creating them again from the same factory loses nothing.
type Fresher interface {
	// Fresh reports whether the algorithm is still in its initial state.
	Fresh() bool
}

var (
	_ Algorithm  = (*AIMD)(nil)
	_ Availabler = (*AIMD)(nil)
	_ Fresher    = (*AIMD)(nil)
)

// The seed's defaults (dispatch_policy's adaptive_concurrency gate).
const (
	DefaultAlpha      = 0.5
	DefaultFailFactor = 0.5
	DefaultSlowFactor = 0.95
)

// Config configures an [AIMD] limiter. TargetLag and Initial are required; every other zero
// field means the documented default. [Config.Validate] lists what is rejected.
type Config struct {
	// Initial is the limit of a new limiter, and the idle safety valve: when nothing is in
	// flight, at least Initial slots are free. It must be >= Min.
	Initial int `json:"initial,omitempty" yaml:"initial,omitempty"`
	// Min is the floor of the limit. It must be >= 1; zero means 1.
	Min int `json:"min,omitempty" yaml:"min,omitempty"`
	// Max is the ceiling of the limit; zero means none (the seed's limit grows unbounded).
	// Otherwise it must be >= Initial.
	Max int `json:"max,omitempty" yaml:"max,omitempty"`
	// TargetLag is the queue lag the limiter steers to: the limit shrinks while the EWMA
	// of lag is above it. It must be > 0. See the package documentation on choosing it.
	TargetLag time.Duration `json:"target_lag,omitempty" yaml:"target_lag,omitempty"`
	// Alpha is the EWMA weight of a new lag sample, in (0, 1]; zero means 0.5.
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// FailFactor multiplies the limit on a failure, in (0, 1); zero means 0.5.
	FailFactor float64 `json:"fail_factor,omitempty" yaml:"fail_factor,omitempty"`
	// SlowFactor multiplies the limit when the EWMA is above TargetLag, in (0, 1); zero
	// means 0.95.
	SlowFactor float64 `json:"slow_factor,omitempty" yaml:"slow_factor,omitempty"`

	// Options beyond the seed, from the Netflix/concurrency-limits AIMDLimit. Their zero
	// values keep the seed's behaviour.

	// Step is the additive increase on a success under target. It must be >= 1; zero
	// means 1 (Netflix issue #147 asks for it configurable).
	Step int `json:"step,omitempty" yaml:"step,omitempty"`
	// GrowOnlyWhenUtilized, if set, grows the limit only when the sample's InFlight·2 >=
	// limit, as Netflix's AIMDLimit does: a partition that does not use its limit does
	// not learn that it could use more.
	GrowOnlyWhenUtilized bool `json:"grow_only_when_utilized,omitempty" yaml:"grow_only_when_utilized,omitempty"`
	// Timeout, if > 0, counts a sample whose Latency exceeds it as a failure, as Netflix's
	// AIMDLimit does with its timeout (5s there). It must be >= 0; zero disables it.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// Validate reports why c cannot be used, or nil. It rejects TargetLag <= 0; Min < 0;
// Initial < Min (1 when Min is 0); Max < 0, or Max > 0 and Max < Initial; Alpha outside
// (0, 1]; FailFactor or SlowFactor outside (0, 1); Step < 0; Timeout < 0. NaN and ±Inf
// are outside every range. Each error names the field and the value, for example
// "aimd: Alpha must be in (0, 1], got 1.5".
func (c Config) Validate() error {
	_, err := c.normalize()
	return err
}

// normalize returns c with its defaults filled in, or the first error.
func (c Config) normalize() (Config, error) {
	if c.TargetLag <= 0 {
		return c, fmt.Errorf("aimd: TargetLag must be > 0, got %v", c.TargetLag)
	}
	switch {
	case c.Min < 0:
		return c, fmt.Errorf("aimd: Min must be >= 1 (or 0 for 1), got %d", c.Min)
	case c.Min == 0:
		c.Min = 1
	}
	if c.Initial < c.Min {
		return c, fmt.Errorf("aimd: Initial must be >= Min (%d), got %d", c.Min, c.Initial)
	}
	if c.Max < 0 || (c.Max > 0 && c.Max < c.Initial) {
		return c, fmt.Errorf("aimd: Max must be 0 (unbounded) or >= Initial (%d), got %d", c.Initial, c.Max)
	}
	var err error
	if c.Alpha, err = factor("Alpha", c.Alpha, DefaultAlpha, true); err != nil {
		return c, err
	}
	if c.FailFactor, err = factor("FailFactor", c.FailFactor, DefaultFailFactor, false); err != nil {
		return c, err
	}
	if c.SlowFactor, err = factor("SlowFactor", c.SlowFactor, DefaultSlowFactor, false); err != nil {
		return c, err
	}
	switch {
	case c.Step < 0:
		return c, fmt.Errorf("aimd: Step must be >= 1 (or 0 for 1), got %d", c.Step)
	case c.Step == 0:
		c.Step = 1
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("aimd: Timeout must be >= 0 (0 disables it), got %v", c.Timeout)
	}
	return c, nil
}

// factor validates a multiplier in (0, 1), or (0, 1] when one is allowed; zero means def.
// The comparisons are written so that NaN fails them.
func factor(name string, v, def float64, one bool) (float64, error) {
	switch {
	case v == 0:
		return def, nil
	case one && !(v > 0 && v <= 1):
		return 0, fmt.Errorf("aimd: %s must be in (0, 1], got %v", name, v)
	case !one && !(v > 0 && v < 1):
		return 0, fmt.Errorf("aimd: %s must be in (0, 1), got %v", name, v)
	}
	return v, nil
}

// params is a validated configuration with the constants the update needs.
type params struct {
	Config
	keep     float64 // 1 − Alpha, as the seed computes it
	targetMs float64 // TargetLag in milliseconds, the seed's unit
}

func newParams(c Config) (params, error) {
	n, err := c.normalize()
	if err != nil {
		return params{}, err
	}
	return params{Config: n, keep: 1 - n.Alpha, targetMs: millis(n.TargetLag)}, nil
}

// state is one limiter's mutable state: 24 bytes, kept by value in Keyed partitions.
type state struct {
	limit   int
	ewma    float64 // EWMA of queue lag, in milliseconds (the seed's ewma_latency_ms)
	samples int64
}

func (p *params) fresh() state { return state{limit: p.Initial} }

// millis converts d to float64 milliseconds. Division (not multiplication by 1e-6) keeps
// whole milliseconds exact, so lags and targets the seed can express give its exact floats.
func millis(d time.Duration) float64 { return float64(d) / 1e6 }

// observe is the seed's update (record_observation), plus the options. The explicit
// float64 conversions forbid fused multiply-adds, so every platform computes the same bits.
func (p *params) observe(st *state, s Sample) {
	lag := 0.0
	if s.Lag > 0 {
		lag = millis(s.Lag)
	}
	st.ewma = float64(st.ewma*p.keep) + float64(p.Alpha*lag)
	st.samples++
	cur := st.limit
	switch {
	case s.Failed || (p.Timeout > 0 && s.Latency > p.Timeout):
		cur = int(math.Floor(float64(cur) * p.FailFactor))
	case st.ewma > p.targetMs: // strict, and on the updated EWMA, as the seed
		cur = int(math.Floor(float64(cur) * p.SlowFactor))
	case p.GrowOnlyWhenUtilized && s.InFlight < cur-cur/2: // Netflix: grow iff inflight·2 >= limit
	case cur > math.MaxInt-p.Step:
		cur = math.MaxInt
	default:
		cur += p.Step
	}
	cur = max(cur, p.Min)
	if p.Max > 0 {
		cur = min(cur, p.Max)
	}
	st.limit = cur
}

// available is the seed's (v0.5) evaluate: cap = max(limit, Min) − inFlight, but at least
// Initial when nothing is in flight; never negative.
func (p *params) available(limit, inFlight int) int {
	inFlight = max(inFlight, 0)
	free := max(limit, p.Min) - inFlight
	if inFlight == 0 {
		free = max(free, p.Initial)
	}
	return max(free, 0)
}

// ewmaDuration converts an EWMA in milliseconds to a Duration, rounded to the nanosecond.
func ewmaDuration(ms float64) time.Duration {
	ns := math.Round(ms * 1e6)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// AIMD is the adaptive concurrency limit of dispatch_policy's adaptive_concurrency gate:
// an EWMA of queue lag; the limit grows by Step on a success under TargetLag, shrinks by
// SlowFactor when the EWMA is above it and by FailFactor on a failure. See the package
// documentation for the exact update.
//
// An AIMD is safe for concurrent use by multiple goroutines: every method takes one mutex.
// Limit and Available take it too, rather than reading an atomic copy of the limit as
// Vegas and Gradient2 do: Observe is the hot path, and publishing the copy (an atomic
// exchange) would cost it about 40% more. [Keyed] keeps AIMD state inline under its
// own lock and pays neither.
type AIMD struct {
	p  params // read-only after New
	mu sync.Mutex
	st state // guarded by mu
}

// New returns an AIMD limiter whose limit starts at c.Initial. It returns an error naming
// the field and the value if c is invalid (see [Config.Validate]).
func New(c Config) (*AIMD, error) {
	p, err := newParams(c)
	if err != nil {
		return nil, err
	}
	return &AIMD{p: p, st: p.fresh()}, nil
}

// Config returns the configuration in force, with defaults filled in.
func (a *AIMD) Config() Config { return a.p.Config }

// Limit returns the current limit, in [Min, Max].
func (a *AIMD) Limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.limit
}

// Observe applies one completion sample: the EWMA of lag takes s.Lag with weight Alpha;
// then a failure (or, with Timeout, a Latency above it) multiplies the limit by FailFactor,
// an updated EWMA strictly above TargetLag multiplies it by SlowFactor, and otherwise it
// grows by Step (only if InFlight·2 >= limit, with GrowOnlyWhenUtilized). Products are
// floored; the result is clamped to [Min, Max]. now is not used: AIMD is per-sample.
// Cost: O(1), one uncontended mutex.
func (a *AIMD) Observe(now time.Time, s Sample) {
	a.mu.Lock()
	a.p.observe(&a.st, s)
	a.mu.Unlock()
}

// Available returns the slots free when inFlight jobs are running: max(limit, Min) −
// inFlight, but at least Initial when inFlight is 0 (the seed's idle safety valve, so an
// idle partition whose limit collapsed can still start a batch); never negative. inFlight
// < 0 counts as 0.
func (a *AIMD) Available(inFlight int) int {
	return a.p.available(a.Limit(), inFlight)
}

// Ewma returns the EWMA of queue lag, rounded to the nanosecond. It starts at 0.
func (a *AIMD) Ewma() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return ewmaDuration(a.st.ewma)
}

// Samples returns the number of samples observed.
func (a *AIMD) Samples() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.samples
}

// Fresh reports whether a has observed no sample, and so is in the state New returned.
func (a *AIMD) Fresh() bool { return a.Samples() == 0 }
