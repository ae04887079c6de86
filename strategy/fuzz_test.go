package strategy_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	jump "github.com/dgryski/go-jump"

	"github.com/dispatchlab/dispatchlab/strategy"
)

// FuzzJumpHash: JumpHash never panics, stays in range, agrees with go-jump wherever
// go-jump's int32 answer is defined, and moves a key only to the new bucket on growth.
// Run it with go test -fuzz=FuzzJumpHash.
func FuzzJumpHash(f *testing.F) {
	f.Add(uint64(0), 1)
	f.Add(uint64(1), 1000)
	f.Add(uint64(math.MaxUint64), math.MaxInt32)
	f.Add(uint64(0xdeadbeef), math.MaxInt)
	f.Add(uint64(42), -3)
	f.Fuzz(func(t *testing.T, key uint64, n int) {
		b := strategy.JumpHash(key, n)
		if n <= 0 {
			if b != -1 {
				t.Fatalf("JumpHash(%#x, %d) = %d, want -1", key, n, b)
			}
			return
		}
		if b < 0 || b >= n {
			t.Fatalf("JumpHash(%#x, %d) = %d, out of range", key, n, b)
		}
		if n <= math.MaxInt32 {
			if g := int(jump.Hash(key, n)); g != b {
				t.Fatalf("JumpHash(%#x, %d) = %d, go-jump %d", key, n, b, g)
			}
		}
		if n < math.MaxInt {
			if c := strategy.JumpHash(key, n+1); c != b && c != n {
				t.Fatalf("JumpHash(%#x, %d→%d) moved %d to %d", key, n, n+1, b, c)
			}
		}
	})
}

// FuzzConstructors feeds arbitrary parameters to the constructors that take them and
// drives what they build: nothing panics, every rejection is a prefixed error, and
// accepted values keep their invariants. Run it with go test -fuzz=FuzzConstructors.
func FuzzConstructors(f *testing.F) {
	f.Add(int64(time.Second), 5, 0, 3, 1, []byte{0, 1, 2, 3})
	f.Add(int64(0), -1, 2, -1, 0, []byte{})
	f.Add(int64(math.MaxInt64), math.MaxInt, 1, 0, 7, []byte{255, 128, 7})
	f.Add(int64(math.MaxUint32)*int64(time.Millisecond), 2, 1, 64, 2, []byte{9, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, warning int64, maxWarnings, mode, workers, order int, ops []byte) {
		prefixed := func(err error) {
			if err != nil && !strings.HasPrefix(err.Error(), "strategy: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		}
		c := strategy.OverrunConfig{Warning: time.Duration(warning), MaxWarnings: maxWarnings, Mode: strategy.OverrunMode(mode)}
		o, err := strategy.NewOverrun(c)
		prefixed(err)
		if (err == nil) != (c.Validate() == nil) {
			t.Fatalf("NewOverrun and Validate disagree on %+v", c)
		}
		if err == nil {
			if msg := overrunInvariants(o); msg != "" {
				t.Fatal(msg)
			}
		}

		e, err := strategy.NewEmitterPool(workers, strategy.Hash{})
		prefixed(err)
		if (err == nil) != (workers >= 1) {
			t.Fatalf("NewEmitterPool(%d) = %v", workers, err)
		}

		q, err := strategy.NewQueue(workers%1000, strategy.Order(order))
		prefixed(err)
		if err != nil {
			return
		}
		now := time.Unix(0, 0)
		for i, b := range ops {
			now = now.Add(time.Duration(int8(b)) * time.Millisecond)
			w := int(b>>2) % (q.Workers() + 2)
			switch b % 5 {
			case 0, 1:
				_, _, err = q.Request(now, now.Add(time.Duration(b%7)*time.Millisecond))
				if err != nil && !errors.Is(err, strategy.ErrTimeout) {
					t.Fatalf("op %d: Request: %v", i, err)
				}
			case 2:
				_, _, err = q.Ready(now, w)
			case 3:
				q.Cancel(strategy.Ticket(b))
			default:
				_, _, err = q.Dead(w)
			}
			prefixed(err)
			if err := q.CheckInvariants(); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
			if e != nil {
				_ = e.Resize(int(b) - 3)
				if i, err := e.Emit(uint64(b)); err != nil || i < 0 || i >= e.Size() {
					t.Fatalf("Emit = %d, %v with size %d", i, err, e.Size())
				}
			}
		}
	})
}
