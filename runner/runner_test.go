package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
)

// fakeEnv is an environment whose every probe reaches one test server; it
// records the calls made to it. Probes from the mesh go through via or
// agent when set.
type fakeEnv struct {
	url                               string
	via                               *url.URL
	agent                             string
	failSetup, failApply, failEndpoin error

	mu        sync.Mutex
	calls     []string
	teardownC error // ctx.Err() seen by Teardown
}

func (f *fakeEnv) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeEnv) Name() string   { return "fake" }
func (f *fakeEnv) Emulated() bool { return false }
func (f *fakeEnv) Setup(ctx context.Context, s *scenario.Scenario) error {
	f.record("setup")
	return f.failSetup
}
func (f *fakeEnv) Apply(ctx context.Context, s *scenario.Scenario, step int) error {
	f.record(fmt.Sprintf("apply %d", step))
	return f.failApply
}
func (f *fakeEnv) Endpoint(ctx context.Context, p scenario.Probe) (env.Endpoint, error) {
	ep := env.Endpoint{URL: f.url + "/echo"}
	if p.From == mesh.Mesh {
		ep.Via, ep.Agent = f.via, f.agent
	}
	return ep, f.failEndpoin
}

// forwardProxy is a plain HTTP forward proxy: the way into the "mesh" of
// fakeEnv.
func forwardProxy(t *testing.T) *url.URL {
	t.Helper()
	srv := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(*httputil.ProxyRequest) {}})
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
func (f *fakeEnv) VersionMap(ctx context.Context, p scenario.Probe) (map[string]string, error) {
	return map[string]string{"pod-a": "v1", "pod-b": "v2"}, nil
}
func (f *fakeEnv) Teardown(ctx context.Context) error {
	f.record("teardown")
	f.mu.Lock()
	f.teardownC = ctx.Err()
	f.mu.Unlock()
	return nil
}

// split75 answers like the echo with pod-a (v1) 75% and pod-b (v2) 25% of
// the time.
func split75(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(1, 2))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pod := "pod-a"
		if rnd.Float64() >= 0.75 {
			pod = "pod-b"
		}
		mu.Unlock()
		fmt.Fprintf(w, `{"os":{"hostname":%q}}`, pod)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func loadScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	s, _, err := scenario.Load("testdata/echo")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunProbesAndNotes(t *testing.T) {
	f := &fakeEnv{url: split75(t).URL, via: forwardProxy(t)}
	var out bytes.Buffer
	run, err := Run(context.Background(), f, []*scenario.Scenario{loadScenario(t)},
		Options{Output: report.FormatJSON, Out: &out, Rate: testRate(), MaxRequests: 4000})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, ", "); got != "setup, apply 0, apply 1, apply 2, teardown" {
		t.Errorf("calls: %s", got)
	}
	doc, err := report.Decode(&out, "stdout")
	if err != nil {
		t.Fatalf("output is not a report: %v\n%s", err, out.String())
	}
	if doc.Command != report.CommandRun || doc.Environment != "fake" || doc.Emulated || doc.Verdict != verify.Fail ||
		len(doc.Probes) != 4 || len(doc.Scenarios) != 1 || len(doc.Scenarios[0].Steps) != 3 || doc.Error != nil {
		t.Fatalf("document: %+v", doc)
	}
	if !reflect.DeepEqual(doc.Probes[0].Result, run.Probes[0].Result) {
		t.Errorf("the JSON's first probe differs from the returned one:\n%+v\n%+v", doc.Probes[0].Result, run.Probes[0].Result)
	}
	byName := map[string]report.Probe{}
	for _, p := range run.Probes {
		byName[p.Step+"/"+p.Name] = p
	}
	// The server splits 75/25 whatever the config says.
	for _, c := range []struct {
		probe   string
		verdict verify.Verdict
		weights string // of the expectation
		note    []string
	}{
		{"split-75-25/ingress", verify.Pass, "v1=75,v2=25", nil},
		// Without mesh in the VirtualService, in-mesh requests are balanced
		// across 1 v1 and 2 v2 pods: 33/67 expected from config.
		{"no-mesh/in-mesh", verify.Fail, "v1=33,v2=67", []string{"expected from config: v1=33, v2=67", "gateways do not include mesh"}},
		{"no-mesh/in-mesh-explicit", verify.Pass, "v1=75,v2=25", []string{"the config predicts v1 33.3%, v2 66.7%, not the expected v1 75%, v2 25%: in-mesh requests to echo-service.echo.svc.cluster.local ignore VirtualService echo/echo-route: its gateways do not include mesh"}},
		{"undefined-subset/ingress", verify.Fail, "v1=100", []string{"expected from config: v1=100", "25% of requests", "subset v3"}},
	} {
		p, ok := byName[c.probe]
		if !ok {
			t.Errorf("no probe %s", c.probe)
			continue
		}
		if p.Result.Verdict != c.verdict {
			t.Errorf("%s: verdict %v, want %v", c.probe, p.Result.Verdict, c.verdict)
		}
		var ws []string
		for _, w := range p.Result.Expectation.Weights {
			ws = append(ws, fmt.Sprintf("%s=%d", w.Version, w.Percent))
		}
		if strings.Join(ws, ",") != c.weights {
			t.Errorf("%s: expected %s, want %s", c.probe, ws, c.weights)
		}
		notes := strings.Join(p.Notes, " | ")
		for _, n := range c.note {
			if !strings.Contains(notes, n) {
				t.Errorf("%s: notes %q lack %q", c.probe, notes, n)
			}
		}
		if c.note == nil && notes != "" {
			t.Errorf("%s: notes %q, want none (the config agrees)", c.probe, notes)
		}
		if p.Scenario != "echo" || p.Target.URL == "" || p.Stats.Requests == 0 {
			t.Errorf("%s: report %+v", c.probe, p)
		}
	}
}

