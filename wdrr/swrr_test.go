package wdrr_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

func w(v string, weight int) wdrr.Weighted[string] {
	return wdrr.Weighted[string]{Value: v, Weight: weight}
}

// picks returns the next n picks of s under eligible, concatenated.
func picks(t *testing.T, s *wdrr.SWRR[string], n int, eligible func(string) bool) string {
	t.Helper()
	var b strings.Builder
	for range n {
		v, err := s.Next(eligible)
		require.NoError(t, err)
		b.WriteString(v)
		require.Empty(t, checkInvariants(s))
	}
	return b.String()
}

func currents(s *wdrr.SWRR[string]) []int64 {
	var cs []int64
	for _, m := range s.Members(nil) {
		cs = append(cs, m.Current)
	}
	return cs
}

func TestNewSWRRErrors(t *testing.T) {
	cases := []struct {
		name    string
		c       wdrr.SWRRConfig
		members []wdrr.Weighted[string]
		want    string
	}{
		{"zero weight", wdrr.SWRRConfig{}, []wdrr.Weighted[string]{w("a", 1), w("b", 0)},
			"wdrr: Weight must be in [1, 2147483647], got 0 (member 1)"},
		{"negative weight", wdrr.SWRRConfig{}, []wdrr.Weighted[string]{w("a", -1)},
			"wdrr: Weight must be in [1, 2147483647], got -1 (member 0)"},
		{"huge weight", wdrr.SWRRConfig{}, []wdrr.Weighted[string]{w("a", wdrr.MaxWeight+1)},
			"wdrr: Weight must be in [1, 2147483647], got 2147483648 (member 0)"},
		{"bad rule", wdrr.SWRRConfig{Rule: 9}, nil,
			"wdrr: Rule must be DefaultRule, Nginx, DripDrop or Strict, got Rule(9)"},
		{"negative MaxFails", wdrr.SWRRConfig{MaxFails: -1}, nil,
			"wdrr: MaxFails must be >= 0, got -1"},
		{"duplicate", wdrr.SWRRConfig{}, []wdrr.Weighted[string]{w("a", 1), w("b", 2), w("a", 3)},
			"wdrr: duplicate member a (members 0 and 2)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := wdrr.NewSWRRWith(c.c, c.members...)
			assert.EqualError(t, err, c.want)
			if c.c == (wdrr.SWRRConfig{}) {
				_, err = wdrr.NewSWRR(c.members...)
				assert.EqualError(t, err, c.want)
			} else {
				assert.EqualError(t, c.c.Validate(), c.want)
			}
		})
	}
}

func TestSWRRMethodErrors(t *testing.T) {
	s, err := wdrr.NewSWRR(w("a", 1))
	require.NoError(t, err)
	_, err = s.Add("b", 0)
	assert.EqualError(t, err, "wdrr: Weight must be in [1, 2147483647], got 0")
	assert.EqualError(t, s.SetWeight(0, -5), "wdrr: Weight must be in [1, 2147483647], got -5")
	for _, err := range []error{s.Remove(7), s.SetWeight(7, 1), s.Fail(7)} {
		assert.EqualError(t, err, "wdrr: unknown member 7")
		assert.ErrorIs(t, err, wdrr.ErrUnknownMember)
	}
	_, err = s.Add("a", 2)
	assert.EqualError(t, err, "wdrr: duplicate member a (member ID 0)")
	require.NoError(t, s.Remove(0))
	assert.EqualError(t, s.Remove(0), "wdrr: unknown member 0", "an ID is gone once removed")
	_, ok := s.Member(0)
	assert.False(t, ok)
	assert.Empty(t, checkInvariants(s))
}

// TestNginxCommitExample pins the sequence and current-weight trace of nginx commit
// 52327e06 ("Upstream: smooth weighted round-robin balancing"): weights {a:5, b:1, c:1}
// give a a b a c a a, and the current weights are zero again after the period.
func TestNginxCommitExample(t *testing.T) {
	s, err := wdrr.NewSWRR(w("a", 5), w("b", 1), w("c", 1))
	require.NoError(t, err)
	trace := [][]int64{{-2, 1, 1}, {-4, 2, 2}, {1, -4, 3}, {-1, -3, 4}, {4, -2, -2}, {2, -1, -1}, {0, 0, 0}}
	for i, want := range trace {
		v, err := s.Next(nil)
		require.NoError(t, err)
		assert.Equal(t, string("aabacaa"[i]), v, "pick %d", i)
		assert.Equal(t, want, currents(s), "after pick %d", i)
	}
	assert.Equal(t, strings.Repeat("aabacaa", 3), picks(t, s, 21, nil))
}

