package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/meshcheck/meshcheck/internal/junittest"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the renderers' output")

// sampleRun is a run of one scenario with a PASS, a FAIL and an
// INCONCLUSIVE probe, stopped by an environment error at a fourth.
func sampleRun(t *testing.T) Run {
	t.Helper()
	pass := sampleProbe(t)
	fail := sampleProbe(t)
	fail.Step, fail.Name, fail.Vantage = "no-mesh", "in-mesh", "mesh"
	fail.Target = loadgen.Target{URL: "http://echo-service.echo.svc.cluster.local/echo"}
	fail.Result = judged(t, "v1=75,v2=25", nil, version("v1", 1076), version("v2", 754))
	fail.Stats.Requests, fail.Stats.Ignored, fail.Stats.StatusCodes = 1830, 0, map[int]int64{200: 1830}
	fail.Stats.Errors, fail.Stats.ErrorSamples = 0, nil
	fail.Notes = []string{"in-mesh requests to echo-service.echo.svc.cluster.local ignore VirtualService echo/echo-route: its gateways do not include mesh"}
	open := sampleProbe(t)
	open.Step, open.Name = "no-mesh", "ingress-small-budget"
	open.Result = judged(t, "v1=75,v2=25", nil, version("v1", 15), version("v2", 5))
	open.Stats.Requests, open.Stats.Ignored, open.Stats.Stopped = 20, 0, loadgen.StopMaxRequests
	open.Stats.StatusCodes, open.Stats.Errors, open.Stats.ErrorSamples = map[int]int64{200: 20}, 0, nil
	open.Notes = nil
	return Run{
		Schema: Schema, Command: CommandRun, Environment: "local", Emulated: true, Verdict: Verdict([]Probe{pass, fail, open}),
		Started: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), Duration: 4250 * time.Millisecond,
		Scenarios: []Scenario{{Name: "echo", Title: "Echo v1/v2 split 75/25 on /echo", Steps: []string{"split-75-25", "no-mesh", "undefined-subset"},
			MeshCost: &MeshCost{After: "undefined-subset", Nodes: 1,
				Istiod:   Usage{Pods: 1, MilliCPU: 7.8, MemoryBytes: 61 << 20},
				Gateways: Usage{Pods: 1, MilliCPU: 3.2, MemoryBytes: 38 << 20},
				Sidecars: Usage{Pods: 5, MilliCPU: 14.6, MemoryBytes: 9 << 20}}}},
		Probes: []Probe{pass, fail, open},
		Error: &Error{Kind: ErrorEnvironment, Scenario: "echo", Step: "undefined-subset", Probe: "ingress",
			Message: "http://127.0.0.1:8080/echo did not settle within 1m0s: 503: 120"},
		Phases: []Phase{{PhaseDeploy, 2100 * time.Millisecond}, {PhaseProgrammed, 0}, {PhaseSettle, 11 * time.Millisecond},
			{PhaseSampling, 2 * time.Second}, {PhaseTotal, 4250 * time.Millisecond}},
	}
}

// judgeRun is `meshcheck judge --counts`: one probe without traffic.
func judgeRun(t *testing.T) Run {
	return Single(CommandJudge, Probe{Result: judged(t, "v1=75,v2=25", nil, version("v1", 15000), version("v2", 5000))})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the renderer's output (go test ./report -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestGolden renders both sample runs in every format.
func TestGolden(t *testing.T) {
	for name, r := range map[string]Run{"run": sampleRun(t), "judge": judgeRun(t)} {
		for _, f := range Formats {
			t.Run(name+"."+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := Write(&b, f, r); err != nil {
					t.Fatal(err)
				}
				golden(t, name+"."+string(f), b.Bytes())
			})
		}
	}
}

// TestJSONRoundTrip: what WriteJSON writes, Decode reads back whole.
func TestJSONRoundTrip(t *testing.T) {
	for name, r := range map[string]Run{"run": sampleRun(t), "judge": judgeRun(t)} {
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		back, err := Decode(bytes.NewReader(b.Bytes()), name+".json")
		if err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		if err := WriteJSON(&again, back); err != nil {
			t.Fatal(err)
		}
		if again.String() != b.String() || back.Duration != r.Duration || back.Probes[0].Stats.Latency != r.Probes[0].Stats.Latency {
			t.Errorf("%s: round trip changed the report:\n%s\n%s", name, b.String(), again.String())
		}
	}
}

