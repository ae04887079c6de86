package main

import (
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a progress bar on stderr that appears only for work that lasts more than a
// second, and never when stderr is not a terminal, when CI is set, or with --quiet.
type progress struct {
	mu    sync.Mutex
	env   environment
	total int
	done  int
	label string
	start time.Time
	bar   *progressbar.ProgressBar
	off   bool
}

func newProgress(env environment, total int, label string, quiet bool) *progress {
	off := quiet || env.getenv("CI") != "" || env.isTerminal == nil || !env.isTerminal()
	p := &progress{env: env, total: total, label: label, off: off}
	if !off {
		p.start = env.now()
	}
	return p
}

func (p *progress) add(n int) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.bar == nil {
		if p.env.now().Sub(p.start) < time.Second {
			return
		}
		p.bar = progressbar.NewOptions(p.total,
			progressbar.OptionSetWriter(p.env.stderr),
			progressbar.OptionSetDescription(p.label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond))
		_ = p.bar.Set(p.done - n)
	}
	_ = p.bar.Add(n)
}

func (p *progress) finish() {
	if p.off || p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Finish()
}
