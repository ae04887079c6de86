package sim

import "math/bits"

// idleSet is the set of idle active workers, for the central queue's "lowest-numbered idle
// worker" rule: O(1) add and remove, and first in O(n/4096) words, so that a pool of a
// million workers does not scan every worker per job. A summary bit marks each non-empty
// word of the set.
type idleSet struct {
	words   []uint64
	summary []uint64
	n       int
}

func newIdleSet(n int) idleSet {
	w := (n + 63) / 64
	return idleSet{words: make([]uint64, w), summary: make([]uint64, (w+63)/64)}
}

func (s *idleSet) add(i int32) {
	w := i / 64
	if s.words[w]&(1<<(i%64)) == 0 {
		s.words[w] |= 1 << (i % 64)
		s.summary[w/64] |= 1 << (w % 64)
		s.n++
	}
}

func (s *idleSet) remove(i int32) {
	w := i / 64
	if s.words[w]&(1<<(i%64)) != 0 {
		s.words[w] &^= 1 << (i % 64)
		if s.words[w] == 0 {
			s.summary[w/64] &^= 1 << (w % 64)
		}
		s.n--
	}
}

// first returns the lowest member.
func (s *idleSet) first() (int32, bool) {
	if s.n == 0 {
		return 0, false
	}
	for k, sw := range s.summary {
		if sw != 0 {
			w := k*64 + bits.TrailingZeros64(sw)
			return int32(w*64 + bits.TrailingZeros64(s.words[w])), true
		}
	}
	return 0, false
}
