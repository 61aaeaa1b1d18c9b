package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

// templates holds the page of the HTML report, with its style sheet.
//
//go:embed templates/report.html.tmpl
var templates embed.FS

// htmlTemplate is the parsed page. html/template escapes every value by
// its context; the charts, built and escaped in Go, are the only
// template.HTML.
var htmlTemplate = template.Must(template.ParseFS(templates, "templates/report.html.tmpl"))

// WriteHTML writes r as one self-contained HTML5 page: a verdict banner
// with the environment (and a warning when the mesh was emulated), the
// error that stopped the run, a table of the probes, then per scenario and
// step each probe's verdict with its reasons, its line table, an inline SVG
// chart of each version's share against the requests judged (with its
// confidence band and tolerance band, from the lines' History), its
// traffic and latency percentiles and its notes. The page fetches nothing
// (its Content-Security-Policy forbids it) and has no script.
func WriteHTML(w io.Writer, r Run) error {
	return htmlTemplate.Execute(w, newHTMLPage(r))
}

// htmlPage is what the template renders.
type htmlPage struct {
	Title, Command, Verdict, Class string
	// Summary counts the probes per verdict; Where is the environment.
	Summary, Where    string
	Emulated          bool
	EmulatedNote      string
	Started, Duration string
	Error             string
	Rows              []htmlRow
	Groups            []htmlGroup
	NoProbes          bool
}

// htmlRow is one probe in the table of probes.
type htmlRow struct {
	ID, Label, Verdict, Class, Requests, Time, Why string
}

// htmlGroup is a scenario, or the probes outside any.
type htmlGroup struct {
	Name, Title string
	Steps       []htmlStep
	Cost        *htmlCost
}

// htmlCost is a scenario's mesh cost table.
type htmlCost struct {
	After, Nodes string
	Rows         []htmlCostRow
}

// htmlCostRow is one part of the mesh in the cost table.
type htmlCostRow struct{ Part, Pods, CPU, Memory string }

func newHTMLCost(c MeshCost) *htmlCost {
	hc := &htmlCost{After: c.After, Nodes: plural(int64(c.Nodes), "node")}
	for _, p := range c.parts() {
		hc.Rows = append(hc.Rows, htmlCostRow{Part: p.name, Pods: strconv.Itoa(p.u.Pods),
			CPU: fmt.Sprintf("%.0fm", p.u.MilliCPU), Memory: mebibytes(p.u.MemoryBytes)})
	}
	return hc
}

// htmlStep is a step of a scenario and its probes; Empty says why it has
// none.
type htmlStep struct {
	Name   string
	Probes []htmlProbe
	Empty  string
}

// htmlProbe is one probe's section.
type htmlProbe struct {
	ID, Heading, Verdict, Class, After string
	// Reasons are the failing lines' sentences, or what is undecided.
	Reasons []string
	Facts   [][2]string
	Lines   []htmlLine
	Charts  []htmlChart
	NoChart string
	Stats   [][2]string
	Latency [][2]string
	Samples []htmlSamples
	Notes   []string
	Method  string
}

// htmlLine is one row of a probe's line table.
type htmlLine struct {
	Cells []string
	Class string
}

// htmlChart is a rendered chart with its legend and caption.
type htmlChart struct {
	SVG     template.HTML
	Legend  []htmlLegend
	Caption string
}

// htmlSamples are the error or unclassified samples of a probe.
type htmlSamples struct {
	Label, Count string
	Samples      []htmlSample
}

// htmlSample is one sample: its status, count, text and body.
type htmlSample struct {
	Status, Count, Text, Body string
}

// verdictClass is the style class of a verdict.
func verdictClass(v verify.Verdict) string { return strings.ToLower(v.String()) }

