package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

// JUnit XML, in the shape CI systems read (Jenkins, GitLab, GitHub test
// reporters, Buildkite): <testsuites> of <testsuite>, each counting its
// tests, failures, errors and skipped, of <testcase>.
//
// A run maps to it as follows:
//   - one testsuite per scenario (named after it), plus one named after the
//     command for probes outside any scenario (probe, judge); its
//     properties name the command and environment, the run's phase times
//     and the scenario's mesh cost;
//   - one testcase per probe, named "<step> / <probe>", classname
//     "<scenario>.<step>"; its properties hold the verdict, the counts, the
//     intervals and the settle phase, its system-out the probe's text report;
//   - FAIL is a <failure type="fail"> whose message is the verdict sentence
//     (the failing lines' reasons);
//   - INCONCLUSIVE is a <failure type="inconclusive"> too, message "undecided
//     after N requests: <lines>": a CI must not go green on a run that
//     showed nothing;
//   - the error that stopped a run is an <error type="<kind>"> on the
//     testcase of its probe, or on a testcase named after its step (or
//     "setup") when no probe ran.

// junitTotals are the attributes of <testsuites> and <testsuite>: a name
// and the counts of what they hold.
type junitTotals struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	junitTotals
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	junitTotals
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`

	scenario string
	seconds  float64
}

type junitCase struct {
	Name       string           `xml:"name,attr"`
	Classname  string           `xml:"classname,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Failure    *junitProblem    `xml:"failure,omitempty"`
	Error      *junitProblem    `xml:"error,omitempty"`
	SystemOut  *junitText       `xml:"system-out,omitempty"`

	step, probe string
}

type junitProperties struct {
	List []junitProperty `xml:"property"`
}

// junitText is text kept as it is, in a CDATA section.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// WriteJUnit writes r as JUnit XML (see the mapping above).
func WriteJUnit(w io.Writer, r Run) error {
	doc := junitSuites{junitTotals: junitTotals{Name: "meshcheck"}}
	suite := func(scenario string) *junitSuite {
		for i := range doc.Suites {
			if doc.Suites[i].scenario == scenario {
				return &doc.Suites[i]
			}
		}
		name := scenario
		if name == "" {
			name = r.Command
		}
		doc.Suites = append(doc.Suites, junitSuite{junitTotals: junitTotals{Name: name}, scenario: scenario, Properties: suiteProperties(r, scenario)})
		return &doc.Suites[len(doc.Suites)-1]
	}
	for _, s := range r.Scenarios {
		suite(s.Name)
	}
	for _, p := range r.Probes {
		s := suite(p.Scenario)
		c, err := probeCase(p, s.Name)
		if err != nil {
			return err
		}
		if s.Timestamp == "" && !p.Stats.Started.IsZero() {
			s.Timestamp = p.Stats.Started.UTC().Format("2006-01-02T15:04:05")
		}
		s.seconds += (p.Stats.Settle.Duration + p.Stats.Duration).Seconds()
		s.Cases = append(s.Cases, c)
	}
	if e := r.Error; e != nil {
		s := suite(e.Scenario)
		problem := &junitProblem{Message: e.Message, Type: e.Kind, Text: e.Text()}
		var c *junitCase
		for i := range s.Cases {
			if e.Probe != "" && s.Cases[i].step == e.Step && s.Cases[i].probe == e.Probe {
				c = &s.Cases[i]
			}
		}
		if c == nil {
			name := "setup"
			switch {
			case e.Probe != "":
				name = e.Step + " / " + e.Probe
			case e.Step != "":
				name = e.Step
			case e.Scenario == "":
				name = r.Command
			}
			s.Cases = append(s.Cases, junitCase{Name: name, Classname: classname(s.Name, e.Step), Time: "0"})
			c = &s.Cases[len(s.Cases)-1]
		}
		// The error explains the verdict (an interrupted probe's
		// INCONCLUSIVE), so it takes the failure's place.
		c.Failure, c.Error = nil, problem
	}
	for i := range doc.Suites {
		s := &doc.Suites[i]
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Error != nil:
				s.Errors++
			case c.Failure != nil:
				s.Failures++
			}
		}
		s.Time = seconds(s.seconds)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	doc.Time = seconds(r.Duration.Seconds())
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// suiteProperties describe where the run happened and its phase times
// ("phase.<name>.seconds", when timed), on every suite, and the suite's
// scenario's mesh cost ("meshCost.<part>.pods", ".milliCPU",
// ".memoryBytes", and "meshCost.after"), when read.
func suiteProperties(r Run, scenario string) *junitProperties {
	ps := []junitProperty{{"command", r.Command}}
	if r.Environment != "" {
		ps = append(ps, junitProperty{"environment", r.Environment})
	}
	ps = append(ps, junitProperty{"emulated", strconv.FormatBool(r.Emulated)})
	for _, ph := range r.Phases {
		ps = append(ps, junitProperty{"phase." + ph.Name + ".seconds", strconv.FormatFloat(ph.Duration.Seconds(), 'f', 3, 64)})
	}
	for _, sc := range r.Scenarios {
		if sc.Name != scenario || sc.MeshCost == nil {
			continue
		}
		ps = append(ps, junitProperty{"meshCost.after", sc.MeshCost.After})
		for _, part := range sc.MeshCost.parts() {
			ps = append(ps,
				junitProperty{"meshCost." + part.name + ".pods", strconv.Itoa(part.u.Pods)},
				junitProperty{"meshCost." + part.name + ".milliCPU", strconv.FormatFloat(part.u.MilliCPU, 'f', 1, 64)},
				junitProperty{"meshCost." + part.name + ".memoryBytes", strconv.FormatUint(part.u.MemoryBytes, 10)})
		}
	}
	return &junitProperties{ps}
}

