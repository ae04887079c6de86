package interleave_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/interleave"
)

// Benchmarks for the performance table; BENCHMARKS.md records the command and the
// numbers. Keys are tenant-ID strings, items are small job structs, and inputs are built once
// from a fixed seed outside the timed loop.

var sinkJobs []job

// tenantIDs returns n distinct tenant keys.
func tenantIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("tenant-%05d", i)
	}
	return ids
}

// uniformJobs returns n jobs whose tenants are drawn uniformly from keys tenants.
func uniformJobs(n, keys int) []job {
	ids := tenantIDs(keys)
	r := rand.New(rand.NewPCG(1, 2))
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{ids[r.IntN(keys)], i}
	}
	return jobs
}

// zipfJobs returns n jobs whose tenants follow a Zipf law (s = 1.1): a few tenants hold most
// of the backlog, as under a noisy neighbour.
func zipfJobs(n, keys int) []job {
	ids := tenantIDs(keys)
	r := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(r, 1.1, 1, uint64(keys-1))
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{ids[z.Uint64()], i}
	}
	return jobs
}

func perItem(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/item")
}

// BenchmarkByKey: 10,000 items over 1,024 keys, grouping included. The anchor is a round
// robin over items already grouped by key (the reference's 3–4 ns/item, grouping excluded);
// map-of-slices is the obvious hand-written version.
func BenchmarkByKey(b *testing.B) {
	for _, keys := range []int{16, 1024} {
		const n = 10_000
		jobs := uniformJobs(n, keys)
		name := fmt.Sprintf("n=%d/keys=%d", n, keys)
		b.Run(name+"/impl=interleaver", func(b *testing.B) {
			var iv interleave.Interleaver[job, string]
			dst := iv.AppendByKey(nil, jobs, tenantOf)
			b.ReportAllocs()
			for b.Loop() {
				dst = iv.AppendByKey(dst[:0], jobs, tenantOf)
			}
			perItem(b, n)
		})
		b.Run(name+"/impl=interleaver-index", func(b *testing.B) {
			var iv interleave.Interleaver[job, string]
			idx := iv.AppendByKeyIndex(nil, jobs, tenantOf)
			b.ReportAllocs()
			for b.Loop() {
				idx = iv.AppendByKeyIndex(idx[:0], jobs, tenantOf)
			}
			perItem(b, n)
		})
		b.Run(name+"/impl=bykey-oneshot", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkJobs = interleave.ByKey(jobs, tenantOf)
			}
			perItem(b, n)
		})
		b.Run(name+"/impl=map-of-slices", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkJobs = mapOfSlices(jobs)
			}
			perItem(b, n)
		})
		b.Run(name+"/impl=floor-lookups", func(b *testing.B) {
			// The floor of any grouping by key: one key call and one map lookup per item.
			ids := keyIndex(jobs)
			b.ReportAllocs()
			for b.Loop() {
				sinkInt = lookups(jobs, ids)
			}
			perItem(b, n)
		})
		b.Run(name+"/impl=prebucketed-rr", func(b *testing.B) {
			groups := groupJobs(jobs)
			dst := make([]job, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				dst = roundRobin(dst[:0], groups)
			}
			perItem(b, n)
		})
	}
}

var sinkInt int

// keyIndex maps each tenant of jobs to a small integer.
func keyIndex(jobs []job) map[string]int {
	ids := map[string]int{}
	for _, j := range jobs {
		if _, ok := ids[j.Tenant]; !ok {
			ids[j.Tenant] = len(ids)
		}
	}
	return ids
}

// lookups is the floor of grouping jobs by key: a key call and a map lookup per job.
func lookups(jobs []job, ids map[string]int) int {
	s := 0
	for _, j := range jobs {
		s += ids[tenantOf(j)]
	}
	return s
}

// mapOfSlices is the usual hand-written interleave: a map of per-key slices and a slice of
// keys in first-appearance order, then rounds.
func mapOfSlices(jobs []job) []job {
	groups := map[string][]job{}
	var order []string
	for _, j := range jobs {
		if _, ok := groups[j.Tenant]; !ok {
			order = append(order, j.Tenant)
		}
		groups[j.Tenant] = append(groups[j.Tenant], j)
	}
	out := make([]job, 0, len(jobs))
	for r := 0; len(out) < len(jobs); r++ {
		for _, k := range order {
			if g := groups[k]; r < len(g) {
				out = append(out, g[r])
			}
		}
	}
	return out
}

