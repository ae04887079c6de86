package tokenbucket_test

import (
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// TestNoAllocs pins what the benchmarks report: once a partition exists, no call on a
// Bucket, a Keyed or a Dense allocates, admitted or denied.
func TestNoAllocs(t *testing.T) {
	lim := tokenbucket.Limit{Rate: 3, Per: time.Second, Burst: 5}
	b, err := tokenbucket.New(lim, t0)
	if err != nil {
		t.Fatal(err)
	}
	k := tokenbucket.NewKeyed(func(string) tokenbucket.Limit { return lim })
	d, err := tokenbucket.NewDense(lim, 4)
	if err != nil {
		t.Fatal(err)
	}
	key := "tenant-0000042"
	if ok, err := k.Allow(t0, key); !ok || err != nil { // store the partition
		t.Fatal(ok, err)
	}
	now := t0
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Bucket.AllowN", func() { b.AllowN(now, 1) }},
		{"Bucket.TakeUpTo", func() { b.TakeUpTo(now, 2) }},
		{"Bucket.Delay", func() { b.Delay(now, 3) }},
		{"Bucket.Tokens", func() { b.Tokens(now) }},
		{"Keyed.AllowN", func() { _, _ = k.AllowN(now, key, 1) }},
		{"Keyed.TakeUpTo", func() { _, _, _ = k.TakeUpTo(now, key, 2) }},
		{"Keyed.Delay", func() { _, _, _ = k.Delay(now, key, 3) }},
		{"Keyed.Tokens", func() { _, _ = k.Tokens(now, key) }},
		{"Dense.AllowN", func() { d.AllowN(now, 1, 1) }},
		{"Dense.TakeUpTo", func() { d.TakeUpTo(now, 2, 2) }},
	} {
		// Times advance by a third of a token per call, so calls both admit and deny.
		if n := testing.AllocsPerRun(200, func() { now = now.Add(111 * time.Millisecond); c.f() }); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, n)
		}
	}
}
