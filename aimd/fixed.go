package aimd

import (
	"fmt"
	"sync/atomic"
	"time"
)

var (
	_ Algorithm  = (*Fixed)(nil)
	_ Availabler = (*Fixed)(nil)
	_ Fresher    = (*Fixed)(nil)
)

// Fixed is a plain concurrency cap (the seed's :concurrency gate, Netflix's FixedLimit):
// samples do not change it, so a pipeline can treat fixed and adaptive caps alike.
//
// A Fixed is safe for concurrent use by multiple goroutines; it is one atomic word.
type Fixed struct {
	initial int
	limit   atomic.Int64
}

// NewFixed returns a cap of limit concurrent jobs. limit must be >= 0; a cap of 0 admits
// nothing (a paused partition).
func NewFixed(limit int) (*Fixed, error) {
	if limit < 0 {
		return nil, fmt.Errorf("aimd: Fixed limit must be >= 0, got %d", limit)
	}
	f := &Fixed{initial: limit}
	f.limit.Store(int64(limit))
	return f, nil
}

// Limit returns the cap.
func (f *Fixed) Limit() int { return int(f.limit.Load()) }

// Observe does nothing: a fixed cap does not adapt.
func (f *Fixed) Observe(time.Time, Sample) {}

// Available returns max(0, Limit − inFlight); inFlight < 0 counts as 0.
func (f *Fixed) Available(inFlight int) int { return max(f.Limit()-max(inFlight, 0), 0) }

// SetLimit changes the cap; limit must be >= 0.
func (f *Fixed) SetLimit(limit int) error {
	if limit < 0 {
		return fmt.Errorf("aimd: Fixed limit must be >= 0, got %d", limit)
	}
	f.limit.Store(int64(limit))
	return nil
}

// Fresh reports whether the cap is the one NewFixed set.
func (f *Fixed) Fresh() bool { return f.Limit() == f.initial }
