package sim

import (
	"errors"
	"fmt"
)

// SweepPoint is one value of a one-parameter sweep: the scenario run at that value, its
// replications and their summary.
type SweepPoint[V any] struct {
	Value    V
	Scenario *Scenario
	Results  []*Result // in replication order
	Summary  Summary   // named after the value (fmt's %v)
}

// Sweep runs a one-parameter sweep. For each value it clones base, lets set change the
// clone (set must change only the clone it is given), and runs o.Replications replications
// of it. Every point uses the same seeds (common random numbers), so the differences between
// points come from the parameter, not from noise, and the curves come out smooth. Up to
// o.Parallel runs go at once; the results do not depend on it. Every point is validated
// before anything runs: an invalid one returns its error, naming the value.
//
// Cost: len(values) × o.Replications runs.
func Sweep[V any](base *Scenario, values []V, set func(sc *Scenario, v V), o RunOptions) ([]SweepPoint[V], error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	if base == nil || set == nil {
		return nil, errors.New("sim: Sweep needs a base scenario and a set function")
	}
	pts := make([]SweepPoint[V], len(values))
	scs := make([]*Scenario, len(values))
	for i, v := range values {
		sc := base.Clone()
		set(sc, v)
		if err := sc.Validate(); err != nil {
			return nil, fmt.Errorf("sim: sweep value %v: %w", v, err)
		}
		pts[i].Value, pts[i].Scenario, scs[i] = v, sc, sc
	}
	res, err := runAll(scs, o)
	if err != nil {
		return nil, err
	}
	for i := range pts {
		pts[i].Results = res[i]
		pts[i].Summary = Summarize(fmt.Sprint(pts[i].Value), res[i], o.Level)
	}
	return pts, nil
}

// SweepSummaries returns the summaries of pts, in order.
func SweepSummaries[V any](pts []SweepPoint[V]) []Summary {
	out := make([]Summary, len(pts))
	for i, p := range pts {
		out[i] = p.Summary
	}
	return out
}
