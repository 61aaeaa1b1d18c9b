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
	"github.com/meshcheck/meshcheck/scenario"
)

// helloVersions are the clusters of the hello DestinationRule's subsets.
var helloVersions = map[string]string{
	programmed.ClusterName(80, "v1", "hello-app-service.hello.svc.cluster.local"): "v1",
	programmed.ClusterName(80, "v2", "hello-app-service.hello.svc.cluster.local"): "v2",
}

// TestControlPlaneCheck follows the hello scenario's 100/0 -> 50/50 -> 0/100
// shift on the real istiod: before the first apply the route is missing;
// after each step the step's split is programmed, from the ingress gateway
// (RDS and istiod's config_dump) and from a sidecar, and the previous
// step's split is not, with a sentence naming what is.
func TestControlPlaneCheck(t *testing.T) {
	cp := istiodtest.Start(t)
	ctx := context.Background()
	s, _, err := scenario.Load(filepath.Join("..", "..", "scenarios", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	ingress := programmed.Request{Host: "hello.local", Path: "/"}
	mesh := programmed.Request{Host: "hello-app-service.hello.svc.cluster.local", Path: "/"}
	splits := []map[string]int{{"v1": 100, "v2": 0}, {"v1": 50, "v2": 50}, {"v1": 0, "v2": 100}}

	gw, err := cp.Read(ctx, cp.Gateway())
	if err != nil {
		t.Fatal(err)
	}
	ok, sentence := programmed.Check(gw.RouteConfigs(), programmed.Expectation{RouteConfig: programmed.GatewayRouteConfig(8080),
		Request: ingress, Weights: splits[0], Versions: helloVersions})
	if ok || !strings.Contains(sentence, "hello.local") {
		t.Errorf("before the apply: %v, %q", ok, sentence)
	}

	for i, st := range s.Steps {
		var objs []runtime.Object
		for _, o := range s.StateAt(i) {
			objs = append(objs, o.Object)
		}
		if err := cp.Apply(ctx, objs); err != nil {
			t.Fatal(err)
		}
		gw, err := cp.Read(ctx, cp.Gateway())
		if err != nil {
			t.Fatal(err)
		}
		dump, err := cp.ConfigDump(ctx, cp.Gateway())
		if err != nil {
			t.Fatal(err)
		}
		fromDump, err := programmed.FromConfigDump(dump)
		if err != nil {
			t.Fatal(err)
		}
		side, err := cp.Read(ctx, istiodtest.Sidecar("hello"))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			name   string
			rcs    []*routev3.RouteConfiguration
			config string
			req    programmed.Request
		}{
			{"ingress RDS", gw.RouteConfigs(), programmed.GatewayRouteConfig(8080), ingress},
			{"ingress config_dump", fromDump, programmed.GatewayRouteConfig(8080), ingress},
			{"sidecar RDS", side.RouteConfigs(), programmed.SidecarRouteConfig(80), mesh},
		} {
			e := programmed.Expectation{RouteConfig: v.config, Request: v.req, Weights: splits[i], Versions: helloVersions}
			if ok, sentence := programmed.Check(v.rcs, e); !ok {
				t.Errorf("step %s, %s: the step's split is not programmed: %s", st.Name, v.name, sentence)
			}
			if i == 0 {
				continue
			}
			e.Weights = splits[i-1]
			ok, sentence := programmed.Check(v.rcs, e)
			if ok || !strings.Contains(sentence, "expected") || !strings.Contains(sentence, "outbound|80|v2|hello-app-service.hello.svc.cluster.local") {
				t.Errorf("step %s, %s: the previous split passed or the sentence does not say what is programmed: %v, %q", st.Name, v.name, ok, sentence)
			}
		}
	}
}
