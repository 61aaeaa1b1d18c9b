package report

import (
	"bytes"
	"html/template"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

// observedProbe runs the verdict engine one observation at a time, as a
// live probe does, on a seeded stream of responses: each version of spec's
// expectation with the share given in shares (in order), and errShare of
// 503s, until the verdict is decided or max requests are judged. Its
// traffic is made up to match.
func observedProbe(t *testing.T, step, name string, exp verify.Expectation, shares []float64, errShare float64, max int64, seed uint64) Probe {
	t.Helper()
	eng, err := verify.New(exp)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	codes := map[int]int64{}
	for eng.Requests() < max && !eng.Decided() {
		o := verify.Observation{Status: 503}
		if u := rng.Float64(); u >= errShare {
			u = rng.Float64()
			k := 0
			for k < len(shares)-1 && u >= shares[k] {
				u -= shares[k]
				k++
			}
			o = verify.Observation{Status: 200}
			if exp.Status != 0 {
				o.Status = exp.Status
				if k > 0 {
					o.Status = 200
				}
			} else {
				o.Version = exp.Weights[k].Version
			}
		}
		codes[o.Status]++
		eng.Observe(o)
	}
	r := eng.Result()
	stopped := loadgen.StopDecided
	if !eng.Decided() {
		stopped = loadgen.StopMaxRequests
	}
	return Probe{
		Name: name, Scenario: "canary", Step: step, Vantage: "ingress",
		Target:   loadgen.Target{URL: "http://127.0.0.1:8080/echo", Host: "echo.local"},
		Emulated: true, Result: r,
		Stats: loadgen.Stats{RateAsked: 1000, RateAchieved: 998.5, Requests: r.Requests,
			Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Duration: time.Duration(r.Requests) * time.Millisecond,
			Stopped: stopped, StatusCodes: codes, Errors: codes[503],
			Latency: loadgen.Latency{Mean: 1100 * time.Microsecond, P50: 950 * time.Microsecond, P90: 1800 * time.Microsecond,
				P99: 5200 * time.Microsecond, Max: 21 * time.Millisecond}},
	}
}

// chartRun is a run whose probes were judged look by look: a PASS, a FAIL
// (60/40 where 75/25 is configured), an INCONCLUSIVE (a budget of 400
// requests with errors) and a PASS of a status expectation, in an emulated
// local environment.
func chartRun(t *testing.T) Run {
	t.Helper()
	split := verify.Defaults()
	split.Weights = []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}
	status := verify.Defaults()
	status.Status = 403
	probes := []Probe{
		observedProbe(t, "split-75-25", "ingress", split, []float64{0.75, 0.25}, 0, 50000, 1),
		observedProbe(t, "split-75-25", "in-mesh", split, []float64{0.6, 0.4}, 0, 50000, 2),
		observedProbe(t, "split-75-25", "small-budget", split, []float64{0.75, 0.25}, 0.02, 400, 3),
		observedProbe(t, "deny", "ingress", status, []float64{1}, 0, 50000, 4),
	}
	probes[1].Vantage = "mesh"
	probes[1].Target = loadgen.Target{URL: "http://echo-service.echo.svc.cluster.local/echo"}
	probes[1].Notes = []string{"in-mesh requests ignore VirtualService echo/echo-route: its gateways do not include mesh"}
	probes[2].Stats.ErrorSamples = []loadgen.Sample{{Status: 503, Text: "503 Service Unavailable", Body: "upstream connect error\n", Count: probes[2].Stats.Errors}}
	return Run{
		Schema: Schema, Command: CommandRun, Environment: "local", Emulated: true, Verdict: Verdict(probes),
		Started: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), Duration: 9 * time.Second,
		Scenarios: []Scenario{{Name: "canary", Title: "Canary v1/v2 split 75/25, then deny", Steps: []string{"split-75-25", "deny"}}},
		Probes:    probes,
	}
}

