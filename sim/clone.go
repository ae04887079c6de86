package sim

import "slices"

// Clone returns a deep copy of s: no slice or pointer of the copy is shared with s, so a
// sweep or a comparison can change one field of the copy (a gate's parameter, a tenant's
// rate) without touching s or any other copy.
func (s *Scenario) Clone() *Scenario {
	if s == nil {
		return nil
	}
	c := *s
	c.Tenants = slices.Clone(s.Tenants)
	for i := range c.Tenants {
		t := &c.Tenants[i]
		t.Arrivals.Bursts = slices.Clone(t.Arrivals.Bursts)
		t.Arrivals.Times = slices.Clone(t.Arrivals.Times)
		t.Arrivals.Services = slices.Clone(t.Arrivals.Services)
		t.Arrivals.OnOff = clonePtr(t.Arrivals.OnOff)
		t.Service.Values = slices.Clone(t.Service.Values)
		t.Limit = clonePtr(t.Limit)
	}
	c.Workers.Speed = slices.Clone(s.Workers.Speed)
	c.Workers.Changes = slices.Clone(s.Workers.Changes)
	if s.Admission != nil {
		a := *s.Admission
		a.Throttle = clonePtr(a.Throttle)
		a.Adaptive = clonePtr(a.Adaptive)
		c.Admission = &a
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
