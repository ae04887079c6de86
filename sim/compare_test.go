package sim

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// small returns a scenario of about a thousand jobs: two tenants, admission with fair
// interleave and a global cap.
func small() *Scenario {
	return &Scenario{
		Name: "small", Duration: 100 * time.Second, Warmup: 10 * time.Second,
		Tenants: []Tenant{
			{Name: "heavy", Arrivals: Poisson(8), Service: Exp(200 * time.Millisecond)},
			{Name: "light", Count: 2, Arrivals: Poisson(1), Service: Exp(200 * time.Millisecond)},
		},
		Workers:   Workers{Count: 2},
		Admission: &Admission{TickInterval: 50 * time.Millisecond, GlobalCap: 2, Concurrency: 2, FairInterleave: true},
		Metrics:   Metrics{Window: 10 * time.Second},
	}
}

// jsonOf is a result's JSON: equal bytes mean equal results (NaN included).
func jsonOf(t testing.TB, rs []*Result) string {
	var b bytes.Buffer
	for _, r := range rs {
		require.NoError(t, r.WriteJSON(&b))
	}
	return b.String()
}

func TestRunOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		o    RunOptions
		want string
	}{
		{RunOptions{Replications: -1}, "sim: Replications must be >= 0 (0 means 1), got -1"},
		{RunOptions{Level: 1}, "sim: Level must be in (0, 1) (0 means 0.95), got 1"},
		{RunOptions{Level: math.NaN()}, "sim: Level must be in (0, 1) (0 means 0.95), got NaN"},
	} {
		_, err := Compare([]Variant{{"a", small()}}, tc.o)
		assert.EqualError(t, err, tc.want)
		_, err = Sweep(small(), []int{1}, func(*Scenario, int) {}, tc.o)
		assert.EqualError(t, err, tc.want)
	}
	o, err := RunOptions{}.normalize()
	require.NoError(t, err)
	assert.Equal(t, 1, o.Replications)
	assert.Equal(t, 0.95, o.Level)
	assert.Positive(t, o.Parallel)
}

func TestCompare(t *testing.T) {
	fifo := small()
	fifo.Admission = &Admission{TickInterval: 50 * time.Millisecond, GlobalCap: 2}
	vs := []Variant{{"fifo", fifo}, {"fair", small()}}
	res, err := Compare(vs, RunOptions{Seed: 3, Replications: 3, Parallel: 1})
	require.NoError(t, err)
	require.Len(t, res, 2)
	for i, v := range res {
		require.Equal(t, vs[i].Name, v.Name)
		require.Len(t, v.Results, 3)
		// Each result is exactly the run of its replication.
		for rep, r := range v.Results {
			want, err := Run(vs[i].Scenario, 3, rep)
			require.NoError(t, err)
			require.Equal(t, jsonOf(t, []*Result{want}), jsonOf(t, []*Result{r}))
		}
		require.Equal(t, Summarize(v.Name, v.Results, 0.95), v.Summary)
	}
	// Common random numbers: both variants see the same arrivals.
	for rep := range 3 {
		assert.Equal(t, res[0].Results[rep].Overall.Arrived, res[1].Results[rep].Overall.Arrived)
	}
	// Fair interleave lowers the light tenants' mean latency, and the paired difference
	// says so with a narrower interval than the means'.
	light := func(r *Result) float64 { return r.Tenants[1].Total.Mean.Seconds() }
	d := PairedDifference(res[0].Results, res[1].Results, light, 0)
	assert.Negative(t, d.Mean+d.HalfWidth, "fair interleave should lower light's latency: %v", d)
	assert.Equal(t, Summaries(res), []Summary{res[0].Summary, res[1].Summary})

	// An invalid variant fails before anything runs.
	bad := small()
	bad.Workers.Count = 0
	_, err = Compare([]Variant{{"ok", small()}, {"bad", bad}}, RunOptions{})
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	assert.Equal(t, "workers.count", fe.Path)
	_, err = Compare([]Variant{{"nil", nil}}, RunOptions{})
	assert.EqualError(t, err, "sim: scenario 0 is nil")
}

func TestPairedDifference(t *testing.T) {
	res, err := Replicate(small(), 1, 4, 0)
	require.NoError(t, err)
	total := func(r *Result) float64 { return r.Overall.Total.Mean.Seconds() }
	d := PairedDifference(res, res, total, 0.99)
	assert.Equal(t, Estimate{Mean: 0, HalfWidth: 0, Level: 0.99, N: 4}, d)
	assert.PanicsWithValue(t, "sim: PairedDifference: 4 and 3 replications; they must pair up", func() {
		PairedDifference(res, res[:3], total, 0)
	})
}

