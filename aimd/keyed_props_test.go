package aimd_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/dispatchlab/dispatchlab/aimd"
)

// kmodel is the reference model of a Keyed limiter: per key, the reference AIMD and the
// tokens in flight (the conservation law is that Keyed's in-flight count equals their
// number), plus whether the partition is stored and when it was last used.
type kmodel struct {
	cfg   map[string]aimd.Config
	parts map[string]*kpart
}

type kpart struct {
	r      *ref
	stored bool
	out    []held
	last   time.Time
}

type held struct {
	key      string
	tok      aimd.Token
	inFlight int
	at       time.Time
}

func (m *kmodel) part(key string) *kpart {
	p := m.parts[key]
	if p == nil {
		p = &kpart{r: newRef(m.cfg[key])}
		m.parts[key] = p
	}
	return p
}

func (p *kpart) touch(now time.Time) {
	if now.After(p.last) {
		p.last = now
	}
}

// checkKeyed verifies every key of the model against the Keyed: in-flight conservation,
// the limit, EWMA, sample count and Available of the reference AIMD, and the stored count.
func checkKeyed(k *aimd.Keyed[string], m *kmodel) string {
	stored := 0
	for key := range m.cfg {
		p := m.part(key)
		st, ok := k.Stats(key)
		if ok != p.stored {
			return fmt.Sprintf("key %s: stored %v, model %v", key, ok, p.stored)
		}
		if ok {
			stored++
		}
		want := aimd.Stats{
			Limit:     p.r.limit,
			InFlight:  len(p.out),
			Available: p.r.available(len(p.out)),
			Ewma:      time.Duration(math.Round(p.r.ewma * 1e6)),
			Samples:   p.r.samples,
		}
		if st != want {
			return fmt.Sprintf("key %s: Stats %+v, model %+v", key, st, want)
		}
		if st.InFlight < 0 {
			return fmt.Sprintf("key %s: negative in-flight %d", key, st.InFlight)
		}
		if k.InFlight(key) != want.InFlight || k.Limit(key) != want.Limit || k.Available(base, key) != want.Available {
			return fmt.Sprintf("key %s: accessors disagree with Stats %+v", key, want)
		}
	}
	if k.Len() != stored {
		return fmt.Sprintf("Len %d, model %d", k.Len(), stored)
	}
	return ""
}

type kop int

const (
	kAcquire kop = iota
	kAcquireUpTo
	kRelease
	kCancel
	kDouble
	kPrune
	kExpire
)

// Prune modes of a replayed history. The op stream is drawn identically in every mode.
const (
	pruneNone    = iota // Prune ops do nothing
	prunePartial        // Prune(0..3): which fresh partitions go depends on hash order
	pruneFull           // Prune(all): the model predicts exactly what goes
)

// runOpts selects what a replayed history exercises.
type runOpts struct {
	prune     int       // a prune mode
	expire    bool      // issue Expire ops
	monotone  bool      // no steps back in time
	decisions *[]string // if not nil, collects each decision for comparing runs
}

