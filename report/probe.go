package report

import (
	"fmt"
	"strings"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

// Probe is everything about one probe run: where it sent traffic, what the
// verdict was and the traffic behind it. A judgement of counts has a Result
// and no traffic: its Stats are zero.
type Probe struct {
	// Name, Scenario and Step place the probe in a scenario ("" outside).
	Name     string `json:"name,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	Step     string `json:"step,omitempty"`
	// Vantage is where the traffic came from: "ingress" or "mesh".
	Vantage string `json:"vantage,omitempty"`
	// Target is the request sent.
	Target loadgen.Target `json:"target"`
	// Emulated is true when the local environment answered instead of a
	// real proxy.
	Emulated bool          `json:"emulated"`
	Result   verify.Result `json:"result"`
	Stats    loadgen.Stats `json:"stats,omitzero"`
	// Notes explain the expectation, e.g. which route the config selects.
	Notes []string `json:"notes,omitempty"`
}

// Title names the probe in one line: its scenario, step and name, or else its
// URL, or else (a judgement of counts) the expectation; "" for a replayed
// results file.
func (p Probe) Title() string {
	var parts []string
	if p.Scenario != "" {
		parts = append(parts, p.Scenario)
	}
	if p.Step != "" {
		parts = append(parts, p.Step)
	}
	if p.Name != "" {
		parts = append(parts, p.Name)
	}
	switch {
	case len(parts) > 0:
		return "probe " + strings.Join(parts, " / ")
	case p.Target.URL != "":
		return "probe " + p.Target.URL
	case p.countsOnly():
		exp := p.Result.Expectation
		if exp.Status != 0 {
			return fmt.Sprintf("judge: status %d expected", exp.Status)
		}
		return "judge: " + verify.FormatWeights(exp.Weights) + " expected"
	}
	return ""
}

// counts reports whether the probe is a judgement of counts: a verdict
// without traffic.
func (p Probe) countsOnly() bool { return p.Stats.Stopped == "" && p.Stats.Requests == 0 }

// label names the probe in a table or a test report: its title without
// "probe ", or "results file" for a replay.
func (p Probe) label() string {
	if t := p.Title(); t != "" {
		return strings.TrimPrefix(t, "probe ")
	}
	return "results file"
}
