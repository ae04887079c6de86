package aimd_test

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// A dispatcher gates each tenant's jobs with an adaptive concurrency limit. Every tick it
// admits as many of the tenant's pending jobs as the limit allows and, when they finish,
// reports how long each waited for a worker (its queue lag). While workers keep up, the
// limit grows by one per job; when they fall behind, the lag's EWMA crosses TargetLag and
// the limit shrinks by 5% per job, and a failing job halves it. An idle tenant still gets
// Initial jobs in (the safety valve), and once the backlog clears the EWMA decays below
// the target and the limit grows back.
func Example() {
	gate, err := aimd.NewKeyed(func(tenant string) aimd.Config {
		return aimd.Config{Initial: 8, Min: 2, TargetLag: 200 * time.Millisecond}
	}, aimd.KeyedConfig{})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var batch []aimd.Token
	tick := func(phase string, lag time.Duration, failed int) {
		batch, _ = gate.AcquireUpTo(now, "acme", 10, batch[:0]) // 10 jobs are pending
		now = now.Add(time.Second)
		for i, tok := range batch {
			if err := gate.Release(now, tok, aimd.Sample{Lag: lag, Failed: i < failed}); err != nil {
				panic(err)
			}
		}
		st, _ := gate.Stats("acme")
		fmt.Printf("%-9s admitted %2d  limit %2d  ewma %v\n", phase, len(batch), st.Limit, st.Ewma.Round(time.Millisecond))
	}
	tick("normal", 50*time.Millisecond, 0)
	tick("normal", 50*time.Millisecond, 0)
	tick("overload", 900*time.Millisecond, 0)
	tick("overload", 900*time.Millisecond, 0)
	tick("failing", 900*time.Millisecond, 2)
	tick("recovery", 20*time.Millisecond, 0)
	tick("recovery", 20*time.Millisecond, 0)
	tick("recovery", 20*time.Millisecond, 0)
	// Output:
	// normal    admitted  8  limit 16  ewma 50ms
	// normal    admitted 10  limit 26  ewma 50ms
	// overload  admitted 10  limit 13  ewma 899ms
	// overload  admitted 10  limit  3  ewma 900ms
	// failing   admitted  8  limit  2  ewma 900ms
	// recovery  admitted  8  limit  8  ewma 23ms
	// recovery  admitted  8  limit 16  ewma 20ms
	// recovery  admitted 10  limit 26  ewma 20ms
}
