package sim

import (
	"hash/fnv"
	"math/rand/v2"
)

// Stream returns the random stream for one purpose of one replication: a PCG seeded from
// (seed, replication, name). Streams are independent of each other and of the order in
// which they are created, so adding a tenant (a new name) does not shift the draws of any
// other stream, and replication r of a sweep point uses the same draws at every point
// (common random numbers).
//
// Names used by the model: "arrivals/<tenant>", "service/<tenant>", "failure/<tenant>",
// "strategy", "strategy-fallback" and "crash".
func Stream(seed uint64, replication int, name string) *rand.Rand {
	pcg := streamPCG(seed, replication, name)
	return rand.New(&pcg)
}

// streamPCG is Stream's generator, by value, for callers that keep it next to its user.
func streamPCG(seed uint64, replication int, name string) rand.PCG {
	h := fnv.New64a()
	h.Write([]byte(name))
	n := h.Sum64()
	return *rand.NewPCG(splitmix(seed^splitmix(n)), splitmix(uint64(replication)^n^0x9e3779b97f4a7c15))
}

// stream is a random stream stored by value: a PCG and the Rand that draws from it. Its
// address must not change once init has run (the Rand points into it).
type stream struct {
	pcg rand.PCG
	r   rand.Rand
}

func (s *stream) init(seed uint64, replication int, name string) *rand.Rand {
	s.pcg = streamPCG(seed, replication, name)
	s.r = *rand.New(&s.pcg)
	return &s.r
}

// splitmix is the SplitMix64 finaliser: it spreads nearby inputs (seeds 1, 2, 3…) over the
// whole 64-bit space before they seed a PCG.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
