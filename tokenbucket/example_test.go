package tokenbucket_test

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// Per-tenant API throttling: each tenant may make 2 requests per second, with bursts of
// up to 3; the enterprise tenant gets 10 per second. One tenant bursts; the others are not
// affected, and the throttled tenant learns exactly when to retry.
func Example() {
	plans := func(tenant string) tokenbucket.Limit {
		if tenant == "enterprise" {
			return tokenbucket.Limit{Rate: 10, Per: time.Second, Burst: 10}
		}
		return tokenbucket.Limit{Rate: 2, Per: time.Second, Burst: 3}
	}
	limiter := tokenbucket.NewKeyed(plans)

	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	request := func(at time.Duration, tenant string) {
		now := start.Add(at)
		ok, err := limiter.Allow(now, tenant)
		if err != nil {
			fmt.Println(err)
			return
		}
		if ok {
			fmt.Printf("%-6v %-10s admitted\n", at, tenant)
			return
		}
		retry, _, _ := limiter.Delay(now, tenant, 1)
		fmt.Printf("%-6v %-10s throttled, retry in %v\n", at, tenant, retry)
	}

	for i := range 5 { // acme bursts 5 requests in 40ms
		request(time.Duration(i)*10*time.Millisecond, "acme")
	}
	request(50*time.Millisecond, "globex")
	request(50*time.Millisecond, "enterprise")
	request(500*time.Millisecond, "acme") // one token has refilled
	request(510*time.Millisecond, "acme")

	// Output:
	// 0s     acme       admitted
	// 10ms   acme       admitted
	// 20ms   acme       admitted
	// 30ms   acme       throttled, retry in 470ms
	// 40ms   acme       throttled, retry in 460ms
	// 50ms   globex     admitted
	// 50ms   enterprise admitted
	// 500ms  acme       admitted
	// 510ms  acme       throttled, retry in 490ms
}

// A dispatcher admitting a batch takes as many tokens as the bucket holds, up to the batch,
// and learns when the next token arrives.
func ExampleBucket_TakeUpTo() {
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	b, err := tokenbucket.New(tokenbucket.Limit{Rate: 100, Per: time.Minute, Burst: 20}, start)
	if err != nil {
		panic(err)
	}
	granted, retry := b.TakeUpTo(start, 50)
	fmt.Println(granted, retry)
	granted, retry = b.TakeUpTo(start.Add(3*time.Second), 50)
	fmt.Println(granted, retry)
	// Output:
	// 20 600ms
	// 5 600ms
}