func TestSummarize(t *testing.T) {
	res, err := Replicate(small(), 2, 3, 0)
	require.NoError(t, err)
	s := Summarize("s", res, 0)
	require.Equal(t, "s", s.Name)
	require.Equal(t, 3, s.Replications)
	mean := func(f func(*Result) float64) float64 {
		sum := 0.0
		for _, r := range res {
			sum += f(r)
		}
		return sum / float64(len(res))
	}
	assert.InDelta(t, mean(func(r *Result) float64 { return r.Overall.Throughput }), s.Throughput.Mean, 1e-12)
	assert.InDelta(t, mean(func(r *Result) float64 { return r.Overall.Total.P99.Seconds() }), s.TotalP99.Mean, 1e-12)
	assert.InDelta(t, mean(func(r *Result) float64 { return r.MeanWaiting }), s.MeanWaiting.Mean, 1e-12)
	assert.InDelta(t, mean(func(r *Result) float64 { return r.Jain }), s.Jain.Mean, 1e-12)
	require.Len(t, s.Tenants, 3)
	assert.Equal(t, []string{"heavy", "light-0", "light-1"}, []string{s.Tenants[0].Name, s.Tenants[1].Name, s.Tenants[2].Name})
	assert.InDelta(t, mean(func(r *Result) float64 { return r.Tenants[2].Admission.P99.Seconds() }), s.Tenants[2].AdmissionP99.Mean, 1e-12)
	assert.InDelta(t, mean(func(r *Result) float64 { return r.Tenants[1].Share }), s.Tenants[1].Share.Mean, 1e-12)
	assert.Equal(t, 0.95, s.Throughput.Level)

	other := small()
	other.Tenants = other.Tenants[:1]
	r2, err := Run(other, 1, 0)
	require.NoError(t, err)
	assert.PanicsWithValue(t, "sim: Summarize: replications have 3 and 1 tenants; they must come from one scenario", func() {
		Summarize("mixed", []*Result{res[0], r2}, 0)
	})
	empty := Summarize("none", nil, 0)
	assert.True(t, math.IsNaN(empty.Throughput.Mean))
	assert.Empty(t, empty.Tenants)
}

func TestEstimateString(t *testing.T) {
	assert.Equal(t, "1.23 ± 0.046", Estimate{Mean: 1.2345, HalfWidth: 0.04567}.String())
	assert.Equal(t, "1.23", Estimate{Mean: 1.2345, HalfWidth: math.NaN()}.String())
	assert.Equal(t, "NaN", Estimate{Mean: math.NaN(), HalfWidth: math.NaN()}.String())
}

func TestWriteTables(t *testing.T) {
	res, err := Compare([]Variant{{"fair", small()}}, RunOptions{Seed: 1, Replications: 2})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, WriteSummaries(&b, Summaries(res)))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^\s+jobs/s\s+mean total \(s\)\s+p99 total \(s\)`, lines[0])
	assert.Regexp(t, `^fair\s+\S+ ± \S+`, lines[1])
	b.Reset()
	require.NoError(t, res[0].Summary.WriteTenants(&b))
	lines = strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^fair\s+jobs/s\s+share`, lines[0])
	assert.Regexp(t, `^light-1\s+\S+ ± `, lines[3])
}

// fillAll sets every settable field reachable from v to a non-zero value: pointers to new
// values, slices to one element, numbers to 1, strings to "x".
func fillAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillAll(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float64:
		v.SetFloat(1)
	case reflect.Bool:
		v.SetBool(true)
	}
}

// shared reports the first pointer or slice of a that b shares.
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return shared(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			if s := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); s != "" {
				return s
			}
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if s := shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); s != "" {
				return s
			}
		}
	}
	return ""
}

// Clone copies every field, shares nothing, and a field added to Scenario later is covered
// as soon as fillAll reaches it.
func TestCloneSharesNothing(t *testing.T) {
	var s Scenario
	fillAll(reflect.ValueOf(&s).Elem())
	c := s.Clone()
	require.Equal(t, &s, c)
	require.Empty(t, shared(reflect.ValueOf(&s).Elem(), reflect.ValueOf(c).Elem(), "Scenario"))
	c.Admission.Adaptive.TargetLag = 7
	c.Tenants[0].Arrivals.Bursts[0].Factor = 9
	assert.Equal(t, time.Duration(1), s.Admission.Adaptive.TargetLag)
	assert.Equal(t, 1.0, s.Tenants[0].Arrivals.Bursts[0].Factor)
	assert.Nil(t, (*Scenario)(nil).Clone())
	// Nil pointers stay nil.
	plain := small()
	plain.Admission = nil
	assert.Equal(t, plain, plain.Clone())
}

