package strategy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dispatchlab/dispatchlab/strategy"
)

// A dispatcher in front of four workers: ordinary jobs go to the least loaded worker,
// jobs of one tenant stick to one worker (for its warm cache) however the pool's loads
// change, and an urgent job needs an idle worker or fails fast. Seeded, so it prints the
// same every run.
func Example() {
	r := rand.New(rand.NewPCG(2026, 11))
	best, _ := strategy.NewBest(r)
	avail, _ := strategy.NewNextAvailable(r)

	loads := strategy.Loads{3, 1, 4, 1} // jobs queued at each worker

	for job := range 4 {
		w, _ := best.Pick(&loads, 0)
		loads[w]++
		fmt.Printf("job %d → worker %d, loads %v\n", job, w, loads)
	}

	tenant := strategy.StringKey("tenant-acme")
	w, _ := strategy.Hash{}.Pick(&loads, tenant)
	fmt.Printf("tenant-acme → worker %d\n", w)
	grown := append(loads, 0) // a fifth worker joins: acme's jobs stay or move to it
	w, _ = strategy.Hash{}.Pick(&grown, tenant)
	fmt.Printf("tenant-acme on 5 workers → worker %d\n", w)

	if _, err := avail.Pick(&loads, 0); errors.Is(err, strategy.ErrNoAvailableWorkers) {
		fmt.Println("urgent job:", err)
	}
	// Output:
	// job 0 → worker 3, loads [3 1 4 2]
	// job 1 → worker 1, loads [3 2 4 2]
	// job 2 → worker 3, loads [3 2 4 3]
	// job 3 → worker 1, loads [3 3 4 3]
	// tenant-acme → worker 2
	// tenant-acme on 5 workers → worker 2
	// urgent job: strategy: no available workers
}

// Callers wait for a free worker, oldest first, each with a deadline that covers the wait.
func ExampleQueue() {
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	q, _ := strategy.NewQueue(1, strategy.FIFO)

	a, ok, _ := q.Request(at(0), at(time.Second))
	fmt.Println("a:", a.Ticket, a.Worker, ok)
	b, _, _ := q.Request(at(0), at(100*time.Millisecond))
	c, _, _ := q.Request(at(0), at(time.Second))
	fmt.Println("waiting:", b.Ticket, c.Ticket, "pending", q.Pending())

	// The worker is free at 200ms: b's deadline has passed, so c gets it.
	g, ok, _ := q.Ready(at(200*time.Millisecond), a.Worker)
	fmt.Println("handed to:", g.Ticket, g.Worker, ok, "pending", q.Pending())

	_, _, err := q.Request(at(300*time.Millisecond), at(300*time.Millisecond))
	fmt.Println("zero timeout:", err)
	// Output:
	// a: 1 0 true
	// waiting: 2 3 pending 2
	// handed to: 3 0 true pending 0
	// zero timeout: strategy: timeout
}

// wpool's documented overrun schedule and the one its code follows, for a 1 s warning
// and at most 5 checks.
func ExampleOverrun() {
	for _, mode := range []strategy.OverrunMode{strategy.OverrunDocumented, strategy.OverrunAsCoded} {
		o, _ := strategy.NewOverrun(strategy.OverrunConfig{Warning: time.Second, MaxWarnings: 5, Mode: mode})
		fmt.Printf("%-10s", mode)
		for _, c := range o.Checks(nil, time.Minute) {
			if c.Kill {
				fmt.Printf(" kill@%v", c.At)
			} else {
				fmt.Printf(" warn@%v", c.At)
			}
		}
		fmt.Println()
	}
	// Output:
	// documented warn@1s warn@2s warn@3s warn@4s kill@5s
	// as-coded   warn@1s warn@2s warn@4s warn@8s kill@16s
}

// Round robin over a subscription's emitters, resized from 2 to 3.
func ExampleEmitterPool() {
	pool, _ := strategy.NewEmitterPool(2, strategy.NewNext())
	for range 3 {
		i, _ := pool.Emit(0)
		fmt.Print(strategy.EmitterName("orders", "sub1", i), " ")
	}
	_ = pool.Resize(3)
	i, _ := pool.Emit(0)
	fmt.Println(strategy.EmitterName("orders", "sub1", i))
	// Output:
	// orders_sub1_emitter orders_sub1_emitter_2 orders_sub1_emitter orders_sub1_emitter
}
