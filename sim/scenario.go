package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Scenario is one simulated system: tenants generating jobs, an optional admission policy,
// and a pool of workers. The zero value of every optional field is a documented default.
type Scenario struct {
	Name string `json:"name" yaml:"name"`
	// Duration is how long tenants generate jobs. The run then drains: it ends when every job
	// has finished, or at Duration + Drain, whichever is first.
	Duration time.Duration `json:"duration" yaml:"duration"`
	// Drain bounds the time after Duration spent finishing jobs. Zero means Duration.
	Drain time.Duration `json:"drain,omitempty" yaml:"drain,omitempty"`
	// Warmup excludes jobs that arrive before it from the latency and fairness metrics.
	Warmup time.Duration `json:"warmup,omitempty" yaml:"warmup,omitempty"`
	// Tenants generate the load.
	Tenants []Tenant `json:"tenants" yaml:"tenants"`
	// Workers serve the jobs.
	Workers Workers `json:"workers" yaml:"workers"`
	// Admission, if set, stages jobs into an admission.Policy ticked every TickInterval;
	// without it jobs go straight to the workers (direct queueing, as in queueing theory).
	Admission *Admission `json:"admission,omitempty" yaml:"admission,omitempty"`
	// Metrics configures what is recorded.
	Metrics Metrics `json:"metrics,omitempty" yaml:"metrics,omitempty"`
}

// Tenant is a source of jobs. With Count > 1 it stands for Count identical tenants named
// Name-0, Name-1, ... (each with its own random streams).
type Tenant struct {
	Name     string   `json:"name" yaml:"name"`
	Count    int      `json:"count,omitempty" yaml:"count,omitempty"`
	Weight   int      `json:"weight,omitempty" yaml:"weight,omitempty"` // fair-share weight; zero means 1
	Arrivals Arrivals `json:"arrivals" yaml:"arrivals"`
	// Service is the time a job takes on a worker of speed 1.
	Service Dist `json:"service" yaml:"service"`
	// Priority is every job's admission priority.
	Priority int `json:"priority,omitempty" yaml:"priority,omitempty"`
	// FailureRate is the probability that a job fails (it still occupies its worker for its
	// service time); failures feed adaptive limits.
	FailureRate float64 `json:"failure_rate,omitempty" yaml:"failure_rate,omitempty"`
	// Limit, if set, overrides the admission throttle for this tenant.
	Limit *tokenbucket.Limit `json:"limit,omitempty" yaml:"limit,omitempty"`
	// MaxInFlight, if > 0, overrides the admission concurrency cap for this tenant.
	MaxInFlight int `json:"max_in_flight,omitempty" yaml:"max_in_flight,omitempty"`
}

// Workers is the worker pool.
type Workers struct {
	// Count is the number of workers (>= 1).
	Count int `json:"count" yaml:"count"`
	// Queue is "fifo" (one central FIFO queue; the default), "lifo" (one central LIFO queue)
	// or "per-worker" (each worker has its own FIFO queue and Strategy picks the worker).
	Queue string `json:"queue,omitempty" yaml:"queue,omitempty"`
	// Strategy picks a worker for per-worker queues: "random", "next" (round robin), "best"
	// (shortest queue), "p2c" (power of two choices), "hash" (jump hash of the tenant),
	// "next_available" (an idle worker if there is one, else the shortest queue). Zero means
	// "best".
	Strategy string `json:"strategy,omitempty" yaml:"strategy,omitempty"`
	// Capacity, if > 0, bounds the jobs in the system (waiting and in service, as K in
	// M/M/c/K): an arrival that finds it full is rejected. With Capacity = Count it is
	// Erlang's loss system. Zero means unbounded.
	Capacity int `json:"capacity,omitempty" yaml:"capacity,omitempty"`
	// Speed multiplies each worker's service time (1 if missing or zero): worker i takes
	// service·Speed[i].
	Speed []float64 `json:"speed,omitempty" yaml:"speed,omitempty"`
	// Changes change the number of active workers at given times (to test adaptive limits
	// against a capacity drop). A worker that is removed finishes its current job first.
	Changes []CapacityChange `json:"changes,omitempty" yaml:"changes,omitempty"`
	// CrashRate is the rate (per second, per busy worker) at which a worker crashes mid-job:
	// the job is lost, the worker restarts at once, and the admission lease reaps the job.
	CrashRate float64 `json:"crash_rate,omitempty" yaml:"crash_rate,omitempty"`
}

