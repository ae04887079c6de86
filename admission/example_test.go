package admission_test

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/admission"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// A multi-tenant dispatcher: each tenant may start 2 jobs per second (burst 2) and run at
// most 2 at once; a fair interleave keeps one noisy tenant from filling a whole batch.
func Example() {
	type job struct{ Tenant string }
	tenant := func(j job) string { return j.Tenant }
	policy, err := admission.New(admission.Config[job]{
		PartitionBy: tenant,
		Gates: []admission.Gate[job]{
			admission.Throttle(admission.Const[job](tokenbucket.Limit{Rate: 2, Per: time.Second, Burst: 2})),
			admission.Concurrency(admission.Const[job](2)),
			admission.FairInterleave[job](),
		},
	})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for i := range 6 {
		policy.Stage(start, admission.Job[job]{ID: admission.JobID(fmt.Sprint("noisy-", i)), Context: job{"noisy"}})
	}
	policy.Stage(start, admission.Job[job]{ID: "quiet-0", Context: job{"quiet"}})

	show := func(at time.Duration) {
		for _, a := range policy.Tick(start.Add(at)) {
			fmt.Printf("%v: %s\n", at, a.ID)
		}
	}
	show(0) // 2 noisy (their tokens), then the quiet one, interleaved
	policy.Start(start.Add(100*time.Millisecond), "noisy-0")
	policy.Complete(start.Add(200*time.Millisecond), "noisy-0", false)
	show(500 * time.Millisecond) // a token and a slot are free again
	show(600 * time.Millisecond) // no token yet
	fmt.Println("pending:", policy.Stats(start).Pending)
	// Output:
	// 0s: noisy-0
	// 0s: quiet-0
	// 0s: noisy-1
	// 500ms: noisy-2
	// pending: 3
}

// Serial execution keys: jobs that touch the same account run one at a time, in the order
// they were staged; other accounts are not held up.
func ExampleSerial() {
	type op struct{ Account string }
	policy, err := admission.New(admission.Config[op]{
		Gates: []admission.Gate[op]{admission.Serial(func(o op) string { return o.Account })},
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for _, j := range []struct{ id, account string }{{"deposit", "alice"}, {"withdraw", "alice"}, {"refund", "bob"}, {"close", "alice"}} {
		policy.Stage(now, admission.Job[op]{ID: admission.JobID(j.id), Context: op{j.account}})
	}
	for round := 1; round <= 3; round++ {
		admitted := policy.Tick(now)
		for _, a := range admitted {
			fmt.Printf("round %d: %s (%s)\n", round, a.ID, a.Context.Account)
		}
		for _, a := range admitted {
			policy.Complete(now, a.ID, false)
		}
	}
	// Output:
	// round 1: deposit (alice)
	// round 1: refund (bob)
	// round 2: withdraw (alice)
	// round 3: close (alice)
}