// TestTieOrders: Nginx gives ties to the earlier member, DripDrop to the larger weight first;
// with weights 1,2,3,4 the orders differ at the 5th pick. Strict is Tijdeman's order.
func TestTieOrders(t *testing.T) {
	cases := []struct {
		rule    wdrr.Rule
		members []wdrr.Weighted[string]
		want    string
	}{
		{wdrr.DefaultRule, []wdrr.Weighted[string]{w("a", 1), w("b", 2), w("c", 3), w("d", 4)}, "dcbdacdbcd"},
		{wdrr.Nginx, []wdrr.Weighted[string]{w("a", 1), w("b", 2), w("c", 3), w("d", 4)}, "dcbdacdbcd"},
		{wdrr.DripDrop, []wdrr.Weighted[string]{w("a", 1), w("b", 2), w("c", 3), w("d", 4)}, "dcbdcadbcd"},
		{wdrr.Strict, []wdrr.Weighted[string]{w("a", 5), w("b", 1), w("c", 1)}, "aabaaca"},
		{wdrr.Nginx, []wdrr.Weighted[string]{w("a", 1), w("b", 1), w("c", 2)}, "cabc"},
		{wdrr.DripDrop, []wdrr.Weighted[string]{w("a", 1), w("b", 1), w("c", 2)}, "cabc"},
	}
	for _, c := range cases {
		t.Run(c.rule.String()+"/"+c.want, func(t *testing.T) {
			s, err := wdrr.NewSWRRWith(wdrr.SWRRConfig{Rule: c.rule}, c.members...)
			require.NoError(t, err)
			assert.Equal(t, c.want+c.want, picks(t, s, 2*len(c.want), nil))
		})
	}
}

// TestFailRecovery pins nginx's failure accounting: with {a:5, b:5} and MaxFails 1, a
// failure drops b's effective weight to 0, and it climbs back by 1 per scan:
// a a a b a b a b.
func TestFailRecovery(t *testing.T) {
	s, err := wdrr.NewSWRR(w("a", 5), w("b", 5))
	require.NoError(t, err)
	require.NoError(t, s.Fail(1))
	m, _ := s.Member(1)
	assert.Equal(t, 0, m.Effective)
	assert.Equal(t, "aaababab", picks(t, s, 8, nil))
	m, _ = s.Member(1)
	assert.Equal(t, 5, m.Effective, "recovered after 5 scans")

	// MaxFails 2: each failure costs Weight/2 = 2; a weight below MaxFails never drops.
	s, err = wdrr.NewSWRRWith(wdrr.SWRRConfig{MaxFails: 2}, w("a", 5), w("b", 1))
	require.NoError(t, err)
	require.NoError(t, s.Fail(0))
	require.NoError(t, s.Fail(1))
	ma, _ := s.Member(0)
	mb, _ := s.Member(1)
	assert.Equal(t, []int{3, 1}, []int{ma.Effective, mb.Effective})
	require.NoError(t, s.Fail(0))
	require.NoError(t, s.Fail(0))
	ma, _ = s.Member(0)
	assert.Equal(t, 0, ma.Effective, "floored at 0")

	// Recovery happens only in scans where the member is eligible.
	s, _ = wdrr.NewSWRR(w("a", 5), w("b", 5))
	require.NoError(t, s.Fail(1))
	picks(t, s, 3, func(v string) bool { return v == "a" })
	mb, _ = s.Member(1)
	assert.Equal(t, 0, mb.Effective)
	assert.Equal(t, int64(0), mb.Current, "an ineligible member is frozen")
}

