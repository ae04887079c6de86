package main

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// axis is one sweep parameter's values: a list, or a range [lo, hi] (linear or log scale)
// that a grid cuts into steps and a Latin hypercube samples continuously.
type axis struct {
	values  []any // a list, or a grid's steps of a range
	isRange bool
	lo, hi  float64
	kind    string // of a range: "int", "float" or "duration" (lo and hi in ns)
	log     bool
}

// newAxis checks parameter p, parameters[i] of the sweep file, and returns its axis under
// design. where(field) gives the position of parameters[i].field for errors.
func newAxis(i int, p sweepParam, design string, where func(field string) string) (axis, error) {
	bad := func(field, format string, args ...any) error {
		return usagef("%s: parameters[%d].%s: %s", where(field), i, field, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Path == "":
		return axis{}, bad("path", "must name a scenario field, such as workers.count")
	case len(p.Values) > 0 && len(p.Range) > 0:
		return axis{}, bad("range", "give values or a range, not both")
	case len(p.Values) == 0 && len(p.Range) == 0:
		return axis{}, bad("values", "must not be empty (or give a range: [min, max])")
	case p.Scale != "" && p.Scale != "linear" && p.Scale != "log":
		return axis{}, bad("scale", "must be linear or log, got %q", p.Scale)
	case len(p.Values) > 0 && (p.Scale != "" || p.Steps != 0):
		return axis{}, bad("values", "scale and steps apply to a range, not to a list of values")
	}
	if len(p.Values) > 0 {
		return axis{values: p.Values}, nil
	}
	a := axis{isRange: true, log: p.Scale == "log"}
	if len(p.Range) != 2 {
		return axis{}, bad("range", "must be [min, max], got %d entries", len(p.Range))
	}
	var kinds [2]string
	var ends [2]float64
	for k, v := range p.Range {
		switch x := v.(type) {
		case uint64:
			kinds[k], ends[k] = "int", float64(x)
		case int64:
			kinds[k], ends[k] = "int", float64(x)
		case int:
			kinds[k], ends[k] = "int", float64(x)
		case float64:
			kinds[k], ends[k] = "float", x
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return axis{}, bad("range", "entries must be numbers or durations, got %q", x)
			}
			kinds[k], ends[k] = "duration", float64(d)
		default:
			return axis{}, bad("range", "entries must be numbers or durations, got %v", v)
		}
	}
	switch {
	case kinds[0] == kinds[1]:
		a.kind = kinds[0]
	case kinds[0] != "duration" && kinds[1] != "duration":
		a.kind = "float" // an integer and a fraction
	default:
		return axis{}, bad("range", "mixes a duration and a number")
	}
	a.lo, a.hi = ends[0], ends[1]
	switch {
	case math.IsNaN(a.lo) || math.IsNaN(a.hi) || math.IsInf(a.lo, 0) || math.IsInf(a.hi, 0) || !(a.lo < a.hi):
		return axis{}, bad("range", "needs finite min < max, got [%v, %v]", p.Range[0], p.Range[1])
	case a.log && a.lo <= 0:
		return axis{}, bad("scale", "log needs a range above 0, got min %v", p.Range[0])
	}
	switch design {
	case "grid":
		if p.Steps < 2 || p.Steps > 10_000 {
			return axis{}, bad("steps", "a range in a grid needs steps in [2, 10000] (values from min to max, ends included), got %d", p.Steps)
		}
		seen := map[string]bool{}
		for k := range p.Steps {
			v := a.at(float64(k) / float64(p.Steps-1))
			s := fmt.Sprint(v)
			if seen[s] {
				return axis{}, bad("steps", "%d steps over [%v, %v] repeat the value %s; use fewer steps", p.Steps, p.Range[0], p.Range[1], s)
			}
			seen[s] = true
			a.values = append(a.values, v)
		}
		a.isRange = false // the grid runs the steps as a list
	case "lhs":
		if p.Steps != 0 {
			return axis{}, bad("steps", "applies to grid designs; a Latin hypercube samples the range")
		}
	}
	return a, nil
}

// at returns the value a fraction u ∈ [0, 1] of the way along the range, rounded to four
// significant digits (integers to the nearest integer), so that outputs label points with
// the values they ran.
func (a axis) at(u float64) any {
	var x float64
	if a.log {
		x = math.Exp(math.Log(a.lo) + u*(math.Log(a.hi)-math.Log(a.lo)))
	} else {
		x = a.lo + u*(a.hi-a.lo)
	}
	x = min(max(x, a.lo), a.hi) // exp(log(x)) may land a hair outside
	switch a.kind {
	case "int":
		return int64(math.Round(x))
	case "duration":
		return time.Duration(sig4(x)).String()
	}
	return sig4(x)
}

func sig4(x float64) float64 {
	y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64)
	return y
}

// n is how many values a list axis has.
func (a axis) n() int { return len(a.values) }
