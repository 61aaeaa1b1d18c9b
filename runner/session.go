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

// Session is one run in an environment, driven a call at a time: for each
// scenario Setup, then for each step Apply and for each of its probes
// Prepare, WaitProgrammed and Probe, then Teardown (also after a failure);
// at the end Finish. Run drives one from the first scenario to the last;
// the e2e suite drives one from its features, a call per assessment, so
// that both share this one engine. A Session is not safe for concurrent
// use: its calls follow each other as the steps of a run do.
type Session struct {
	env       env.Environment
	opts      Options
	out       io.Writer
	log       *slog.Logger
	scenarios []*scenario.Scenario
	doc       report.Run
	family    int // the probes FAIL's alpha is split over (1: none)
	total     int // the probes of the run
	probes    int // the probes started so far
	save      *saver
	agents    map[string]*loadgen.AgentClient // by agent URL, shared by its probes
	times     map[string]time.Duration        // by report.Phase name
	finished  bool

	// The scenario set up (nil: none), its position in scenarios, the
	// step applied last (-1: none yet) and that step's routing model.
	cur      *scenario.Scenario
	curIndex int
	step     int
	model    *mesh.Model
	modelErr error
}

// NewSession starts a run of the scenarios in e with opts: it checks the
// options and, with Options.Save, creates the run's folder. Its error is an
// *Error of kind InputError. The session's calls then take the scenarios
// one at a time, in any order, each from Setup to Teardown.
func NewSession(e env.Environment, scenarios []*scenario.Scenario, opts Options) (*Session, error) {
	ss := newSession(e, scenarios, opts)
	if err := ss.start(); err != nil {
		return nil, err
	}
	return ss, nil
}

// newSession is a Session before start: its report is the run's plan.
func newSession(e env.Environment, scenarios []*scenario.Scenario, opts Options) *Session {
	ss := &Session{env: e, opts: opts, out: opts.Out, log: opts.Log, scenarios: scenarios, family: 1,
		doc: Plan(e.Name(), e.Emulated(), scenarios), times: map[string]time.Duration{}, step: -1}
	ss.doc.Started = time.Now()
	for _, s := range scenarios {
		for _, st := range s.Steps {
			ss.total += len(st.Probes)
		}
	}
	if opts.FamilyAlpha {
		ss.family = ss.total
	}
	if ss.out == nil {
		ss.out = io.Discard
	}
	if ss.log == nil {
		ss.log = slog.New(slog.DiscardHandler)
	}
	return ss
}

// start checks the options and opens the saver.
func (ss *Session) start() error {
	if err := ss.check(); err != nil {
		return err
	}
	if ss.opts.Save == "" {
		return nil
	}
	var err error
	if ss.save, err = newSaver(ss.opts.Save, ss.opts.SaveFormats, ss.opts.Force, ss.doc, ss.scenarios); err != nil {
		return &Error{Kind: InputError, Err: err}
	}
	return nil
}

// check validates the options.
func (ss *Session) check() error {
	bad := func(format string, args ...any) error {
		return &Error{Kind: InputError, Err: fmt.Errorf(format, args...)}
	}
	if ss.opts.Output != "" {
		if _, err := report.ParseFormat(string(ss.opts.Output)); err != nil {
			return bad("output: %v", err)
		}
	}
	if ss.opts.Rate < 0 || ss.opts.Rate > loadgen.MaxRate {
		return bad("rate %d: want 1 to %d requests per second (0 keeps each probe's own)", ss.opts.Rate, loadgen.MaxRate)
	}
	if ss.opts.MaxRequests < 0 {
		return bad("max requests %d: want at least 1 (0 keeps each probe's own)", ss.opts.MaxRequests)
	}
	if ss.opts.SettleTimeout < 0 {
		return bad("settle timeout %s: want a positive duration (0 keeps each probe's own)", ss.opts.SettleTimeout)
	}
	for _, f := range ss.opts.SaveFormats {
		if !slices.Contains(SaveFormats, f) {
			return bad("save format %q: want %s", string(f), saveFormatList())
		}
	}
	return nil
}

