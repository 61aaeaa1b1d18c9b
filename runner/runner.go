// Package runner runs scenarios in an environment: for each scenario it sets
// the environment up, applies each step, runs each probe with the load
// generator and the verification engine, and tears the environment down
// (also when the run fails or is interrupted). It returns a report.Run:
// every probe, printed as it finishes (text, then the summary) or rendered
// once at the end (JSON, JUnit, Markdown).
//
// A probe from the mesh needs a way into it: when the environment's
// endpoint names an in-mesh agent (real clusters), the agent sends the
// requests from its pod, through its sidecar, and streams the records back
// to be judged here (loadgen.AgentClient); else the requests go through the
// endpoint's sidecar proxy (the local environment). A real environment that
// offers neither is an environment error, never a probe from outside.
//
// Expectations "fromConfig" come from the routing model (package mesh) of
// the step's state: the shares the probe's request reaches per value of its
// version label, rounded to integer percents summing to 100 by largest
// remainder. When a probe states its expectation explicitly and the model
// predicts otherwise, the probe's report says so and why, in one sentence.
//
// While a probe runs, Options.Progress receives snapshots of it (progress.go)
// for a live line; Options.Save keeps every probe's records in a folder per
// run with a manifest (save.go).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// DefaultTeardownTimeout bounds Teardown when Options.TeardownTimeout is 0.
const DefaultTeardownTimeout = 2 * time.Minute

// Options shape a run.
type Options struct {
	// Output is the format of Out: report.FormatText ("" too) prints each
	// probe's report as it finishes and the summary at the end; the other
	// formats render the whole run once, at the end.
	Output report.Format
	// Out receives the reports; nil discards them.
	Out io.Writer
	// Save, when set, is a folder that receives one new folder per run,
	// <start, UTC>-<scenario names> (such as 20261202T001530Z-echo+hello),
	// holding the records of every probe in each of SaveFormats, one file
	// per probe and format, <n>-<scenario>.<step>.<probe>.ndjson
	// (meshcheck) or .vegeta.json (vegeta), n the scenario's position in
	// the run, and a manifest.json (Manifest) naming them. Nothing is
	// written over unless Force is set.
	Save string
	// SaveFormats are the formats of the results files (nil: SaveMeshcheck).
	SaveFormats []SaveFormat
	// Force lets Save write over a folder and files that exist.
	Force bool
	// Notices receives the one-line notices meant for the user whatever the
	// verbosity: where Save wrote. Nil discards them.
	Notices io.Writer
	// Rate, when > 0, overrides every probe's request rate.
	Rate int
	// MaxRequests, when > 0, overrides every probe's request budget.
	MaxRequests int
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// TeardownTimeout bounds each Teardown (0: DefaultTeardownTimeout).
	TeardownTimeout time.Duration
	// CloseTimeout bounds Execute's closing of the environment (0:
	// DefaultCloseTimeout).
	CloseTimeout time.Duration
	// ProgressEvery is how often a running probe logs its progress (0: every
	// 10 s) when Progress is nil.
	ProgressEvery time.Duration
	// Progress, when set, receives snapshots of the running probe about 10
	// times a second (the settle phase, the judged requests with the
	// verdict's lines so far) and one when it ends, before its report is
	// written; the probe then logs no progress lines. It is called from the
	// goroutine that folds the probe's results: keep it quick
	// (report.Live.Update is).
	Progress func(report.Progress)
	// SettleTimeout, when > 0, overrides every probe's settle bound.
	SettleTimeout time.Duration
	// Debug, when set, is the folder Execute has an env.Debugger write its
	// debug bundle to when the run fails (a FAIL verdict or an environment
	// error), before closing the environment; bounded by DefaultDebugTimeout.
	Debug string
	// Timings times the phases of the run into the report's Phases: the
	// environment's (env.Timer), then deploy, programmed, settle and
	// sampling summed over the scenarios, and (Execute) down. They are set
	// after the report was written to Out.
	Timings bool
	// SkipUnsupported skips a scenario the environment cannot run as
	// written (an env.ErrUnsupported error, not after an interruption)
	// instead of ending the run: the reason goes to Notices and the log,
	// and the next scenario runs.
	SkipUnsupported bool
	// FamilyAlpha splits FAIL's alpha over the run's probes: with k probes
	// in all, each FAILs a correct mesh with probability at most alpha/k,
	// so the run as a whole does with at most alpha. PASS stays at each
	// probe's alpha. Off, each probe FAILs a correct mesh with probability
	// at most its alpha, and a run of k probes with up to k times that.
	FamilyAlpha bool
}

// ErrorKind says what went wrong in a run, for the exit code.
type ErrorKind int