func groupJobs(jobs []job) [][]job {
	idx := map[string]int{}
	var groups [][]job
	for _, j := range jobs {
		g, ok := idx[j.Tenant]
		if !ok {
			g = len(groups)
			idx[j.Tenant] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], j)
	}
	return groups
}

// roundRobin is the anchor: one item from each non-empty pre-built group per round, with
// an active list so that the total work is O(items).
func roundRobin(dst []job, groups [][]job) []job {
	active := make([]int, len(groups))
	for i := range active {
		active[i] = i
	}
	for r := 0; len(active) > 0; r++ {
		w := 0
		for _, g := range active {
			dst = append(dst, groups[g][r])
			if r+1 < len(groups[g]) {
				active[w] = g
				w++
			}
		}
		active = active[:w]
	}
	return dst
}

func BenchmarkWeighted(b *testing.B) {
	const n, keys = 10_000, 1024
	jobs := uniformJobs(n, keys)
	weights := map[string]int{}
	for i, id := range tenantIDs(keys) {
		weights[id] = 1 + i%10
	}
	weight := func(k string) int { return weights[k] }
	b.Run(fmt.Sprintf("n=%d/keys=%d/impl=interleaver", n, keys), func(b *testing.B) {
		var iv interleave.Interleaver[job, string]
		dst, _ := iv.AppendWeighted(nil, jobs, tenantOf, weight)
		b.ReportAllocs()
		for b.Loop() {
			dst, _ = iv.AppendWeighted(dst[:0], jobs, tenantOf, weight)
		}
		perItem(b, n)
	})
}

// BenchmarkBatch: one tick's batch (size 500, quantum 50) from a backlog over 10,000 keys.
// ns/op is the cost of a tick; scanned/tick shows it is one scan of a prefix of the backlog,
// so the cost per scanned item is the same at 100,000 and 1,000,000 pending. The anchor is
// the literal in-memory port of the seed's fetch: group the whole backlog by key every tick,
// take each key's quantum, then top up.
func BenchmarkBatch(b *testing.B) {
	const keys, size, quantum = 10_000, 500, 50
	cfg := interleave.BatchConfig[string]{Size: size, Quantum: quantum}
	for _, shape := range []string{"uniform", "zipf"} {
		for _, n := range []int{100_000, 1_000_000} {
			var jobs []job
			if shape == "uniform" {
				jobs = uniformJobs(n, keys)
			} else {
				jobs = zipfJobs(n, keys)
			}
			name := fmt.Sprintf("pending=%d/keys=%d/%s", n, keys, shape)
			report := func(b *testing.B, st interleave.BatchStats) {
				b.ReportMetric(float64(st.Scanned), "scanned/tick")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(st.Scanned), "ns/scanned")
			}
			b.Run(name+"/impl=interleaver", func(b *testing.B) {
				var iv interleave.Interleaver[job, string]
				dst, st, _ := iv.AppendBatch(nil, jobs, tenantOf, cfg)
				b.ReportAllocs()
				for b.Loop() {
					dst, st, _ = iv.AppendBatch(dst[:0], jobs, tenantOf, cfg)
				}
				report(b, st)
			})
			b.Run(name+"/impl=interleaver-index", func(b *testing.B) {
				var iv interleave.Interleaver[job, string]
				idx, st, _ := iv.AppendBatchIndex(nil, jobs, tenantOf, cfg)
				b.ReportAllocs()
				for b.Loop() {
					idx, st, _ = iv.AppendBatchIndex(idx[:0], jobs, tenantOf, cfg)
				}
				report(b, st)
			})
			b.Run(name+"/impl=interleaver-capped", func(b *testing.B) {
				// Per-key caps (concurrency headroom) looked up in a map: the admission case.
				headroom := map[string]int{}
				for i, id := range tenantIDs(keys) {
					headroom[id] = i % 40
				}
				capped := cfg
				capped.Cap = func(k string) int { return headroom[k] }
				var iv interleave.Interleaver[job, string]
				idx, st, _ := iv.AppendBatchIndex(nil, jobs, tenantOf, capped)
				b.ReportAllocs()
				for b.Loop() {
					idx, st, _ = iv.AppendBatchIndex(idx[:0], jobs, tenantOf, capped)
				}
				report(b, st)
			})
			b.Run(name+"/impl=interleaver-time", func(b *testing.B) {
				// weight: :time needs every key, so this is a full scan.
				timed := interleave.BatchConfig[string]{Size: size, Time: &interleave.TimeWeight[string]{
					Consumed: func(k string) time.Duration { return time.Duration(len(k)) * time.Second },
					Floor:    100 * time.Millisecond,
				}}
				var iv interleave.Interleaver[job, string]
				idx, st, _ := iv.AppendBatchIndex(nil, jobs, tenantOf, timed)
				b.ReportAllocs()
				for b.Loop() {
					idx, st, _ = iv.AppendBatchIndex(idx[:0], jobs, tenantOf, timed)
				}
				report(b, st)
			})
			b.Run(name+"/impl=floor-lookups", func(b *testing.B) {
				// The floor of any scan: a key call and a map lookup per item of the prefix
				// the interleaver scans.
				var iv interleave.Interleaver[job, string]
				_, st, _ := iv.AppendBatchIndex(nil, jobs, tenantOf, cfg)
				ids := keyIndex(jobs)
				b.ReportAllocs()
				for b.Loop() {
					sinkInt = lookups(jobs[:st.Scanned], ids)
				}
				report(b, st)
			})
			b.Run(name+"/impl=seed-groupby", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					sinkJobs = seedGroupBy(jobs, quantum, size)
				}
				b.ReportMetric(float64(n), "scanned/tick")
			})
		}
	}
}