func TestRunTextOutput(t *testing.T) {
	f := &fakeEnv{url: split75(t).URL}
	s := loadScenario(t)
	s.Steps = s.Steps[:1]
	var out bytes.Buffer
	if _, err := Run(context.Background(), f, []*scenario.Scenario{s}, Options{Out: &out, Rate: testRate()}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"probe echo / split-75-25 / ingress", "verdict      PASS", "summary      PASS: 1 probe (1 PASS, 0 FAIL, 0 INCONCLUSIVE) in environment fake"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("text output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	url := split75(t).URL
	boom := errors.New("boom")
	for _, c := range []struct {
		name  string
		env   *fakeEnv
		opts  Options
		kind  ErrorKind
		calls string
	}{
		{"unsupported setup", &fakeEnv{url: url, failSetup: fmt.Errorf("%w: image nginx", env.ErrUnsupported)}, Options{}, InputError, "setup, teardown"},
		{"setup", &fakeEnv{url: url, failSetup: boom}, Options{}, EnvironmentError, "setup, teardown"},
		{"apply", &fakeEnv{url: url, failApply: boom}, Options{}, EnvironmentError, "setup, apply 0, teardown"},
		{"endpoint", &fakeEnv{url: url, failEndpoin: boom}, Options{}, EnvironmentError, "setup, apply 0, teardown"},
		{"output", &fakeEnv{url: url}, Options{Output: "xml"}, InputError, ""},
		{"rate", &fakeEnv{url: url}, Options{Rate: -1}, InputError, ""},
	} {
		var out bytes.Buffer
		c.opts.Out = &out
		_, err := Run(context.Background(), c.env, []*scenario.Scenario{loadScenario(t)}, c.opts)
		var re *Error
		if !errors.As(err, &re) || re.Kind != c.kind {
			t.Errorf("%s: error %v, want kind %d", c.name, err, c.kind)
		}
		if got := strings.Join(c.env.calls, ", "); got != c.calls {
			t.Errorf("%s: calls %q, want %q", c.name, got, c.calls)
		}
	}
}

func TestRunInterruptedTearsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(cancel) // Ctrl-C as the first request arrives
		fmt.Fprint(w, `{"os":{"hostname":"pod-a"}}`)
	}))
	defer srv.Close()
	f := &fakeEnv{url: srv.URL}
	var out bytes.Buffer
	run, err := Run(ctx, f, []*scenario.Scenario{loadScenario(t)}, Options{Output: report.FormatJSON, Out: &out, Rate: 100})
	var re *Error
	if !errors.As(err, &re) || re.Kind != Interrupted {
		t.Fatalf("error %v, want Interrupted", err)
	}
	if got := strings.Join(f.calls, ", "); got != "setup, apply 0, teardown" {
		t.Errorf("calls %q: want teardown after the interruption", got)
	}
	if f.teardownC != nil {
		t.Errorf("Teardown got a context that had ended (%v): it could not clean up", f.teardownC)
	}
	doc, err := report.Decode(&out, "stdout")
	if err != nil || doc.Error == nil || doc.Error.Kind != report.ErrorInterrupted || doc.Error.Scenario != "echo" ||
		run.Error == nil || *run.Error != *doc.Error {
		t.Errorf("interrupted run's document %q (err %v): want one with the error", out.String(), err)
	}
}

// programmedEnv is a fakeEnv that can tell when the data plane is
// programmed: it records each wait and fails the probe named fail.
type programmedEnv struct {
	*fakeEnv
	fail string
}

