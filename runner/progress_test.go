package runner

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestRunProgress follows two probes through Options.Progress: each goes
// from settling to judging to one done, in order; judged snapshots carry
// the verdict's lines; done comes before the probe's report is printed and
// carries what the report says.
func TestRunProgress(t *testing.T) {
	f := &fakeEnv{url: split75(t).URL}
	var scenarios []*scenario.Scenario
	for range 2 {
		s := loadScenario(t)
		s.Steps = s.Steps[:1]
		scenarios = append(scenarios, s)
	}
	var (
		out    bytes.Buffer
		mu     sync.Mutex
		events []report.Progress
		early  []string // reports printed before their probe's done
	)
	progress := func(p report.Progress) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, p)
		if p.State == report.ProgressDone {
			// Called from Run's goroutine, which alone writes out.
			if n := strings.Count(out.String(), "probe echo / split-75-25 / ingress"); n >= p.Index {
				early = append(early, p.Probe)
			}
		}
	}
	run, err := Run(context.Background(), f, scenarios, Options{Out: &out, Rate: 2000, MaxRequests: 6000, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if len(early) > 0 {
		t.Errorf("reports printed before their probe's done event: %v", early)
	}
	rank := map[report.ProgressState]int{report.ProgressSettling: 0, report.ProgressJudging: 1, report.ProgressDone: 2}
	index, state, judged := 1, report.ProgressSettling, 0
	var done []report.Progress
	for i, e := range events {
		if e.Total != 2 || e.Scenario != "echo" || e.Step != "split-75-25" || e.Probe != "ingress" {
			t.Fatalf("event %d names %+v", i, e)
		}
		switch {
		case state == report.ProgressDone && e.Index == index:
			t.Fatalf("event %d: probe %d %s after its done", i, e.Index, e.State)
		case e.Index == index && rank[e.State] >= rank[state]:
		case e.Index == index+1 && state == report.ProgressDone:
			index = e.Index
		default:
			t.Fatalf("event %d: probe %d %s after probe %d %s", i, e.Index, e.State, index, state)
		}
		state = e.State
		switch e.State {
		case report.ProgressJudging:
			judged++
			if e.SettleRequests == 0 || (e.Requests > 0 && len(e.Result.Lines) == 0) {
				t.Errorf("judging snapshot %+v", e)
			}
		case report.ProgressDone:
			done = append(done, e)
		}
	}
	if len(done) != 2 || judged == 0 {
		t.Fatalf("%d done events and %d judging snapshots in %d events, want 2 and some", len(done), judged, len(events))
	}
	for i, d := range done {
		p := run.Probes[i]
		if d.Requests != p.Stats.Requests || d.SettleRequests != p.Stats.Settle.Requests || d.Result.Verdict != p.Result.Verdict {
			t.Errorf("probe %d done %+v; the report says %d requests, %d settle, %v", i+1, d, p.Stats.Requests, p.Stats.Settle.Requests, p.Result.Verdict)
		}
	}
}
