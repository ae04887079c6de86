package strategy

import (
	"fmt"
	"math"
	"time"
)

// OverrunMode selects which of wpool's two overrun schedules an [Overrun] follows. wpool's
// documentation and its code disagree, and neither is wrong for everyone.
type OverrunMode int

const (
	// OverrunDocumented is the schedule wpool documents: with no limit on warnings they
	// back off exponentially (W, 2W, 4W, 8W, ...); with a limit of M they are equally
	// spaced (W, 2W, ..., (M-1)W) and the task is killed at M·W ("overrun_warning = 1000,
	// max_overrun_warnings = 5 → killed after 5 s"). It is the default.
	OverrunDocumented OverrunMode = iota
	// OverrunAsCoded is the schedule wpool's code has followed since 2018 (commit 2c797c1
	// "Kill an overran worker"), the reverse: with no limit, warnings are equally spaced
	// at W, 2W, 3W, ..., each reporting a runtime of W; with a limit of M they double, at
	// W, 2W, 4W, ..., each reporting the elapsed time, and the kill comes at W·2^(M-1)
	// (W = 1 s, M = 5: killed after 16 s). Like wpool's Erlang timers it stops checking,
	// for good, when the next runtime would exceed 2^32-1 ms (about 49.7 days), so a
	// bounded task whose kill would come later is never killed.
	OverrunAsCoded
)

// String returns "documented", "as-coded" or "OverrunMode(n)".
func (m OverrunMode) String() string {
	switch m {
	case OverrunDocumented:
		return "documented"
	case OverrunAsCoded:
		return "as-coded"
	}
	return fmt.Sprintf("OverrunMode(%d)", int(m))
}

// maxErlangTimer is the longest Erlang timer, 2^32-1 ms.
const maxErlangTimer = time.Duration(math.MaxUint32) * time.Millisecond

// OverrunConfig configures wpool's overrun warnings for long-running tasks.
type OverrunConfig struct {
	// Warning is wpool's overrun_warning: the runtime after which a task is first reported
	// as overrunning. It must be > 0 (wpool's infinity, no warnings, is simply not using
	// an Overrun) and, in OverrunAsCoded mode, at most 2^32-1 ms, the longest timer wpool
	// can set.
	Warning time.Duration
	// MaxWarnings is wpool's max_overrun_warnings: the check that kills the task, counting
	// the warnings before it, so 1 kills at the first check without a warning. 0 means
	// unlimited (wpool's infinity, its default): never kill. It must be >= 0.
	MaxWarnings int
	// Mode selects the documented schedule (the default) or the one wpool's code follows.
	Mode OverrunMode
}

// Validate reports why c cannot be used, or nil. In OverrunDocumented mode with a limit,
// the kill time Warning·MaxWarnings must fit in a time.Duration (about 292 years).
func (c OverrunConfig) Validate() error {
	switch {
	case c.Warning <= 0:
		return fmt.Errorf("strategy: Overrun Warning must be > 0, got %v", c.Warning)
	case c.MaxWarnings < 0:
		return fmt.Errorf("strategy: Overrun MaxWarnings must be >= 0 (0 is unlimited), got %d", c.MaxWarnings)
	case c.Mode != OverrunDocumented && c.Mode != OverrunAsCoded:
		return fmt.Errorf("strategy: Overrun Mode must be OverrunDocumented or OverrunAsCoded, got %v", c.Mode)
	case c.Mode == OverrunAsCoded && c.Warning > maxErlangTimer:
		return fmt.Errorf("strategy: Overrun Warning must be <= 2^32-1 ms in as-coded mode, got %v", c.Warning)
	case c.Mode == OverrunDocumented && c.MaxWarnings > 0 && int64(c.Warning) > math.MaxInt64/int64(c.MaxWarnings):
		return fmt.Errorf("strategy: Overrun Warning×MaxWarnings must fit in a time.Duration, got %v×%d", c.Warning, c.MaxWarnings)
	}
	return nil
}

// OverrunCheck is one check of a running task. At is the time since the task started.
// Runtime is the runtime wpool reports with the alert: the elapsed time, except in
// OverrunAsCoded mode without a limit, where wpool reports Warning every time. Kill
// reports whether this check kills the task (wpool's max_overrun_limit alert) rather
// than warning (its overrun alert); a kill is always the last check.
type OverrunCheck struct {
	At      time.Duration
	Runtime time.Duration
	Kill    bool
}

// Overrun is the schedule of overrun warnings and the kill for a task, as a pure function
// of the check number: wpool's time checker without its timers. A task that finishes
// before a check's At never sees it.
//
// Concurrency: an Overrun is an immutable value, safe for concurrent use.
type Overrun struct {
	c OverrunConfig
}

// NewOverrun validates c and returns its schedule.
func NewOverrun(c OverrunConfig) (Overrun, error) {
	if err := c.Validate(); err != nil {
		return Overrun{}, err
	}
	return Overrun{c: c}, nil
}

// Config returns the configuration of the schedule.
func (o Overrun) Config() OverrunConfig { return o.c }

// Check returns check k (from 0) and true, or false if the schedule has no check k: it
// ended with a kill, or it stopped because the next check would overflow (in as-coded
// mode, wpool's timer limit; in documented mode with no limit, a time.Duration, about 292
// years).
func (o Overrun) Check(k int) (OverrunCheck, bool) {
	w, m := o.c.Warning, o.c.MaxWarnings
	if k < 0 || w <= 0 || (m > 0 && k >= m) {
		return OverrunCheck{}, false
	}
	kill := m > 0 && k == m-1
	equal := (o.c.Mode == OverrunDocumented) == (m > 0)
	if equal {
		// (k+1)·W. In documented mode M·W fits (Validate); in as-coded mode the runtime
		// reported stays W and the checks go on until (k+1)·W overflows.
		if int64(k) >= math.MaxInt64/int64(w) {
			return OverrunCheck{}, false
		}
		at := time.Duration(k+1) * w
		if o.c.Mode == OverrunAsCoded {
			return OverrunCheck{At: at, Runtime: w, Kill: kill}, true
		}
		return OverrunCheck{At: at, Runtime: at, Kill: kill}, true
	}
	// Doubling: W·2^k.
	limit := time.Duration(math.MaxInt64)
	if o.c.Mode == OverrunAsCoded {
		limit = maxErlangTimer // wpool does not set a timer past 2^32-1 ms
	}
	if k >= 63 || w > limit>>k {
		return OverrunCheck{}, false
	}
	at := w << k
	return OverrunCheck{At: at, Runtime: at, Kill: kill}, true
}

// Checks appends to dst every check with At <= until, in order, and returns the extended
// slice.
func (o Overrun) Checks(dst []OverrunCheck, until time.Duration) []OverrunCheck {
	for k := 0; ; k++ {
		c, ok := o.Check(k)
		if !ok || c.At > until {
			return dst
		}
		dst = append(dst, c)
	}
}

// KillAt returns when the task is killed, and false if it never is (no limit, or, in
// as-coded mode, the checks stop first).
func (o Overrun) KillAt() (time.Duration, bool) {
	if o.c.MaxWarnings <= 0 {
		return 0, false
	}
	c, ok := o.Check(o.c.MaxWarnings - 1)
	return c.At, ok
}