func TestEligibility(t *testing.T) {
	s, err := wdrr.NewSWRR[string]()
	require.NoError(t, err)
	_, err = s.Next(nil)
	assert.ErrorIs(t, err, wdrr.ErrExhausted, "no members")

	// Unlike nginx's single-peer path, one member is still subject to the predicate.
	s, _ = wdrr.NewSWRR(w("only", 3))
	_, err = s.Next(func(string) bool { return false })
	assert.Equal(t, wdrr.ErrExhausted, err)
	assert.Equal(t, []int64{0}, currents(s), "a failed pick changes nothing")

	// Smoothness over the eligible subset: with c excluded, a and b alternate 2:1.
	s, _ = wdrr.NewSWRR(w("a", 2), w("b", 1), w("c", 4))
	assert.Equal(t, "abaaba", picks(t, s, 6, func(v string) bool { return v != "c" }))
	assert.Equal(t, []int64{0, 0, 0}, currents(s))
}

// TestMembership pins the effect of Add, Remove, SetWeight and Reset on current weights.
func TestMembership(t *testing.T) {
	s, _ := wdrr.NewSWRR(w("a", 1), w("b", 1), w("c", 1), w("d", 1))
	assert.Equal(t, "a", picks(t, s, 1, nil))
	assert.Equal(t, []int64{-3, 1, 1, 1}, currents(s))
	require.NoError(t, s.Remove(0)) // −3 shared by three: −1 each
	assert.Equal(t, []int64{0, 0, 0}, currents(s))

	s, _ = wdrr.NewSWRR(w("a", 3), w("b", 1), w("c", 1), w("d", 1))
	assert.Equal(t, "ab", picks(t, s, 2, nil))
	assert.Equal(t, []int64{0, -4, 2, 2}, currents(s))
	require.NoError(t, s.Remove(1)) // −4 over three: −1 each and −1 more to the earliest
	assert.Equal(t, []int64{-2, 1, 1}, currents(s))

	id, err := s.Add("e", 2)
	require.NoError(t, err)
	assert.Equal(t, wdrr.ID(4), id, "IDs continue after the constructor's 0..3")
	assert.Equal(t, []int64{-2, 1, 1, 0}, currents(s), "a new member starts at 0")

	require.NoError(t, s.SetWeight(id, 7))
	m, _ := s.Member(id)
	assert.Equal(t, wdrr.Member[string]{ID: 4, Value: "e", Weight: 7, Effective: 7}, m)
	require.NoError(t, s.Fail(id)) // effective 0, shortfall 7
	require.NoError(t, s.SetWeight(id, 10))
	m, _ = s.Member(id)
	assert.Equal(t, 3, m.Effective, "SetWeight keeps the shortfall")
	require.NoError(t, s.SetWeight(id, 2))
	m, _ = s.Member(id)
	assert.Equal(t, 0, m.Effective, "floored at 0")

	s.Reset()
	assert.Equal(t, []int64{0, 0, 0, 0}, currents(s))
	m, _ = s.Member(id)
	assert.Equal(t, 2, m.Effective)
	assert.Equal(t, 4, s.Len())
	assert.Empty(t, checkInvariants(s))
	assert.Equal(t, wdrr.SWRRConfig{Rule: wdrr.Nginx, MaxFails: 1}, s.Config())
}

