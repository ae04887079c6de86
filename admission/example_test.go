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
