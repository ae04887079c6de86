package sim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/aimd"
	"github.com/dispatchlab/dispatchlab/tokenbucket"
)

// update regenerates the golden summaries. Do NOT regenerate them to make a test pass: a
// change of output means a change of behaviour, and the commit that makes it must say why.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.txt")

// goldenScenarios cover every part of the model at small sizes.
func goldenScenarios() []*Scenario {
	lim := tokenbucket.Limit{Rate: 2, Per: time.Second, Burst: 4}
	return []*Scenario{
		{
			Name: "direct-mm2", Duration: 2000 * time.Second, Warmup: 100 * time.Second,
			Tenants: []Tenant{{Name: "t", Arrivals: Poisson(1.5), Service: Exp(time.Second)}},
			Workers: Workers{Count: 2},
		},
		{
			Name: "per-worker-p2c", Duration: 1000 * time.Second,
			Tenants: []Tenant{
				{Name: "a", Arrivals: Poisson(3), Service: Dist{Kind: "lognormal", Mean: time.Second, Sigma: 1}},
				{Name: "b", Arrivals: Arrivals{Kind: "diurnal", Rate: 2, Amplitude: 0.5, Period: 300 * time.Second}, Service: Dist{Kind: "pareto", Mean: time.Second, Alpha: 2.5}},
			},
			Workers: Workers{Count: 8, Queue: "per-worker", Strategy: "p2c", Speed: []float64{1, 1, 1, 1, 2, 2, 0.5, 0.5}},
		},
		{
			Name: "noisy-neighbour", Duration: 600 * time.Second, Warmup: 60 * time.Second,
			Tenants: []Tenant{
				{Name: "noisy", Arrivals: Arrivals{Rate: 1, Bursts: []Burst{{Start: 200 * time.Second, For: 100 * time.Second, Factor: 20}}}, Service: Exp(500 * time.Millisecond)},
				{Name: "quiet", Count: 4, Arrivals: Poisson(1), Service: Exp(500 * time.Millisecond), FailureRate: 0.05},
			},
			Workers: Workers{Count: 6, Changes: []CapacityChange{{At: 400 * time.Second, Count: 3}}, CrashRate: 0.01},
			Admission: &Admission{
				RoundRobin: true, Throttle: &lim, Concurrency: 4, GlobalCap: 6, FairInterleave: true,
				Adaptive: &aimd.Config{Initial: 3, Max: 20, TargetLag: 2 * time.Second}, Lease: 30 * time.Second,
			},
			Metrics: Metrics{Window: 30 * time.Second},
		},
		{
			Name: "event-driven-lifo", Duration: 500 * time.Second,
			Tenants: []Tenant{
				{Name: "x", Arrivals: Arrivals{Kind: "constant", Rate: 2, OnOff: &OnOff{On: 20 * time.Second, Off: 40 * time.Second, Factor: 3}}, Service: Dist{Kind: "uniform", Min: 100 * time.Millisecond, Max: 900 * time.Millisecond}},
				{Name: "y", Arrivals: Poisson(1), Service: Dist{Kind: "empirical", Values: []time.Duration{time.Second, 3 * time.Second}}, Priority: 1},
			},
			Workers:   Workers{Count: 3, Queue: "lifo"},
			Admission: &Admission{EventDriven: true, Throttle: &lim, Concurrency: 2, Descending: true},
		},
	}
}

// summary formats what a golden file pins: every count, and every float at full precision.
func summary(r *Result) string {
	var b strings.Builder
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	fmt.Fprintf(&b, "scenario %s seed %d replication %d: simulated %d ns, %d events\n", r.Scenario, r.Seed, r.Replication, int64(r.Simulated), r.Events)
	fmt.Fprintf(&b, "in system %s, waiting %s, little %s, jain %s, min jain %s\n", f(r.MeanInSystem), f(r.MeanWaiting), f(r.LittleError), f(r.Jain), f(r.MinJain))
	for _, t := range append(append([]TenantResult(nil), r.Tenants...), r.Overall) {
		fmt.Fprintf(&b, "%s: arrived %d admitted %d started %d completed %d failed %d rejected %d lost %d measured %d tput %s share %s\n",
			t.Name, t.Arrived, t.Admitted, t.Started, t.Completed, t.Failed, t.Rejected, t.Lost, t.Measured, f(t.Throughput), f(t.Share))
		for _, q := range []struct {
			n string
			q Quantiles
		}{{"admission", t.Admission}, {"queue", t.Queue}, {"service", t.Service}, {"total", t.Total}} {
			fmt.Fprintf(&b, "  %s mean %d p50 %d p95 %d p99 %d max %d\n", q.n, int64(q.q.Mean), int64(q.q.P50), int64(q.q.P95), int64(q.q.P99), int64(q.q.Max))
		}
	}
	for _, w := range r.Windows {
		fmt.Fprintf(&b, "window %d-%d: arrived %d completed %d jain %s", int64(w.Start), int64(w.End), w.Arrived, w.Completed, f(w.Jain))
		for _, t := range w.Tenants {
			fmt.Fprintf(&b, " [%d %d %d %d %d %d %s]", t.Arrived, t.Completed, int64(t.P50), int64(t.P99), t.InFlight, t.Limit, f(t.Tokens))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, sc := range goldenScenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			var got strings.Builder
			for rep := range 2 {
				r, err := Run(sc, 42, rep)
				require.NoError(t, err)
				got.WriteString(summary(r))
			}
			path := filepath.Join("testdata", "golden", sc.Name+".txt")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got.String()), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./sim -run TestGolden -update to create it")
			if string(want) != got.String() {
				t.Errorf("summary of %s differs from %s: the simulation is no longer bit-for-bit the same.\n"+
					"If the change is intended, regenerate with -update and say why in the commit.\n%s",
					sc.Name, path, firstDiff(string(want), got.String()))
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// Results do not depend on GOMAXPROCS or on how many replications run in parallel: the
// whole Result (every field, as WriteJSON writes it), for every golden scenario.
func TestDeterministicAcrossParallelism(t *testing.T) {
	asJSON := func(rs []*Result) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			var b strings.Builder
			require.NoError(t, r.WriteJSON(&b))
			out[i] = b.String()
		}
		return out
	}
	scenarios := goldenScenarios()
	if raceEnabled {
		scenarios = scenarios[3:] // with admission, and quick: race runs are ~10× slower
	}
	for _, sc := range scenarios {
		prev := runtime.GOMAXPROCS(1)
		serial, err := Replicate(sc, 7, 3, 1)
		runtime.GOMAXPROCS(prev)
		require.NoError(t, err)
		parallel, err := Replicate(sc, 7, 3, 3)
		require.NoError(t, err)
		a, b := asJSON(serial), asJSON(parallel)
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s replication %d: GOMAXPROCS=1 serial and parallel runs differ:\n%s", sc.Name, i, firstDiff(a[i], b[i]))
			}
		}
	}
}
