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
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/judge"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
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
// and the report's Error says what stopped the run.
func Run(ctx context.Context, e env.Environment, scenarios []*scenario.Scenario, opts Options) (report.Run, error) {
	r := &run{env: e, opts: opts, out: opts.Out, log: opts.Log, family: 1, doc: Plan(e.Name(), e.Emulated(), scenarios), times: map[string]time.Duration{}}
	r.doc.Started = time.Now()
	for _, s := range scenarios {
		for _, st := range s.Steps {
			r.total += len(st.Probes)
		}
	}
	if opts.FamilyAlpha {
		r.family = r.total
	}
	if r.out == nil {
		r.out = io.Discard
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	err := r.check()
	if err == nil && opts.Save != "" {
		if r.save, err = newSaver(opts.Save, opts.SaveFormats, opts.Force, r.doc, scenarios); err != nil {
			err = &Error{Kind: InputError, Err: err}
		}
	}
	if err == nil {
		for i, s := range scenarios {
			if err = r.scenario(ctx, i, s); err != nil {
				if !r.skips(ctx, err) {
					break
				}
				r.skip(i, s, err)
				err = nil
			}
		}
	}
	for _, c := range r.agents {
		c.Close()
	}
	r.doc.Duration = time.Since(r.doc.Started)
	r.doc.Verdict = report.Verdict(r.doc.Probes)
	var re *Error
	if err != nil && !errors.As(err, &re) {
		re = &Error{Kind: EnvironmentError, Err: err}
	}
	if re != nil {
		r.doc.Error = re.report()
	}
	if werr := r.finish(); werr != nil && err == nil {
		err = &Error{Kind: EnvironmentError, Err: fmt.Errorf("writing the results: %w", werr)}
	}
	if opts.Timings {
		r.doc.Phases = r.phases()
	}
	if r.save != nil {
		if serr := r.save.finish(r.doc); serr != nil && err == nil {
			err = &Error{Kind: EnvironmentError, Err: serr}
		}
		if r.opts.Notices != nil {
			fmt.Fprintf(r.opts.Notices, "meshcheck: results saved in %s (%s)\n", r.save.dir, ManifestFile)
		}
	}
	return r.doc, err
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

// run is one Run's state.
type run struct {
	env    env.Environment
	opts   Options
	out    io.Writer
	log    *slog.Logger
	doc    report.Run
	family int // the probes FAIL's alpha is split over (1: none)
	total  int // the probes of the run
	probes int // the probes started so far
	save   *saver
	agents map[string]*loadgen.AgentClient // by agent URL, shared by its probes
	times  map[string]time.Duration        // by report.Phase name
}

// timed adds the time since start to the phase.
func (r *run) timed(phase string, start time.Time) { r.times[phase] += time.Since(start) }

// phases are the run's phase times, for Options.Timings: the environment's,
// then the scenarios'.
func (r *run) phases() []report.Phase {
	var ps []report.Phase
	if t, ok := r.env.(env.Timer); ok {
		for _, tm := range t.Timings() {
			ps = append(ps, report.Phase{Name: tm.Phase, Duration: tm.Duration})
		}
	}
	for _, name := range []string{report.PhaseDeploy, report.PhaseProgrammed, report.PhaseSettle, report.PhaseSampling} {
		ps = append(ps, report.Phase{Name: name, Duration: r.times[name]})
	}
	return ps
}

// agentClient returns the one client of the agent at url (nil for ""),
// shared by every probe through it so that its connections are reused;
// Run closes them at the end.
func (r *run) agentClient(url string) *loadgen.AgentClient {
	if url == "" {
		return nil
	}
	if c, ok := r.agents[url]; ok {
		return c
	}
	if r.agents == nil {
		r.agents = map[string]*loadgen.AgentClient{}
	}
	c := &loadgen.AgentClient{URL: url}
	r.agents[url] = c
	return c
}

// check validates the options.
func (r *run) check() error {
	bad := func(format string, args ...any) error {
		return &Error{Kind: InputError, Err: fmt.Errorf(format, args...)}
	}
	if r.opts.Output != "" {
		if _, err := report.ParseFormat(string(r.opts.Output)); err != nil {
			return bad("output: %v", err)
		}
	}
	if r.opts.Rate < 0 || r.opts.Rate > loadgen.MaxRate {
		return bad("rate %d: want 1 to %d requests per second (0 keeps each probe's own)", r.opts.Rate, loadgen.MaxRate)
	}
	if r.opts.MaxRequests < 0 {
		return bad("max requests %d: want at least 1 (0 keeps each probe's own)", r.opts.MaxRequests)
	}
	if r.opts.SettleTimeout < 0 {
		return bad("settle timeout %s: want a positive duration (0 keeps each probe's own)", r.opts.SettleTimeout)
	}
	for _, f := range r.opts.SaveFormats {
		if !slices.Contains(SaveFormats, f) {
			return bad("save format %q: want %s", string(f), saveFormatList())
		}
	}
	return nil
}

// scenario runs one scenario from Setup to Teardown.
func (r *run) scenario(ctx context.Context, si int, s *scenario.Scenario) (err error) {
	name := s.Metadata.Name
	r.log.Info("scenario", "name", name, "environment", r.env.Name(), "steps", len(s.Steps))
	defer func() {
		if d, ok := r.env.(env.Disposer); ok && ctx.Err() != nil && d.DisposedOnClose() {
			// Interrupted: closing the environment (Execute) deletes
			// everything at once, before a second signal can stop a slow
			// per-object teardown half way.
			r.log.Info("interrupted: skipping the scenario's teardown, closing the environment deletes everything", "scenario", name)
			return
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.teardownTimeout())
		defer cancel()
		if terr := r.env.Teardown(tctx); terr != nil {
			r.log.Error("teardown failed", "scenario", name, "error", terr)
			if err == nil {
				err = &Error{Kind: EnvironmentError, Scenario: name, Err: fmt.Errorf("teardown: %w", terr)}
			}
		}
	}()
	start := time.Now()
	err = r.env.Setup(ctx, s)
	r.timed(report.PhaseDeploy, start)
	if err != nil {
		return envError(ctx, err, name, "", "")
	}
	for i, st := range s.Steps {
		if ctx.Err() != nil {
			return &Error{Kind: Interrupted, Scenario: name, Step: st.Name, Err: context.Cause(ctx)}
		}
		r.log.Info("step", "scenario", name, "step", st.Name)
		start := time.Now()
		err := r.env.Apply(ctx, s, i)
		r.timed(report.PhaseDeploy, start)
		if err != nil {
			return envError(ctx, err, name, st.Name, "")
		}
		m, merr := s.Model(i)
		if merr != nil {
			r.log.Warn("no routing model for this step: probes get no notes and fromConfig cannot be derived", "step", st.Name, "error", merr)
		}
		for _, p := range st.Probes {
			if ctx.Err() != nil {
				return &Error{Kind: Interrupted, Scenario: name, Step: st.Name, Err: context.Cause(ctx)}
			}
			if err := r.probe(ctx, si, s, i, p, m, merr); err != nil {
				return err
			}
		}
	}
	return nil
}

// skips reports whether a scenario's error skips it rather than ending the
// run: an environment that cannot provide its backend
// (env.ErrBackendUnavailable) always does, any other env.ErrUnsupported
// with Options.SkipUnsupported; never after an interruption.
func (r *run) skips(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, env.ErrBackendUnavailable) || (r.opts.SkipUnsupported && errors.Is(err, env.ErrUnsupported))
}

// skip records that scenario i was skipped and why: in the log, on
// Notices and in the report's scenario.
func (r *run) skip(i int, s *scenario.Scenario, err error) {
	reason := err
	if re := (*Error)(nil); errors.As(err, &re) {
		reason = re.Err
	}
	what := fmt.Sprintf("the %s environment cannot run it: %v", r.env.Name(), reason)
	if errors.Is(err, env.ErrBackendUnavailable) {
		what = fmt.Sprintf("it needs backend %s: %v", s.Backend, reason)
	}
	r.log.Warn("scenario skipped", "scenario", s.Metadata.Name, "environment", r.env.Name(), "error", reason)
	if r.opts.Notices != nil {
		fmt.Fprintf(r.opts.Notices, "meshcheck: scenario %s skipped, %s\n", s.Metadata.Name, what)
	}
	if i < len(r.doc.Scenarios) {
		r.doc.Scenarios[i].Skipped = what
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

// probe runs one probe and reports it.
func (r *run) probe(ctx context.Context, si int, s *scenario.Scenario, step int, p scenario.Probe, m *mesh.Model, merr error) error {
	name, stepName := s.Metadata.Name, s.Steps[step].Name
	inputErr := func(err error) error {
		return &Error{Kind: InputError, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
	}
	ep, err := r.env.Endpoint(ctx, p)
	if err != nil {
		return envError(ctx, err, name, stepName, p.Name)
	}
	if p.From == mesh.Mesh && ep.Agent == "" && ep.Via == nil {
		// From this host the requests would not pass through a sidecar:
		// the probe would measure something else than it says.
		return &Error{Kind: EnvironmentError, Scenario: name, Step: stepName, Probe: p.Name,
			Err: fmt.Errorf("environment %s gives no way into the mesh for this probe (no in-mesh agent, no sidecar proxy)", r.env.Name())}
	}
	if ep.Agent != "" {
		if err := (&loadgen.AgentClient{URL: ep.Agent}).Healthy(ctx); err != nil {
			return envError(ctx, fmt.Errorf("in-mesh agent: %w", err), name, stepName, p.Name)
		}
	}
	var classifier loadgen.Classifier
	if p.Classify.By != "" {
		if classifier, err = loadgen.ParseClassifier(p.Classify.By); err != nil {
			return inputErr(fmt.Errorf("classify.by: %w", err))
		}
	}
	check, err := p.HeaderCheck()
	if err != nil {
		return inputErr(err)
	}
	var versions loadgen.VersionMap
	switch {
	case p.Classify.PodLabel != "":
		vm, err := r.env.VersionMap(ctx, p)
		if err != nil {
			return envError(ctx, err, name, stepName, p.Name)
		}
		versions = loadgen.VersionMap(vm)
	case len(p.Classify.Values) > 0:
		versions = loadgen.VersionMap(maps.Clone(p.Classify.Values))
	}

	var pred scenario.Prediction
	if m != nil {
		pred = scenario.Predict(m, p, s.SourceNamespace())
	}
	var fromConfig []verify.Weight
	if p.Expect.FromConfig {
		if m == nil {
			return inputErr(fmt.Errorf("expect.fromConfig: the routing model cannot read this step's objects: %w", merr))
		}
		if len(pred.Weights) == 0 {
			return inputErr(fmt.Errorf("expect.fromConfig: the routing model sends no request to a pod with label %s, so there is no split to expect: %s",
				p.VersionLabel(), pred.Why()))
		}
		fromConfig = pred.Weights
	}
	exp := p.Expectation(fromConfig)
	if r.family > 1 {
		exp.FailAlpha = exp.Alpha / float64(r.family)
	}

	rate, maxRequests, settle := p.Settings.Rate, p.Settings.MaxRequests, p.Settings.Settle
	if r.opts.Rate > 0 {
		rate = r.opts.Rate
	}
	if r.opts.SettleTimeout > 0 {
		settle = r.opts.SettleTimeout
	}
	if r.opts.MaxRequests > 0 {
		maxRequests = r.opts.MaxRequests
	}
	header := http.Header{}
	for k, v := range p.Request.Headers {
		header.Set(k, v)
	}
	lp := judge.Probe{Load: loadgen.Probe{
		Target: loadgen.Target{URL: ep.URL, Host: ep.Host, Method: p.Request.Method, Header: header},
		Options: loadgen.Options{Rate: rate, Duration: p.Settings.MaxDuration, MaxRequests: maxRequests,
			KeepAlive: true, Via: ep.Via, SettleTimeout: settle},
		Classify: classifier,
		Map:      versions,
		Check:    check,
	}, Expect: exp}
	if p.Request.Body != "" {
		lp.Load.Target.Body = []byte(p.Request.Body)
	}
	if err := lp.Validate(); err != nil {
		return inputErr(err)
	}

	if w, ok := r.env.(env.ProgrammedWaiter); ok {
		// The data plane first: settling on a proxy that still serves
		// the previous step's routes would judge the old split.
		start := time.Now()
		err := w.WaitProgrammed(ctx, s, step, p)
		r.timed(report.PhaseProgrammed, start)
		if err != nil {
			return envError(ctx, fmt.Errorf("waiting for the data plane to be programmed: %w", err), name, stepName, p.Name)
		}
	}

	r.probes++
	runOpts := judge.Options{Agent: r.agentClient(ep.Agent)}
	var live *progress
	var onRecord []func(loadgen.Record) error
	if r.opts.Progress != nil {
		live = &progress{fn: r.opts.Progress, base: report.Progress{Scenario: name, Step: stepName, Probe: p.Name, Index: r.probes, Total: r.total}}
		runOpts.Every, runOpts.Progress = liveEvery, live.tick
		onRecord = append(onRecord, func(rec loadgen.Record) error { live.record(rec); return nil })
	} else {
		runOpts.Every = r.opts.ProgressEvery
		if runOpts.Every <= 0 {
			runOpts.Every = 10 * time.Second
		}
		runOpts.Progress = func(pr judge.Progress) {
			r.log.Info("probe running", "probe", p.Name, "requests", pr.Requests, "elapsed", pr.Elapsed.Round(time.Second), "rate", int(pr.Rate))
		}
	}
	var saver *probeSaver
	if r.save != nil {
		header := loadgen.Header{Environment: r.env.Name(), Emulated: r.env.Emulated(),
			Scenario: name, Step: stepName, Probe: p.Name, From: string(p.From), URL: ep.URL, Host: ep.Host, Rate: rate, Agent: ep.Agent}
		if saver, err = r.save.probe(si, step, p.Name, lp.Load.Target, header); err != nil {
			return inputErr(err)
		}
		onRecord = append(onRecord, saver.write)
	}
	if len(onRecord) > 0 {
		runOpts.Records = func(rec loadgen.Record) error {
			for _, fn := range onRecord {
				if err := fn(rec); err != nil {
					return err
				}
			}
			return nil
		}
	}

	r.log.Info("probe", "scenario", name, "step", stepName, "probe", p.Name, "from", p.From, "url", ep.URL, "host", ep.Host, "rate", rate)
	if ep.Agent != "" {
		// The agent sends the requests from its pod, through its sidecar;
		// this process only judges the records it streams back.
		r.log.Info("probe runs through the in-mesh agent", "probe", p.Name, "agent", ep.Agent)
	}
	result, stats, err := judge.Run(ctx, lp, runOpts)
	r.times[report.PhaseSettle] += stats.Settle.Duration
	r.times[report.PhaseSampling] += stats.Duration
	if live != nil {
		live.done(result, stats)
	}
	if saver != nil {
		verdict := ""
		if err == nil {
			verdict = result.Verdict.String()
		}
		if serr := saver.done(verdict); serr != nil && err == nil {
			err = serr
		}
	}
	rp := report.Probe{
		Name: p.Name, Scenario: name, Step: stepName, Vantage: string(p.From),
		Target: lp.Load.Target, Emulated: r.env.Emulated(), Result: result, Stats: stats,
	}
	if m != nil {
		rp.Notes = pred.Notes(p, exp)
	}
	if err != nil {
		if ctx.Err() != nil {
			if stats.Requests > 0 {
				r.add(rp)
			}
			return &Error{Kind: Interrupted, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
		}
		return &Error{Kind: EnvironmentError, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
	}
	r.log.Info("probe done", "probe", p.Name, "verdict", result.Verdict.String(), "requests", stats.Requests, "duration", stats.Duration.Round(time.Millisecond))
	return r.add(rp)
}

// text reports whether the probes are printed as they finish.
func (r *run) text() bool { return r.opts.Output == "" || r.opts.Output == report.FormatText }

// add records a probe and, in text mode, prints its report.
func (r *run) add(rp report.Probe) error {
	r.doc.Probes = append(r.doc.Probes, rp)
	if !r.text() {
		return nil
	}
	if err := report.WriteProbeText(r.out, rp); err != nil {
		return &Error{Kind: EnvironmentError, Scenario: rp.Scenario, Step: rp.Step, Probe: rp.Name, Err: fmt.Errorf("writing the report: %w", err)}
	}
	if _, err := fmt.Fprintln(r.out); err != nil {
		return &Error{Kind: EnvironmentError, Err: fmt.Errorf("writing the report: %w", err)}
	}
	return nil
}

// finish writes the text summary, or the whole report in the other formats.
func (r *run) finish() error {
	if r.text() {
		return report.WriteSummary(r.out, r.doc)
	}
	return report.Write(r.out, r.opts.Output, r.doc)
}

func (r *run) teardownTimeout() time.Duration {
	if r.opts.TeardownTimeout > 0 {
		return r.opts.TeardownTimeout
	}
	return DefaultTeardownTimeout
}