// probeCase is the testcase of one probe.
func probeCase(p Probe, suite string) (junitCase, error) {
	var text strings.Builder
	if err := WriteProbeText(&text, p); err != nil {
		return junitCase{}, err
	}
	name := p.label()
	if p.Scenario != "" {
		name = strings.TrimPrefix(name, p.Scenario+" / ")
	}
	c := junitCase{Name: name, Classname: classname(suite, p.Step), SystemOut: &junitText{text.String()},
		Time: seconds((p.Stats.Settle.Duration + p.Stats.Duration).Seconds()), step: p.Step, probe: p.Name,
		Properties: probeProperties(p)}
	switch p.Result.Verdict {
	case verify.Fail:
		c.Failure = &junitProblem{Message: p.Sentence(), Type: "fail", Text: strings.Join(p.Result.Failures(), "\n")}
	case verify.Inconclusive:
		c.Failure = &junitProblem{Message: p.Sentence(), Type: "inconclusive",
			Text: "INCONCLUSIVE is not a pass: the budget ended before the evidence decided"}
	}
	return c, nil
}

// probeProperties are a probe's verdict, counts, intervals and settle phase.
func probeProperties(p Probe) *junitProperties {
	r, s := p.Result, p.Stats
	ps := []junitProperty{{"verdict", r.Verdict.String()}, {"requests", strconv.FormatInt(r.Requests, 10)}}
	if p.Vantage != "" {
		ps = append(ps, junitProperty{"from", p.Vantage})
	}
	ps = append(ps, junitProperty{"emulated", strconv.FormatBool(p.Emulated)})
	for i, row := range lineRows(r) {
		l := r.Lines[i]
		ps = append(ps, junitProperty{"line " + l.Name, fmt.Sprintf("%s: count %d of %d, share %s, interval %s, expected %s",
			l.State, l.Count, l.Of, row[2], row[3], row[4])})
	}
	ps = append(ps, junitProperty{"alpha", strconv.FormatFloat(r.Expectation.Alpha, 'g', -1, 64)})
	if !p.countsOnly() {
		ps = append(ps,
			junitProperty{"stopped", string(s.Stopped)},
			junitProperty{"ignored", strconv.FormatInt(s.Ignored, 10)},
			junitProperty{"errors", strconv.FormatInt(s.Errors, 10)},
			junitProperty{"unclassified", strconv.FormatInt(s.Unclassified, 10)},
			junitProperty{"settle requests", strconv.FormatInt(s.Settle.Requests, 10)},
			junitProperty{"settle seconds", seconds(s.Settle.Duration.Seconds())},
			junitProperty{"rate achieved", strconv.FormatFloat(s.RateAchieved, 'f', -1, 64)})
	}
	return &junitProperties{ps}
}

// classname is "<suite>.<step>", or the suite alone outside a step.
func classname(suite, step string) string {
	if step == "" {
		return suite
	}
	return suite + "." + step
}

// seconds writes a JUnit time: seconds with millisecond precision.
func seconds(s float64) string {
	return strconv.FormatFloat(time.Duration(s*float64(time.Second)).Round(time.Millisecond).Seconds(), 'f', -1, 64)
}
