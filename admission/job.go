package admission

import (
	"errors"
	"time"
)

// JobID identifies a job within a Policy. IDs must be non-empty and unique among the jobs the
// policy holds (pending or admitted); a completed job's ID may be reused.
type JobID string

// Job is what a caller stages: an identity, ordering and grouping keys, and the caller's own
// per-job context C, which gates read (a tenant, a queue name, limits).
type Job[C any] struct {
	ID JobID
	// DedupeKey, if not empty, makes the job unique among pending and admitted jobs: staging
	// another job with the same key is dropped until this one completes. (dispatch_policy
	// treats the empty string as a key too; here it means "no dedupe".)
	DedupeKey string
	// RoundRobinKey, if not empty, enables the two-phase round-robin fetch for the job: each
	// tick takes up to Quantum jobs per key before topping up in priority order.
	RoundRobinKey string
	// Priority orders jobs: lower first by default (ActiveJob's convention and dispatch_policy
	// 0.1); Config.Order can reverse it. Equal priorities keep stage order.
	Priority int
	// NotBefore, if set, keeps the job invisible to ticks before that time.
	NotBefore time.Time
	// Context is the caller's data for the job; gates read it.
	Context C
}

// Admitted is a job a tick admitted, in the order the gates left it. Hand it to the real
// queue or worker, then report Start and Complete (or Revert if the hand-off failed).
type Admitted[C any] struct {
	ID            JobID
	Context       C
	Priority      int
	RoundRobinKey string
	// Partition is the policy-level partition (Config.PartitionBy) of the job.
	Partition    string
	StagedAt     time.Time
	AdmittedAt   time.Time
	LeaseExpires time.Time
}

// Errors returned, wrapped with the job ID, by the lifecycle methods. Use errors.Is.
var (
	ErrEmptyID     = errors.New("admission: job ID must not be empty")
	ErrDuplicateID = errors.New("admission: duplicate job ID")
	ErrUnknownJob  = errors.New("admission: unknown job (never staged, or already completed)")
	ErrNotAdmitted = errors.New("admission: job is pending, not admitted")
	ErrStarted     = errors.New("admission: job already started")
	ErrInvalidJob  = errors.New("admission: invalid job")
)

// EndKind says how an admitted job's hold on its gates ended.
type EndKind int

const (
	// Completed: Complete was called.
	Completed EndKind = iota
	// Reverted: Revert was called; the job is pending again.
	Reverted
	// Expired: its lease ran out and Reap completed it.
	Expired
)

func (k EndKind) String() string {
	switch k {
	case Completed:
		return "completed"
	case Reverted:
		return "reverted"
	case Expired:
		return "expired"
	}
	return "EndKind(?)"
}

// End describes the end of an admitted job's hold, as tracking gates see it.
type End struct {
	Kind EndKind
	// Failed reports that the job failed (Complete(now, id, true)).
	Failed bool
	// Started reports that Start was called; QueueLag is then admitted → started (for a
	// job completed without Start, admitted → completed).
	Started  bool
	QueueLag time.Duration
	// Service is started → completed (zero unless Started and Kind is Completed). Neither
	// span is negative: a clock that went backwards counts as no time passing.
	Service time.Duration
}