func (p *programmedEnv) WaitProgrammed(ctx context.Context, s *scenario.Scenario, step int, pr scenario.Probe) error {
	p.record(fmt.Sprintf("programmed %s/%s", s.Steps[step].Name, pr.Name))
	if pr.Name == p.fail {
		return errors.New("gateway still routes to v1 only")
	}
	return nil
}

// TestProgrammedWaitBeforeEachProbe: an environment that can wait for the
// data plane is asked before every probe, after its step is applied; its
// error is an environment error naming the probe.
func TestProgrammedWaitBeforeEachProbe(t *testing.T) {
	s := loadScenario(t)
	s.Steps = s.Steps[:1]
	e := &programmedEnv{fakeEnv: &fakeEnv{url: split75(t).URL}}
	if _, err := Run(context.Background(), e, []*scenario.Scenario{s}, Options{Rate: testRate()}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.calls, ", "); got != "setup, apply 0, programmed split-75-25/ingress, teardown" {
		t.Errorf("calls: %s", got)
	}
	e = &programmedEnv{fakeEnv: &fakeEnv{url: split75(t).URL}, fail: "ingress"}
	_, err := Run(context.Background(), e, []*scenario.Scenario{s}, Options{Rate: testRate()})
	var re *Error
	if !errors.As(err, &re) || re.Kind != EnvironmentError || re.Probe != "ingress" ||
		!strings.Contains(err.Error(), "waiting for the data plane to be programmed: gateway still routes to v1 only") {
		t.Fatalf("err = %v", err)
	}
}

// TestFamilyAlpha: with FamilyAlpha, FAIL's alpha is split over every probe
// of the run; PASS keeps each probe's alpha.
func TestFamilyAlpha(t *testing.T) {
	for _, family := range []bool{false, true} {
		f := &fakeEnv{url: split75(t).URL, via: forwardProxy(t)}
		run, err := Run(context.Background(), f, []*scenario.Scenario{loadScenario(t)},
			Options{Rate: testRate(), MaxRequests: 4000, FamilyAlpha: family})
		if err != nil {
			t.Fatal(err)
		}
		probes := run.Probes
		for _, p := range probes {
			exp := p.Result.Expectation
			want := 0.0
			if family {
				want = exp.Alpha / float64(len(probes))
			}
			if len(probes) != 4 || exp.FailAlpha != want || exp.Alpha != verify.DefaultAlpha {
				t.Errorf("family %v: %d probes, %s alpha %v, fail alpha %v, want %v", family, len(probes), p.Name, exp.Alpha, exp.FailAlpha, want)
			}
		}
	}
}

// testRate is the request rate of the tests that run scenarios on the local
// environment: 2000 a second, or 400 under -short (make race: the race
// detector makes each emulated request several times dearer, and at 2000 on
// two cores the emulated mesh's queue grows until requests time out).
func testRate() int {
	if testing.Short() {
		return 400
	}
	return 2000
}

// costEnv reads a mesh cost, or fails to.
type costEnv struct {
	*fakeEnv
	fail error
}

func (c *costEnv) MeshCost(ctx context.Context, after string) (report.MeshCost, error) {
	c.record("cost after " + after)
	return report.MeshCost{After: after, Nodes: 1, Istiod: report.Usage{Pods: 1, MilliCPU: 5, MemoryBytes: 1 << 26}}, c.fail
}

// TestMeshCostAfterLastStep: the cost is read once per scenario, after
// its last probe and before its teardown, and lands in the report; a
// failure to read it is a notice, and the run's result stands.
func TestMeshCostAfterLastStep(t *testing.T) {
	s := loadScenario(t)
	s.Steps = s.Steps[:1]
	e := &costEnv{fakeEnv: &fakeEnv{url: split75(t).URL}}
	run, err := Run(context.Background(), e, []*scenario.Scenario{s}, Options{Rate: testRate()})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.calls, ", "); got != "setup, apply 0, cost after split-75-25, teardown" {
		t.Errorf("calls: %s", got)
	}
	if c := run.Scenarios[0].MeshCost; c == nil || c.After != "split-75-25" || c.Istiod.Pods != 1 {
		t.Errorf("mesh cost in the report: %+v", c)
	}
	e = &costEnv{fakeEnv: &fakeEnv{url: split75(t).URL}, fail: errors.New("nodes/proxy is forbidden")}
	var notices bytes.Buffer
	run, err = Run(context.Background(), e, []*scenario.Scenario{s}, Options{Rate: testRate(), Notices: &notices})
	if err != nil {
		t.Fatal(err)
	}
	if run.Scenarios[0].MeshCost != nil || run.Verdict != verify.Pass ||
		!strings.Contains(notices.String(), "scenario echo: no mesh cost in the report: nodes/proxy is forbidden") {
		t.Errorf("verdict %v, cost %+v, notices %q", run.Verdict, run.Scenarios[0].MeshCost, notices.String())
	}
}