// scenario runs one scenario from Setup to Teardown, for Run.
func (ss *Session) scenario(ctx context.Context, s *scenario.Scenario) (err error) {
	defer func() {
		if terr := ss.Teardown(ctx); terr != nil && err == nil {
			err = terr
		}
	}()
	if err = ss.Setup(ctx, s); err != nil {
		return err
	}
	for i, st := range s.Steps {
		if ctx.Err() != nil {
			return &Error{Kind: Interrupted, Scenario: s.Metadata.Name, Step: st.Name, Err: context.Cause(ctx)}
		}
		if err := ss.Apply(ctx, s, i); err != nil {
			return err
		}
		for _, p := range st.Probes {
			if ctx.Err() != nil {
				return &Error{Kind: Interrupted, Scenario: s.Metadata.Name, Step: st.Name, Err: context.Cause(ctx)}
			}
			pp, err := ss.Prepare(ctx, s, i, p)
			if err != nil {
				return err
			}
			if err := ss.WaitProgrammed(ctx, pp); err != nil {
				return err
			}
			if _, err := ss.Probe(ctx, pp); err != nil {
				return err
			}
		}
	}
	ss.MeshCost(ctx, s)
	return nil
}

// Setup sets the environment up for s (env.Environment.Setup), one of the
// session's scenarios; Teardown must follow, also when Setup fails. Its
// error is an *Error: InputError for a scenario the session does not run,
// while another is set up, or that the environment cannot run
// (env.ErrUnsupported); Interrupted when ctx ended; else EnvironmentError.
func (ss *Session) Setup(ctx context.Context, s *scenario.Scenario) error {
	i := slices.Index(ss.scenarios, s)
	switch {
	case i < 0:
		return &Error{Kind: InputError, Scenario: s.Metadata.Name, Err: errors.New("setup: the scenario is not one of the session's")}
	case ss.cur != nil:
		return &Error{Kind: InputError, Scenario: s.Metadata.Name, Err: fmt.Errorf("setup: scenario %s is set up: tear it down first", ss.cur.Metadata.Name)}
	}
	ss.cur, ss.curIndex, ss.step, ss.model, ss.modelErr = s, i, -1, nil, nil
	name := s.Metadata.Name
	ss.log.Info("scenario", "name", name, "environment", ss.env.Name(), "steps", len(s.Steps))
	start := time.Now()
	err := ss.env.Setup(ctx, s)
	ss.timed(report.PhaseDeploy, start)
	if err != nil {
		return envError(ctx, err, name, "", "")
	}
	return nil
}

// Teardown tears the environment down after the scenario set up last
// (env.Environment.Teardown), bounded by Options.TeardownTimeout and also
// after ctx ended; when ctx ended and the environment deletes everything
// on Close (env.Disposer), it leaves that to Close. Its error is an
// *Error of kind EnvironmentError.
func (ss *Session) Teardown(ctx context.Context) error {
	name := ""
	if ss.cur != nil {
		name = ss.cur.Metadata.Name
	}
	ss.cur, ss.step, ss.model, ss.modelErr = nil, -1, nil, nil
	if d, ok := ss.env.(env.Disposer); ok && ctx.Err() != nil && d.DisposedOnClose() {
		// Interrupted: closing the environment (Execute) deletes
		// everything at once, before a second signal can stop a slow
		// per-object teardown half way.
		ss.log.Info("interrupted: skipping the scenario's teardown, closing the environment deletes everything", "scenario", name)
		return nil
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ss.teardownTimeout())
	defer cancel()
	if terr := ss.env.Teardown(tctx); terr != nil {
		ss.log.Error("teardown failed", "scenario", name, "error", terr)
		return &Error{Kind: EnvironmentError, Scenario: name, Err: fmt.Errorf("teardown: %w", terr)}
	}
	return nil
}

