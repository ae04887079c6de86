package aimd_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// FuzzConfig feeds arbitrary configurations and sample sequences to New and NewKeyed:
// nothing panics, every rejection is a named error that Validate and New agree on, and an
// accepted configuration keeps its invariants and matches the reference model. Run it
// with go test -fuzz=FuzzConfig.
func FuzzConfig(f *testing.F) {
	f.Add(10, 1, 0, int64(100*time.Millisecond), 0.5, 0.5, 0.95, 1, false, int64(0), []byte{0, 1, 2, 3})
	f.Add(1, 1, 1, int64(1), 1.0, 0.1, 0.1, 5, true, int64(time.Second), []byte{255, 128, 7})
	f.Add(0, 0, 0, int64(0), 0.0, 0.0, 0.0, 0, false, int64(0), []byte{})
	f.Add(math.MaxInt, 1, 0, int64(math.MaxInt64), math.NaN(), math.Inf(1), -1.0, -1, true, int64(-1), []byte{9})
	f.Add(5, 3, 4, int64(time.Millisecond), 1.5, 1.0, 0.0, 0, false, int64(0), []byte{1})
	f.Fuzz(func(t *testing.T, initial, minimum, maximum int, target int64, alpha, fail, slow float64, step int, util bool, timeout int64, calls []byte) {
		c := aimd.Config{
			Initial: initial, Min: minimum, Max: maximum, TargetLag: time.Duration(target),
			Alpha: alpha, FailFactor: fail, SlowFactor: slow,
			Step: step, GrowOnlyWhenUtilized: util, Timeout: time.Duration(timeout),
		}
		err := c.Validate()
		a, errNew := aimd.New(c)
		if (err == nil) != (errNew == nil) || (err != nil && err.Error() != errNew.Error()) {
			t.Fatalf("Validate() = %v but New() = %v", err, errNew)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "aimd: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if again := a.Config(); again.Validate() != nil {
			t.Fatalf("normalized config %+v is invalid", again)
		}
		k, _ := aimd.NewKeyed(func(int) aimd.Config { return c }, aimd.KeyedConfig{Shards: 2})
		r := newRef(c)
		var toks []aimd.Token
		for i, b := range calls {
			s := aimd.Sample{
				Lag:      time.Duration(int8(b)) * c.TargetLag / 37,
				Latency:  time.Duration(b) * time.Millisecond,
				InFlight: int(b % 16),
				Failed:   b%5 == 0,
			}
			a.Observe(base, s)
			r.observe(s)
			if msg := sameAsRef(a, r); msg != "" {
				t.Fatalf("step %d: %s", i, msg)
			}
			if msg := checkInvariants(a); msg != "" {
				t.Fatalf("step %d: %s", i, msg)
			}
			key := int(b % 3)
			if b%2 == 0 {
				if tok, ok := k.Acquire(base, key); ok {
					toks = append(toks, tok)
				}
			} else if len(toks) > 0 {
				if err := k.Release(base, toks[0], s); err != nil {
					t.Fatal(err)
				}
				toks = toks[1:]
			}
			if b%7 == 0 {
				k.Prune(int(b))
			}
		}
	})
}

// FuzzOtherConstructors does the same for Vegas, Gradient2, Windowed and Fixed: errors
// carry the package prefix, and accepted configurations keep their limits in range.
func FuzzOtherConstructors(f *testing.F) {
	f.Add(20, 20, 200, 0.2, 4.0, 600, 1.5, 30, 3, 6, 1, int64(time.Second), []byte{0, 1, 2})
	f.Add(0, 0, 0, 0.0, 0.0, 0, 0.0, 0, 0, 0, 0, int64(0), []byte{})
	f.Add(-1, -1, -1, math.NaN(), math.Inf(1), -1, 0.5, -1, -1, -1, -1, int64(-1), []byte{255})
	f.Fuzz(func(t *testing.T, initial, minimum, maximum int, smooth, queue float64, window int, tol float64, probe, alpha, beta, samples int, dur int64, calls []byte) {
		prefixed := func(err error) {
			if err != nil && !strings.HasPrefix(err.Error(), "aimd: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		}
		v, errV := aimd.NewVegas(aimd.VegasConfig{Initial: initial, Max: maximum, Smoothing: smooth, ProbeMultiplier: probe, Alpha: alpha, Beta: beta, Threshold: beta / 2, Rand: rand.New(rand.NewPCG(1, 2))})
		prefixed(errV)
		g, errG := aimd.NewGradient2(aimd.Gradient2Config{Initial: initial, Min: minimum, Max: maximum, Smoothing: smooth, QueueSize: queue, LongWindow: window, Tolerance: tol, BackOffOnFailure: probe%2 == 0})
		prefixed(errG)
		fx, errF := aimd.NewFixed(initial)
		prefixed(errF)
		var w *aimd.Windowed
		if errF == nil {
			var errW error
			w, errW = aimd.NewWindowed(fx, aimd.WindowConfig{MinSamples: samples, Duration: time.Duration(dur), MinLatency: time.Duration(dur / 3)})
			prefixed(errW)
		}
		for i, b := range calls {
			s := aimd.Sample{Latency: time.Duration(b) * time.Millisecond, InFlight: int(b), Failed: b%9 == 0}
			now := base.Add(time.Duration(i) * time.Millisecond)
			if errV == nil {
				v.Observe(now, s)
				if l := v.Limit(); l < 1 || l > max(maximum, 1000*boolInt(maximum == 0)) {
					t.Fatalf("Vegas limit %d out of range", l)
				}
			}
			if errG == nil {
				g.Observe(now, s)
				if l := g.Limit(); l < 1 {
					t.Fatalf("Gradient2 limit %d < 1", l)
				}
			}
			if w != nil {
				w.Observe(now, s)
				if w.Limit() != initial {
					t.Fatalf("Windowed Fixed limit %d, want %d", w.Limit(), initial)
				}
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
