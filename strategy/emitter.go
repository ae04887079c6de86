package strategy

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
)

// EmitterPool distributes a subscription's events over a resizable pool of emitters, as
// reckon_db's emitter pools do: each event goes to one of Size emitters, chosen by a
// [Strategy] over a pool of interchangeable workers (every emitter idle, queue 0). Use
// [NewNext] for round robin (what reckon_db's guide promises), [NewRandom] for uniform
// random (what its code does), or [Hash] to keep each event key, such as a stream, on one
// emitter in order.
//
// Resize really resizes, where reckon_db's update_emitter restarts the pool with the
// persisted names and so keeps the old size. Round robin continues its cycle modulo the
// new size; under Hash, growing from n to n+1 moves only the keys that the new emitter
// takes (1/(n+1) of them) and shrinking moves only the keys of the removed emitters (see
// [JumpHash]).
//
// Concurrency: the size is atomic, so Emit, Size and Resize may be called concurrently if
// the strategy is safe for concurrent use ([Next], [Hash], [Locked]); an Emit racing a
// Resize uses the old size or the new one.
type EmitterPool struct {
	size atomic.Int64
	s    Strategy
	view emitters // a Pool over size; pointer-shaped, so passing it allocates nothing
}

// NewEmitterPool returns a pool of size emitters that picks with s. size < 1 (reckon_db's
// pool_size, which crashes at 0) and a nil s are errors.
func NewEmitterPool(size int, s Strategy) (*EmitterPool, error) {
	if s == nil {
		return nil, errors.New("strategy: EmitterPool needs a Strategy, got nil")
	}
	e := &EmitterPool{s: s}
	e.view = emitters{&e.size}
	if err := e.Resize(size); err != nil {
		return nil, err
	}
	return e, nil
}

// Emit returns the emitter, in [0, Size()), that takes the next event with the given key,
// or the strategy's error.
func (e *EmitterPool) Emit(key uint64) (int, error) {
	return e.s.Pick(e.view, key)
}

// Size returns the number of emitters.
func (e *EmitterPool) Size() int { return int(e.size.Load()) }

// Resize sets the number of emitters. size < 1 is an error and leaves the size unchanged.
func (e *EmitterPool) Resize(size int) error {
	if size < 1 {
		return fmt.Errorf("strategy: EmitterPool size must be >= 1, got %d", size)
	}
	e.size.Store(int64(size))
	return nil
}

// emitters is a Pool of interchangeable, always idle workers, as many as the pool's size.
type emitters struct{ size *atomic.Int64 }

func (e emitters) Len() int       { return int(e.size.Load()) }
func (emitters) QueueLen(int) int { return 0 }
func (emitters) Idle(int) bool    { return true }

// EmitterName returns reckon_db's name of emitter i (from 0) of subscription subID in
// store: "<store>_<subID>_emitter" for emitter 0 and "<store>_<subID>_emitter_<i+1>" for
// the others, so a pool of size n is named [base, base_2, ..., base_n].
func EmitterName(store, subID string, i int) string {
	base := store + "_" + subID + "_emitter"
	if i == 0 {
		return base
	}
	return base + "_" + strconv.Itoa(i+1)
}