// Apply applies step of s, the scenario set up, (env.Environment.Apply)
// and derives the step's routing model for its probes. Its error is an
// *Error, classified as Setup's.
func (ss *Session) Apply(ctx context.Context, s *scenario.Scenario, step int) error {
	if err := ss.current(s, step, "apply"); err != nil {
		return err
	}
	st := s.Steps[step]
	ss.log.Info("step", "scenario", s.Metadata.Name, "step", st.Name)
	start := time.Now()
	err := ss.env.Apply(ctx, s, step)
	ss.timed(report.PhaseDeploy, start)
	if err != nil {
		return envError(ctx, err, s.Metadata.Name, st.Name, "")
	}
	ss.step = step
	ss.model, ss.modelErr = s.Model(step)
	if ss.modelErr != nil {
		ss.log.Warn("no routing model for this step: probes get no notes and fromConfig cannot be derived", "step", st.Name, "error", ss.modelErr)
	}
	return nil
}

// current checks that s is the scenario set up and step one of its steps.
func (ss *Session) current(s *scenario.Scenario, step int, call string) error {
	switch {
	case ss.cur == nil || ss.cur != s:
		return &Error{Kind: InputError, Scenario: s.Metadata.Name, Err: fmt.Errorf("%s before the scenario's setup", call)}
	case step < 0 || step >= len(s.Steps):
		return &Error{Kind: InputError, Scenario: s.Metadata.Name, Err: fmt.Errorf("%s: step %d: the scenario has steps 0 to %d", call, step, len(s.Steps)-1)}
	}
	return nil
}

// MeshCost records in the report what the mesh used after the last step
// of s, the scenario set up, on environments that can read it
// (env.CostReader); call it after the scenario's last probe, before its
// Teardown. It reads nothing unless s is set up and its last step is the
// one applied last. Reading it comes after every probe, so it changes no
// verdict; a failure is only a warning (the log and Options.Notices).
func (ss *Session) MeshCost(ctx context.Context, s *scenario.Scenario) {
	c, ok := ss.env.(env.CostReader)
	if !ok || len(s.Steps) == 0 || ss.cur != s || ss.step != len(s.Steps)-1 {
		return
	}
	after := s.Steps[len(s.Steps)-1].Name
	cost, err := c.MeshCost(ctx, after)
	if err != nil {
		ss.log.Warn("the mesh's cost could not be read; the report has none", "scenario", s.Metadata.Name, "error", err)
		if ss.opts.Notices != nil {
			fmt.Fprintf(ss.opts.Notices, "meshcheck: scenario %s: no mesh cost in the report: %v\n", s.Metadata.Name, err)
		}
		return
	}
	ss.doc.Scenarios[ss.curIndex].MeshCost = &cost
}

// PreparedProbe is a probe ready to run: where its requests go, how their
// responses are classified and what they are judged against (Prepare).
type PreparedProbe struct {
	s     *scenario.Scenario
	step  int
	p     scenario.Probe
	ep    env.Endpoint
	lp    judge.Probe
	pred  scenario.Prediction
	rate  int
	model bool // the step has a routing model: the report gets its notes
}

// Scenario is the name of the prepared probe's scenario.
func (pp *PreparedProbe) Scenario() string { return pp.s.Metadata.Name }

// Step is the name of the prepared probe's step.
func (pp *PreparedProbe) Step() string { return pp.s.Steps[pp.step].Name }

// Probe is the name of the prepared probe.
func (pp *PreparedProbe) Probe() string { return pp.p.Name }

