// Package matchers holds the gomega matchers of meshcheck's e2e suite
// (package e2e, build tag e2e): HavePassed, for a probe's or a whole run's
// report. It is not behind the tag, so that its tests run with every
// `go test`.
package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// HavePassed succeeds when the actual value, a report.Probe or a
// report.Run (or a non-nil pointer to one), PASSed: a probe whose verdict
// is PASS, a run whose verdict is PASS and that no error stopped. Its
// failure message is the report's own words: for a probe its text report
// (the verdict table with one sentence per failing line, or what is still
// undecided, the traffic and the notes), for a run the verdict of each
// probe that did not PASS with its sentences, and the run's error.
func HavePassed() types.GomegaMatcher { return passed{} }

// passed is HavePassed's matcher.
type passed struct{}

// Match says whether actual PASSed.
func (passed) Match(actual any) (bool, error) {
	switch a := deref(actual).(type) {
	case report.Probe:
		return a.Result.Verdict == verify.Pass, nil
	case report.Run:
		return a.Verdict == verify.Pass && a.Error == nil, nil
	}
	return false, fmt.Errorf("HavePassed matches a report.Probe or a report.Run (or a pointer to one), not %T", actual)
}

// FailureMessage says why actual did not PASS.
func (passed) FailureMessage(actual any) string {
	switch a := deref(actual).(type) {
	case report.Probe:
		return fmt.Sprintf("Expected %s to PASS, its verdict is %s:\n%s", title(a), a.Result.Verdict, probeText(a))
	case report.Run:
		return "Expected the run to PASS, its verdict is " + a.Verdict.String() + ":\n" + runText(a)
	}
	return fmt.Sprintf("HavePassed matches a report.Probe or a report.Run, not %T", actual)
}

// NegatedFailureMessage says that actual PASSed.
func (passed) NegatedFailureMessage(actual any) string {
	switch a := deref(actual).(type) {
	case report.Probe:
		return fmt.Sprintf("Expected %s not to PASS, it did:\n%s", title(a), probeText(a))
	case report.Run:
		return "Expected the run not to PASS, it did:\n" + runText(a)
	}
	return fmt.Sprintf("HavePassed matches a report.Probe or a report.Run, not %T", actual)
}

// deref returns the value a non-nil *report.Probe or *report.Run points
// to, else actual.
func deref(actual any) any {
	switch a := actual.(type) {
	case *report.Probe:
		if a != nil {
			return *a
		}
	case *report.Run:
		if a != nil {
			return *a
		}
	}
	return actual
}

// title names a probe: "probe scenario / step / name".
func title(p report.Probe) string {
	if t := p.Title(); t != "" {
		return t
	}
	return "an unnamed probe"
}

// probeText is a probe's text report, indented.
func probeText(p report.Probe) string {
	var b strings.Builder
	if err := report.WriteProbeText(&b, p); err != nil {
		// A strings.Builder does not fail; a renderer's own error says
		// what could not be shown.
		fmt.Fprintf(&b, "(the report cannot be written: %v)\n", err)
	}
	return indent(b.String())
}

// runText is the verdict of each probe of r that did not PASS, with its
// sentences, then r's summary: the count of probes per verdict and the
// error that stopped the run, if any.
func runText(r report.Run) string {
	var b strings.Builder
	for _, p := range r.Probes {
		if p.Result.Verdict == verify.Pass {
			continue
		}
		if err := report.WriteVerdict(&b, title(p), p.Result); err != nil {
			fmt.Fprintf(&b, "(the verdict of %s cannot be written: %v)\n", title(p), err)
		}
	}
	if err := report.WriteSummary(&b, r); err != nil {
		fmt.Fprintf(&b, "(the summary cannot be written: %v)\n", err)
	}
	return indent(b.String())
}

// indent indents every line of s by four spaces, as gomega indents the
// values it prints.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n")
}
