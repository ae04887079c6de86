package main

import (
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a progress bar on stderr that appears only for work that lasts more than a
// second, and never when stderr is not a terminal, when CI is set, or with --quiet. It counts
// finished runs; between them a ticker redraws it, so that a single long run still shows its
// elapsed time instead of a silent terminal.
type progress struct {
	mu    sync.Mutex
	env   environment
	total int
	done  int
	label string
	start time.Time
	bar   *progressbar.ProgressBar
	off   bool
	stop  chan struct{}
	wg    sync.WaitGroup
}

// redraw is how often the ticker redraws the bar between finished runs.
const redraw = 250 * time.Millisecond

func newProgress(env environment, total int, label string, quiet bool) *progress {
	off := quiet || total < 1 || env.getenv("CI") != "" || env.isTerminal == nil || !env.isTerminal()
	p := &progress{env: env, total: total, label: label, off: off}
	if off {
		return p
	}
	p.start = env.now()
	stop := make(chan struct{})
	p.stop = stop
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(redraw)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.show() {
					_ = p.bar.Add(0)
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// show creates the bar once the work has lasted a second, and reports whether it exists.
// p.mu must be held.
func (p *progress) show() bool {
	if p.bar != nil {
		return true
	}
	if p.env.now().Sub(p.start) < time.Second {
		return false
	}
	p.bar = progressbar.NewOptions(p.total,
		progressbar.OptionSetWriter(p.env.stderr),
		progressbar.OptionSetDescription(p.label),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond))
	_ = p.bar.Set(p.done)
	_ = p.bar.RenderBlank()
	return true
}

// add counts n finished runs.
func (p *progress) add(n int) {
	if p.off {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.bar != nil {
		_ = p.bar.Add(n)
		return
	}
	p.show()
}

// finish stops the ticker and clears the bar.
func (p *progress) finish() {
	if p.off {
		return
	}
	p.mu.Lock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