// CapacityChange sets the number of active workers to Count at time At.
type CapacityChange struct {
	At    time.Duration `json:"at" yaml:"at"`
	Count int           `json:"count" yaml:"count"`
}

// Admission configures the admission policy the simulator ticks. Each gate is present when
// its field is set; gates run in the order Throttle, Concurrency, Adaptive, FairInterleave,
// GlobalCap, so that the global cap cuts a batch the fair interleave has already ordered.
type Admission struct {
	// TickInterval is the time between ticks while ticks admit jobs (dispatch_policy's
	// tick_sleep_busy). Zero means 50ms.
	TickInterval time.Duration `json:"tick_interval,omitempty" yaml:"tick_interval,omitempty"`
	// IdleInterval is the time between ticks after a tick that admitted nothing (tick_sleep).
	// Zero means TickInterval.
	IdleInterval time.Duration `json:"idle_interval,omitempty" yaml:"idle_interval,omitempty"`
	// EventDriven replaces periodic ticks by ticks exactly when something can change: an
	// arrival, a completion, the moment a throttled tenant's next token arrives, and a lease
	// expiry. Admission then adds no tick delay (the queueing-theory checks use it);
	// TickInterval and IdleInterval are ignored.
	EventDriven bool `json:"event_driven,omitempty" yaml:"event_driven,omitempty"`
	// BatchSize, Quantum, Lease and Descending map to admission.Config (zero: its defaults).
	BatchSize  int           `json:"batch_size,omitempty" yaml:"batch_size,omitempty"`
	Quantum    int           `json:"quantum,omitempty" yaml:"quantum,omitempty"`
	Lease      time.Duration `json:"lease,omitempty" yaml:"lease,omitempty"`
	Descending bool          `json:"descending,omitempty" yaml:"descending,omitempty"`
	// RoundRobin gives every job its tenant as round-robin key (the two-phase fetch).
	RoundRobin bool `json:"round_robin,omitempty" yaml:"round_robin,omitempty"`
	// Throttle is a per-tenant token bucket.
	Throttle *tokenbucket.Limit `json:"throttle,omitempty" yaml:"throttle,omitempty"`
	// Concurrency is a per-tenant in-flight cap.
	Concurrency int `json:"concurrency,omitempty" yaml:"concurrency,omitempty"`
	// Adaptive is a per-tenant adaptive concurrency limit.
	Adaptive *aimd.Config `json:"adaptive,omitempty" yaml:"adaptive,omitempty"`
	// GlobalCap is an in-flight cap across all tenants.
	GlobalCap int `json:"global_cap,omitempty" yaml:"global_cap,omitempty"`
	// FairInterleave reorders each tick's batch round robin across tenants.
	FairInterleave bool `json:"fair_interleave,omitempty" yaml:"fair_interleave,omitempty"`
}

// Metrics configures what a run records.
type Metrics struct {
	// Window is the length of the throughput and fairness windows. Zero means Duration/100
	// (at least 1ms).
	Window time.Duration `json:"window,omitempty" yaml:"window,omitempty"`
	// Accuracy is the relative accuracy of the latency quantiles (DDSketch). Zero means 0.01.
	Accuracy float64 `json:"accuracy,omitempty" yaml:"accuracy,omitempty"`
	// SeriesTenants is how many tenants get per-window series and limit trajectories (the
	// first ones, in scenario order). Zero means 20.
	SeriesTenants int `json:"series_tenants,omitempty" yaml:"series_tenants,omitempty"`
}

