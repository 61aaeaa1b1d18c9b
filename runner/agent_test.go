package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// agentProbeScenario is the runner's echo scenario cut to the 75/25 step and
// the in-mesh probe with an explicit 75/25 expectation.
func agentProbeScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	s := loadScenario(t)
	first, second := s.Steps[0], s.Steps[1]
	first.Probes = nil
	var probes []scenario.Probe
	for _, p := range second.Probes {
		if p.Name == "in-mesh-explicit" {
			probes = append(probes, p)
		}
	}
	if len(probes) != 1 || probes[0].From != mesh.Mesh {
		t.Fatalf("testdata/echo has no in-mesh-explicit probe from the mesh: %+v", second.Probes)
	}
	second.Probes = probes
	s.Steps = []scenario.Step{first, second}
	return s
}

// TestMeshProbeRunsThroughAgent runs a probe from the mesh on an
// environment that names an in-mesh agent: the agent is loadgen's agent
// server, the handler of `meshcheck agent`, on 127.0.0.1. Every request of
// the probe must reach the backend while the agent runs the probe (and
// none while it does not), the agent must have been asked for exactly this
// probe, and the verdict must be judged from what it streamed back.
func TestMeshProbeRunsThroughAgent(t *testing.T) {
	const budget = 200 // ends the probe by budget: no verdict cuts the agent's attack short
	var (
		agentActive atomic.Int32
		viaAgent    atomic.Int64
		direct      atomic.Int64
		n           atomic.Int64
	)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if agentActive.Load() > 0 {
			viaAgent.Add(1)
		} else {
			direct.Add(1)
		}
		pod := "pod-a"
		if n.Add(1)%4 == 0 {
			pod = "pod-b" // exactly 75/25
		}
		fmt.Fprintf(w, `{"os":{"hostname":%q}}`, pod)
	}))
	defer backend.Close()

	agentServer, err := loadgen.NewAgentServer(loadgen.DefaultAgentLimits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		specs  []loadgen.AgentSpec
		health int
	)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case loadgen.AgentHealthPath:
			mu.Lock()
			health++
			mu.Unlock()
		case loadgen.AgentProbePath:
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("read the probe spec: %v", err)
				return
			}
			spec, err := loadgen.ParseAgentSpec(body)
			if err != nil {
				t.Errorf("the runner sent a spec the agent cannot read: %v", err)
			}
			mu.Lock()
			specs = append(specs, spec)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
			agentActive.Add(1)
			defer agentActive.Add(-1)
		}
		agentServer.ServeHTTP(w, r)
	}))
	defer agent.Close()

	f := &fakeEnv{url: backend.URL, agent: agent.URL}
	var out bytes.Buffer
	run, err := Run(context.Background(), f, []*scenario.Scenario{agentProbeScenario(t)},
		Options{Output: report.FormatJSON, Out: &out, Rate: testRate(), MaxRequests: budget})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if len(run.Probes) != 1 {
		t.Fatalf("%d probes, want the in-mesh one", len(run.Probes))
	}
	p := run.Probes[0]
	// The budget covers the settle phase too, run here on the agent's
	// records as on local ones.
	if p.Stats.Settle.Requests != loadgen.DefaultSettleResponses || p.Stats.Requests+p.Stats.Settle.Requests != budget {
		t.Errorf("the verdict saw %d responses after %d settle ones, want the budget of %d in all", p.Stats.Requests, p.Stats.Settle.Requests, budget)
	}
	if direct.Load() != 0 || viaAgent.Load() != budget {
		t.Errorf("backend got %d requests while the agent ran the probe and %d otherwise; want %d and 0", viaAgent.Load(), direct.Load(), budget)
	}
	if len(specs) != 1 || health != 1 {
		t.Fatalf("agent got %d probe specs and %d health checks, want 1 and 1", len(specs), health)
	}
	spec := specs[0]
	if spec.Target.URL != backend.URL+"/echo" || spec.Rate != testRate() || spec.MaxRequests != budget || spec.Classify != "json:os.hostname" ||
		spec.Map["pod-a"] != "v1" || spec.Map["pod-b"] != "v2" || spec.Via != "" {
		t.Errorf("agent spec %+v", spec)
	}
	if counts := p.Result.Lines; len(counts) == 0 || p.Result.Requests != p.Stats.Requests {
		t.Errorf("result %+v: not judged from the agent's records", p.Result)
	}
}

// TestMeshProbeNeedsAWayIntoTheMesh: a real environment whose endpoint
// gives neither an agent nor a proxy for a probe from the mesh is an
// environment error, and no request is sent from this host; an agent that
// does not answer its health check is one too.
func TestMeshProbeNeedsAWayIntoTheMesh(t *testing.T) {
	var hits atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"os":{"hostname":"pod-a"}}`)
	}))
	defer backend.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, c := range []struct {
		name, agent, want string
	}{
		{"no agent, no proxy", "", "no way into the mesh"},
		{"agent down", down.URL, "in-mesh agent"},
	} {
		f := &fakeEnv{url: backend.URL, agent: c.agent}
		_, err := Run(context.Background(), f, []*scenario.Scenario{agentProbeScenario(t)}, Options{Rate: testRate(), MaxRequests: 100})
		var re *Error
		if !errors.As(err, &re) || re.Kind != EnvironmentError || re.Probe != "in-mesh-explicit" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want an environment error of probe in-mesh-explicit saying %q", c.name, err, c.want)
		}
		if got := strings.Join(f.calls, ", "); got != "setup, apply 0, apply 1, teardown" {
			t.Errorf("%s: calls %q", c.name, got)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests sent from outside the mesh", hits.Load())
	}
}
