// Package validate checks scenario folders without running them, for
// `meshcheck scenarios validate` and `meshcheck scenarios`: it loads each
// folder (package scenario), optionally has istioctl analyze each step's
// state (package env/istio), and renders the results as text. It lives apart
// from package scenario because istioctl is part of the environment, which
// scenario must not know.
package validate

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/scenario"
)

// Kind says what went wrong, for the exit code.
type Kind int

// The kinds of errors.
const (
	// Invalid: a scenario, or the folder asked for, is bad input (exit 2).
	Invalid Kind = iota + 1
	// Environment: istioctl failed to run (exit 4).
	Environment
)

// Error is a failure of Folders or List, with its kind.
type Error struct {
	Kind Kind
	Err  error
}

// Error returns the underlying error's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Options tune Folder and Folders.
type Options struct {
	// Istioctl is the istioctl to analyze each step's state with; "" skips
	// the analysis (meshcheck's own checks only).
	Istioctl string
	// Runner runs istioctl; nil runs it as a process (istio.ExecRunner).
	Runner istio.Runner
	// Strict makes warnings where the routing model predicts a probe fails
	// errors.
	Strict bool
}

// Result is the validation of one scenario folder.
type Result struct {
	// Dir is the folder as given.
	Dir string
	// Scenario is the loaded scenario; nil when it did not load.
	Scenario *scenario.Scenario
	// LoadErr is why the folder did not load (nil when it did); a
	// *scenario.LoadError lists every problem.
	LoadErr error
	// Warnings are the problems that let the scenario load.
	Warnings []scenario.Diagnostic
	// Strict is Options.Strict: warnings that predict failure count as
	// errors.
	Strict bool
	// Analyzed is true when istioctl analyzed the scenario; Findings are
	// then its messages.
	Analyzed bool
	Findings []istio.Finding
}

// Fatal is the number of warnings that fail the scenario: those predicting
// a probe fails, under Strict; 0 otherwise.
func (r Result) Fatal() int {
	if !r.Strict {
		return 0
	}
	n := 0
	for _, w := range r.Warnings {
		if w.PredictsFailure {
			n++
		}
	}
	return n
}

// Valid reports whether the folder loaded and no warning fails it.
func (r Result) Valid() bool { return r.LoadErr == nil && r.Fatal() == 0 }

// Folder validates the scenario in dir. The error is istioctl's failure to
// run (the Result then holds what loading found); a scenario that does not
// load is a Result with LoadErr, not an error.
func Folder(ctx context.Context, dir string, opts Options) (Result, error) {
	s, warnings, err := scenario.Load(dir)
	r := Result{Dir: dir, Warnings: warnings, Strict: opts.Strict}
	if err != nil {
		r.LoadErr = err
		return r, nil
	}
	r.Scenario = s
	if opts.Istioctl == "" {
		return r, nil
	}
	runner := opts.Runner
	if runner == nil {
		runner = istio.ExecRunner{}
	}
	findings, err := istio.AnalyzeScenario(ctx, runner, opts.Istioctl, s)
	if err != nil {
		return r, err
	}
	r.Analyzed, r.Findings = true, findings
	return r, nil
}

// Folders validates every dir in turn, writing each Result as it is found
// (WriteText). It fails with an Invalid *Error when any dir does not
// validate, and stops with an Environment *Error when istioctl fails.
func Folders(ctx context.Context, stdout, stderr io.Writer, dirs []string, opts Options) error {
	failed := 0
	for _, dir := range dirs {
		r, err := Folder(ctx, dir, opts)
		if err != nil {
			r.WriteDiagnostics(stderr)
			return &Error{Kind: Environment, Err: fmt.Errorf("%s: %w", dir, err)}
		}
		r.WriteText(stdout, stderr)
		if !r.Valid() {
			failed++
		}
	}
	if failed > 0 {
		return &Error{Kind: Invalid, Err: fmt.Errorf("%s of %d did not validate", plural(failed, "scenario"), len(dirs))}
	}
	return nil
}

// WriteText writes r's diagnostics to stderr (WriteDiagnostics) and, when
// the scenario loaded, its summary line to stdout: "dir: ok: scenario name,
// 1 step, 2 probes, 0 warnings[, 0 istioctl findings]", or "failed (...)"
// in place of "ok" when warnings fail it.
func (r Result) WriteText(stdout, stderr io.Writer) {
	r.WriteDiagnostics(stderr)
	if r.Scenario == nil {
		return
	}
	analysis := ""
	if r.Analyzed {
		analysis = ", " + plural(len(r.Findings), "istioctl finding")
	}
	verdict := "ok"
	if fatal := r.Fatal(); fatal > 0 {
		verdict = fmt.Sprintf("failed (--strict: %s predict failure)", plural(fatal, "warning"))
	}
	s := r.Scenario
	fmt.Fprintf(stdout, "%s: %s: scenario %s, %s, %s, %s%s\n", r.Dir, verdict, s.Metadata.Name,
		plural(len(s.Steps), "step"), plural(ProbeCount(s), "probe"), plural(len(r.Warnings), "warning"), analysis)
}

// WriteDiagnostics writes one line per problem: "error: ..." for each load
// error, "warning: ..." for each warning (or "error: ... (--strict: ...)"
// for one that fails the scenario), "istioctl: ..." for each finding.
func (r Result) WriteDiagnostics(w io.Writer) {
	var le *scenario.LoadError
	if errors.As(r.LoadErr, &le) {
		for _, e := range le.Errors {
			fmt.Fprintf(w, "error: %s\n", e)
		}
	} else if r.LoadErr != nil {
		fmt.Fprintf(w, "error: %s\n", r.LoadErr)
	}
	for _, d := range r.Warnings {
		if r.Strict && d.PredictsFailure {
			fmt.Fprintf(w, "error: %s (--strict: the routing model predicts the probe fails)\n", d)
			continue
		}
		fmt.Fprintf(w, "warning: %s\n", d)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "istioctl: %s\n", f)
	}
}

// ProbeCount is the number of probes in all of s's steps.
func ProbeCount(s *scenario.Scenario) int {
	n := 0
	for _, st := range s.Steps {
		n += len(st.Probes)
	}
	return n
}

// plural formats a count with its noun: "1 step", "3 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