// keyedRun replays a seeded random history on k and on the model and reports the first
// divergence.
func keyedRun(seed uint64, k *aimd.Keyed[string], m *kmodel, keys []string, o runOpts) string {
	prune, expire, decisions := o.prune, o.expire, o.decisions
	r := rand.New(rand.NewPCG(seed, 20))
	var out, released []held
	now := time.Duration(0)
	for i := range 300 {
		switch x := r.IntN(20); {
		case x == 0:
			if back := time.Duration(r.Int64N(int64(time.Second))); !o.monotone {
				now -= back // back in time
			}
		case x < 5:
		default:
			now += time.Duration(r.Int64N(int64(200 * time.Millisecond)))
		}
		t := at(now)
		op := kop(r.IntN(7))
		key := keys[r.IntN(len(keys))]
		var got string
		fail := func(format string, a ...any) string {
			return fmt.Sprintf("step %d op %d key %s: %s", i, op, key, fmt.Sprintf(format, a...))
		}
		switch op {
		case kAcquire, kAcquireUpTo:
			p := m.part(key)
			n := 1
			if op == kAcquireUpTo {
				n = r.IntN(12) - 1
			}
			free := p.r.available(len(p.out))
			want := max(min(n, free), 0)
			var toks []aimd.Token
			if op == kAcquire {
				if tok, ok := k.Acquire(t, key); ok {
					toks = append(toks, tok)
				}
			} else {
				var err error
				if toks, err = k.AcquireUpTo(t, key, n, nil); err != nil {
					return fail("AcquireUpTo: %v", err)
				}
			}
			if len(toks) != want {
				return fail("granted %d of %d, model %d (free %d)", len(toks), n, want, free)
			}
			for _, tok := range toks {
				h := held{key: key, tok: tok, inFlight: len(p.out) + 1, at: t}
				p.out = append(p.out, h)
				out = append(out, h)
				p.stored = true
				p.touch(t)
			}
			got = strconv.Itoa(len(toks))
		case kRelease, kCancel:
			if len(out) == 0 {
				continue
			}
			j := r.IntN(len(out))
			h := out[j]
			out = append(out[:j], out[j+1:]...)
			key = h.key
			p := m.part(key)
			for q := range p.out {
				if p.out[q].tok == h.tok {
					p.out = append(p.out[:q], p.out[q+1:]...)
					break
				}
			}
			released = append(released, h)
			if op == kCancel {
				if err := k.Cancel(t, h.tok); err != nil {
					return fail("Cancel: %v", err)
				}
				p.touch(t)
				got = "cancel"
				break
			}
			c := m.cfg[key]
			s := aimd.Sample{Failed: r.IntN(8) == 0, InFlight: -1}
			switch r.IntN(3) {
			case 0:
				s.Lag = time.Duration(r.Int64N(int64(3 * c.TargetLag)))
			case 1:
				s.Lag = time.Duration(r.Int64N(int64(c.TargetLag)))
			}
			if r.IntN(2) == 0 {
				s.Latency = time.Duration(r.Int64N(int64(2 * time.Second)))
			}
			if err := k.Release(t, h.tok, s); err != nil {
				return fail("Release: %v", err)
			}
			s.InFlight = h.inFlight
			if s.Latency == 0 {
				s.Latency = max(t.Sub(h.at), 0)
			}
			p.r.observe(s)
			p.touch(t)
			got = "release"
		case kDouble:
			if len(released) == 0 {
				continue
			}
			h := released[r.IntN(len(released))]
			var err error
			if r.IntN(2) == 0 {
				err = k.Release(t, h.tok, aimd.Sample{})
			} else {
				err = k.Cancel(t, h.tok)
			}
			if !errors.Is(err, aimd.ErrDoubleRelease) {
				return fail("second release of a token: %v, want ErrDoubleRelease", err)
			}
			got = "double"
		case kPrune:
			scan := r.IntN(4)
			switch prune {
			case pruneNone:
				continue
			case pruneFull:
				scan = math.MaxInt
			}
			n := k.Prune(scan)
			want := 0
			for key, p := range m.parts {
				if !p.stored || len(p.out) != 0 || p.r.samples != 0 {
					continue // must survive: checkKeyed checks it is still stored
				}
				stored := false
				if prune == prunePartial {
					_, stored = k.Stats(key) // the hash order decides
				}
				if !stored {
					delete(m.parts, key) // pruned: a new partition next time
					want++
				}
			}
			if n != want {
				return fail("Prune removed %d, model %d", n, want)
			}
			if msg := checkKeyed(k, m); msg != "" {
				return fail("after Prune: %s", msg)
			}
			continue // lossless: no decision to record
		case kExpire:
			idle := time.Duration(r.Int64N(int64(2 * time.Second)))
			if !expire {
				continue
			}
			want := 0
			for key, p := range m.parts {
				if p.stored && len(p.out) == 0 && t.Sub(p.last) >= idle {
					delete(m.parts, key) // forgotten: a new partition next time
					want++
				}
			}
			if n := k.Expire(t, idle); n != want {
				return fail("Expire removed %d, model %d", n, want)
			}
			got = "expire" // its count differs by what Prune removed earlier
		}
		if decisions != nil {
			*decisions = append(*decisions, got)
		}
		if msg := checkKeyed(k, m); msg != "" {
			return fail("%s", msg)
		}
	}
	return ""
}

func genKeyed(seed uint64, shards int) (*aimd.Keyed[string], *kmodel, []string) {
	r := rand.New(rand.NewPCG(seed, 21))
	keys := make([]string, 1+r.IntN(5))
	cfg := map[string]aimd.Config{}
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
		c := genConfig(r)
		c.Initial = 1 + r.IntN(6) // small limits: the limit is reached often
		c.Min = min(c.Min, c.Initial)
		if c.Max != 0 {
			c.Max = c.Initial + r.IntN(5)
		}
		c.TargetLag = time.Duration(1+r.IntN(500)) * time.Millisecond
		cfg[keys[i]] = c
	}
	k, err := aimd.NewKeyed(func(key string) aimd.Config { return cfg[key] }, aimd.KeyedConfig{Shards: shards})
	if err != nil {
		panic(err)
	}
	return k, &kmodel{cfg: cfg, parts: map[string]*kpart{}}, keys
}

// TestKeyedMatchesModel: under random acquire / release / cancel / double-release /
// prune / expire histories, every decision, in-flight count, limit, EWMA and Available
// equals the model's; in-flight counts are conserved and never negative; double releases
// are refused.
func TestKeyedMatchesModel(t *testing.T) {
	forAll(t, "Keyed equals the model, in-flight conserved", *trials/4, func(seed uint64) string {
		k, m, keys := genKeyed(seed, 1<<(seed%4))
		return keyedRun(seed, k, m, keys, runOpts{prune: pruneFull, expire: true})
	})
}

// TestKeyedPruneTransparent: the same history with and without partial Prunes makes the
// same decisions, and both match the model. Expire takes part when times do not go
// backwards (a pruned partition's idle time restarts at its next use, which is earlier
// than its last use only when the clock went backwards).
func TestKeyedPruneTransparent(t *testing.T) {
	forAll(t, "decisions are identical with and without Prune", *trials/4, func(seed uint64) string {
		var with, without []string
		mono := seed%2 == 0
		k, m, keys := genKeyed(seed, 1<<(seed%3))
		if msg := keyedRun(seed, k, m, keys, runOpts{prune: prunePartial, expire: mono, monotone: mono, decisions: &with}); msg != "" {
			return "with Prune: " + msg
		}
		k, m, keys = genKeyed(seed, 1<<(seed%3))
		if msg := keyedRun(seed, k, m, keys, runOpts{prune: pruneNone, expire: mono, monotone: mono, decisions: &without}); msg != "" {
			return "without Prune: " + msg
		}
		if fmt.Sprint(with) != fmt.Sprint(without) {
			return fmt.Sprintf("decisions differ:\n%v\n%v", with, without)
		}
		return ""
	})
}
