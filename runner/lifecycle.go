package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
)

// DefaultCloseTimeout bounds closing the environment after a run (deleting
// a kind cluster the run created) when Options.CloseTimeout is 0.
const DefaultCloseTimeout = 5 * time.Minute

// Execute is a whole run's lifecycle, as kind's `create cluster` command
// hands its flags to one Provider call: it opens the environment o makes,
// runs the scenarios in it (Run), and closes it (env.Closer) with failed set
// when the run ended in an error or a verdict other than PASS. Closing is
// bounded by Options.CloseTimeout and happens even after ctx ended (Ctrl-C
// still deletes a cluster the run created).
//
// An environment that cannot be opened ends the run before any probe: the
// report then has the plan (its scenarios and steps) and the error, written
// to Options.Out in a machine format (in text the error says it all), and
// the error is an *Error: InputError when the user's input is wrong
// (env.ErrInvalidOptions), Interrupted when ctx ended, else
// EnvironmentError.
func Execute(ctx context.Context, o env.Opener, scenarios []*scenario.Scenario, opts Options) (report.Run, error) {
	e, doc, err := Open(ctx, o, scenarios)
	if err != nil {
		if opts.Output != "" && opts.Output != report.FormatText && opts.Out != nil {
			if werr := report.Write(opts.Out, opts.Output, doc); werr != nil {
				return doc, errors.Join(err, fmt.Errorf("writing the report: %w", werr))
			}
		}
		return doc, err
	}
	run, err := Run(ctx, e, scenarios, opts)
	return Close(ctx, e, run, err, opts)
}

// Open opens the environment o makes for a run of the scenarios. When it
// cannot, the report it returns is the run's plan (its scenarios and steps)
// with the error, and the error is an *Error: InputError when the user's
// input is wrong (env.ErrInvalidOptions), Interrupted when ctx ended, else
// EnvironmentError. Execute and the e2e suite open their environments with
// it.
func Open(ctx context.Context, o env.Opener, scenarios []*scenario.Scenario) (env.Environment, report.Run, error) {
	e, err := o.Open(ctx)
	if err == nil {
		return e, report.Run{}, nil
	}
	doc := Plan(o.Name(), o.Emulated(), scenarios)
	re := &Error{Kind: EnvironmentError, Err: err}
	switch {
	case errors.Is(err, env.ErrInvalidOptions):
		re.Kind = InputError
	case ctx.Err() != nil:
		re.Kind = Interrupted
	}
	doc.Error = re.report()
	return nil, doc, re
}

// Close ends the lifecycle of e, an environment an env.Opener opened, after
// a run that gave run and err: with Options.Debug after a failed run it has
// the environment write its debug bundle, then it closes the environment
// (env.Closer) with failed set when err is not nil or the verdict is not
// PASS, bounded by Options.CloseTimeout and also after ctx ended; with
// Options.Timings it adds the down phase to run. It returns run and err;
// when err is nil and closing fails, that error (an EnvironmentError, also
// in run's Error). Execute and the e2e suite end their runs with it.
func Close(ctx context.Context, e env.Environment, run report.Run, err error, opts Options) (report.Run, error) {
	debugBundle(ctx, e, run, err, opts)
	c, ok := e.(env.Closer)
	if !ok {
		return run, err
	}
	timeout := opts.CloseTimeout
	if timeout <= 0 {
		timeout = DefaultCloseTimeout
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	closing := time.Now()
	cerr := c.Close(cctx, err != nil || run.Verdict != verify.Pass)
	if opts.Timings {
		run.Phases = append(run.Phases, report.Phase{Name: report.PhaseDown, Duration: time.Since(closing)})
	}
	switch {
	case cerr == nil:
		return run, err
	case err == nil:
		cerr = &Error{Kind: EnvironmentError, Err: fmt.Errorf("closing the %s environment: %w", e.Name(), cerr)}
		run.Error = cerr.(*Error).report()
		return run, cerr
	}
	if opts.Log != nil {
		opts.Log.Error("closing the environment failed", "environment", e.Name(), "error", cerr)
	}
	return run, err
}

// DefaultDebugTimeout bounds collecting a debug bundle (Options.Debug).
const DefaultDebugTimeout = 2 * time.Minute

// debugBundle has an env.Debugger write its bundle to opts.Debug when the
// run failed: a FAIL verdict or an environment error (exit 1 or 4), not an
// input error or an interruption. A bundle that cannot be collected is
// logged: the run's outcome stays its own.
func debugBundle(ctx context.Context, e env.Environment, run report.Run, err error, opts Options) {
	d, ok := e.(env.Debugger)
	var re *Error
	failed := (err == nil && run.Verdict == verify.Fail) || (errors.As(err, &re) && re.Kind == EnvironmentError)
	if opts.Debug == "" || !ok || !failed {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultDebugTimeout)
	defer cancel()
	if opts.Log != nil {
		opts.Log.Info("collecting a debug bundle", "folder", opts.Debug)
	}
	if derr := d.CollectDebug(dctx, opts.Debug); derr != nil && opts.Log != nil {
		opts.Log.Error("collecting the debug bundle failed", "folder", opts.Debug, "error", derr)
	}
	if opts.Notices != nil {
		fmt.Fprintf(opts.Notices, "meshcheck: debug bundle in %s\n", opts.Debug)
	}
}

// DryRun prints what a run of the scenarios in the environment o makes would
// apply, contacting nothing and changing nothing (for kind first the
// cluster plan). An environment that cannot dry-run is an InputError.
func DryRun(w io.Writer, o env.Opener, scenarios []*scenario.Scenario) error {
	d, ok := o.(env.DryRunner)
	if !ok {
		return &Error{Kind: InputError, Err: fmt.Errorf("the %s environment has no dry run: it applies nothing to a cluster", o.Name())}
	}
	if err := d.DryRun(w, scenarios); err != nil {
		return &Error{Kind: InputError, Err: err}
	}
	return nil
}
