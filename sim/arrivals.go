package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Arrivals describes when a tenant's jobs arrive.
type Arrivals struct {
	// Kind is "poisson" (exponential gaps), "constant" (equal gaps), "diurnal" (Poisson with
	// a sinusoidal rate) or "trace" (replayed times). The zero Kind means "poisson".
	Kind string `json:"kind,omitempty" yaml:"kind,omitempty"`
	// Rate is the mean arrival rate in jobs per second (> 0, except for a trace).
	Rate float64 `json:"rate,omitempty" yaml:"rate,omitempty"`
	// Bursts multiply the rate during given intervals: a tenant that goes 100× for a while.
	// They apply to poisson, constant and diurnal arrivals.
	Bursts []Burst `json:"bursts,omitempty" yaml:"bursts,omitempty"`
	// OnOff, if set, alternates periods at Rate·OnOff.Factor and at Rate, forever.
	OnOff *OnOff `json:"onoff,omitempty" yaml:"onoff,omitempty"`
	// Amplitude (in [0, 1)) and Period shape a diurnal rate: Rate·(1 + Amplitude·sin(2πt/Period)).
	Amplitude float64       `json:"amplitude,omitempty" yaml:"amplitude,omitempty"`
	Period    time.Duration `json:"period,omitempty" yaml:"period,omitempty"`
	// Times are a trace's arrival offsets from the start of the run, non-decreasing.
	Times []time.Duration `json:"times,omitempty" yaml:"times,omitempty"`
	// Services, if set, give each traced arrival its service time (parallel to Times);
	// otherwise the tenant's Service distribution is sampled.
	Services []time.Duration `json:"services,omitempty" yaml:"services,omitempty"`
}

// Burst multiplies the arrival rate by Factor during [Start, Start+For).
type Burst struct {
	Start  time.Duration `json:"start" yaml:"start"`
	For    time.Duration `json:"for" yaml:"for"`
	Factor float64       `json:"factor" yaml:"factor"`
}

// OnOff alternates On at Rate·Factor and Off at Rate, starting with Off.
type OnOff struct {
	On     time.Duration `json:"on" yaml:"on"`
	Off    time.Duration `json:"off" yaml:"off"`
	Factor float64       `json:"factor" yaml:"factor"`
}

// Poisson returns Poisson arrivals at rate jobs per second.
func Poisson(rate float64) Arrivals { return Arrivals{Kind: "poisson", Rate: rate} }

// Validate reports why a cannot generate arrivals.
func (a Arrivals) Validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch a.Kind {
	case "", "poisson", "constant", "diurnal":
		if !(a.Rate > 0) || !finite(a.Rate) {
			return fmt.Errorf("sim: arrival Rate must be finite and > 0, got %v", a.Rate)
		}
	case "trace":
		if len(a.Times) == 0 {
			return errors.New("sim: trace arrivals need Times")
		}
		for i, t := range a.Times {
			if t < 0 || (i > 0 && t < a.Times[i-1]) {
				return fmt.Errorf("sim: trace Times must be >= 0 and non-decreasing, got Times[%d] = %v", i, t)
			}
		}
		if a.Services != nil && len(a.Services) != len(a.Times) {
			return fmt.Errorf("sim: trace Services has %d entries for %d Times", len(a.Services), len(a.Times))
		}
		for i, s := range a.Services {
			if s < 0 {
				return fmt.Errorf("sim: trace Services[%d] must be >= 0, got %v", i, s)
			}
		}
		return nil
	default:
		return fmt.Errorf("sim: unknown arrival Kind %q (want poisson, constant, diurnal or trace)", a.Kind)
	}
	if a.Kind == "diurnal" {
		if a.Amplitude < 0 || a.Amplitude >= 1 || !finite(a.Amplitude) {
			return fmt.Errorf("sim: diurnal Amplitude must be in [0, 1), got %v", a.Amplitude)
		}
		if a.Period <= 0 {
			return fmt.Errorf("sim: diurnal Period must be > 0, got %v", a.Period)
		}
	}
	for i, b := range a.Bursts {
		if b.Start < 0 || b.For <= 0 || !(b.Factor > 0) || !finite(b.Factor) {
			return fmt.Errorf("sim: Bursts[%d] needs Start >= 0, For > 0 and a finite Factor > 0, got %+v", i, b)
		}
	}
	if o := a.OnOff; o != nil && (o.On <= 0 || o.Off <= 0 || !(o.Factor > 0) || !finite(o.Factor)) {
		return fmt.Errorf("sim: OnOff needs On > 0, Off > 0 and a finite Factor > 0, got %+v", *o)
	}
	return nil
}

// arrivalGen generates one tenant's arrival times from its own stream.
// What a Poisson arrival reads comes first, before the Arrivals it was made from: with
// 100,000 tenants every arrival is a cache miss, and this keeps it to one line.
type arrivalGen struct {
	r       *rand.Rand
	gap     float64   // mean gap at the base rate, ns
	maxRate float64   // thinning bound, relative to the base rate
	next    int       // trace position
	kind    uint8     // a.Kind
	a       *Arrivals // the scenario's, shared by a tenant's replicas
}

