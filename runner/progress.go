package runner

import (
	"sync"
	"time"

	"github.com/meshcheck/meshcheck/judge"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// liveEvery is how often a probe snapshots its state for Options.Progress;
// the renderer throttles its redraws on the snapshots' times.
const liveEvery = 100 * time.Millisecond

// progress follows one probe for Options.Progress: loadgen's snapshots of
// the judged requests (OnProgress), and the settle phase, which it counts
// from the records (OnRecord) since loadgen's snapshots only cover the
// judged requests. loadgen calls both from the goroutine that folds the
// results; the lock keeps that an implementation detail.
type progress struct {
	fn   func(report.Progress)
	base report.Progress // names, index and total

	mu          sync.Mutex
	start       time.Time // when the probe's first request was sent
	settle      int64     // settle records so far
	first, last time.Time // send times of the first and last settle record
	judging     bool      // a judged record came
}

// record counts r's phase: settle records until the first judged one.
func (p *progress) record(r loadgen.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		p.start = r.Time
	}
	switch r.Phase {
	case loadgen.PhaseSettle:
		p.settle++
		if p.first.IsZero() {
			p.first = r.Time
		}
		p.last = r.Time
	case loadgen.PhaseJudged:
		p.judging = true
	}
}

// rate is the settle phase's achieved send rate so far.
func (p *progress) rate() float64 {
	if p.settle < 2 || !p.last.After(p.first) {
		return 0
	}
	return float64(p.settle-1) / p.last.Sub(p.first).Seconds()
}

// tick passes on loadgen's snapshot: the settle phase's counts while it
// lasts, then the judged requests and the verdict's lines.
func (p *progress) tick(s judge.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.judging {
		p.emit(report.ProgressSettling, 0, p.rate(), verify.Result{})
		return
	}
	p.emit(report.ProgressJudging, s.Requests, s.Rate, s.Result)
}

// done announces the probe's end with its final result.
func (p *progress) done(res verify.Result, stats loadgen.Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emit(report.ProgressDone, stats.Requests, stats.RateAchieved, res)
}

func (p *progress) emit(state report.ProgressState, requests int64, rate float64, res verify.Result) {
	ev := p.base
	ev.Time = time.Now()
	ev.State, ev.SettleRequests, ev.Requests, ev.Rate, ev.Result = state, p.settle, requests, rate, res
	if !p.start.IsZero() {
		ev.Elapsed = ev.Time.Sub(p.start)
	}
	p.fn(ev)
}