// TestLockedConcurrent: goroutines share a Locked; every pick is atomic, so over a whole
// number of periods the counts are exact whatever the interleaving. Run with -race.
func TestLockedConcurrent(t *testing.T) {
	s, _ := wdrr.NewSWRR(w("a", 5), w("b", 3), w("c", 1))
	l := wdrr.NewLocked(s)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 9 * 50 {
				v, err := l.Next(nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[v]++
				mu.Unlock()
				if g == 0 {
					_ = l.Members(nil)
					_ = l.Len()
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, map[string]int{"a": 5 * 200, "b": 3 * 200, "c": 200}, counts)

	id, err := l.Add("d", 2)
	require.NoError(t, err)
	require.NoError(t, l.Fail(id))
	require.NoError(t, l.SetWeight(id, 3))
	gotID, v, err := l.NextID(nil)
	require.NoError(t, err)
	m, ok := l.Member(gotID)
	require.True(t, ok)
	assert.Equal(t, v, m.Value)
	require.NoError(t, l.Remove(id))
	l.Reset()
	assert.Equal(t, 3, l.Len())
}

// TestDuplicates: equal values are rejected wherever == can compare them (pointers by
// identity, interfaces by their dynamic values), and never cause a panic where it cannot;
// a removed value may come back.
func TestDuplicates(t *testing.T) {
	type peer struct{ addr string }
	p, q := &peer{"x"}, &peer{"x"}
	_, err := wdrr.NewSWRR(wdrr.Weighted[*peer]{Value: p, Weight: 1}, wdrr.Weighted[*peer]{Value: q, Weight: 1})
	assert.NoError(t, err, "distinct pointers are distinct members")
	_, err = wdrr.NewSWRR(wdrr.Weighted[peer]{Value: peer{"x"}, Weight: 1}, wdrr.Weighted[peer]{Value: peer{"x"}, Weight: 1})
	assert.EqualError(t, err, "wdrr: duplicate member {x} (members 0 and 1)")

	// T = any: comparable dynamic values are checked, the others (a slice, a struct holding
	// one) are not, and comparing against them does not panic.
	type holder struct{ v any }
	a, err := wdrr.NewSWRR(wdrr.Weighted[any]{Value: []int{1}, Weight: 1}, wdrr.Weighted[any]{Value: []int{1}, Weight: 1},
		wdrr.Weighted[any]{Value: holder{[]int{1}}, Weight: 1}, wdrr.Weighted[any]{Value: holder{[]int{1}}, Weight: 1},
		wdrr.Weighted[any]{Value: nil, Weight: 1}, wdrr.Weighted[any]{Value: 7, Weight: 1})
	require.NoError(t, err)
	_, err = a.Add(holder{[]int{2}}, 1)
	assert.NoError(t, err)
	_, err = a.Add(holder{3}, 1)
	assert.NoError(t, err)
	_, err = a.Add(holder{3}, 1)
	assert.EqualError(t, err, "wdrr: duplicate member {3} (member ID 7)")
	_, err = a.Add(nil, 1)
	assert.EqualError(t, err, "wdrr: duplicate member <nil> (member ID 4)")
	_, err = a.Add(7, 1)
	assert.EqualError(t, err, "wdrr: duplicate member 7 (member ID 5)")
	require.NoError(t, a.Remove(5))
	_, err = a.Add(7, 1)
	assert.NoError(t, err, "a removed value may be added again")
	assert.Empty(t, checkInvariants(a))

	// A type == cannot compare is not checked at all.
	f, err := wdrr.NewSWRR(wdrr.Weighted[[]int]{Value: nil, Weight: 1}, wdrr.Weighted[[]int]{Value: nil, Weight: 1})
	require.NoError(t, err)
	_, err = f.Add(nil, 1)
	assert.NoError(t, err)
}

func TestRuleString(t *testing.T) {
	assert.Equal(t, "DefaultRule Nginx DripDrop Strict Rule(7)",
		strings.Join([]string{wdrr.DefaultRule.String(), wdrr.Nginx.String(), wdrr.DripDrop.String(), wdrr.Strict.String(), wdrr.Rule(7).String()}, " "))
}

func TestErrExhaustedIs(t *testing.T) {
	assert.True(t, errors.Is(&wdrr.ExhaustedError[int]{}, wdrr.ErrExhausted))
}

// TestNextDoesNotAllocate: no rule allocates in Next, including after Adds grow the members.
func TestNextDoesNotAllocate(t *testing.T) {
	for _, rule := range []wdrr.Rule{wdrr.Nginx, wdrr.DripDrop, wdrr.Strict} {
		s, _ := wdrr.NewSWRRWith(wdrr.SWRRConfig{Rule: rule}, w("a", 3), w("b", 2))
		for i := range 40 {
			_, err := s.Add(string(rune('c'+i)), 1+i%4)
			require.NoError(t, err)
		}
		eligible := func(v string) bool { return v != "b" }
		assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Next(eligible) }), rule.String())
		assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Next(nil) }), rule.String())
	}
	s, _ := wdrr.NewSWRRWith(wdrr.SWRRConfig{MaxFails: 1 << 40}, w("a", 3))
	assert.Equal(t, 1<<40, s.Config().MaxFails, "no clamping")
	require.NoError(t, s.Fail(0))
	m, _ := s.Member(0)
	assert.Equal(t, 3, m.Effective, "Weight/MaxFails = 0: a failure costs nothing")
}