// Arrival kinds, as arrivalGen.kind.
const (
	genPoisson uint8 = iota
	genConstant
	genDiurnal
	genTrace
)

func newArrivalGen(a *Arrivals, r *rand.Rand) arrivalGen {
	g := arrivalGen{a: a, r: r}
	switch a.Kind {
	case "constant":
		g.kind = genConstant
	case "diurnal":
		g.kind = genDiurnal
	case "trace":
		g.kind = genTrace
	}
	if a.Rate > 0 {
		g.gap = 1e9 / a.Rate
	}
	g.maxRate = 1
	for _, b := range a.Bursts {
		g.maxRate = max(g.maxRate, b.Factor)
	}
	if a.OnOff != nil {
		g.maxRate = max(g.maxRate, a.OnOff.Factor)
	}
	if a.Kind == "diurnal" {
		g.maxRate *= 1 + a.Amplitude
	}
	return g
}

// factor returns the rate multiplier at time t.
func (g *arrivalGen) factor(t time.Duration) float64 {
	f := 1.0
	if g.kind == genDiurnal {
		f = 1 + float64(g.a.Amplitude*math.Sin(2*math.Pi*float64(t)/float64(g.a.Period))) // float64(): no FMA (see doc)
	}
	for _, b := range g.a.Bursts {
		if t >= b.Start && t < b.Start+b.For {
			f *= b.Factor
		}
	}
	if o := g.a.OnOff; o != nil {
		if t%(o.On+o.Off) >= o.Off {
			f *= o.Factor
		}
	}
	return f
}

// after returns the first arrival after t, or false when there are no more.
func (g *arrivalGen) after(t time.Duration) (time.Duration, bool) {
	switch g.kind {
	case genTrace:
		if g.next >= len(g.a.Times) {
			return 0, false
		}
		g.next++
		return max(g.a.Times[g.next-1], t), true
	case genConstant:
		if g.maxRate == 1 {
			return t + time.Duration(math.Round(g.gap)), true
		}
	}
	if g.maxRate == 1 && g.kind != genDiurnal {
		return t + time.Duration(math.Round(g.r.ExpFloat64()*g.gap)), true
	}
	// A varying rate: Lewis–Shedler thinning against the largest rate (exact for Poisson).
	// Constant arrivals with bursts step at the local rate instead.
	for {
		if g.kind == genConstant {
			return t + time.Duration(math.Round(g.gap/g.factor(t))), true
		}
		t += time.Duration(math.Round(g.r.ExpFloat64() * g.gap / g.maxRate))
		if g.r.Float64()*g.maxRate <= g.factor(t) {
			return t, true
		}
	}
}

// TraceRecord is one arrival of a replayed trace.
type TraceRecord struct {
	At      time.Duration
	Tenant  string
	Service time.Duration // zero means: sample from the tenant's Service
}

// ReadTrace reads a CSV trace with a header naming the columns "at" (seconds as a decimal,
// or a Go duration such as 1.5s), "tenant" and optionally "service" (same formats). Records
// are returned sorted by time (stably). Errors name the line.
func ReadTrace(r io.Reader) ([]TraceRecord, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("sim: trace header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	at, okAt := col["at"]
	tn, okT := col["tenant"]
	if !okAt || !okT {
		return nil, fmt.Errorf("sim: trace header must name columns \"at\" and \"tenant\", got %q", header)
	}
	sv, okS := col["service"]
	var out []TraceRecord
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sim: trace line %d: %w", line, err)
		}
		t, err := parseSeconds(rec[at])
		if err != nil || t < 0 {
			return nil, fmt.Errorf("sim: trace line %d: at %q is not a time >= 0", line, rec[at])
		}
		tr := TraceRecord{At: t, Tenant: rec[tn]}
		if tr.Tenant == "" {
			return nil, fmt.Errorf("sim: trace line %d: tenant is empty", line)
		}
		if okS && rec[sv] != "" {
			if tr.Service, err = parseSeconds(rec[sv]); err != nil || tr.Service < 0 {
				return nil, fmt.Errorf("sim: trace line %d: service %q is not a duration >= 0", line, rec[sv])
			}
		}
		out = append(out, tr)
	}
	slices.SortStableFunc(out, func(a, b TraceRecord) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
	return out, nil
}

func parseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 9e9 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return time.Duration(math.Round(f * 1e9)), nil
}

// TraceTenants turns trace records into one tenant per name (in order of first appearance),
// each replaying its arrivals and, where the trace gives them, its service times; service
// is the distribution for records without one.
func TraceTenants(records []TraceRecord, service Dist) []Tenant {
	idx := map[string]int{}
	var out []Tenant
	for _, r := range records {
		i, ok := idx[r.Tenant]
		if !ok {
			i = len(out)
			idx[r.Tenant] = i
			out = append(out, Tenant{Name: r.Tenant, Arrivals: Arrivals{Kind: "trace"}, Service: service})
		}
		a := &out[i].Arrivals
		a.Times = append(a.Times, r.At)
		a.Services = append(a.Services, r.Service)
	}
	for i := range out {
		a := &out[i].Arrivals
		traced := false
		for _, s := range a.Services {
			traced = traced || s > 0
		}
		if !traced {
			a.Services = nil
		}
	}
	return out
}
