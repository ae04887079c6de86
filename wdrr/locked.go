package wdrr

import "sync"

// Locked is an [SWRR] shared by goroutines: every method takes one mutex and calls the
// SWRR's method of the same name. Predicates passed to Next run under the mutex, so they must
// not call back into the Locked. Locked is safe for concurrent use; the SWRR it wraps must
// not be used directly afterwards.
//
// A pick is one O(n) scan under the lock. Callers picking at very high rates from many
// goroutines over a large pool may prefer one SWRR per goroutine (each keeps the weighted
// shares exactly; their interleaving is not smooth as a whole).
type Locked[T any] struct {
	mu sync.Mutex
	s  *SWRR[T]
}

// NewLocked wraps s, which the caller must not use directly afterwards.
func NewLocked[T any](s *SWRR[T]) *Locked[T] { return &Locked[T]{s: s} }

// Next is [SWRR.Next] under the lock.
func (l *Locked[T]) Next(eligible func(T) bool) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Next(eligible)
}

// NextID is [SWRR.NextID] under the lock.
func (l *Locked[T]) NextID(eligible func(T) bool) (ID, T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.NextID(eligible)
}

// Add is [SWRR.Add] under the lock.
func (l *Locked[T]) Add(v T, weight int) (ID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Add(v, weight)
}

// Remove is [SWRR.Remove] under the lock.
func (l *Locked[T]) Remove(id ID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Remove(id)
}

// SetWeight is [SWRR.SetWeight] under the lock.
func (l *Locked[T]) SetWeight(id ID, weight int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.SetWeight(id, weight)
}

// Fail is [SWRR.Fail] under the lock.
func (l *Locked[T]) Fail(id ID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Fail(id)
}

// Reset is [SWRR.Reset] under the lock.
func (l *Locked[T]) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s.Reset()
}

// Len is [SWRR.Len] under the lock.
func (l *Locked[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Len()
}

// Members is [SWRR.Members] under the lock.
func (l *Locked[T]) Members(dst []Member[T]) []Member[T] {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Members(dst)
}

// Member is [SWRR.Member] under the lock.
func (l *Locked[T]) Member(id ID) (Member[T], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Member(id)
}
