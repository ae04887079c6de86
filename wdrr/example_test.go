package wdrr_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

// A proxy spreads requests over three upstreams by weight, as nginx does. Each request may
// retry on another upstream, so the predicate skips upstreams that are down and those the
// request has already tried. A failure lowers the upstream's share at once; the share then
// recovers by one step per pick.
func Example() {
	type upstream struct {
		addr string
		down bool
	}
	ups := []*upstream{{addr: "10.0.0.1"}, {addr: "10.0.0.2"}, {addr: "10.0.0.3"}}
	s, err := wdrr.NewSWRR(
		wdrr.Weighted[*upstream]{Value: ups[0], Weight: 5},
		wdrr.Weighted[*upstream]{Value: ups[1], Weight: 1},
		wdrr.Weighted[*upstream]{Value: ups[2], Weight: 1},
	)
	if err != nil {
		panic(err)
	}
	// serve sends one request: it tries upstreams until one answers, reporting failures.
	serve := func(answers func(*upstream) bool) string {
		var tried []string
		for {
			id, up, err := s.NextID(func(u *upstream) bool {
				return !u.down && !slices.Contains(tried, u.addr)
			})
			if errors.Is(err, wdrr.ErrExhausted) { // every upstream is down or tried
				return strings.Join(append(tried, "502"), " → ")
			}
			tried = append(tried, up.addr)
			if answers(up) {
				return strings.Join(tried, " → ")
			}
			_ = s.Fail(id) // nginx: effective weight −= weight/max_fails
		}
	}
	healthy := func(*upstream) bool { return true }

	for range 7 { // one period: 5, 1, 1, smoothly interleaved
		fmt.Println(serve(healthy))
	}
	ups[2].down = true
	fmt.Println(serve(func(u *upstream) bool { return u != ups[0] })) // .1 fails once
	for range 4 {
		fmt.Println(serve(healthy)) // .1's share is recovering
	}
	ups[1].down = true
	fmt.Println(serve(func(*upstream) bool { return false }))
	// Output:
	// 10.0.0.1
	// 10.0.0.1
	// 10.0.0.2
	// 10.0.0.1
	// 10.0.0.3
	// 10.0.0.1
	// 10.0.0.1
	// 10.0.0.1 → 10.0.0.2
	// 10.0.0.2
	// 10.0.0.2
	// 10.0.0.1
	// 10.0.0.1
	// 10.0.0.1 → 502
}

// nginx's example from the commit that introduced smooth weighted round robin.
func ExampleSWRR_Next() {
	s, _ := wdrr.NewSWRR(
		wdrr.Weighted[string]{Value: "a", Weight: 5},
		wdrr.Weighted[string]{Value: "b", Weight: 1},
		wdrr.Weighted[string]{Value: "c", Weight: 1},
	)
	var order []string
	for range 7 {
		v, _ := s.Next(nil)
		order = append(order, v)
	}
	fmt.Println(order)
	// Only b and c are eligible: they alternate, and a is frozen until it is eligible again.
	order = order[:0]
	for range 4 {
		v, _ := s.Next(func(v string) bool { return v != "a" })
		order = append(order, v)
	}
	fmt.Println(order)
	// Output:
	// [a a b a c a a]
	// [b c b c]
}

// The Strict rule is Tijdeman's: its deviation from the exact share is at most
// 1 − 1/(2n−2), the optimum, and its order differs from nginx's.
func ExampleNewSWRRWith() {
	s, _ := wdrr.NewSWRRWith(wdrr.SWRRConfig{Rule: wdrr.Strict},
		wdrr.Weighted[string]{Value: "a", Weight: 5},
		wdrr.Weighted[string]{Value: "b", Weight: 1},
		wdrr.Weighted[string]{Value: "c", Weight: 1},
	)
	var order []string
	for range 7 {
		v, _ := s.Next(nil)
		order = append(order, v)
	}
	fmt.Println(order)
	// Output:
	// [a a b a a c a]
}

// Fair dispatch across customers (riverqueue/river #1060): acme has a backlog of jobs when
// globex's arrive; globex is served in the next round instead of after acme's backlog, and
// a customer with weight 2 gets twice the turns.
func ExampleDRR() {
	d, _ := wdrr.NewDRR[string, string](1)
	for i := 1; i <= 4; i++ {
		_ = d.Push("acme", fmt.Sprint("acme-", i), 1)
	}
	k, job, _ := d.Pop()
	fmt.Println(k, job)
	_ = d.SetWeight("globex", 2)
	for i := 1; i <= 4; i++ {
		_ = d.Push("globex", fmt.Sprint("globex-", i), 1)
	}
	var order []string
	for d.Len() > 0 {
		_, job, _ := d.Pop()
		order = append(order, job)
	}
	fmt.Println(order)
	// Output:
	// acme acme-1
	// [globex-1 globex-2 acme-2 globex-3 globex-4 acme-3 acme-4]
}

// DripDrop's sender pools: members and their health live in the database and are passed on
// every call; the Allocator keeps the rotation per pool and sequence version. Enrollment
// tries pick_member, then falls back to any enabled sender, reporting who was evicted.
func ExampleAllocator_Fallback() {
	type sender struct {
		id                        int
		enabled, healthy, capLeft bool
	}
	type poolKey struct{ pool, sequenceVersion int }
	a, _ := wdrr.NewAllocator[poolKey](wdrr.DefaultRule, func(s sender) int { return s.id })

	members := []wdrr.Weighted[sender]{
		{Value: sender{id: 11, enabled: true, healthy: true, capLeft: true}, Weight: 3},
		{Value: sender{id: 12, enabled: true, healthy: false, capLeft: true}, Weight: 2}, // resting
		{Value: sender{id: 13, enabled: true, healthy: true, capLeft: false}, Weight: 1}, // capped today
	}
	tiers := []func(sender) bool{
		func(s sender) bool { return s.enabled && s.healthy && s.capLeft }, // pick_member
		func(s sender) bool { return s.enabled },                           // pick_active_member
	}
	key := poolKey{pool: 1, sequenceVersion: 7}
	ch, _ := a.Fallback(key, members, tiers, nil)
	fmt.Println("sender", ch.ID, "tier", ch.Tier, "evicted", ch.Evicted)

	members[0].Value.capLeft = false
	ch, _ = a.Fallback(key, members, tiers, nil)
	fmt.Println("sender", ch.ID, "tier", ch.Tier, "evicted", ch.Evicted)

	for i := range members {
		members[i].Value.enabled = false
	}
	_, err := a.Fallback(key, members, tiers, nil)
	fmt.Println(errors.Is(err, wdrr.ErrExhausted), err)
	// Output:
	// sender 11 tier 0 evicted [12 13]
	// sender 11 tier 1 evicted [11 12 13]
	// true wdrr: no eligible member in 2 tiers (evicted [11 12 13])
}