func renderHTML(t *testing.T, r Run) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, FormatHTML, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestGoldenHTMLCharts renders the run judged look by look (TestGolden
// renders the others, judged at one look, without charts).
func TestGoldenHTMLCharts(t *testing.T) {
	golden(t, "charts.html", []byte(renderHTML(t, chartRun(t))))
}

// TestWriteHTMLFile is for looking at the page: MESHCHECK_HTML_OUT=dir
// writes the chart run there.
func TestWriteHTMLFile(t *testing.T) {
	dir := os.Getenv("MESHCHECK_HTML_OUT")
	if dir == "" {
		t.Skip("MESHCHECK_HTML_OUT unset")
	}
	if err := WriteFile(filepath.Join(dir, "charts.html"), FormatHTML, chartRun(t)); err != nil {
		t.Fatal(err)
	}
}

// TestHTMLSelfContained: the page has no script and refers to nothing
// outside itself: every src or href is a fragment or a data: URL, and its
// style sheet imports nothing.
func TestHTMLSelfContained(t *testing.T) {
	refs := regexp.MustCompile(`(?i)\s(src|href|xlink:href|action|poster)\s*=\s*"([^"]*)"`)
	for name, r := range map[string]Run{"charts": chartRun(t), "run": sampleRun(t), "judge": judgeRun(t)} {
		page := renderHTML(t, r)
		if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
			t.Errorf("%s: not an HTML5 document: %.40q", name, page)
		}
		for _, bad := range []string{"<script", "url(", "@import", "<iframe", "<object", "<embed", "<img"} {
			if strings.Contains(strings.ToLower(page), bad) {
				t.Errorf("%s: the page has %s", name, bad)
			}
		}
		for _, m := range refs.FindAllStringSubmatch(page, -1) {
			if !strings.HasPrefix(m[2], "#") && !strings.HasPrefix(m[2], "data:") {
				t.Errorf("%s: %s=%q refers outside the page", name, m[1], m[2])
			}
		}
		if !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`) {
			t.Errorf("%s: the page lacks its Content-Security-Policy", name)
		}
	}
}

// TestHTMLEscapes: text from scenarios, probes and notes is escaped, in
// the page and in the charts.
func TestHTMLEscapes(t *testing.T) {
	r := chartRun(t)
	r.Scenarios[0].Title = `<script>alert("title")</script>`
	r.Probes[0].Name = `<b>ingress</b>`
	r.Probes[1].Notes = []string{`route "a" & <b>`}
	r.Probes[3].Result.Lines[0].Name = `<i>403</i>`
	page := renderHTML(t, r)
	for _, raw := range []string{`<script>alert`, `<b>ingress`, `& <b>`, `<i>403`} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %s unescaped", raw)
		}
	}
	for _, esc := range []string{`&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;`, `&lt;b&gt;ingress&lt;/b&gt;`,
		`route &#34;a&#34; &amp; &lt;b&gt;`, `aria-label="&lt;i&gt;403&lt;/i&gt; share against requests judged"`} {
		if !strings.Contains(page, esc) {
			t.Errorf("the page lacks the escaped %s", esc)
		}
	}
}

// TestHTMLVerdicts: every probe's section carries its verdict, the
// sentences the text report gives for it and its line table; the run's
// banner its verdict and the emulated warning.
func TestHTMLVerdicts(t *testing.T) {
	r := chartRun(t)
	page := renderHTML(t, r)
	if !strings.Contains(page, `<header class="banner fail">`+"\n"+`  <div class="verdict">FAIL</div>`) {
		t.Errorf("the banner does not say FAIL")
	}
	if !strings.Contains(page, `<strong>Emulated run:</strong> the local model answered, not a real Envoy.`) {
		t.Errorf("the page does not say the run was emulated")
	}
	sections := strings.Split(page, `<article class="probe `)[1:]
	if len(sections) != len(r.Probes) {
		t.Fatalf("%d probe sections, want %d", len(sections), len(r.Probes))
	}
	for i, p := range r.Probes {
		sec := sections[i]
		v := p.Result.Verdict.String()
		if !strings.HasPrefix(sec, verdictClass(p.Result.Verdict)+`" id="probe-`+strconv.Itoa(i+1)+`"`) ||
			!strings.Contains(sec, `<span class="badge `+verdictClass(p.Result.Verdict)+`">`+v+`</span>`) {
			t.Errorf("probe %d: its section does not say %s", i+1, v)
		}
		var want []string
		switch p.Result.Verdict {
		case verify.Fail:
			want = p.Result.Failures()
		case verify.Inconclusive:
			want = []string{undecidedText(p.Result)}
		}
		for _, s := range want {
			if !strings.Contains(sec, "<li>"+template.HTMLEscapeString(s)+"</li>") {
				t.Errorf("probe %d (%s): no reason %q", i+1, v, s)
			}
		}
		for _, row := range lineRows(p.Result) {
			if !strings.Contains(sec, "<td>"+template.HTMLEscapeString(row[0])+"</td>") || !strings.Contains(sec, template.HTMLEscapeString(row[4])) {
				t.Errorf("probe %d: no table row for %s", i+1, row[0])
			}
		}
		for _, l := range []string{"p50", "p90", "p99", "max"} {
			if !strings.Contains(sec, `<th class="num">`+l+`</th>`) {
				t.Errorf("probe %d: no %s latency", i+1, l)
			}
		}
		if !strings.Contains(sec, "method: "+template.HTMLEscapeString(methodText(p.Result))) {
			t.Errorf("probe %d: no method line", i+1)
		}
	}
	if page := renderHTML(t, judgeRun(t)); strings.Contains(page, "Emulated run") || !strings.Contains(page, "there is no history to chart") {
		t.Errorf("the judge page warns of emulation or charts one look")
	}
}

