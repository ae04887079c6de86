// Package wdrr provides weighted fair selection for dispatchers: smooth weighted round robin
// over a set of members ([SWRR], nginx's algorithm exactly, with eligibility, failure
// accounting and dynamic membership); the same for callers whose membership lives elsewhere
// ([Allocator], DripDrop's adapter pools, with its fallback chain); and weighted deficit round
// robin over keyed FIFO queues of items with costs ([DRR], Linux sch_drr).
//
// # Smooth weighted round robin
//
// Each member has a weight w, an effective weight e (lowered by failures, otherwise w) and a
// current weight c, starting at (w, w, 0). A pick scans the members in insertion order:
//
//	total = 0
//	for each member i the predicate admits:   // the others are skipped and left unchanged
//	    c_i += e_i;  total += e_i
//	    if e_i < w_i { e_i++ }                // slow recovery after a failure
//	winner = the first member with the largest c_i
//	c_winner −= total
//
// For weights {a:5, b:1, c:1} the picks are a a b a c a a, and then the same again: the
// example of nginx commit 52327e06, "Upstream: smooth weighted round-robin balancing" (Maxim
// Dounin, 2012), whose current weights go (5,1,1)→(−2,1,1), (3,2,2)→(−4,2,2),
// (1,3,3)→(1,−4,3), (6,−3,4)→(−1,−3,4), (4,−2,5)→(4,−2,−2), (9,−1,−1)→(2,−1,−1),
// (7,0,0)→(0,0,0).
//
// Sources: nginx src/http/ngx_http_upstream_round_robin.c (ngx_http_upstream_get_peer, and
// ngx_http_upstream_free_round_robin_peer for failures), and DripDrop.AdapterPools.WDRR
// (agoodway/dripdrop lib/dripdrop/adapter_pools/wdrr.ex), which is the same algorithm without
// effective weights; see reference/selection-fairness.md §1.1 and seed-systems.md §4.
//
// How this version differs from nginx:
//   - Eligibility is a predicate, called once per member in insertion order inside the scan,
//     so smoothness holds over the eligible subset. Skipped members are frozen, as nginx's
//     down, max_fails, max_conns and tried-bitmap checks leave them. No clock is read:
//     nginx's fail_timeout, health, daily caps and "already tried" belong in the predicate.
//   - A single member is still subject to the predicate (nginx's single-peer path is not).
//   - When no member is eligible, Next returns [ErrExhausted] instead of trying a backup list;
//     [Allocator.Fallback] chains predicate tiers instead.
//   - A weight must be in [1, MaxWeight]: 0 is an error, not a member that is never picked
//     (or, in smallnest/weighted, picked anyway), as DripDrop's schema also requires.
//   - [SWRR.Fail] is nginx's failure accounting on weights: e drops by w/MaxFails (integer
//     division, floor 0) and recovers by 1 per scan in which the member is eligible. A zero
//     MaxFails means nginx's default of 1; nginx's max_fails=0 (no accounting) is simply
//     not calling Fail.
//   - Membership changes, which OSS nginx only does by reloading: [SWRR.Add] appends with
//     c = 0 (last in tie order); [SWRR.Remove] shares the member's c equally among the others,
//     so their relative order is kept and the current weights still sum to zero;
//     [SWRR.SetWeight] keeps c and the failure shortfall w − e; [SWRR.Reset] zeroes c and
//     restores e.
//   - Members are identified by [ID]s in insertion order, so T need not be comparable. Two
//     members with equal values (where == can compare them) are an error, not two peers as
//     two identical nginx server lines are.
//   - The tie order is a [Rule]: Nginx (the default: the earliest member wins) or DripDrop
//     (the larger static weight, then the earliest; the Allocator's default). They differ:
//     weights 1,2,3,4 give d c b d a c d b c d under Nginx and d c b d c a d b c d under
//     DripDrop.
//
// # Bounds
//
// Take the picks since construction or Reset with every member eligible and no failures.
// Let n be the number of members, W = Σw, and count_i(t) the picks of member i among the
// first t. Then c_i(t) = t·w_i − W·count_i(t), so the deviation from the exact share is
// count_i(t) − t·w_i/W = −c_i(t)/W.
//   - Exact per period, for every rule: any W consecutive picks contain exactly w_i picks of
//     member i, and every current weight is 0 again after each multiple of W picks.
//   - Ahead, for Nginx and DripDrop: count_i(t) − t·w_i/W ≤ 1 − 1/n. Proof: the current
//     weights sum to 0 before a pick and to W after accrual, so the winner holds at least
//     W/n and keeps at least −W(1 − 1/n) after paying W; the others only grow. The bound is
//     reached ({217, 67} reaches 1/2).
//   - Behind, for Nginx and DripDrop: we know no proof of a constant bound. The worst
//     deviations found by search are 0.83 (n = 3), 1.05 (n = 4) and 1.52 (n ≤ 32), against
//     34–37 for LVS-style WRR and 37–70 for weighted random (reference §2.2). The tests assert
//     t·w_i/W − count_i(t) ≤ 1.6 for n ≤ 32.
//   - Strict: |count_i(t) − t·w_i/W| ≤ 1 − 1/(2n−2), the optimum over all schedules
//     (Tijdeman, 1980); the tests assert it and that it is reached.
//
// While the eligible subset and its effective weights stay fixed, a scan is this algorithm
// on that subset, starting from the state the earlier picks left. Under arbitrary eligibility
// and failures (fixed membership), the current weights stayed within ±1.01·W in adversarial
// tests; the tests assert ±1.5·W. With weights below 2^31 and at most 2^30 members, W < 2^61,
// so the int64 arithmetic has a wide margin.
//
// # Strict smoothness (Tijdeman's rule)
//
// The Strict rule solves the chairman assignment problem (R. Tijdeman, "The chairman
// assignment problem", Discrete Mathematics 32, 1980) in the same state. With lag_i = c_i/T
// (T the eligible total after accrual) and share p_i = e_i/T, the members with
// lag_i ≥ 1/(2n−2) are released, and the one with the earliest deadline
// (1 − 1/(2n−2) − lag_i)/p_i wins, the earliest member on ties. It is exact per period and
// optimal, but it is not nginx's order: {5,1,1} gives a a b a a c a. It applies two guards.
// When some eligible member is owed a whole pick (lag ≥ 1), or none is released, the Nginx
// rule decides. Neither guard fires in the setting of the theorem. After filtering or
// failures, they keep the current weights as bounded as nginx's. A Strict pick costs two
// passes and 128-bit comparisons: several times an Nginx pick.
//
// # Allocator
//
// [Allocator] is DripDrop's pick_weighted for callers whose members, weights and health live
// elsewhere (a database): every call passes the current members, and the Allocator keeps
// the current weights per pool key (DripDrop: pool and sequence version) and member ID,
// creating them at 0. Ineligible members and members not passed keep their counters, which
// they resume when they return. [Allocator.Fallback] tries predicate tiers in order, e.g.
// pick_member (active, healthy, under its daily cap), then pick_healthy_member (ignoring
// the cap), then pick_active_member (any health). It reports which tier answered and the
// members the first tier evicted. When every tier is exhausted it returns an
// [*ExhaustedError] that carries them. An ID passed twice in one call is an error.
//
// # Deficit round robin
//
// [DRR] is weighted deficit round robin (M. Shreedhar and G. Varghese, SIGCOMM '95) with the
// semantics of Linux net/sched/sch_drr.c. Each key has a FIFO of items with costs, a
// quantum = weight × base quantum and a deficit. The keys with items form an active list in
// round-robin order:
//   - Pop looks at the first key. If its head item costs at most its deficit, the item is
//     sent, the deficit pays for it, and the key stays first. Otherwise the key's deficit
//     grows by its quantum and the key moves to the tail.
//   - A key that empties leaves the list, and its deficit is forgotten.
//   - A key that gets an item while idle joins the tail with a deficit of one quantum, so it
//     is served after the keys already waiting in the current round. River #1060's order
//     needs this: A1 A2 B1 A3 B2 B3 when B arrives after A2.
//
// Fairness: a round is one turn of every key that was backlogged when the round began. In
// any window of k complete rounds, each key sends less than k·w·Q + Max (Q the base quantum,
// Max the largest cost). A key backlogged throughout the window sends more than k·w·Q − Max.
// So the cost served differs from the weighted fair share k·w·Q by less than one maximum
// cost. With unit costs and Q = 1, per-key counts are exact to within one item.
//
// # Cost
//
// [SWRR.Next] is one O(n) scan with no allocation. When there is a predicate, its n calls
// dominate: an indirect call costs 1.5 ns or so, so at n = 1024 the calls alone cost more
// than smallnest/weighted's whole unfiltered scan (BenchmarkNext measures this floor,
// impl=floor-predicate-calls, in the same run). [SWRR.Add] is O(n) for comparable values
// (the duplicate check) and amortised O(1) otherwise; [NewSWRR], [SWRR.Remove] and
// [SWRR.Reset] are O(n), and [SWRR.SetWeight] and [SWRR.Fail] are O(log n). The scheduler state is
// 24 bytes per member (current, effective and static weight, ID), plus the value.
// [Allocator.Pick] does a map lookup per member.
//
// [DRR.Push] is one map lookup, plus a map insert when a key becomes backlogged. [DRR.Pop]
// is amortised O(1) when every quantum is at least the largest cost, since a key that moves
// to the tail can then send on its next turn: each turn that sends nothing is followed by
// one that sends. With smaller quanta a key needs several turns per item.
// Rather than loop turn by turn as Linux does, Pop detects a whole round in which no key
// sends and adds the quanta of the rounds still needed in one step. So a Pop costs at most
// O(active keys) whatever the costs, with the same result. Items and keys live in slabs with
// free lists, so a DRR that has held as many items and keys as now does not allocate.
//
// # Concurrency
//
// An [SWRR] is owned by one goroutine. [Locked] wraps one behind a mutex for sharing; its
// predicates run under the lock. An [Allocator] is safe for concurrent use: one mutex, so
// each pick is atomic (DripDrop's are not). A [DRR] is owned by one goroutine. Nothing here
// reads the clock, starts goroutines or keeps global state, and the same calls give the
// same results.
package wdrr
