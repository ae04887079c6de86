package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchOutputs are excerpts of `go test -bench` output in the formats the packages' benchmarks
// print (names as of the benchmarks in wdrr, strategy, admission and sim), two runs each.
var benchOutputs = map[string]string{
	"wdrr": `BenchmarkNext/n=3/impl=dispatchlab-2         	1000	        12.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkNext/n=1024/impl=dispatchlab-2      	1000	       900.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkNext/n=3/impl=dispatchlab-2         	1000	        13.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkNext/n=1024/impl=dispatchlab-2      	1000	       950.0 ns/op	       0 B/op	       0 allocs/op
`,
	"strategy": `BenchmarkBest/n=16/impl=dispatchlab-2        	1000	        20.0 ns/op
BenchmarkBest/n=4096/impl=dispatchlab-2      	1000	      3000.0 ns/op
BenchmarkP2C/n=16/impl=dispatchlab-2         	1000	        15.0 ns/op
BenchmarkP2C/n=4096/impl=dispatchlab-2       	1000	        16.0 ns/op
BenchmarkHash/n=16/impl=dispatchlab-2        	1000	         5.0 ns/op
BenchmarkHash/n=4096/impl=dispatchlab-2      	1000	         9.0 ns/op
BenchmarkNextAvailable/n=16-2                	1000	        10.0 ns/op
BenchmarkNextAvailable/n=4096-2              	1000	      1000.0 ns/op
`,
	"admission": `BenchmarkTick/backlog=1000/tenants=10000/impl=dispatchlab-2      	100	  50000 ns/op	  100.0 ns/job	  500.0 jobs/tick
BenchmarkTick/backlog=1000/tenants=10000/impl=naive-heap-2       	100	  90000 ns/op	  180.0 ns/job	  500.0 jobs/tick
BenchmarkTick/backlog=1000000/tenants=10000/impl=dispatchlab-2   	100	  60000 ns/op	  120.0 ns/job	  500.0 jobs/tick
BenchmarkTick/backlog=1000000/tenants=10000/impl=naive-heap-2    	100	 900000 ns/op	 1800.0 ns/job	  500.0 jobs/tick
`,
	"sim": `BenchmarkSize/tenants=10-2      	3	  50000000 ns/op	   4000000 jobs/s
BenchmarkSize/tenants=100000-2  	3	 900000000 ns/op	   2000000 jobs/s
BenchmarkSize/workers=8-2       	3	  30000000 ns/op	   6000000 jobs/s
BenchmarkSize/workers=32768-2   	3	  90000000 ns/op	   2500000 jobs/s
`,
}

// Every series of every figure finds its points in output of the benchmarks' format, and the
// figures are written.
func TestRun(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	for pkg, text := range benchOutputs {
		require.NoError(t, os.WriteFile(filepath.Join(in, pkg+".txt"), []byte(text), 0o644))
	}
	var log bytes.Buffer
	require.NoError(t, run(in, out, "svg", &log))
	assert.NotContains(t, log.String(), "no results")
	for _, f := range figures {
		assert.FileExists(t, filepath.Join(out, f.name+".svg"))
		for _, sr := range f.series {
			assert.Contains(t, log.String(), f.name+"\t"+sr.label+"\t", "series %q has no points", sr.label)
		}
	}
	// Medians of repeated runs: 12.0 and 13.0 ns at n=3.
	assert.Contains(t, log.String(), "pick-cost\twdrr SWRR.Next, with predicate\t3\t12")
	assert.Contains(t, log.String(), "tick-cost\tTick\t1e+06\t120\n")

	// A package that was not benchmarked leaves its series out, and says so.
	require.NoError(t, os.Remove(filepath.Join(in, "admission.txt")))
	log.Reset()
	out2 := t.TempDir()
	require.NoError(t, run(in, out2, "svg", &log))
	assert.Contains(t, log.String(), `tick-cost: no results for "Tick" in admission.txt`)
	assert.NoFileExists(t, filepath.Join(out2, "tick-cost.svg"))
	assert.True(t, strings.Contains(log.String(), "sim-throughput\t"))
}
