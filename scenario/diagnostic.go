package scenario

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Severity says whether a Diagnostic stops a scenario from loading.
type Severity int

// Severities of diagnostics.
const (
	// SeverityError stops the scenario from loading: it is malformed, or
	// sure to fail on a real cluster (istiod rejects it, or no probe could
	// pass).
	SeverityError Severity = iota + 1
	// SeverityWarning lets the scenario run, though it likely fails or
	// shows something other than intended.
	SeverityWarning
)

// String is "error" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Diagnostic is one problem found in a scenario: where it is (file, line,
// field), what is wrong and what is allowed, and how bad it is.
type Diagnostic struct {
	// Severity says whether the problem stops the scenario from loading.
	Severity Severity
	// File is the path of scenario.yaml or of a manifest.
	File string
	// Line is the 1-based line in File; 0 when the problem is the file as a
	// whole.
	Line int
	// Field is the path of the field at fault
	// ("spec.steps[0].probes[1].expect.weights"), or "" when none applies.
	Field string
	// Msg says what is wrong and what is allowed.
	Msg string
	// PredictsFailure marks a warning of the routing model predicting that
	// a probe fails (its expectation disagrees with the config, or its
	// requests end in errors); `scenarios validate --strict` treats these
	// as errors.
	PredictsFailure bool
}

// Error formats d as "file:line: field: msg", leaving out the line when it
// is 0 and the field when it is empty.
func (d Diagnostic) Error() string { return d.String() }

// String formats d like Error.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(d.Line))
	}
	b.WriteString(": ")
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// LoadError is the error of a scenario that does not load: every
// error-severity Diagnostic found, in file and line order.
type LoadError struct {
	// Errors are the problems, each naming its file, line and field.
	Errors []Diagnostic
}

// Error lists the problems, one a line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, d := range e.Errors {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as a *Diagnostic, so errors.As finds the
// first.
func (e *LoadError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i := range e.Errors {
		out[i] = &e.Errors[i]
	}
	return out
}

// diagnostics collects the findings of one Load.
type diagnostics struct {
	list []Diagnostic
	seen map[Diagnostic]bool
}

// add records d once, however many steps share it.
func (ds *diagnostics) add(d Diagnostic) {
	if ds.seen == nil {
		ds.seen = map[Diagnostic]bool{}
	}
	if ds.seen[d] {
		return
	}
	ds.seen[d] = true
	ds.list = append(ds.list, d)
}

func (ds *diagnostics) failed() bool {
	return slices.ContainsFunc(ds.list, func(d Diagnostic) bool { return d.Severity == SeverityError })
}

// split sorts the findings by file (in the order files were first named)
// and line, and returns the warnings and, when there are errors, a
// *LoadError.
func (ds *diagnostics) split() ([]Diagnostic, error) {
	rank := map[string]int{}
	for _, d := range ds.list {
		if _, ok := rank[d.File]; !ok {
			rank[d.File] = len(rank)
		}
	}
	slices.SortStableFunc(ds.list, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(rank[a.File], rank[b.File]), cmp.Compare(a.Line, b.Line))
	})
	var warnings, errs []Diagnostic
	for _, d := range ds.list {
		if d.Severity == SeverityError {
			errs = append(errs, d)
		} else {
			warnings = append(warnings, d)
		}
	}
	if len(errs) > 0 {
		return warnings, &LoadError{Errors: errs}
	}
	return warnings, nil
}