// bandWidth is the height, in SVG units, of a polygon drawn as the upper
// bound forwards then the lower one backwards, at its first and last look.
func bandWidth(t *testing.T, points string) (first, last float64) {
	t.Helper()
	pts := strings.Fields(points)
	y := func(p string) float64 {
		v, err := strconv.ParseFloat(p[strings.IndexByte(p, ',')+1:], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	n := len(pts)
	return y(pts[n-1]) - y(pts[0]), y(pts[n/2]) - y(pts[n/2-1])
}

// TestHTMLCharts: each probe judged at many looks has a chart with, per
// version, its tolerance band, its confidence band (narrowing as requests
// come in) and its share; the probe with errors over a small budget has
// an errors chart too.
func TestHTMLCharts(t *testing.T) {
	r := chartRun(t)
	ci := regexp.MustCompile(`<polygon class="ci s(\d)" points="([^"]*)"/>`)
	for i, p := range r.Probes {
		charts := probeCharts(p)
		// The FAIL and the INCONCLUSIVE probe have not shown their
		// errors within budget: they chart them too.
		wantCharts := 1
		if p.Result.Verdict != verify.Pass {
			wantCharts = 2
		}
		if len(charts) != wantCharts {
			t.Fatalf("probe %d: %d charts, want %d", i+1, len(charts), wantCharts)
		}
		svg := string(charts[0].svg())
		versions := len(p.Result.Expectation.Weights)
		if p.Result.Expectation.Status != 0 {
			versions = 1
		}
		if got := strings.Count(svg, `<rect class="tol `); got != versions {
			t.Errorf("probe %d: %d tolerance bands, want %d", i+1, got, versions)
		}
		if got := strings.Count(svg, `<polyline class="share `); got != versions {
			t.Errorf("probe %d: %d share lines, want %d", i+1, got, versions)
		}
		bands := ci.FindAllStringSubmatch(svg, -1)
		if len(bands) != versions {
			t.Fatalf("probe %d: %d confidence bands, want %d", i+1, len(bands), versions)
		}
		for _, b := range bands {
			if first, last := bandWidth(t, b[2]); !(last < first/2) {
				t.Errorf("probe %d, series %s: the confidence band does not narrow (%.1f to %.1f)", i+1, b[1], first, last)
			}
		}
		for _, label := range []string{">requests judged</text>", ">" + p.Result.Verdict.String() + " after "} {
			if !strings.Contains(svg, label) {
				t.Errorf("probe %d: the chart lacks %s", i+1, label)
			}
		}
	}
	if errs := string(probeCharts(r.Probes[2])[1].svg()); !strings.Contains(errs, "share of requests that failed") || !strings.Contains(errs, `class="ci s5"`) {
		t.Errorf("the errors chart lacks its axis or band:\n%s", errs)
	}
}

func TestChartTicks(t *testing.T) {
	for _, c := range []struct {
		span float64
		n    int
		want float64
	}{{1, 4, 0.25}, {1121, 5, 250}, {0.04, 4, 0.01}, {30, 5, 10}, {7, 5, 2}, {0.1, 4, 0.025}} {
		if got := niceStep(c.span, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("niceStep(%g, %d) = %g, want %g", c.span, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		v    float64
		want string
	}{{0.25, "25%"}, {0.005, "0.5%"}, {1, "100%"}, {0.025 * 3, "7.5%"}, {0.1 + 0.2, "30%"}} {
		if got := tickPercent(c.v); got != c.want {
			t.Errorf("tickPercent(%g) = %s, want %s", c.v, got, c.want)
		}
	}
	if got := niceCeil(0.037); got != 0.04 {
		t.Errorf("niceCeil(0.037) = %g, want 0.04", got)
	}
	for _, c := range []struct{ v, want float64 }{{0.85, 0.85}, {0.83, 0.8}, {0.3, 0.2}, {-0.1, 0}} {
		if got := niceFloor(c.v, 1); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("niceFloor(%g, 1) = %g, want %g", c.v, got, c.want)
		}
	}
}
