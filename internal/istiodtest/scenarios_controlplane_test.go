//go:build controlplane

package istiodtest_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/env/programmed"
	"github.com/meshcheck/meshcheck/internal/istiodtest"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
	"github.com/meshcheck/meshcheck/verify"
)

// TestControlPlaneScenarios applies every step of every scenario
// under scenarios/ to the real istiod and checks, for each probe, that the
// weighted clusters istiod programs at the probe's vantage for its request
// are the destinations the routing model predicts (scenario.Predict, the
// prediction run and validate use), and that their versions (through the
// DestinationRule subsets' labels) give the scenario's expected weights. A
// probe that expects a status (or headers) has no weights: its programmed
// destinations are held against the model's alone. A scenario with a
// function backend runs with the backend emulated
// (scenario.WithBackendEmulated): the chart's gateway and the Functions'
// faas-netes Deployments and Services are applied as objects.
func TestControlPlaneScenarios(t *testing.T) {
	cp := istiodtest.Start(t)
	dirs, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "*", scenario.FileName))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios found (%v)", err)
	}
	for _, f := range dirs {
		loaded, _, err := scenario.Load(filepath.Dir(f))
		if err != nil {
			t.Fatal(err)
		}
		s, err := loaded.WithBackendEmulated()
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range s.Steps {
			objs := stateObjects(s, i)
			if err := cp.Apply(context.Background(), objs); err != nil {
				t.Fatalf("%s step %s: %v", s.Metadata.Name, st.Name, err)
			}
			model := newModel(t, objs)
			for _, p := range st.Probes {
				t.Run(s.Metadata.Name+"/"+st.Name+"/"+p.Name, func(t *testing.T) {
					pred := scenario.Predict(model, p, s.SourceNamespace())
					route := programmedRoute(t, cp, p, s.SourceNamespace())
					assertSameDestinations(t, pred.Resolution, route)
					switch {
					case pred.Opaque:
						// An opaque probe's versions come from a call its
						// pod makes (thermo's control): the destinations
						// are all there is to hold against istiod's route.
					case len(p.Expect.Weights) > 0:
						assertWeights(t, "the model", pred.Weights, p.Expect.Weights)
					case p.Expect.Status == 0 && p.Expect.Headers == nil:
						t.Fatalf("probe %s expects neither weights nor a status to hold istiod's route against", p.Name)
					}
					// The programmed wait's comparison agrees.
					if ok, sentence := programmed.Check(route.configs, programmed.Expect(pred.Resolution, route.name, route.req)); !ok {
						t.Errorf("istiod does not program the predicted split: %s", sentence)
					}
				})
			}
		}
	}
}

// TestControlPlaneEchoWithoutMesh: without `mesh` in the
// VirtualService's gateways, the sidecar's route is the plain Service
// cluster at istiod and in the model (the split follows pod counts), while
// the ingress keeps 75/25.
func TestControlPlaneEchoWithoutMesh(t *testing.T) {
	cp := istiodtest.Start(t)
	s, _, err := scenario.Load(filepath.Join("..", "..", "scenarios", "echo"))
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	for _, o := range s.StateAt(0) {
		if vs, ok := o.Object.(*networkingv1.VirtualService); ok {
			n := len(vs.Spec.Gateways)
			vs.Spec.Gateways = slices.DeleteFunc(vs.Spec.Gateways, func(g string) bool { return g == "mesh" })
			dropped = dropped || len(vs.Spec.Gateways) < n
		}
	}
	if !dropped {
		t.Fatal("scenarios/echo no longer lists mesh in its VirtualService's gateways")
	}
	objs := stateObjects(s, 0)
	if err := cp.Apply(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	model := newModel(t, objs)
	for _, p := range s.Steps[0].Probes {
		pred := scenario.Predict(model, p, s.SourceNamespace())
		route := programmedRoute(t, cp, p, s.SourceNamespace())
		assertSameDestinations(t, pred.Resolution, route)
		switch p.From {
		case mesh.Mesh:
			if len(route.Clusters) != 1 || route.Clusters[0].Name != programmed.ClusterName(80, "", "echo-service.echo.svc.cluster.local") {
				t.Errorf("in-mesh: istiod programs %v, want the plain Service cluster", route.Clusters)
			}
			if n := route.snapshot.EndpointCount(route.Clusters[0].Name); n != 2 {
				t.Errorf("in-mesh: the plain Service cluster has %d endpoints, want the 2 echo pods", n)
			}
			assertWeights(t, "the model (pod counts)", pred.Weights, []verify.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}})
		case mesh.Ingress:
			assertWeights(t, "the model", pred.Weights, p.Expect.Weights)
		}
	}
}