// Sweep with the same seed gives the same results bit for bit at any parallelism, runs
// exactly Run's replications, and leaves its base alone.
func TestSweepProperties(t *testing.T) {
	forAll(t, "sweeps do not depend on parallelism", sweepTrials(), func(s uint64) string {
		r := rand.New(rand.NewPCG(s, 1))
		base := small()
		base.Duration = time.Duration(20+r.IntN(30)) * time.Second
		base.Warmup = base.Duration / 10
		if r.IntN(2) == 0 {
			base.Admission.Throttle = &tokenbucket.Limit{Rate: 5, Per: time.Second, Burst: 1 + r.IntN(5)}
		}
		before := base.Clone()
		caps := []int{1, 1 + r.IntN(3), 2 + r.IntN(4)}
		set := func(sc *Scenario, v int) { sc.Admission.GlobalCap = v }
		o := RunOptions{Seed: r.Uint64(), Replications: 1 + r.IntN(3), Parallel: 1}
		one, err := Sweep(base, caps, set, o)
		if err != nil {
			return err.Error()
		}
		o.Parallel = 2 + r.IntN(4)
		many, err := Sweep(base, caps, set, o)
		if err != nil {
			return err.Error()
		}
		if !reflect.DeepEqual(before, base) {
			return "Sweep changed its base scenario"
		}
		for i := range caps {
			if one[i].Value != caps[i] || one[i].Scenario.Admission.GlobalCap != caps[i] {
				return fmt.Sprintf("point %d: value %v, cap %d", i, one[i].Value, one[i].Scenario.Admission.GlobalCap)
			}
			if a, b := jsonOf(t, one[i].Results), jsonOf(t, many[i].Results); a != b {
				return fmt.Sprintf("point %d differs between parallel 1 and %d", i, o.Parallel)
			}
			want, _ := Run(one[i].Scenario, o.Seed, o.Replications-1)
			if jsonOf(t, []*Result{want}) != jsonOf(t, one[i].Results[o.Replications-1:]) {
				return fmt.Sprintf("point %d's last replication is not Run's", i)
			}
			// Common random numbers: the parameter does not touch arrivals.
			if one[i].Results[0].Overall.Arrived != one[0].Results[0].Overall.Arrived {
				return fmt.Sprintf("point %d saw %d arrivals, point 0 %d", i, one[i].Results[0].Overall.Arrived, one[0].Results[0].Overall.Arrived)
			}
		}
		return ""
	})
}

// sweepTrials keeps the sweep property quick: every trial runs a dozen simulations, twice.
func sweepTrials() int {
	if raceEnabled {
		return min(*trials, 4)
	}
	return min(*trials, 12)
}

func TestSweep(t *testing.T) {
	lags := []time.Duration{50 * time.Millisecond, time.Second}
	base := small()
	base.Admission.Adaptive = &aimd.Config{Initial: 1, TargetLag: time.Millisecond}
	pts, err := Sweep(base, lags, func(sc *Scenario, v time.Duration) { sc.Admission.Adaptive.TargetLag = v }, RunOptions{Seed: 1, Replications: 2})
	require.NoError(t, err)
	require.Len(t, pts, 2)
	assert.Equal(t, "50ms", pts[0].Summary.Name)
	assert.Equal(t, "1s", pts[1].Summary.Name)
	assert.Equal(t, time.Millisecond, base.Admission.Adaptive.TargetLag, "base changed")
	assert.Equal(t, []Summary{pts[0].Summary, pts[1].Summary}, SweepSummaries(pts))

	_, err = Sweep(small(), []int{2, -1}, func(sc *Scenario, v int) { sc.Workers.Count = v }, RunOptions{})
	assert.EqualError(t, err, "sim: sweep value -1: sim: workers.count: must be in [1, 1000000], got -1")
	_, err = Sweep[int](nil, []int{1}, func(*Scenario, int) {}, RunOptions{})
	assert.EqualError(t, err, "sim: Sweep needs a base scenario and a set function")
	_, err = Sweep(small(), []int{1}, nil, RunOptions{})
	assert.EqualError(t, err, "sim: Sweep needs a base scenario and a set function")
}

func TestWriteExpected(t *testing.T) {
	es := []Expected{
		{Label: "rho=0.8", Simulated: Estimate{Mean: 2.02, HalfWidth: 0.05}, Formula: 2},
		{Label: "rho=0.9", Simulated: Estimate{Mean: 4.2, HalfWidth: 0.1}, Formula: 4.5},
		{Label: "zero", Simulated: Estimate{Mean: 0, HalfWidth: math.NaN()}, Formula: 0},
	}
	assert.True(t, es[0].Covered())
	assert.False(t, es[1].Covered())
	var b strings.Builder
	require.NoError(t, WriteExpected(&b, "load", es))
	assert.Equal(t, `load     simulated    formula  difference  covered
rho=0.8  2.02 ± 0.05  2        +1.0%       yes
rho=0.9  4.2 ± 0.1    4.5      -6.7%       no
zero     0            0        -           no
`, b.String())
}
