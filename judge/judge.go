// Package judge joins the load generator and the verdict engine, the one
// place where traffic meets statistics: it runs a loadgen probe with a
// verify.Engine as its Sink, stopping the attack once the verdict is decided,
// and re-judges saved results files. loadgen attacks, orders, settles and
// classifies; verify decides; judge feeds the one to the other.
package judge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// Probe is a load probe and what its responses should show.
type Probe struct {
	Load   loadgen.Probe
	Expect verify.Expectation
}

// Validate checks the load probe and the expectation; expecting versions
// needs a classifier.
func (p Probe) Validate() error {
	if err := p.Load.Validate(); err != nil {
		return err
	}
	if err := p.Expect.Validate(); err != nil {
		return err
	}
	if len(p.Expect.Weights) > 0 && p.Load.Classify.IsZero() {
		return errors.New("classifier: expecting versions needs a classifier (json:<path>, regex:<expr>, header:<name> or status)")
	}
	return nil
}

// Sink feeds the records loadgen hands over to a verify.Engine and says stop
// once the verdict is decided.
type Sink struct{ eng *verify.Engine }

// NewSink returns a Sink judging against exp.
func NewSink(exp verify.Expectation) (*Sink, error) {
	eng, err := verify.New(exp)
	if err != nil {
		return nil, err
	}
	return &Sink{eng: eng}, nil
}

// Judge implements loadgen.Sink: it observes r and reports whether the
// verdict is decided.
func (s *Sink) Judge(r loadgen.Record) bool {
	return s.eng.Observe(verify.Observation{Status: r.Status, Version: r.Version, Unmet: r.Unmet != ""}) != verify.Inconclusive
}

// Result is the verdict so far.
func (s *Sink) Result() verify.Result { return s.eng.Result() }

// Progress is a snapshot of a running probe and its verdict so far.
type Progress struct {
	loadgen.Progress
	Result verify.Result
}

// String is the live status line: elapsed, requests, rate and each line's
// share with its interval.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs  %s req  %.1f/s", p.Elapsed.Seconds(), verify.Thousands(p.Requests), p.Rate)
	for _, l := range p.Result.Lines {
		fmt.Fprintf(&b, "  %s %s [%s, %s]", l.Name, verify.Percent(l.Share), verify.Percent(l.Lower), verify.Percent(l.Upper))
	}
	return b.String()
}

// Options shape Run.
type Options struct {
	// Agent, when set, is the client of an in-mesh agent (meshcheck
	// agent) that sends the requests and streams the records back; else
	// they are sent from this process. The caller owns it (and its
	// connections, shared across probes) and closes it.
	Agent *loadgen.AgentClient
	// Records, when set, receives every record, its phase set, in send
	// order (to save them: loadgen.RecordWriter.Write). Its error stops
	// the probe.
	Records func(loadgen.Record) error
	// Progress, when set, is called about every Every with a snapshot.
	Progress func(Progress)
	Every    time.Duration
}

// Run validates p, attacks its target and judges the responses in send order
// after the settle phase, stopping as soon as the verdict is decided or a
// budget is spent. For a status expectation, any response below 500 counts
// as good in the settle phase. It returns the verdict and the traffic behind
// it, with loadgen.Run's errors (then with the verdict and traffic so far).
func Run(ctx context.Context, p Probe, o Options) (verify.Result, loadgen.Stats, error) {
	if err := p.Validate(); err != nil {
		return verify.Result{}, loadgen.Stats{}, err
	}
	sink, err := NewSink(p.Expect)
	if err != nil {
		return verify.Result{}, loadgen.Stats{}, err
	}
	lp := p.Load
	lp.Options.SettleAnyStatus = p.Expect.Status != 0
	var opts []loadgen.RunOption
	if o.Records != nil {
		opts = append(opts, loadgen.OnRecord(o.Records))
	}
	if o.Progress != nil && o.Every > 0 {
		// Called from the goroutine that calls the Sink: reading the
		// engine here is safe.
		opts = append(opts, loadgen.OnProgress(o.Every, func(pr loadgen.Progress) {
			o.Progress(Progress{Progress: pr, Result: sink.Result()})
		}))
	}
	var stats loadgen.Stats
	if o.Agent != nil {
		stats, err = o.Agent.Run(ctx, lp, sink, opts...)
	} else {
		stats, err = loadgen.Run(ctx, lp, sink, opts...)
	}
	return sink.Result(), stats, err
}

// NoHeaderNote is the note of a replayed results file without a header.
const NoHeaderNote = "the results file has no header (an older meshcheck wrote it): where the probe ran, and whether the mesh was emulated, is not recorded"

// ReplayFile re-judges a results file written with --save against exp: its
// judged records go through the same sequential engine, in send order, from
// where the live run's settle phase ended (loadgen.ReplayFile). The report
// carries what the file's header says: the environment, whether it was
// emulated, the scenario, step, probe and target. Every error is the input's
// (exit 2).
func ReplayFile(path string, exp verify.Expectation) (report.Run, error) {
	sink, err := NewSink(exp)
	if err != nil {
		return report.Run{}, fmt.Errorf("expectation: %w", err)
	}
	h, stats, err := loadgen.ReplayFile(path, sink)
	if err != nil {
		return report.Run{}, err
	}
	p := report.Probe{Name: h.Probe, Scenario: h.Scenario, Step: h.Step, Vantage: h.From,
		Target: loadgen.Target{URL: h.URL, Host: h.Host}, Emulated: h.Emulated, Result: sink.Result(), Stats: stats}
	switch {
	case h.Results == "":
		p.Notes = append(p.Notes, NoHeaderNote)
	case h.Agent != "":
		p.Notes = append(p.Notes, "requests sent by the agent at "+h.Agent)
	}
	run := report.Single(report.CommandJudge, p)
	run.Environment = h.Environment
	return run, nil
}