// programmedRouteResult is istiod's route for a probe.
type programmedRouteResult struct {
	programmed.Route
	configs  []*routev3.RouteConfiguration
	name     string
	req      programmed.Request
	snapshot *istiodtest.Snapshot
}

// programmedRoute reads the probe's vantage from istiod and matches the
// probe's request (as the model sees it) against its route configuration.
func programmedRoute(t *testing.T, cp *istiodtest.ControlPlane, p scenario.Probe, sourceNS string) programmedRouteResult {
	t.Helper()
	mr := p.ModelRequest(sourceNS)
	proxy, name := cp.Gateway(), programmed.GatewayRouteConfig(8080)
	if p.From == mesh.Mesh {
		proxy, name = istiodtest.Sidecar(mr.SourceNamespace), programmed.SidecarRouteConfig(mr.Port)
	}
	snap, err := cp.Read(context.Background(), proxy)
	if err != nil {
		t.Fatal(err)
	}
	req := programmed.Request{Host: mr.Host, Path: mr.Path, Method: mr.Method, Headers: mr.Headers}
	rc := snap.Routes[name]
	if rc == nil {
		t.Fatalf("%s has no route configuration %q", proxy, name)
	}
	return programmedRouteResult{Route: programmed.Match(rc, req), configs: snap.RouteConfigs(), name: name, req: req, snapshot: snap}
}

// assertSameDestinations compares the model's outcome with istiod's route
// (programmed.Outcome: status, or share per subset and host, and whether
// each is served).
func assertSameDestinations(t *testing.T, res mesh.Resolution, route programmedRouteResult) {
	t.Helper()
	model := programmed.FromModel(res)
	got := programmed.FromEnvoy(route.Route, func(c string) (bool, int) {
		_, ok := route.snapshot.Clusters[c]
		return ok, route.snapshot.EndpointCount(c)
	})
	if !model.Equal(got) {
		t.Errorf("the model predicts %s (%s); istiod's route (%s) gives %s", model, res.Reason, route.Reason, got)
	}
}

func assertWeights(t *testing.T, who string, got, want []verify.Weight) {
	t.Helper()
	g, w := weightMap(got), weightMap(want)
	for v, pct := range w {
		if g[v] != pct {
			t.Errorf("%s predicts %v, want %v", who, got, want)
			return
		}
	}
	for v, pct := range g {
		if pct != 0 && w[v] != pct {
			t.Errorf("%s predicts %v, want %v", who, got, want)
			return
		}
	}
}

func weightMap(ws []verify.Weight) map[string]int {
	out := map[string]int{}
	for _, w := range ws {
		out[w.Version] = w.Percent
	}
	return out
}

func stateObjects(s *scenario.Scenario, step int) []runtime.Object {
	var objs []runtime.Object
	for _, o := range s.StateAt(step) {
		objs = append(objs, o.Object)
	}
	return objs
}

func newModel(t *testing.T, objs []runtime.Object) *mesh.Model {
	t.Helper()
	cfg, err := mesh.NewConfig(objs)
	if err != nil {
		t.Fatal(err)
	}
	return mesh.New(cfg)
}