func newHTMLPage(r Run) htmlPage {
	c := r.counts()
	pg := htmlPage{
		Title: "meshcheck " + r.Command + ": " + r.Verdict.String(), Command: r.Command, Verdict: r.Verdict.String(), Class: verdictClass(r.Verdict),
		Summary: fmt.Sprintf("%s: %d PASS, %d FAIL, %d INCONCLUSIVE", plural(int64(len(r.Probes)), "probe"),
			c[verify.Pass], c[verify.Fail], c[verify.Inconclusive]),
		Where: r.Environment, Emulated: r.Emulated, EmulatedNote: emulatedNote, NoProbes: len(r.Probes) == 0,
	}
	if !r.Started.IsZero() {
		pg.Started = r.Started.UTC().Format(time.RFC3339)
	}
	if r.Duration > 0 {
		pg.Duration = probeDuration(r.Duration)
	}
	if r.Error != nil {
		pg.Error = r.Error.Text()
	}
	ids := make([]string, len(r.Probes))
	for i, p := range r.Probes {
		ids[i] = "probe-" + strconv.Itoa(i+1)
		pg.Rows = append(pg.Rows, htmlRow{ID: ids[i], Label: p.label(), Verdict: p.Result.Verdict.String(), Class: verdictClass(p.Result.Verdict),
			Requests: verify.Thousands(p.Result.Requests), Time: probeDuration(p.Stats.Settle.Duration + p.Stats.Duration), Why: p.Sentence()})
	}
	placed := make([]bool, len(r.Probes))
	for _, sc := range r.Scenarios {
		g := htmlGroup{Name: sc.Name, Title: sc.Title}
		if sc.MeshCost != nil {
			g.Cost = newHTMLCost(*sc.MeshCost)
		}
		for _, step := range sc.Steps {
			st := htmlStep{Name: step}
			for i, p := range r.Probes {
				if !placed[i] && p.Scenario == sc.Name && p.Step == step {
					placed[i] = true
					st.Probes = append(st.Probes, newHTMLProbe(ids[i], p.Name, p))
				}
			}
			if len(st.Probes) == 0 {
				st.Empty = "No probe ran in this step."
				if e := r.Error; e != nil && e.Scenario == sc.Name && e.Step == step {
					st.Empty = "Stopped: " + e.Text()
				}
			}
			g.Steps = append(g.Steps, st)
		}
		pg.Groups = append(pg.Groups, g)
	}
	var loose htmlStep
	for i, p := range r.Probes {
		if !placed[i] {
			loose.Probes = append(loose.Probes, newHTMLProbe(ids[i], p.label(), p))
		}
	}
	if len(loose.Probes) > 0 {
		pg.Groups = append(pg.Groups, htmlGroup{Steps: []htmlStep{loose}})
	}
	return pg
}

func newHTMLProbe(id, heading string, p Probe) htmlProbe {
	r := p.Result
	hp := htmlProbe{ID: id, Heading: heading, Verdict: r.Verdict.String(), Class: verdictClass(r.Verdict),
		After: "after " + plural(r.Requests, "request"), Method: methodText(r)}
	if hp.Heading == "" {
		hp.Heading = p.label()
	}
	switch r.Verdict {
	case verify.Fail:
		hp.Reasons = r.Failures()
	case verify.Inconclusive:
		if s := undecidedText(r); s != "" {
			hp.Reasons = []string{s}
		}
	}
	if p.Target.URL != "" {
		hp.Facts = append(hp.Facts, [2]string{"target", targetText(p.Target)})
	}
	if p.Vantage != "" {
		hp.Facts = append(hp.Facts, [2]string{"from", p.Vantage})
	}
	if p.Emulated {
		hp.Facts = append(hp.Facts, [2]string{"environment", "emulated: " + emulatedNote})
	}
	for i, row := range lineRows(r) {
		hp.Lines = append(hp.Lines, htmlLine{Cells: row, Class: verdictClass(r.Lines[i].State)})
	}
	for _, c := range probeCharts(p) {
		if c.drawable() {
			hp.Charts = append(hp.Charts, htmlChart{SVG: c.svg(), Legend: c.legend, Caption: c.caption})
		}
	}
	if len(hp.Charts) == 0 {
		hp.NoChart = "Judged at one look (" + plural(r.Requests, "request") + "): there is no history to chart."
	}
	if !p.countsOnly() {
		s := p.Stats
		hp.Stats = statsRows(s, ", ")
		if s.Requests > 0 {
			l := s.Latency
			hp.Latency = [][2]string{{"p50", probeDuration(l.P50)}, {"p90", probeDuration(l.P90)}, {"p99", probeDuration(l.P99)},
				{"max", probeDuration(l.Max)}, {"mean", probeDuration(l.Mean)}}
		}
		for _, set := range []struct {
			label   string
			n       int64
			samples []loadgen.Sample
		}{{"errors", s.Errors, s.ErrorSamples}, {"unclassified", s.Unclassified, s.UnclassifiedSamples}, {"headers", s.Unmet, s.UnmetSamples}} {
			if set.n > 0 {
				hp.Samples = append(hp.Samples, newHTMLSamples(set.label, set.n, set.samples))
			}
		}
	}
	hp.Notes = p.Notes
	return hp
}

// newHTMLSamples lists n errors or unclassified responses with their
// samples, as the text report does.
func newHTMLSamples(label string, n int64, samples []loadgen.Sample) htmlSamples {
	hs := htmlSamples{Label: label, Count: verify.Thousands(n)}
	for _, sm := range samples {
		status := strconv.Itoa(sm.Status)
		if sm.Status == 0 {
			status = "no response"
		}
		body := ""
		if sm.Body != "" {
			body = strconv.Quote(sm.Body)
		}
		hs.Samples = append(hs.Samples, htmlSample{Status: status, Count: verify.Thousands(sm.Count), Text: probeOneLine(sm.Text), Body: body})
	}
	return hs
}
