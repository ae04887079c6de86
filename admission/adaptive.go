package admission

import (
	"fmt"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// AdaptiveGate caps the jobs in flight per partition with an adaptive limit
// (dispatch_policy's :adaptive_concurrency): each partition has an aimd limiter, fed the
// queue lag (admitted → started) and outcome of every job that completes. A partition
// admits up to its free slots, stopping at the first job that does not fit; a partition
// with nothing in flight admits at least Initial jobs (the seed's safety valve, evaluated
// once per tick). Reverted and reaped jobs give their slot back without an observation.
type AdaptiveGate[C any] struct {
	gateBase[C]
	lim      *aimd.Keyed[string]
	inflight []int // by slot
	toks     []aimd.Token
	out      []Candidate[C]
	commit   grouper[C]
}

// Adaptive returns an adaptive gate whose partitions use cfg (see aimd.Config). It returns
// an error, naming the field and the value, if cfg is invalid.
func Adaptive[C any](cfg aimd.Config, opts ...Option[C]) (*AdaptiveGate[C], error) {
	lim, err := aimd.NewKeyed(func(string) aimd.Config { return cfg }, aimd.KeyedConfig{})
	if err != nil {
		return nil, err
	}
	if _, err := aimd.New(cfg); err != nil {
		return nil, err
	}
	g := &AdaptiveGate[C]{lim: lim}
	g.holder = true
	g.apply("adaptive", opts)
	return g, nil
}

func (g *AdaptiveGate[C]) Filter(now time.Time, batch []Candidate[C]) []Candidate[C] {
	g.grp.group(batch, &g.gateBase)
	g.inflight = grow(g.inflight, g.slots.len())
	out := g.out[:0]
	part := !g.own()
	for gi, s := range g.grp.slots {
		jobs := g.grp.jobs(gi)
		k := g.groupKey(s, &jobs[0])
		n := min(g.lim.Available(now, k), len(jobs)) // break at the first that does not fit
		for _, c := range jobs[:n] {
			c.record(k, part)
			out = append(out, c)
		}
	}
	g.out = out
	return out
}

// Commit takes the admitted jobs' slots, one AcquireUpTo per partition so that the safety
// valve is evaluated once for the tick's batch, as in the seed. It reuses its buffers.
func (g *AdaptiveGate[C]) Commit(now time.Time, admitted []Candidate[C]) {
	g.commit.group(admitted, &g.gateBase)
	g.inflight = grow(g.inflight, g.slots.len()) // (a PartitionBy that changes its mind)
	for gi, s := range g.commit.slots {
		jobs := g.commit.jobs(gi)
		k := g.slots.key(s)
		var err error
		g.toks, err = g.lim.AcquireUpTo(now, k, len(jobs), g.toks[:0])
		if got := len(g.toks); err != nil || got != len(jobs) {
			g.fail(fmt.Errorf("partition %q: acquired %d of %d slots (%v)", k, got, len(jobs), err))
		}
		for j, tok := range g.toks {
			h := g.hold(jobs[j].n)
			h.slot, h.tok, h.ok = s, tok, true
			g.inflight[s]++
		}
	}
	clear(g.toks) // tokens live in the job records now
}

func (g *AdaptiveGate[C]) endTick() { sweep(&g.slots, g.inflight) }

func (g *AdaptiveGate[C]) Release(now time.Time, c Candidate[C], e End) {
	g.releaseJob(now, c.n, e)
}

func (g *AdaptiveGate[C]) releaseJob(now time.Time, n *node[C], e End) {
	h := g.hold(n)
	if !h.ok {
		return
	}
	h.ok = false
	var err error
	if e.Kind == Completed {
		err = g.lim.Release(now, h.tok, aimd.Sample{Lag: e.QueueLag, Latency: e.Service, Failed: e.Failed})
	} else {
		err = g.lim.Cancel(now, h.tok)
	}
	if err != nil {
		g.fail(fmt.Errorf("releasing job %q: %w", n.job.ID, err))
	}
	if n := g.inflight[h.slot]; n > 1 {
		g.inflight[h.slot] = n - 1
	} else {
		g.inflight[h.slot] = 0
		if g.own() {
			g.slots.release(h.slot)
		}
	}
}

// Limit returns partition key's current adaptive limit.
func (g *AdaptiveGate[C]) Limit(key string) int { return g.lim.Limit(key) }

// Available returns partition key's free slots at now, with the safety valve.
func (g *AdaptiveGate[C]) Available(now time.Time, key string) int { return g.lim.Available(now, key) }

// partitionStats lists every partition the gate has seen, idle ones included, with its
// current limit and EWMA (with its own PartitionBy, the partitions with jobs in flight: it
// forgets the others' keys; Limit still answers for any key).
func (g *AdaptiveGate[C]) partitionStats(now time.Time, dst []GatePartitionStats, byKey []int32) []GatePartitionStats {
	add := func(s int32) {
		if sk := g.slots.keys[s]; sk.used {
			st, _ := g.lim.Stats(sk.key)
			dst = append(dst, GatePartitionStats{Key: sk.key, InFlight: st.InFlight, Limit: st.Limit, EWMA: st.Ewma})
		}
	}
	if g.own() {
		for s := range g.slots.keys {
			add(int32(s))
		}
	} else {
		for _, s := range byKey {
			if int(s) < len(g.slots.keys) {
				add(s)
			}
		}
	}
	return dst
}
