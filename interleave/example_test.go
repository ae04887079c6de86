package interleave_test

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/interleave"
)

type job struct {
	Tenant string
	ID     int
}

func tenantOf(j job) string { return j.Tenant }

// The noisy neighbour: tenant "bulk" enqueues 1000 jobs, then nine quiet tenants enqueue 10
// each. In FIFO order the quiet tenants wait behind the whole burst; interleaved by tenant
// they are all served within the first 100 dispatches.
func Example() {
	var fifo []job
	for i := range 1000 {
		fifo = append(fifo, job{"bulk", i})
	}
	for q := 1; q <= 9; q++ {
		for i := range 10 {
			fifo = append(fifo, job{fmt.Sprintf("quiet-%d", q), i})
		}
	}
	fair := interleave.ByKey(fifo, tenantOf)

	report := func(name string, order []job) {
		first, last := 0, 0
		perTenant := map[string]float64{}
		for pos, j := range order {
			if j.Tenant != "bulk" {
				if first == 0 {
					first = pos + 1
				}
				last = pos + 1
			}
			if pos < 100 {
				perTenant[j.Tenant]++
			}
		}
		shares := []float64{perTenant["bulk"]}
		for q := 1; q <= 9; q++ {
			shares = append(shares, perTenant[fmt.Sprintf("quiet-%d", q)])
		}
		jain, _ := interleave.Jain(shares)
		worst, _ := interleave.PositionalUnfairness(order, tenantOf, nil)
		fmt.Printf("%-6s %5d %5d %6.3f %5.0f\n", name, first, last, jain, worst.Lag)
	}
	fmt.Println("order  first  last   Jain   lag")
	report("FIFO", fifo)
	report("ByKey", fair)
	fmt.Println(fair[:12])

	// Output:
	// order  first  last   Jain   lag
	// FIFO    1001  1090  0.100  1000
	// ByKey      2   100  1.000     1
	// [{bulk 0} {quiet-1 0} {quiet-2 0} {quiet-3 0} {quiet-4 0} {quiet-5 0} {quiet-6 0} {quiet-7 0} {quiet-8 0} {quiet-9 0} {bulk 1} {quiet-1 1}]
}

// A dispatcher's tick selects a batch of 6 from the pending list (already in priority
// order) with a quantum of 2 per tenant; acme may run at most 3 more jobs, so the top-up
// does not give it a fourth.
func ExampleBatchWith() {
	pending := []job{
		{"acme", 1}, {"acme", 2}, {"acme", 3}, {"acme", 4}, {"globex", 1},
		{"acme", 5}, {"initech", 1}, {"globex", 2}, {"globex", 3},
	}
	headroom := map[string]int{"acme": 3, "globex": 10, "initech": 10}
	batch, stats, err := interleave.BatchWith(pending, tenantOf, interleave.BatchConfig[string]{
		Size:    6,
		Quantum: 2,
		Cap:     func(tenant string) int { return headroom[tenant] },
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(batch)
	fmt.Printf("%+v\n", stats)
	// Output:
	// [{acme 1} {acme 2} {globex 1} {globex 2} {initech 1} {acme 3}]
	// {Scanned:9 Keys:3 Phase1:5 TopUp:1}
}

// Batch is the plain two-phase fetch: two per key, then the oldest remaining items.
func ExampleBatch() {
	pending := []string{"a1", "a2", "a3", "a4", "b1", "c1", "c2", "c3"}
	batch, err := interleave.Batch(pending, func(s string) byte { return s[0] }, 2, 7)
	fmt.Println(batch, err)
	// Output:
	// [a1 a2 b1 c1 c2 a3 a4] <nil>
}

// An Interleaver reuses its buffers across ticks; the index form reorders a slice of large
// structs, or a parallel slice, without copying them.
func ExampleInterleaver() {
	var iv interleave.Interleaver[job, string]
	pending := []job{{"acme", 1}, {"acme", 2}, {"acme", 3}, {"globex", 1}, {"globex", 2}, {"initech", 1}}
	var order []int
	for tick := range 2 {
		order = iv.AppendByKeyIndex(order[:0], pending[tick:], tenantOf)
		fmt.Println(order)
	}
	// Output:
	// [0 3 5 1 4 2]
	// [0 2 4 1 3]
}

// Weighted interleaving: the enterprise tenant gets three positions for every one of the
// others, spread out.
func ExampleWeighted() {
	var items []job
	for i := range 6 {
		items = append(items, job{"enterprise", i})
	}
	items = append(items, job{"free", 0}, job{"free", 1}, job{"team", 0}, job{"team", 1})
	weight := func(tenant string) int {
		if tenant == "enterprise" {
			return 3
		}
		return 1
	}
	out, err := interleave.Weighted(items, tenantOf, weight)
	if err != nil {
		panic(err)
	}
	for _, j := range out {
		fmt.Print(j.Tenant[:1], " ")
	}
	fmt.Println()
	// Output:
	// e e f t e e e f t e
}

// Decayed fairness over ticks: "bulk" always has more work than the tick allows; "quiet"
// has one job per tick. Quiet is served first because it has admitted least, and the second
// pass gives bulk what quiet left unused.
func ExampleDecayed_Tick() {
	fair, err := interleave.NewDecayed[string](time.Minute)
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for tick := range 3 {
		now := start.Add(time.Duration(tick) * time.Second)
		fmt.Printf("tick %d:", tick)
		total, err := fair.Tick(now, []string{"bulk", "quiet"}, interleave.Budget{TickCap: 10},
			func(tenant string, budget int) int {
				n := budget // bulk takes everything it is offered
				if tenant == "quiet" {
					n = min(budget, 1)
				}
				fmt.Printf(" %s %d/%d", tenant, n, budget)
				return n
			})
		if err != nil {
			panic(err)
		}
		fmt.Printf(" = %d\n", total)
	}
	// Output:
	// tick 0: bulk 5/5 quiet 1/5 bulk 4/4 = 10
	// tick 1: quiet 1/5 bulk 5/5 bulk 4/4 = 10
	// tick 2: quiet 1/5 bulk 5/5 bulk 4/4 = 10
}

// The max-min fair shares of 14 slots among four tenants' demands, as Kubernetes' fairAlloc
// computes them, and with tenant 2 weighted double.
func ExampleMaxMinFair() {
	demands := []float64{3, 7, 9, 1}
	equal, _ := interleave.MaxMinFair(demands, 14, nil)
	weighted, _ := interleave.MaxMinFair(demands, 14, []float64{1, 1, 2, 1})
	fmt.Println(equal)
	fmt.Printf("%.3f\n", weighted)
	// Output:
	// [3 5 5 1]
	// [3.000 3.333 6.667 1.000]
}

// Jain's index: equal shares give 1; two of four tenants sharing everything give 2/4.
func ExampleJain() {
	equal, _ := interleave.Jain([]float64{5, 5, 5, 5})
	half, _ := interleave.Jain([]float64{10, 10, 0, 0})
	fmt.Println(equal, half)
	// Output:
	// 1 0.5
}
