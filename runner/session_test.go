package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
)

// TestSessionByHand drives a Session a call at a time, as the e2e suite
// does: the environment sees the calls Run makes, each probe's report is
// returned and added to the run's, and Finish completes the report.
func TestSessionByHand(t *testing.T) {
	f := &fakeEnv{url: split75(t).URL}
	s := loadScenario(t)
	s.Steps = s.Steps[:1]
	ss, err := NewSession(f, []*scenario.Scenario{s}, Options{Rate: testRate()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ss.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := ss.Apply(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	pp, err := ss.Prepare(ctx, s, 0, s.Steps[0].Probes[0])
	if err != nil {
		t.Fatal(err)
	}
	if pp.Scenario() != "echo" || pp.Step() != "split-75-25" || pp.Probe() != "ingress" {
		t.Errorf("prepared probe %s/%s/%s", pp.Scenario(), pp.Step(), pp.Probe())
	}
	if err := ss.WaitProgrammed(ctx, pp); err != nil {
		t.Fatal(err)
	}
	rp, err := ss.Probe(ctx, pp)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Result.Verdict != verify.Pass || rp.Scenario != "echo" || rp.Name != "ingress" {
		t.Errorf("probe report %s %v", rp.Title(), rp.Result.Verdict)
	}
	if so := ss.Report(); len(so.Probes) != 1 || so.Verdict != verify.Pass {
		t.Errorf("report so far: %d probes, %v", len(so.Probes), so.Verdict)
	}
	if err := ss.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := ss.Finish(nil)
	if err != nil || run.Verdict != verify.Pass || len(run.Probes) != 1 || run.Error != nil {
		t.Fatalf("Finish: %v, %v with %d probes, error %+v", err, run.Verdict, len(run.Probes), run.Error)
	}
	if got := strings.Join(f.calls, ", "); got != "setup, apply 0, teardown" {
		t.Errorf("calls: %s", got)
	}
	if _, err := ss.Finish(nil); err == nil {
		t.Error("a second Finish: no error")
	}
}

// TestSessionOrder: calls out of a run's order are input errors naming
// the scenario, and the environment sees none of them.
func TestSessionOrder(t *testing.T) {
	f := &fakeEnv{url: "http://127.0.0.1:1"}
	s, other := loadScenario(t), loadScenario(t)
	ss, err := NewSession(f, []*scenario.Scenario{s}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := s.Steps[0].Probes[0]
	check := func(what string, err error, want string) {
		t.Helper()
		var re *Error
		if !errors.As(err, &re) || re.Kind != InputError || re.Scenario != "echo" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want an input error of scenario echo saying %q", what, err, want)
		}
	}
	check("Setup of another scenario", ss.Setup(ctx, other), "not one of the session's")
	check("Apply before Setup", ss.Apply(ctx, s, 0), "apply before the scenario's setup")
	_, err = ss.Prepare(ctx, s, 0, p)
	check("Prepare before Setup", err, "before the scenario's setup")
	if err := ss.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	check("a second Setup", ss.Setup(ctx, s), "tear it down first")
	check("Apply of a step out of range", ss.Apply(ctx, s, 3), "steps 0 to 2")
	_, err = ss.Prepare(ctx, s, 0, p)
	check("Prepare before Apply", err, "before its step's apply")
	if err := ss.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, ", "); got != "setup, teardown" {
		t.Errorf("calls: %s", got)
	}
}

// TestNewSessionChecksOptions: options that cannot run fail NewSession
// with an input error.
func TestNewSessionChecksOptions(t *testing.T) {
	_, err := NewSession(&fakeEnv{}, nil, Options{Output: report.Format("yaml")})
	var re *Error
	if !errors.As(err, &re) || re.Kind != InputError || !strings.Contains(err.Error(), "output") {
		t.Errorf("error %v, want an input error about the output", err)
	}
}

// TestSessionMeshCostAfterLastStep: MeshCost reads the cost only once the
// scenario's last step is applied, and only while it is set up.
func TestSessionMeshCostAfterLastStep(t *testing.T) {
	e := &costEnv{fakeEnv: &fakeEnv{url: "http://127.0.0.1:1"}}
	s := loadScenario(t)
	ss, err := NewSession(e, []*scenario.Scenario{s}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ss.MeshCost(ctx, s) // not set up
	if err := ss.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	for i := range s.Steps {
		ss.MeshCost(ctx, s) // before the last step
		if err := ss.Apply(ctx, s, i); err != nil {
			t.Fatal(err)
		}
	}
	ss.MeshCost(ctx, s)
	if err := ss.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.calls, ", "); got != "setup, apply 0, apply 1, apply 2, cost after undefined-subset, teardown" {
		t.Errorf("calls: %s", got)
	}
	if c := ss.Report().Scenarios[0].MeshCost; c == nil || c.After != "undefined-subset" {
		t.Errorf("mesh cost in the report: %+v", c)
	}
}