// Prepare readies probe p of step, the step applied last: the
// environment's endpoint for it (and its in-mesh agent healthy), its
// classifier and version map, and its expectation (explicit, or from the
// routing model with expect.fromConfig), with Options' overrides of rate,
// request budget and settle bound. Its error is an *Error: InputError when
// the probe cannot run as written, else as Setup's.
func (ss *Session) Prepare(ctx context.Context, s *scenario.Scenario, step int, p scenario.Probe) (*PreparedProbe, error) {
	if err := ss.current(s, step, "probe "+p.Name); err != nil {
		return nil, err
	}
	if ss.step != step {
		return nil, &Error{Kind: InputError, Scenario: s.Metadata.Name, Step: s.Steps[step].Name, Probe: p.Name, Err: errors.New("probe before its step's apply")}
	}
	name, stepName := s.Metadata.Name, s.Steps[step].Name
	inputErr := func(err error) error {
		return &Error{Kind: InputError, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
	}
	ep, err := ss.env.Endpoint(ctx, p)
	if err != nil {
		return nil, envError(ctx, err, name, stepName, p.Name)
	}
	if p.From == mesh.Mesh && ep.Agent == "" && ep.Via == nil {
		// From this host the requests would not pass through a sidecar:
		// the probe would measure something else than it says.
		return nil, &Error{Kind: EnvironmentError, Scenario: name, Step: stepName, Probe: p.Name,
			Err: fmt.Errorf("environment %s gives no way into the mesh for this probe (no in-mesh agent, no sidecar proxy)", ss.env.Name())}
	}
	if ep.Agent != "" {
		if err := (&loadgen.AgentClient{URL: ep.Agent}).Healthy(ctx); err != nil {
			return nil, envError(ctx, fmt.Errorf("in-mesh agent: %w", err), name, stepName, p.Name)
		}
	}
	var classifier loadgen.Classifier
	if p.Classify.By != "" {
		if classifier, err = loadgen.ParseClassifier(p.Classify.By); err != nil {
			return nil, inputErr(fmt.Errorf("classify.by: %w", err))
		}
	}
	check, err := p.HeaderCheck()
	if err != nil {
		return nil, inputErr(err)
	}
	var versions loadgen.VersionMap
	switch {
	case p.Classify.PodLabel != "":
		vm, err := ss.env.VersionMap(ctx, p)
		if err != nil {
			return nil, envError(ctx, err, name, stepName, p.Name)
		}
		versions = loadgen.VersionMap(vm)
	case len(p.Classify.Values) > 0:
		versions = loadgen.VersionMap(maps.Clone(p.Classify.Values))
	}

	m, merr := ss.model, ss.modelErr
	var pred scenario.Prediction
	if m != nil {
		pred = scenario.Predict(m, p, s.SourceNamespace())
	}
	var fromConfig []verify.Weight
	if p.Expect.FromConfig {
		if m == nil {
			return nil, inputErr(fmt.Errorf("expect.fromConfig: the routing model cannot read this step's objects: %w", merr))
		}
		if len(pred.Weights) == 0 {
			return nil, inputErr(fmt.Errorf("expect.fromConfig: the routing model sends no request to a pod with label %s, so there is no split to expect: %s",
				p.VersionLabel(), pred.Why()))
		}
		fromConfig = pred.Weights
	}
	exp := p.Expectation(fromConfig)
	if ss.family > 1 {
		exp.FailAlpha = exp.Alpha / float64(ss.family)
	}

	rate, maxRequests, settle := p.Settings.Rate, p.Settings.MaxRequests, p.Settings.Settle
	if ss.opts.Rate > 0 {
		rate = ss.opts.Rate
	}
	if ss.opts.SettleTimeout > 0 {
		settle = ss.opts.SettleTimeout
	}
	if ss.opts.MaxRequests > 0 {
		maxRequests = ss.opts.MaxRequests
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
		return nil, inputErr(err)
	}
	return &PreparedProbe{s: s, step: step, p: p, ep: ep, lp: lp, pred: pred, rate: rate, model: m != nil}, nil
}

// WaitProgrammed waits, when the environment can tell
// (env.ProgrammedWaiter), until the proxies of pp's vantage route as its
// step says, bounded by the environment's programmed timeout; at once
// when it cannot. The data plane first: settling on a proxy that still
// serves the previous step's routes would judge the old split. Its error
// is an *Error, classified as Setup's.
func (ss *Session) WaitProgrammed(ctx context.Context, pp *PreparedProbe) error {
	w, ok := ss.env.(env.ProgrammedWaiter)
	if !ok {
		return nil
	}
	start := time.Now()
	err := w.WaitProgrammed(ctx, pp.s, pp.step, pp.p)
	ss.timed(report.PhaseProgrammed, start)
	if err != nil {
		return envError(ctx, fmt.Errorf("waiting for the data plane to be programmed: %w", err), pp.Scenario(), pp.Step(), pp.Probe())
	}
	return nil
}

// Probe runs the prepared probe: its settle phase, then requests judged in
// send order until the verdict is decided or the budget spent, with
// Options' progress and saving. It adds the probe's report to the run's
// (in text, printing it to Options.Out) and returns it. Its error is an
// *Error: Interrupted when ctx ended (the report, with what the probe saw,
// is still added when it sent requests), else EnvironmentError.
func (ss *Session) Probe(ctx context.Context, pp *PreparedProbe) (report.Probe, error) {
	name, stepName, p, ep, lp := pp.Scenario(), pp.Step(), pp.p, pp.ep, pp.lp
	ss.probes++
	runOpts := judge.Options{Agent: ss.agentClient(ep.Agent)}
	var live *progress
	var onRecord []func(loadgen.Record) error
	if ss.opts.Progress != nil {
		live = &progress{fn: ss.opts.Progress, base: report.Progress{Scenario: name, Step: stepName, Probe: p.Name, Index: ss.probes, Total: ss.total}}
		runOpts.Every, runOpts.Progress = liveEvery, live.tick
		onRecord = append(onRecord, func(rec loadgen.Record) error { live.record(rec); return nil })
	} else {
		runOpts.Every = ss.opts.ProgressEvery
		if runOpts.Every <= 0 {
			runOpts.Every = 10 * time.Second
		}
		runOpts.Progress = func(pr judge.Progress) {
			ss.log.Info("probe running", "probe", p.Name, "requests", pr.Requests, "elapsed", pr.Elapsed.Round(time.Second), "rate", int(pr.Rate))
		}
	}
	var saver *probeSaver
	if ss.save != nil {
		header := loadgen.Header{Environment: ss.env.Name(), Emulated: ss.env.Emulated(),
			Scenario: name, Step: stepName, Probe: p.Name, From: string(p.From), URL: ep.URL, Host: ep.Host, Rate: pp.rate, Agent: ep.Agent}
		var err error
		if saver, err = ss.save.probe(ss.curIndex, pp.step, p.Name, lp.Load.Target, header); err != nil {
			return report.Probe{}, &Error{Kind: InputError, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
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

	ss.log.Info("probe", "scenario", name, "step", stepName, "probe", p.Name, "from", p.From, "url", ep.URL, "host", ep.Host, "rate", pp.rate)
	if ep.Agent != "" {
		// The agent sends the requests from its pod, through its sidecar;
		// this process only judges the records it streams back.
		ss.log.Info("probe runs through the in-mesh agent", "probe", p.Name, "agent", ep.Agent)
	}
	result, stats, err := judge.Run(ctx, lp, runOpts)
	ss.times[report.PhaseSettle] += stats.Settle.Duration
	ss.times[report.PhaseSampling] += stats.Duration
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
		Target: lp.Load.Target, Emulated: ss.env.Emulated(), Result: result, Stats: stats,
	}
	if pp.model {
		rp.Notes = pp.pred.Notes(p, lp.Expect)
	}
	if err != nil {
		if ctx.Err() != nil {
			if stats.Requests > 0 {
				ss.add(rp)
			}
			return rp, &Error{Kind: Interrupted, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
		}
		return rp, &Error{Kind: EnvironmentError, Scenario: name, Step: stepName, Probe: p.Name, Err: err}
	}
	ss.log.Info("probe done", "probe", p.Name, "verdict", result.Verdict.String(), "requests", stats.Requests, "duration", stats.Duration.Round(time.Millisecond))
	return rp, ss.add(rp)
}

// Report returns the run's report so far: its plan, the probes that ran
// and their verdict; Finish completes it.
func (ss *Session) Report() report.Run {
	doc := ss.doc
	doc.Probes = slices.Clone(ss.doc.Probes)
	if !ss.finished {
		doc.Duration = time.Since(doc.Started)
		doc.Verdict = report.Verdict(doc.Probes)
	}
	return doc
}

// Finish ends the run, err being what stopped it (nil: nothing did): it
// closes the in-mesh agents' clients, completes the report (duration,
// verdict, the error; with Options.Timings the phases), writes it to
// Options.Out (in text the summary) and finishes the saved folder's
// manifest; the report's Error is err's (an error not an *Error reports
// as an environment error). It returns the report and err, or when err is
// nil an error writing the results. The session takes no call after Finish.
func (ss *Session) Finish(err error) (report.Run, error) {
	if ss.finished {
		return ss.doc, &Error{Kind: InputError, Err: errors.New("the session is finished")}
	}
	ss.finished = true
	for _, c := range ss.agents {
		c.Close()
	}
	ss.doc.Duration = time.Since(ss.doc.Started)
	ss.doc.Verdict = report.Verdict(ss.doc.Probes)
	var re *Error
	if err != nil && !errors.As(err, &re) {
		re = &Error{Kind: EnvironmentError, Err: err}
	}
	if re != nil {
		ss.doc.Error = re.report()
	}
	if werr := ss.finish(); werr != nil && err == nil {
		err = &Error{Kind: EnvironmentError, Err: fmt.Errorf("writing the results: %w", werr)}
	}
	if ss.opts.Timings {
		ss.doc.Phases = ss.phases()
	}
	if ss.save != nil {
		if serr := ss.save.finish(ss.doc); serr != nil && err == nil {
			err = &Error{Kind: EnvironmentError, Err: serr}
		}
		if ss.opts.Notices != nil {
			fmt.Fprintf(ss.opts.Notices, "meshcheck: results saved in %s (%s)\n", ss.save.dir, ManifestFile)
		}
	}
	return ss.doc, err
}

// timed adds the time since start to the phase.
func (ss *Session) timed(phase string, start time.Time) { ss.times[phase] += time.Since(start) }

// phases are the run's phase times, for Options.Timings: the environment's,
// then the scenarios'.
func (ss *Session) phases() []report.Phase {
	var ps []report.Phase
	if t, ok := ss.env.(env.Timer); ok {
		for _, tm := range t.Timings() {
			ps = append(ps, report.Phase{Name: tm.Phase, Duration: tm.Duration})
		}
	}
	for _, name := range []string{report.PhaseDeploy, report.PhaseProgrammed, report.PhaseSettle, report.PhaseSampling} {
		ps = append(ps, report.Phase{Name: name, Duration: ss.times[name]})
	}
	return ps
}

// agentClient returns the one client of the agent at url (nil for ""),
// shared by every probe through it so that its connections are reused;
// Finish closes them.
func (ss *Session) agentClient(url string) *loadgen.AgentClient {
	if url == "" {
		return nil
	}
	if c, ok := ss.agents[url]; ok {
		return c
	}
	if ss.agents == nil {
		ss.agents = map[string]*loadgen.AgentClient{}
	}
	c := &loadgen.AgentClient{URL: url}
	ss.agents[url] = c
	return c
}

// text reports whether the probes are printed as they finish.
func (ss *Session) text() bool { return ss.opts.Output == "" || ss.opts.Output == report.FormatText }

// add records a probe and, in text mode, prints its report.
func (ss *Session) add(rp report.Probe) error {
	ss.doc.Probes = append(ss.doc.Probes, rp)
	if !ss.text() {
		return nil
	}
	if err := report.WriteProbeText(ss.out, rp); err != nil {
		return &Error{Kind: EnvironmentError, Scenario: rp.Scenario, Step: rp.Step, Probe: rp.Name, Err: fmt.Errorf("writing the report: %w", err)}
	}
	if _, err := fmt.Fprintln(ss.out); err != nil {
		return &Error{Kind: EnvironmentError, Err: fmt.Errorf("writing the report: %w", err)}
	}
	return nil
}

// finish writes the text summary, or the whole report in the other formats.
func (ss *Session) finish() error {
	if ss.text() {
		return report.WriteSummary(ss.out, ss.doc)
	}
	return report.Write(ss.out, ss.opts.Output, ss.doc)
}

func (ss *Session) teardownTimeout() time.Duration {
	if ss.opts.TeardownTimeout > 0 {
		return ss.opts.TeardownTimeout
	}
	return DefaultTeardownTimeout
}
