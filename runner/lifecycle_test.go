package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
)

// fakeOpener opens e (or fails with err) and records what Close was told.
type fakeOpener struct {
	e   env.Environment
	err error
}

func (o *fakeOpener) Name() string   { return "fake" }
func (o *fakeOpener) Emulated() bool { return false }
func (o *fakeOpener) Open(ctx context.Context) (env.Environment, error) {
	if o.err != nil {
		return nil, o.err
	}
	return o.e, nil
}

// closingEnv is a fakeEnv with a Close.
type closingEnv struct {
	*fakeEnv
	closeErr error
	closed   []string
	closeCtx error
}

func (c *closingEnv) Close(ctx context.Context, failed bool) error {
	c.closed = append(c.closed, fmt.Sprintf("failed=%v", failed))
	c.closeCtx = ctx.Err()
	return c.closeErr
}

// TestExecuteOpenFails: an environment that cannot be opened ends the run
// before any probe with the kind of error it is, and a machine-format
// report of the plan and the error.
func TestExecuteOpenFails(t *testing.T) {
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		kind ErrorKind
		doc  string
	}{
		{"invalid", t.Context(), env.InvalidOptions(errors.New("--kubeconfig /x: no such file")), InputError, report.ErrorInput},
		{"environment", t.Context(), errors.New("no container engine answers"), EnvironmentError, report.ErrorEnvironment},
		{"interrupted", ended, context.Canceled, Interrupted, report.ErrorInterrupted},
	} {
		var out bytes.Buffer
		run, err := Execute(c.ctx, &fakeOpener{err: c.err}, []*scenario.Scenario{loadScenario(t)}, Options{Output: report.FormatJSON, Out: &out})
		var re *Error
		if !errors.As(err, &re) || re.Kind != c.kind || !strings.Contains(err.Error(), c.err.Error()) {
			t.Errorf("%s: error %v, want kind %d wrapping %v", c.name, err, c.kind, c.err)
		}
		doc, derr := report.Decode(&out, "stdout")
		if derr != nil || doc.Error == nil || doc.Error.Kind != c.doc || len(doc.Scenarios) != 1 || run.Environment != "fake" {
			t.Errorf("%s: report %q (%v), want the plan with a %s error", c.name, out.String(), derr, c.doc)
		}
	}
	var out bytes.Buffer
	if _, err := Execute(t.Context(), &fakeOpener{err: errors.New("boom")}, []*scenario.Scenario{loadScenario(t)}, Options{Out: &out}); err == nil || out.Len() != 0 {
		t.Errorf("text output of a failed open: %q, %v; want nothing printed (the error says it all)", out.String(), err)
	}
}

// TestExecuteCloses: the environment is closed once after the run, told
// whether the run failed, with a context that has not ended even when the
// run's has; a failed Close fails a run that had no error.
func TestExecuteCloses(t *testing.T) {
	url := split75(t).URL
	e := &closingEnv{fakeEnv: &fakeEnv{url: url, failApply: errors.New("boom")}}
	_, err := Execute(t.Context(), &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t)}, Options{})
	if err == nil || strings.Join(e.closed, ",") != "failed=true" {
		t.Errorf("failed run: %v, closes %q, want one Close(failed=true)", err, e.closed)
	}

	ctx, cancel := context.WithCancel(t.Context())
	e = &closingEnv{fakeEnv: &fakeEnv{url: url, failSetup: errors.New("interrupted")}}
	cancel()
	if _, err := Execute(ctx, &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t)}, Options{}); err == nil || e.closeCtx != nil {
		t.Errorf("interrupted run: %v, Close saw an ended context: %v", err, e.closeCtx)
	}

	e = &closingEnv{fakeEnv: &fakeEnv{url: url, failSetup: errors.New("boom")}, closeErr: errors.New("delete failed")}
	_, err = Execute(t.Context(), &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t)}, Options{})
	if err == nil || strings.Contains(err.Error(), "delete failed") {
		t.Errorf("a failed run whose Close fails too: %v, want the run's own error", err)
	}
}

// TestExecuteCloseErrorFailsARun: a run that ended without an error (here
// with a FAIL verdict, so Close hears failed=true) but whose environment
// could not be closed is an environment error, in the report too.
func TestExecuteCloseErrorFailsARun(t *testing.T) {
	e := &closingEnv{fakeEnv: &fakeEnv{url: split75(t).URL, via: forwardProxy(t)}, closeErr: errors.New("delete failed")}
	run, err := Execute(t.Context(), &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t)}, Options{Rate: 2000, MaxRequests: 4000})
	var re *Error
	if !errors.As(err, &re) || re.Kind != EnvironmentError || !strings.Contains(err.Error(), "closing the fake environment: delete failed") || run.Error == nil {
		t.Errorf("error %v, want an environment error about closing, in the report too", err)
	}
	if run.Verdict != verify.Fail || strings.Join(e.closed, ",") != "failed=true" {
		t.Errorf("verdict %s, closes %q, want one Close(failed=true) after a FAIL", run.Verdict, e.closed)
	}
}

// TestDryRunNeedsADryRunner: an environment without a dry run is an input
// error.
func TestDryRunNeedsADryRunner(t *testing.T) {
	var re *Error
	if err := DryRun(&bytes.Buffer{}, &fakeOpener{}, nil); !errors.As(err, &re) || re.Kind != InputError {
		t.Errorf("DryRun of an environment without one = %v, want an input error", err)
	}
}
