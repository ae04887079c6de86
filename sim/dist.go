package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Dist is a distribution of non-negative durations: service times, job costs. The zero Dist
// is invalid; Validate says why.
type Dist struct {
	// Kind is "exponential", "deterministic", "lognormal", "pareto", "uniform" or "empirical".
	Kind string `json:"kind" yaml:"kind"`
	// Mean is the mean duration (every kind but empirical and uniform).
	Mean time.Duration `json:"mean,omitempty" yaml:"mean,omitempty"`
	// Sigma is the lognormal's shape: the standard deviation of its logarithm (> 0).
	Sigma float64 `json:"sigma,omitempty" yaml:"sigma,omitempty"`
	// Alpha is the Pareto's tail index (> 1, so that the mean is finite); its scale is set
	// from Mean.
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// Min and Max bound a uniform distribution.
	Min time.Duration `json:"min,omitempty" yaml:"min,omitempty"`
	Max time.Duration `json:"max,omitempty" yaml:"max,omitempty"`
	// Values are an empirical distribution's samples, drawn with equal probability.
	Values []time.Duration `json:"values,omitempty" yaml:"values,omitempty"`
}

// Exp returns the exponential distribution with the given mean.
func Exp(mean time.Duration) Dist { return Dist{Kind: "exponential", Mean: mean} }

// Det returns the distribution that is always d.
func Det(d time.Duration) Dist { return Dist{Kind: "deterministic", Mean: d} }

// Validate reports why d cannot be sampled, naming the field and the value.
func (d Dist) Validate() error {
	switch d.Kind {
	case "exponential", "deterministic", "lognormal", "pareto":
		if d.Mean <= 0 && !(d.Kind == "deterministic" && d.Mean == 0) {
			return fmt.Errorf("sim: %s Mean must be > 0, got %v", d.Kind, d.Mean)
		}
	}
	switch d.Kind {
	case "exponential", "deterministic":
	case "lognormal":
		if !(d.Sigma > 0) || math.IsInf(d.Sigma, 0) {
			return fmt.Errorf("sim: lognormal Sigma must be finite and > 0, got %v", d.Sigma)
		}
	case "pareto":
		if !(d.Alpha > 1) || math.IsInf(d.Alpha, 0) {
			return fmt.Errorf("sim: pareto Alpha must be finite and > 1, got %v", d.Alpha)
		}
	case "uniform":
		if d.Min < 0 || d.Max < d.Min {
			return fmt.Errorf("sim: uniform needs 0 <= Min <= Max, got Min %v, Max %v", d.Min, d.Max)
		}
	case "empirical":
		if len(d.Values) == 0 {
			return fmt.Errorf("sim: empirical Values must not be empty")
		}
		for i, v := range d.Values {
			if v < 0 {
				return fmt.Errorf("sim: empirical Values[%d] must be >= 0, got %v", i, v)
			}
		}
	case "":
		return fmt.Errorf("sim: distribution Kind is empty")
	default:
		return fmt.Errorf("sim: unknown distribution Kind %q (want exponential, deterministic, lognormal, pareto, uniform or empirical)", d.Kind)
	}
	return nil
}

// MeanDuration returns the distribution's mean.
func (d Dist) MeanDuration() time.Duration {
	switch d.Kind {
	case "uniform":
		return (d.Min + d.Max) / 2
	case "empirical":
		var s float64
		for _, v := range d.Values {
			s += float64(v)
		}
		return time.Duration(s / float64(len(d.Values)))
	}
	return d.Mean
}

// sampler draws from a validated Dist with its own stream.
type sampler struct {
	kind   uint8
	mean   float64 // ns
	rander interface{ Rand() float64 }
	r      *rand.Rand
	values []time.Duration
	lo, hi float64
}

const (
	sExp uint8 = iota
	sDet
	sRander
	sUniform
	sEmpirical
)

// newSampler returns a sampler of d drawing from r. d must be valid.
func newSampler(d Dist, r *rand.Rand) sampler {
	s := sampler{r: r, mean: float64(d.Mean)}
	switch d.Kind {
	case "exponential":
		s.kind = sExp
	case "deterministic":
		s.kind = sDet
	case "lognormal":
		// mean = exp(mu + sigma²/2)
		mu := math.Log(float64(d.Mean)) - d.Sigma*d.Sigma/2
		s.kind, s.rander = sRander, distuv.LogNormal{Mu: mu, Sigma: d.Sigma, Src: r}
	case "pareto":
		// mean = xm·alpha/(alpha−1)
		xm := float64(d.Mean) * (d.Alpha - 1) / d.Alpha
		s.kind, s.rander = sRander, distuv.Pareto{Xm: xm, Alpha: d.Alpha, Src: r}
	case "uniform":
		s.kind, s.lo, s.hi = sUniform, float64(d.Min), float64(d.Max)
	case "empirical":
		s.kind, s.values = sEmpirical, d.Values
	}
	return s
}

// sample draws one duration, rounded to the nanosecond.
func (s *sampler) sample() time.Duration {
	var x float64
	switch s.kind {
	case sExp:
		// The same draw as distuv.Exponential (r.ExpFloat64()/rate), without an interface call.
		x = s.r.ExpFloat64() * s.mean
	case sDet:
		return time.Duration(s.mean)
	case sRander:
		x = s.rander.Rand()
	case sUniform:
		x = s.lo + float64(s.r.Float64()*(s.hi-s.lo)) // float64(): no FMA, the same draw on every architecture
	case sEmpirical:
		return s.values[s.r.IntN(len(s.values))]
	}
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Round(x))
}
