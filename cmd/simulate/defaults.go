package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/dispatchlab/dispatchlab/sim"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Defaults for fields a scenario file leaves out and whose zero value would be invalid
// (cmd/simulate/docs/scenarios.md lists them). Only absent fields take them: an explicit value, even 0,
// is kept and validated, so a typo never turns silently into a default.
const (
	defaultDuration  = 60 * time.Second
	defaultRate      = 1.0 // jobs per second
	defaultService   = 100 * time.Millisecond
	defaultSigma     = 1.0
	defaultAlpha     = 2.0
	defaultBurstFor  = 10 * time.Second
	defaultFactor    = 10.0
	defaultOn        = 10 * time.Second
	defaultOff       = 50 * time.Second
	defaultTargetLag = time.Second
)

// nameOf is the default name of a scenario read from source: the file name without its
// extension.
func nameOf(source string) string {
	base := strings.TrimPrefix(filepath.Base(source), "builtin:")
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// node is a decoded document, to ask which fields the file sets.
type node struct{ v any }

func (n node) get(key string) node {
	if m, ok := n.v.(map[string]any); ok {
		return node{m[key]}
	}
	return node{}
}

func (n node) index(i int) node {
	if s, ok := n.v.([]any); ok && i < len(s) {
		return node{s[i]}
	}
	return node{}
}

func (n node) has(key string) bool {
	m, ok := n.v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

// applyDefaults fills the fields that data (the file sc was decoded from) leaves out.
func applyDefaults(sc *sim.Scenario, source string, data []byte) {
	var generic any
	if unmarshal(data, &generic, false) != nil {
		return
	}
	doc := node{generic}
	if !doc.has("name") {
		sc.Name = nameOf(source)
	}
	if !doc.has("duration") {
		sc.Duration = defaultDuration
	}
	if !doc.has("tenants") {
		sc.Tenants = []sim.Tenant{{}}
	}
	for i := range sc.Tenants {
		t, n := &sc.Tenants[i], doc.get("tenants").index(i)
		if !n.has("name") {
			t.Name = fmt.Sprintf("tenant-%d", i)
		}
		arrivalDefaults(&t.Arrivals, n.get("arrivals"), sc.Duration)
		distDefaults(&t.Service, n.get("service"))
		if t.Limit != nil {
			limitDefaults(t.Limit, n.get("limit"))
		}
	}
	if !doc.get("workers").has("count") {
		sc.Workers.Count = 1
	}
	if a := sc.Admission; a != nil {
		an := doc.get("admission")
		if a.Throttle != nil {
			limitDefaults(a.Throttle, an.get("throttle"))
		}
		if c := a.Adaptive; c != nil {
			n := an.get("adaptive")
			if !n.has("initial") {
				c.Initial = max(c.Min, 1)
			}
			if !n.has("target_lag") {
				c.TargetLag = defaultTargetLag
			}
		}
	}
}

func arrivalDefaults(a *sim.Arrivals, n node, duration time.Duration) {
	if a.Kind == "trace" {
		return
	}
	if !n.has("rate") {
		a.Rate = defaultRate
	}
	if a.Kind == "diurnal" && !n.has("period") {
		a.Period = duration
	}
	for i := range a.Bursts {
		b, bn := &a.Bursts[i], n.get("bursts").index(i)
		if !bn.has("for") {
			b.For = defaultBurstFor
		}
		if !bn.has("factor") {
			b.Factor = defaultFactor
		}
	}
	if o := a.OnOff; o != nil {
		on := n.get("onoff")
		if !on.has("on") {
			o.On = defaultOn
		}
		if !on.has("off") {
			o.Off = defaultOff
		}
		if !on.has("factor") {
			o.Factor = defaultFactor
		}
	}
}

func distDefaults(d *sim.Dist, n node) {
	if !n.has("kind") {
		d.Kind = "exponential"
	}
	switch d.Kind {
	case "exponential", "deterministic", "lognormal", "pareto":
		if !n.has("mean") {
			d.Mean = defaultService
		}
	case "uniform":
		if !n.has("max") {
			d.Max = max(d.Min, 2*defaultService)
		}
	}
	if d.Kind == "lognormal" && !n.has("sigma") {
		d.Sigma = defaultSigma
	}
	if d.Kind == "pareto" && !n.has("alpha") {
		d.Alpha = defaultAlpha
	}
}

// limitDefaults: a throttle of Rate per second, with a burst of one second's tokens.
func limitDefaults(l *tokenbucket.Limit, n node) {
	if !n.has("rate") {
		l.Rate = defaultRate
	}
	if !n.has("per") {
		l.Per = time.Second
	}
	if !n.has("burst") && l.Rate > 0 && l.Rate <= math.MaxInt32 {
		l.Burst = max(1, int(math.Ceil(l.Rate)))
	}
}
