//go:build controlplane

package programmed_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/env/programmed"
	"github.com/meshcheck/meshcheck/internal/istiodtest"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestControlPlaneCheck follows the hello and echo scenarios on the real
// istiod: before the first apply the routes are missing; after each step
// every probe's expectation (ForProbe, the model's prediction) is
// programmed, read from RDS, from istiod's config_dump and from the
// proxy's route dump in the shape Envoy's admin answers
// /config_dump?resource=dynamic_route_configs, for the ingress gateway
// and for a sidecar in the source namespace; and the previous step's
// expectation, where it differs, is not, with a sentence naming what is.
func TestControlPlaneCheck(t *testing.T) {
	cp := istiodtest.Start(t)
	ctx := context.Background()
	for _, name := range []string{"hello", "echo"} {
		s, _, err := scenario.Load(filepath.Join("..", "..", "scenarios", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "hello" {
			gw, err := cp.Read(ctx, cp.Gateway())
			if err != nil {
				t.Fatal(err)
			}
			e, err := programmed.ForProbe(s, 0, s.Steps[0].Probes[0], 8080)
			if err != nil {
				t.Fatal(err)
			}
			if ok, sentence := programmed.Check(gw.RouteConfigs(), e); ok || !strings.Contains(sentence, "expected") {
				t.Errorf("%s before the apply: %v, %q", name, ok, sentence)
			}
		}
		for i, st := range s.Steps {
			var objs []runtime.Object
			for _, o := range s.StateAt(i) {
				objs = append(objs, o.Object)
			}
			if err := cp.Apply(ctx, objs); err != nil {
				t.Fatal(err)
			}
			views := map[mesh.Vantage]map[string][]*routev3.RouteConfiguration{}
			for v, proxy := range map[mesh.Vantage]istiodtest.Proxy{mesh.Ingress: cp.Gateway(), mesh.Mesh: istiodtest.Sidecar(s.SourceNamespace())} {
				snap, err := cp.Read(ctx, proxy)
				if err != nil {
					t.Fatal(err)
				}
				full, err := cp.ConfigDump(ctx, proxy)
				if err != nil {
					t.Fatal(err)
				}
				fromFull, err := programmed.FromConfigDump(full)
				if err != nil {
					t.Fatal(err)
				}
				routes, err := snap.RouteConfigDump("1")
				if err != nil {
					t.Fatal(err)
				}
				fromRoutes, err := programmed.FromConfigDump(routes)
				if err != nil {
					t.Fatal(err)
				}
				views[v] = map[string][]*routev3.RouteConfiguration{"RDS": snap.RouteConfigs(), "config_dump": fromFull, "route dump": fromRoutes}
			}
			for _, p := range st.Probes {
				e, err := programmed.ForProbe(s, i, p, 8080)
				if err != nil {
					t.Fatal(err)
				}
				var prev programmed.Expectation
				if i > 0 {
					if prev, err = programmed.ForProbe(s, i-1, p, 8080); err != nil {
						t.Fatal(err)
					}
				}
				for view, rcs := range views[p.From] {
					if ok, sentence := programmed.Check(rcs, e); !ok {
						t.Errorf("%s step %s probe %s, %s: the step's routes are not programmed: %s", name, st.Name, p.Name, view, sentence)
					}
					if i == 0 || prev.Want.Equal(e.Want) {
						continue
					}
					ok, sentence := programmed.Check(rcs, prev)
					if ok || !strings.Contains(sentence, "expected") || !strings.Contains(sentence, "outbound|") {
						t.Errorf("%s step %s probe %s, %s: the previous step's routes passed or the sentence does not say what is programmed: %v, %q",
							name, st.Name, p.Name, view, ok, sentence)
					}
				}
			}
		}
	}
}
