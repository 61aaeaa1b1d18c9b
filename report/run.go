package report

import (
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

// Schema names the version of the JSON report: the "schema" field of every
// document, described by docs/report.schema.json. A change that breaks a
// reader of v1 makes a v2.
const Schema = "meshcheck.dev/report/v1"

// The commands that produce a Run.
const (
	CommandRun   = "run"
	CommandProbe = "probe"
	CommandJudge = "judge"
)

// The kinds of a run's error, for the exit code: 2, 4 and 3.
const (
	ErrorInput       = "input"
	ErrorEnvironment = "environment"
	ErrorInterrupted = "interrupted"
)

// Run is the one result model of meshcheck: everything a run, a probe or a
// judgement produced. Every renderer (text, JSON, JUnit, Markdown) reads it,
// and its JSON form is the versioned report that `meshcheck report`
// re-renders. A probe or a judgement is a Run with one probe and no
// scenario.
type Run struct {
	// Schema is the report's version, Schema when written by this build.
	Schema string `json:"schema"`
	// Command is the command that produced it: run, probe or judge.
	Command string `json:"command"`
	// Environment names where the probes ran (local, kind, existing); ""
	// outside `meshcheck run`.
	Environment string `json:"environment,omitempty"`
	// Emulated is true when the mesh was emulated (--env local): the local
	// model answered, not a real Envoy. Every probe carries it too.
	Emulated bool `json:"emulated"`
	// Verdict is the worst verdict of the probes (see Verdict).
	Verdict verify.Verdict `json:"verdict"`
	// Started is when the run began; Duration how long it took.
	Started  time.Time     `json:"started,omitzero"`
	Duration time.Duration `json:"-"`
	// Scenarios are the scenarios the run was given, in order.
	Scenarios []Scenario `json:"scenarios"`
	// Probes are the probes that ran, in the order they finished.
	Probes []Probe `json:"probes"`
	// Error is what stopped the run, if anything did.
	Error *Error `json:"error,omitempty"`
	// Phases are how long each phase of the run took (meshcheck verify:
	// from the cluster's creation to its deletion and the total), in the
	// order they happened; empty when not timed.
	Phases []Phase `json:"phases,omitempty"`
}

// Scenario names one scenario of a run and its steps.
type Scenario struct {
	Name  string   `json:"name"`
	Title string   `json:"title,omitempty"`
	Steps []string `json:"steps"`
	// MeshCost is what the mesh used while the scenario ran, on real
	// clusters; nil when not read (the local environment emulates the
	// mesh, and reading can fail: the run then warns).
	MeshCost *MeshCost `json:"meshCost,omitempty"`
	// Skipped, when set, says why the scenario did not run (such as an
	// environment without the function backend it needs).
	Skipped string `json:"skipped,omitempty"`
}

// Error is the error that stopped a run, and where it happened.
type Error struct {
	// Kind is ErrorInput, ErrorEnvironment or ErrorInterrupted.
	Kind string `json:"kind"`
	// Scenario, Step and Probe locate it ("" where they do not apply).
	Scenario string `json:"scenario,omitempty"`
	Step     string `json:"step,omitempty"`
	Probe    string `json:"probe,omitempty"`
	// Message is the error's text.
	Message string `json:"message"`
}

// Verdict is the worst verdict of the probes: FAIL over INCONCLUSIVE over
// PASS. With no probes nothing was shown, so it is INCONCLUSIVE.
func Verdict(probes []Probe) verify.Verdict {
	if len(probes) == 0 {
		return verify.Inconclusive
	}
	v := verify.Pass
	for _, p := range probes {
		switch p.Result.Verdict {
		case verify.Fail:
			return verify.Fail
		case verify.Inconclusive:
			v = verify.Inconclusive
		}
	}
	return v
}

// Single returns the Run of one probe outside any scenario: what `probe`
// and `judge` report.
func Single(command string, p Probe) Run {
	return Run{Schema: Schema, Command: command, Emulated: p.Emulated, Verdict: p.Result.Verdict,
		Started: p.Stats.Started, Duration: p.Stats.Duration, Scenarios: []Scenario{}, Probes: []Probe{p}}
}

// counts returns how many probes have each verdict.
func (r Run) counts() map[verify.Verdict]int {
	c := map[verify.Verdict]int{}
	for _, p := range r.Probes {
		c[p.Result.Verdict]++
	}
	return c
}

// where names the environment, with ", emulated" when it was.
func (r Run) where() string {
	w := r.Environment
	if r.Emulated {
		if w == "" {
			return "emulated"
		}
		w += ", emulated"
	}
	return w
}

// Sentence is the verdict in one sentence, for a CI's failure message: the
// failing lines' reasons on a FAIL, what is undecided on an INCONCLUSIVE,
// "" on a PASS.
func (p Probe) Sentence() string {
	r := p.Result
	switch r.Verdict {
	case verify.Fail:
		return strings.Join(r.Failures(), "; ")
	case verify.Inconclusive:
		s := "undecided after " + plural(r.Requests, "request")
		if open := undecided(r); len(open) > 0 {
			s += ": " + strings.Join(open, ", ")
		}
		return s
	}
	return ""
}

// undecided names the lines still INCONCLUSIVE.
func undecided(r verify.Result) []string {
	var open []string
	for _, l := range r.Lines {
		if l.State == verify.Inconclusive {
			open = append(open, l.Name)
		}
	}
	return open
}

// Text is the error in one line: its kind, where it happened and its
// message, e.g. "environment error: scenario echo, step split, probe
// ingress: no response".
func (e *Error) Text() string {
	var where []string
	for _, part := range []struct{ name, v string }{{"scenario", e.Scenario}, {"step", e.Step}, {"probe", e.Probe}} {
		if part.v != "" {
			where = append(where, part.name+" "+part.v)
		}
	}
	s := e.Kind + " error: "
	if len(where) > 0 {
		s += strings.Join(where, ", ") + ": "
	}
	return s + e.Message
}