// BenchmarkBatchBacklog shows the tick cost does not grow with the backlog beyond the one
// scan that decides the batch: with keys uniform over 10,000 tenants, the first keys' 50th
// items lie within the first ~650,000 items whatever the backlog behind them, so 1M, 2M and
// 4M pending cost the same per tick. The backlogs come from one seed, so they share their
// first million items and the scanned prefix is the same.
func BenchmarkBatchBacklog(b *testing.B) {
	const keys, size, quantum = 10_000, 500, 50
	cfg := interleave.BatchConfig[string]{Size: size, Quantum: quantum}
	for _, n := range []int{1_000_000, 2_000_000, 4_000_000} {
		jobs := uniformJobs(n, keys)
		b.Run(fmt.Sprintf("pending=%d/keys=%d/uniform/impl=interleaver", n, keys), func(b *testing.B) {
			var iv interleave.Interleaver[job, string]
			dst, st, _ := iv.AppendBatch(nil, jobs, tenantOf, cfg)
			b.ReportAllocs()
			for b.Loop() {
				dst, st, _ = iv.AppendBatch(dst[:0], jobs, tenantOf, cfg)
			}
			b.ReportMetric(float64(st.Scanned), "scanned/tick")
		})
	}
}

// seedGroupBy is the seed's fetch ported to memory as written: distinct keys, each key's
// first quantum rows, the concatenation cut at size, then a top-up over the rows not taken.
func seedGroupBy(jobs []job, quantum, size int) []job {
	rows := map[string][]int{}
	var order []string
	for i, j := range jobs {
		if _, ok := rows[j.Tenant]; !ok {
			order = append(order, j.Tenant)
		}
		if len(rows[j.Tenant]) < quantum {
			rows[j.Tenant] = append(rows[j.Tenant], i)
		}
	}
	taken := map[int]bool{}
	out := make([]job, 0, size)
	for _, k := range order {
		for _, i := range rows[k] {
			if len(out) == size {
				return out
			}
			out = append(out, jobs[i])
			taken[i] = true
		}
	}
	for i, j := range jobs {
		if len(out) == size {
			break
		}
		if !taken[i] {
			out = append(out, j)
		}
	}
	return out
}

// BenchmarkDecayedTick: one fair tick over 10,000 partitions with a tick cap of 500.
func BenchmarkDecayedTick(b *testing.B) {
	const keys = 10_000
	ids := tenantIDs(keys)
	d, _ := interleave.NewDecayed[string](time.Minute)
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	admit := func(_ string, budget int) int { return budget }
	budget := interleave.Budget{TickCap: 500}
	now := start
	_, _ = d.Tick(now, ids, budget, admit)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		_, _ = d.Tick(now, ids, budget, admit)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
}