// TestDecodeErrors: every kind of bad input is named with the file and
// where in it.
func TestDecodeErrors(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleRun(t)); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	for _, c := range []struct {
		name, doc, want string
	}{
		{"syntax", "{\n  \"schema\": \"meshcheck.dev/report/v1\",\n  oops\n}", "saved.json: line 3, column 3"},
		{"empty", "", "saved.json: not JSON"},
		{"trailing", good + "{}", "saved.json: not JSON"},
		{"version", strings.Replace(good, Schema, "meshcheck.dev/report/v0", 1), "at /schema: value must be 'meshcheck.dev/report/v1'"},
		{"unknown field", strings.Replace(good, `"rateAsked"`, `"rateAskd": 1, "rateAsked"`, 1), "at /probes/0/stats: additional properties 'rateAskd' not allowed"},
		{"verdict", strings.Replace(good, `"state": "PASS"`, `"state": "OK"`, 1), "at /probes/0/result/lines/0/state: value must be one of"},
		{"missing", strings.Replace(good, `"command": "run",`, "", 1), "at /: missing property 'command'"},
		{"type", strings.Replace(good, `"requests": 2003`, `"requests": "2003"`, 1), "at /probes/0/result/requests: got string, want integer"},
	} {
		_, err := Decode(strings.NewReader(c.doc), "saved.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.want)
		}
	}
}

// TestJUnitStructure reads the JUnit as a CI system does (testsuites of
// testsuite of testcase, each suite counting its tests, failures and
// errors) and checks that the counts agree with the cases and the run.
func TestJUnitStructure(t *testing.T) {
	for name, c := range map[string]struct {
		run  Run
		want junittest.Totals
	}{
		"run":   {sampleRun(t), junittest.Totals{Suites: 1, Tests: 4, Failures: 2, Errors: 1}},
		"judge": {judgeRun(t), junittest.Totals{Suites: 1, Tests: 1}},
		"setup error": {Run{Schema: Schema, Command: CommandRun, Environment: "kind", Scenarios: []Scenario{{Name: "echo"}, {Name: "hello"}},
			Error: &Error{Kind: ErrorEnvironment, Scenario: "echo", Message: "no container engine"}}, junittest.Totals{Suites: 2, Tests: 1, Errors: 1}},
	} {
		var b bytes.Buffer
		if err := WriteJUnit(&b, c.run); err != nil {
			t.Fatal(err)
		}
		got, err := junittest.Check(b.Bytes())
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v\n%s", name, got, err, c.want, b.String())
		}
	}
}

// TestJUnitMessages: FAIL's message is the failing lines' reasons,
// INCONCLUSIVE's says how long it stayed undecided, the environment error
// is an <error> of its probe.
func TestJUnitMessages(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sampleRun(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`<failure message="v1: 58.8% [53.4%, 64.1%] of 1,830, expected 75% ± 5%; v2: 41.2% [35.9%, 46.6%] of 1,830, expected 25% ± 5%" type="fail">`,
		`<failure message="undecided after 20 requests: v1, v2, errors" type="inconclusive">`,
		`<testcase name="undefined-subset / ingress" classname="echo.undefined-subset" time="0">`,
		`<error message="http://127.0.0.1:8080/echo did not settle within 1m0s: 503: 120" type="environment">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("JUnit lacks %s:\n%s", want, out)
		}
	}
}

func TestSentence(t *testing.T) {
	p := Probe{Result: judged(t, "v1=75,v2=25", nil, version("v1", 15000), version("v2", 5000))}
	if s := p.Sentence(); s != "" {
		t.Errorf("PASS sentence %q", s)
	}
	p.Result = verify.Result{}
	if s := p.Sentence(); s != "undecided after 0 requests" {
		t.Errorf("empty sentence %q", s)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"r.json": FormatJSON, "out/junit.XML": FormatJUnit, "s.md": FormatMarkdown, "r.txt": FormatText,
		"r.html": FormatHTML, "R.HTM": FormatHTML} {
		if got, err := FormatOf(path); err != nil || got != want {
			t.Errorf("FormatOf(%s) = %s, %v; want %s", path, got, err, want)
		}
	}
	if _, err := FormatOf("report"); err == nil || !strings.Contains(err.Error(), "--report-format") {
		t.Errorf("FormatOf(report): %v", err)
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "text, json, junit, markdown or html") {
		t.Errorf("ParseFormat(yaml): %v", err)
	}
}

// TestAppendFile never truncates: a step summary keeps what others wrote.
func TestAppendFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(path, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := judgeRun(t)
	for range 2 {
		if err := AppendFile(path, FormatMarkdown, r); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "earlier step\n### meshcheck judge: PASS") || strings.Count(string(data), "### meshcheck") != 2 {
		t.Errorf("summary file:\n%s", data)
	}
	if err := WriteFile(path, FormatJSON, r); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !bytes.HasPrefix(data, []byte("{")) {
		t.Errorf("WriteFile did not replace the file:\n%s", data)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"run.json.golden", "judge.json.golden"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"schema":"meshcheck.dev/report/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// What decodes renders in every format and decodes again.
		for _, format := range Formats {
			var b bytes.Buffer
			if err := Write(&b, format, r); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if format == FormatJSON {
				if _, err := Decode(&b, "again.json"); err != nil {
					t.Fatalf("re-encoded report does not decode: %v\n%s", err, data)
				}
			}
		}
	})
}

// TestGoldenJSONValidatesAgainstSchema compiles docs/report.schema.json
// from the file readers see and validates every golden JSON report.
func TestGoldenJSONValidatesAgainstSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("..", "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run.json.golden", "judge.json.golden"} {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