// Limits that keep a scenario from exhausting memory; Validate names the one exceeded.
const (
	MaxTenants  = 1_000_000
	MaxWorkers  = 1_000_000
	MaxDuration = 1000 * 24 * time.Hour
	MaxWindows  = 1_000_000
)

// FieldError is a problem with one field of a scenario. Path names the field as scenario
// files do (tenants[1].arrivals.rate), so that a loader can point at its line.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	return "sim: " + e.Path + ": " + strings.TrimPrefix(e.Err.Error(), "sim: ")
}
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Validate reports the first problem with s as a *FieldError naming the field and the value.
func (s *Scenario) Validate() error {
	if s.Duration <= 0 || s.Duration > MaxDuration {
		return fieldErr("duration", "must be in (0, %v], got %v", MaxDuration, s.Duration)
	}
	if s.Drain < 0 {
		return fieldErr("drain", "must be >= 0, got %v", s.Drain)
	}
	if s.Warmup < 0 || s.Warmup >= s.Duration {
		return fieldErr("warmup", "must be in [0, duration %v), got %v", s.Duration, s.Warmup)
	}
	if len(s.Tenants) == 0 {
		return fieldErr("tenants", "must not be empty")
	}
	total := 0
	names := map[string]bool{}
	for i, t := range s.Tenants {
		p := func(f string) string { return fmt.Sprintf("tenants[%d].%s", i, f) }
		switch {
		case t.Name == "":
			return fieldErr(p("name"), "must not be empty")
		case names[t.Name]:
			return fieldErr(p("name"), "duplicate tenant name %q", t.Name)
		case t.Count < 0:
			return fieldErr(p("count"), "must be >= 0, got %d", t.Count)
		case t.Weight < 0:
			return fieldErr(p("weight"), "must be >= 0, got %d", t.Weight)
		}
		names[t.Name] = true
		total += max(t.Count, 1)
		if total > MaxTenants {
			return fieldErr(p("count"), "more than %d tenants in all (the limit sim.MaxTenants protects memory)", MaxTenants)
		}
		if err := t.Arrivals.Validate(); err != nil {
			return &FieldError{Path: p("arrivals"), Err: err}
		}
		if err := t.Service.Validate(); err != nil {
			return &FieldError{Path: p("service"), Err: err}
		}
		if !(t.FailureRate >= 0 && t.FailureRate <= 1) {
			return fieldErr(p("failure_rate"), "must be in [0, 1], got %v", t.FailureRate)
		}
		if t.Limit != nil {
			if err := t.Limit.Validate(); err != nil {
				return &FieldError{Path: p("limit"), Err: err}
			}
		}
		if t.MaxInFlight < 0 {
			return fieldErr(p("max_in_flight"), "must be >= 0, got %d", t.MaxInFlight)
		}
	}
	w := s.Workers
	switch {
	case w.Count < 1 || w.Count > MaxWorkers:
		return fieldErr("workers.count", "must be in [1, %d], got %d", MaxWorkers, w.Count)
	case w.Queue != "" && w.Queue != "fifo" && w.Queue != "lifo" && w.Queue != "per-worker":
		return fieldErr("workers.queue", "must be fifo, lifo or per-worker, got %q", w.Queue)
	case w.Capacity < 0 || (w.Capacity > 0 && w.Capacity < w.Count):
		return fieldErr("workers.capacity", "must be 0 (unbounded) or >= workers.count %d, got %d", w.Count, w.Capacity)
	case len(w.Speed) > w.Count:
		return fieldErr("workers.speed", "has %d entries for %d workers", len(w.Speed), w.Count)
	case !(w.CrashRate >= 0) || math.IsInf(w.CrashRate, 0):
		return fieldErr("workers.crash_rate", "must be finite and >= 0, got %v", w.CrashRate)
	case w.Capacity > 0 && s.Admission != nil:
		return fieldErr("workers.capacity", "applies to direct queueing only; with admission, bound the jobs in flight with admission.global_cap")
	case w.CrashRate > 0 && s.Admission == nil:
		return fieldErr("workers.crash_rate", "needs admission (its lease reaps crashed jobs)")
	}
	switch w.Strategy {
	case "", "random", "next", "best", "p2c", "hash", "next_available":
	default:
		return fieldErr("workers.strategy", "must be random, next, best, p2c, hash or next_available, got %q", w.Strategy)
	}
	for i, v := range w.Speed {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fieldErr(fmt.Sprintf("workers.speed[%d]", i), "must be finite and >= 0, got %v", v)
		}
	}
	for i, c := range w.Changes {
		if c.At < 0 || c.Count < 0 || c.Count > w.Count {
			return fieldErr(fmt.Sprintf("workers.changes[%d]", i), "needs at >= 0 and 0 <= count <= %d, got at %v, count %d", w.Count, c.At, c.Count)
		}
	}
	if a := s.Admission; a != nil {
		for _, f := range []struct {
			name string
			v    int64
		}{
			{"tick_interval", int64(a.TickInterval)}, {"idle_interval", int64(a.IdleInterval)},
			{"batch_size", int64(a.BatchSize)}, {"quantum", int64(a.Quantum)}, {"lease", int64(a.Lease)},
			{"concurrency", int64(a.Concurrency)}, {"global_cap", int64(a.GlobalCap)},
		} {
			if f.v < 0 {
				return fieldErr("admission."+f.name, "must be >= 0, got %d", f.v)
			}
		}
		if a.Throttle != nil {
			if err := a.Throttle.Validate(); err != nil {
				return &FieldError{Path: "admission.throttle", Err: err}
			}
		}
		if a.Adaptive != nil {
			if _, err := aimd.New(*a.Adaptive); err != nil {
				return &FieldError{Path: "admission.adaptive", Err: err}
			}
		}
	}
	m := s.Metrics
	switch {
	case m.Window < 0:
		return fieldErr("metrics.window", "must be >= 0, got %v", m.Window)
	case m.Accuracy < 0 || m.Accuracy >= 1 || math.IsNaN(m.Accuracy):
		return fieldErr("metrics.accuracy", "must be in [0, 1), got %v", m.Accuracy)
	case m.SeriesTenants < 0:
		return fieldErr("metrics.series_tenants", "must be >= 0, got %d", m.SeriesTenants)
	case (s.Duration+s.drain())/s.window() > MaxWindows:
		return fieldErr("metrics.window", "%v makes more than %d windows over the run; raise it", s.window(), MaxWindows)
	}
	return nil
}

// ExpectedJobs returns the number of jobs the scenario's tenants generate on average, for
// callers that bound a run's cost before starting it.
func (s *Scenario) ExpectedJobs() float64 {
	var n float64
	for _, t := range s.Tenants {
		c := float64(max(t.Count, 1))
		switch t.Arrivals.Kind {
		case "trace":
			n += float64(len(t.Arrivals.Times))
		default:
			rate := t.Arrivals.Rate
			extra := 0.0
			for _, b := range t.Arrivals.Bursts {
				extra += rate * (b.Factor - 1) * min(b.For, max(s.Duration-b.Start, 0)).Seconds()
			}
			if o := t.Arrivals.OnOff; o != nil {
				rate *= (o.Off.Seconds() + o.On.Seconds()*o.Factor) / (o.On + o.Off).Seconds()
			}
			n += c * (rate*s.Duration.Seconds() + extra)
		}
	}
	return n
}

func (s *Scenario) drain() time.Duration {
	if s.Drain == 0 {
		return s.Duration
	}
	return s.Drain
}

func (s *Scenario) window() time.Duration {
	if s.Metrics.Window > 0 {
		return s.Metrics.Window
	}
	return max(s.Duration/100, time.Millisecond)
}
