package tokenbucket_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// FuzzLimit feeds arbitrary limits and call sequences to the constructors and the buckets:
// nothing panics, every rejection is a named error, and an accepted limit reports a valid
// exact form that is its own fixed point. Run it with go test -fuzz=FuzzLimit.
func FuzzLimit(f *testing.F) {
	f.Add(1.0, int64(time.Second), 1, []byte{0, 1, 2, 3})
	f.Add(0.1, int64(time.Millisecond), 20, []byte{9, 9, 9})
	f.Add(1e9, int64(1), 1<<31, []byte{255, 0, 255})
	f.Add(math.NaN(), int64(time.Second), 1, []byte{})
	f.Add(1e-10, int64(time.Hour), 1, []byte{1})
	f.Add(math.MaxFloat64, int64(math.MaxInt64), math.MaxInt, []byte{7})
	f.Fuzz(func(t *testing.T, rate float64, per int64, burst int, calls []byte) {
		l := tokenbucket.Limit{Rate: rate, Per: time.Duration(per), Burst: burst}
		err := l.Validate()
		b, errNew := tokenbucket.New(l, base)
		if (err == nil) != (errNew == nil) {
			t.Fatalf("Validate() = %v but New() = %v", err, errNew)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tokenbucket: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		exact := b.Limit()
		if err := exact.Validate(); err != nil {
			t.Fatalf("Limit() = %v is invalid: %v", exact, err)
		}
		if again, _ := tokenbucket.New(exact, base); again.Limit() != exact {
			t.Fatalf("exact form %v is not a fixed point: %v", exact, again.Limit())
		}
		if math.Abs(exact.Rate/float64(exact.Per)-rate/float64(per)) > 1e-6*rate/float64(per) {
			t.Fatalf("exact form %v is far from %v", exact, l)
		}
		d, _ := tokenbucket.NewDense(l, 2)
		k := tokenbucket.NewKeyed(func(int) tokenbucket.Limit { return l })
		var off time.Duration
		for i, c := range calls {
			off += time.Duration(int8(c)) * time.Duration(per) / 7
			now := base.Add(off)
			n := int(c % 5)
			switch i % 4 {
			case 0:
				b.AllowN(now, n)
				d.AllowN(now, i%2, n)
				_, _ = k.AllowN(now, i%3, n)
			case 1:
				b.TakeUpTo(now, n)
				d.TakeUpTo(now, i%2, n)
				_, _, _ = k.TakeUpTo(now, i%3, n)
			case 2:
				if w, ok := b.Delay(now, n); ok && (w < 0 || n > exact.Burst) {
					t.Fatalf("Delay(%d) = %v, %v", n, w, ok)
				}
				k.Prune(now, 2)
			default:
				if tk := b.Tokens(now); tk < 0 || tk > float64(exact.Burst) {
					t.Fatalf("Tokens = %v outside [0, %d]", tk, exact.Burst)
				}
			}
		}
	})
}
