package strategy

// JumpHash returns the bucket in [0, n) of key under Lamping and Veach's jump consistent
// hash ("A Fast, Minimal Memory, Consistent Hash Algorithm", 2014), bit for bit the
// published algorithm: the same answers as the paper's C++ code, Guava's
// Hashing.consistentHash and github.com/dgryski/go-jump for every key and every n they
// accept (go-jump truncates buckets to int32; JumpHash does not). It returns -1 if n <= 0,
// as go-jump does.
//
// When n grows to n+1, a key either keeps its bucket or moves to the new bucket n, which
// happens with probability 1/(n+1); when n shrinks to m, the keys in buckets below m stay.
// Buckets can only be added or removed at the end: see [Rendezvous] for arbitrary removal.
//
// Cost: expected O(ln n) steps, no memory. key should already be well mixed (a hash of the
// job's identity, see [StringKey]); small consecutive integers work but are not ideal.
func JumpHash(key uint64, n int) int {
	if n >= 1<<32 {
		return jumpLarge(key, n)
	}
	// Below 2^32 buckets, b+1 < 2^32 and f < 2^32·2^31 = 2^63, so int64(f) is defined
	// and this is go-jump's loop exactly.
	b, j := int64(-1), int64(0)
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// jumpLarge is JumpHash for n >= 2^32, where f can reach 2^63.
func jumpLarge(key uint64, n int) int {
	b, j := int64(-1), int64(0)
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		f := float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1))
		// int64(f) is undefined in Go beyond 2^63, where go-jump's conversion would be;
		// such an f is past every n, so stop there instead. For every other f this is the
		// same test.
		if f >= 1<<63 {
			break
		}
		j = int64(f)
	}
	return int(b)
}

// Hash maps a job's key to a worker with [JumpHash]: the same key always gets the same
// worker while the pool keeps its size, and growing the pool from n to n+1 workers moves
// only the keys that the new worker takes, 1/(n+1) of them; shrinking it moves only the
// keys of the removed workers. It replaces wpool's hash_worker, whose phash2(Key, N)
// reduces by modulus and remaps almost every key on a resize. The zero Hash is ready to
// use.
//
// Cost: expected O(ln n), about 50 ns at n = 1024; no memory. Concurrency: Hash has no
// state and is safe for concurrent use.
type Hash struct{}

// Pick returns JumpHash(key, p.Len()), or ErrNoWorkers.
func (Hash) Pick(p Pool, key uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	return JumpHash(key, n), nil
}

// Allows reports whether i is key's worker.
func (Hash) Allows(p Pool, key uint64, i int) bool {
	n := p.Len()
	return n > 0 && i == JumpHash(key, n)
}

// ConcurrentSafe reports true.
func (Hash) ConcurrentSafe() bool { return true }

// IDPool is an optional interface for pools whose workers have stable identities that
// survive the removal of other workers. ID(i) is worker i's identity; identities must be
// distinct.
type IDPool interface {
	Pool
	ID(i int) uint64
}

// Rendezvous is highest-random-weight hashing (Thaler and Ravishankar, 1996): each worker
// scores the key with a hash of (key, worker identity) and the highest score wins. When a
// worker is removed, only its keys move, each to the worker that scored second for it;
// when a worker is added, it takes exactly the keys it now wins. This suits pools whose
// members leave in any order, which [Hash] does not.
//
// A worker's identity is ID(i) if the pool implements [IDPool], and else its index i; with
// indices, removing a worker from the middle renumbers the workers after it, and their
// keys move too, so give pools that lose arbitrary members stable identities. The score
// is a fixed 64-bit mix (splitmix64's finaliser) of the key and the identity, stable across
// processes and versions of this package; it is not compatible with other rendezvous
// libraries. Ties (probability about n²/2^65) go to the lower index.
//
// Cost: O(n) scores of a few nanoseconds each. Concurrency: no state; safe for concurrent
// use. The zero Rendezvous is ready to use.
type Rendezvous struct{}

// Pick returns the worker with the highest score for key, or ErrNoWorkers.
func (Rendezvous) Pick(p Pool, key uint64) (int, error) {
	n := p.Len()
	if n <= 0 {
		return -1, ErrNoWorkers
	}
	return rendezvous(p, key, n), nil
}

func rendezvous(p Pool, key uint64, n int) int {
	k := mix64(key)
	best, bs := 0, uint64(0)
	if ids, ok := p.(IDPool); ok {
		for i := range n {
			if s := score(k, ids.ID(i)); i == 0 || s > bs {
				best, bs = i, s
			}
		}
		return best
	}
	for i := range n {
		if s := score(k, uint64(i)); i == 0 || s > bs {
			best, bs = i, s
		}
	}
	return best
}

// score returns the rendezvous score of the worker with identity id for the key whose
// mix64 is mixedKey (computed once per Pick).
func score(mixedKey, id uint64) uint64 {
	return mix64(mixedKey ^ mix64(id+0x9e3779b97f4a7c15))
}

// Allows reports whether i is the worker with the highest score for key.
func (Rendezvous) Allows(p Pool, key uint64, i int) bool {
	n := p.Len()
	return n > 0 && i == rendezvous(p, key, n)
}

// ConcurrentSafe reports true.
func (Rendezvous) ConcurrentSafe() bool { return true }

// mix64 is the finaliser of splitmix64 (Steele, Lea and Flood, 2014): a bijection on
// uint64 with full avalanche.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// StringKey returns the 64-bit FNV-1a hash of s, a stable, seedless key for [Hash] and
// [Rendezvous] (hash/maphash is seeded per process, so its keys move between runs).
func StringKey(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
