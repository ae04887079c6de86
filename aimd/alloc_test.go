package aimd_test

import (
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// TestNoAllocs pins what the benchmarks report: Observe allocates nothing in any algorithm,
// and neither does a Keyed round trip once its partition exists (a Token is a value).
func TestNoAllocs(t *testing.T) {
	c := aimd.Config{Initial: 20, Max: 200, TargetLag: 100 * ms}
	a, _ := aimd.New(c)
	wa, _ := aimd.New(c)
	w, _ := aimd.NewWindowed(wa, aimd.WindowConfig{MinSamples: 3})
	v, _ := aimd.NewVegas(aimd.VegasConfig{Rand: newRand(1)})
	g, _ := aimd.NewGradient2(aimd.Gradient2Config{})
	f := fixed(t, 5)
	algs := []struct {
		name string
		a    aimd.Algorithm
	}{{"AIMD", a}, {"Windowed", w}, {"Vegas", v}, {"Gradient2", g}, {"Fixed", f}}

	k := newKeyed(t, c, 0)
	kf, err := aimd.NewKeyedFunc(func(string) (aimd.Algorithm, error) { return aimd.New(c) }, aimd.KeyedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const key = "tenant-0000042"
	for _, k := range []*aimd.Keyed[string]{k, kf} { // create the partitions
		tok, ok := k.Acquire(base, key)
		if !ok {
			t.Fatal("denied")
		}
		if err := k.Release(base, tok, aimd.Sample{}); err != nil {
			t.Fatal(err)
		}
	}
	toks := make([]aimd.Token, 0, 10)
	i := 0
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	for _, x := range algs {
		check(x.name+".Observe", func() {
			i++
			x.a.Observe(at(time.Duration(i)*ms), samples[i&1023])
		})
	}
	for _, x := range []struct {
		name string
		k    *aimd.Keyed[string]
	}{{"Keyed", k}, {"KeyedFunc", kf}} {
		name, k := x.name, x.k
		check(name+" Acquire+Release", func() {
			i++
			if tok, ok := k.Acquire(base, key); ok {
				_ = k.Release(base, tok, samples[i&1023])
			}
		})
		check(name+" AcquireUpTo+Cancel", func() {
			toks, _ = k.AcquireUpTo(base, key, 10, toks[:0])
			for _, tok := range toks {
				_ = k.Cancel(base, tok)
			}
		})
		check(name+" Available, Limit, InFlight, Stats", func() {
			_ = k.Available(base, key) + k.Limit(key) + k.InFlight(key)
			_, _ = k.Stats(key)
		})
	}
}