// The kinds of run errors.
const (
	// InputError: the scenario or the options ask for something that
	// cannot run (exit 2).
	InputError ErrorKind = iota + 1
	// EnvironmentError: the environment failed (exit 4).
	EnvironmentError
	// Interrupted: the context ended (Ctrl-C) before the run finished.
	Interrupted
)

// Error is a run's error: what kind, and where.
type Error struct {
	Kind ErrorKind
	// Scenario, Step and Probe locate the error ("" where they do not apply).
	Scenario, Step, Probe string
	Err                   error
}

// Error says where the run stopped and why.
func (e *Error) Error() string {
	where := ""
	for _, part := range []struct{ name, v string }{{"scenario", e.Scenario}, {"step", e.Step}, {"probe", e.Probe}} {
		if part.v != "" {
			where += part.name + " " + part.v + ": "
		}
	}
	return where + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// report returns the error as the run's report shows it.
func (e *Error) report() *report.Error {
	kind := report.ErrorEnvironment
	switch e.Kind {
	case InputError:
		kind = report.ErrorInput
	case Interrupted:
		kind = report.ErrorInterrupted
	}
	return &report.Error{Kind: kind, Scenario: e.Scenario, Step: e.Step, Probe: e.Probe, Message: e.Err.Error()}
}

// Run runs the scenarios one after the other in e and returns the run's
// report, with every probe it ran. It stops at the first error (an *Error),
// after tearing the environment down; probes that ran before stay in the
// report, a probe cut short by the context is included with what it saw,
// and the report's Error says what stopped the run. It is a Session driven
// from the first scenario's Setup to the last one's Teardown.
func Run(ctx context.Context, e env.Environment, scenarios []*scenario.Scenario, opts Options) (report.Run, error) {
	ss := newSession(e, scenarios, opts)
	err := ss.start()
	if err == nil {
		for i, s := range scenarios {
			if err = ss.scenario(ctx, s); err != nil {
				if !ss.skips(ctx, err) {
					break
				}
				ss.skip(i, s, err)
				err = nil
			}
		}
	}
	return ss.Finish(err)
}

// Plan returns the report of a run of the scenarios in the environment
// named name before any probe ran: its scenarios and their steps, no probe,
// INCONCLUSIVE. Run fills it in; a run whose environment cannot even be
// created reports it with its Error.
func Plan(name string, emulated bool, scenarios []*scenario.Scenario) report.Run {
	doc := report.Run{Schema: report.Schema, Command: report.CommandRun, Environment: name, Emulated: emulated,
		Scenarios: []report.Scenario{}, Probes: []report.Probe{}}
	for _, s := range scenarios {
		rs := report.Scenario{Name: s.Metadata.Name, Title: s.Metadata.Title, Steps: []string{}}
		for _, st := range s.Steps {
			rs.Steps = append(rs.Steps, st.Name)
		}
		doc.Scenarios = append(doc.Scenarios, rs)
	}
	return doc
}

// skips reports whether a scenario's error skips it rather than ending the
// run: an environment that cannot provide its backend
// (env.ErrBackendUnavailable) always does, any other env.ErrUnsupported
// with Options.SkipUnsupported; never after an interruption.
func (ss *Session) skips(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, env.ErrBackendUnavailable) || (ss.opts.SkipUnsupported && errors.Is(err, env.ErrUnsupported))
}

// skip records that scenario i was skipped and why: in the log, on
// Notices and in the report's scenario.
func (ss *Session) skip(i int, s *scenario.Scenario, err error) {
	reason := err
	if re := (*Error)(nil); errors.As(err, &re) {
		reason = re.Err
	}
	what := fmt.Sprintf("the %s environment cannot run it: %v", ss.env.Name(), reason)
	if errors.Is(err, env.ErrBackendUnavailable) {
		what = fmt.Sprintf("it needs backend %s: %v", s.Backend, reason)
	}
	ss.log.Warn("scenario skipped", "scenario", s.Metadata.Name, "environment", ss.env.Name(), "error", reason)
	if ss.opts.Notices != nil {
		fmt.Fprintf(ss.opts.Notices, "meshcheck: scenario %s skipped, %s\n", s.Metadata.Name, what)
	}
	if i < len(ss.doc.Scenarios) {
		ss.doc.Scenarios[i].Skipped = what
	}
}

// envError classifies an environment's error.
func envError(ctx context.Context, err error, scenarioName, step, probe string) error {
	kind := EnvironmentError
	switch {
	case ctx.Err() != nil:
		kind = Interrupted
	case errors.Is(err, env.ErrUnsupported):
		kind = InputError
	}
	return &Error{Kind: kind, Scenario: scenarioName, Step: step, Probe: probe, Err: err}
}
