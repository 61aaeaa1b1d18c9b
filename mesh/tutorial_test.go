package mesh

import (
	"strings"
	"testing"
)

// TestTutorial003 runs tutorial 003's configuration (echo v1/v2, a
// DestinationRule with subsets, Gateway ingressgateway in istio-system, and
// VirtualService echo-route 75/25 on prefix /echo) against every probe the
// scenario makes, with both server host forms the scenario may use.
func TestTutorial003(t *testing.T) {
	const both = "[istio-system/ingressgateway, mesh]"
	tests := []struct {
		name        string
		serverHosts string
		gateways    string
		v1Replicas  int
		noVS        bool
		req         Request
		status      int
		shares      map[string]float64
		vs          string
		note        string // fragment of a required note
		reason      string // fragment of the reason
	}{
		{name: "ingress echo.local /echo, server *", serverHosts: `["*"]`, gateways: both,
			req:    Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}, vs: "echo/echo-route",
			reason: `ingress requests to echo.local take route "echo-route" of VirtualService echo/echo-route`},
		{name: "ingress echo.local /echo, server echo.local", serverHosts: `["echo.local"]`, gateways: both,
			req:    Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}, vs: "echo/echo-route"},
		{name: "ingress prefix covers /echo/sub and /echoes", serverHosts: `["*"]`, gateways: both,
			req:    Request{Vantage: Ingress, Host: "echo.local", Path: "/echoes?x=1"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		// HostPortRule: Istio >= 1.15 ignores the port in the Host header
		// at gateways, so "echo.local:80" routes like "echo.local".
		{name: "ingress echo.local:80 routes like echo.local", serverHosts: `["echo.local"]`, gateways: both,
			req:    Request{Vantage: Ingress, Host: "echo.local:80", Path: "/echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		{name: "ingress echo.local:8080 routes like echo.local", serverHosts: `["*"]`, gateways: both,
			req:    Request{Vantage: Ingress, Host: "ECHO.local:8080", Path: "/echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		{name: "ingress unknown host 404", serverHosts: `["*"]`, gateways: both,
			req: Request{Vantage: Ingress, Host: "other", Path: "/echo"}, status: 404,
			reason: "host other matches no host that a VirtualService binds to a Gateway server on port 80"},
		{name: "ingress unknown host 404, server echo.local", serverHosts: `["echo.local"]`, gateways: both,
			req: Request{Vantage: Ingress, Host: "other.local", Path: "/echo"}, status: 404},
		{name: "ingress path /other 404", serverHosts: `["*"]`, gateways: both,
			req: Request{Vantage: Ingress, Host: "echo.local", Path: "/other"}, status: 404,
			reason: "no http route of VirtualService echo/echo-route for echo.local matches GET /other"},
		{name: "ingress Service FQDN as Host", serverHosts: `["*"]`, gateways: both,
			req:    Request{Vantage: Ingress, Host: "echo-service.echo.svc.cluster.local", Path: "/echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		{name: "mesh FQDN /echo", serverHosts: `["*"]`, gateways: both,
			req:    Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/echo", SourceNamespace: "echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}, vs: "echo/echo-route",
			reason: `in-mesh requests to echo-service.echo.svc.cluster.local take route "echo-route"`},
		{name: "mesh short name from echo /echo", serverHosts: `["*"]`, gateways: both,
			req:    Request{Vantage: Mesh, Host: "echo-service", Path: "/echo", SourceNamespace: "echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		{name: "mesh /other 404", serverHosts: `["*"]`, gateways: both,
			req: Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/other", SourceNamespace: "echo"}, status: 404},
		{name: "mesh without mesh gateway: pods decide", serverHosts: `["*"]`, gateways: "[istio-system/ingressgateway]",
			req:    Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/echo", SourceNamespace: "echo"},
			shares: map[string]float64{"v1": 0.5, "v2": 0.5},
			note:   "in-mesh requests to echo-service.echo.svc.cluster.local ignore VirtualService echo/echo-route: its gateways do not include mesh",
			reason: "match no VirtualService bound to mesh, so the sidecar balances them across the Service's 2 endpoints"},
		{name: "mesh without mesh gateway: any path", serverHosts: `["*"]`, gateways: "[istio-system/ingressgateway]",
			req:    Request{Vantage: Mesh, Host: "echo-service", Path: "/other", SourceNamespace: "echo"},
			shares: map[string]float64{"v1": 0.5, "v2": 0.5}, note: "its gateways do not include mesh"},
		{name: "ingress still routes without mesh", serverHosts: `["*"]`, gateways: "[istio-system/ingressgateway]",
			req:    Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		{name: "3 replicas of v1 without VirtualService: 75/25 by pods", serverHosts: `["*"]`, v1Replicas: 3, noVS: true,
			req:    Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/anything", SourceNamespace: "echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}, reason: "across the Service's 4 endpoints"},
		{name: "3 replicas of v1 with VirtualService: weights decide", serverHosts: `["*"]`, gateways: both, v1Replicas: 3,
			req:    Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/echo", SourceNamespace: "echo"},
			shares: map[string]float64{"v1": 0.75, "v2": 0.25}},
		{name: "no VirtualService: ingress 404", serverHosts: `["*"]`, noVS: true,
			req: Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"}, status: 404,
			reason: "no VirtualService binds a host to a Gateway server on port 80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs := tutorial003(tc.serverHosts, tc.gateways)
			if tc.noVS {
				docs = docs[:len(docs)-1]
			}
			if tc.v1Replicas != 0 {
				docs[0] = deployment("echo", "echo-deployment-v1", "echo", "v1", tc.v1Replicas)
			}
			m := model(t, docs...)
			r := m.Resolve(tc.req)
			assertStatus(t, r, tc.status)
			oneSentence(t, "reason", r.Reason)
			for _, n := range r.Notes {
				oneSentence(t, "note", n)
			}
			if tc.shares != nil {
				assertShares(t, r, tc.shares)
			}
			if tc.vs != "" && r.VirtualService != tc.vs {
				t.Fatalf("VirtualService = %q, want %q", r.VirtualService, tc.vs)
			}
			if tc.note != "" && !hasNote(r, tc.note) {
				t.Fatalf("notes %q lack %q", r.Notes, tc.note)
			}
			if tc.reason != "" && !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("reason %q lacks %q", r.Reason, tc.reason)
			}
		})
	}
}

// TestTutorial003Note checks the exact sentence the report prints when the
// VirtualService does not list mesh, the lesson of tutorial 003.
func TestTutorial003Note(t *testing.T) {
	m := model(t, tutorial003(`["*"]`, "[istio-system/ingressgateway]")...)
	r := m.Resolve(Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/echo", SourceNamespace: "echo"})
	want := []string{"in-mesh requests to echo-service.echo.svc.cluster.local ignore VirtualService echo/echo-route: its gateways do not include mesh"}
	if len(r.Notes) != 1 || r.Notes[0] != want[0] {
		t.Fatalf("notes = %q, want %q", r.Notes, want)
	}
	if r.VirtualService != "" || r.Status != 0 || len(r.Destinations) != 1 {
		t.Fatalf("resolution = %+v, want the Service's default route", r)
	}
	d := r.Destinations[0]
	if d.Host != "echo-service.echo.svc.cluster.local" || d.Port != 8080 || d.Weight != 100 || len(d.Workloads) != 2 {
		t.Fatalf("destination = %+v", d)
	}
}

// TestTutorial003Destinations checks the destinations of the 75/25 route:
// subsets resolve to one pod each on the Service's targetPort.
func TestTutorial003Destinations(t *testing.T) {
	m := model(t, tutorial003(`["*"]`, "[istio-system/ingressgateway, mesh]")...)
	r := m.Resolve(Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"})
	if r.Route != "echo-route" || len(r.Destinations) != 2 {
		t.Fatalf("route %q, destinations %+v", r.Route, r.Destinations)
	}
	for i, want := range []struct {
		subset, pod string
		weight      int
	}{{"v1", PodName("echo-deployment-v1", 0), 75}, {"v2", PodName("echo-deployment-v2", 0), 25}} {
		d := r.Destinations[i]
		if d.Subset != want.subset || d.Weight != want.weight || d.Port != 8080 || d.Status != 0 ||
			len(d.Workloads) != 1 || d.Workloads[0].Name != want.pod {
			t.Fatalf("destination %d = %+v, want subset %s weight %d pod %s", i, d, want.subset, want.weight, want.pod)
		}
		oneSentence(t, "destination reason", d.Reason)
		if !strings.Contains(d.Reason, "subset "+want.subset+" of DestinationRule echo/echo (version="+want.subset+") reaches 1 pod") {
			t.Fatalf("destination reason %q", d.Reason)
		}
	}
	if len(m.Lint()) != 0 {
		t.Fatalf("tutorial 003 config has findings: %+v", m.Lint())
	}
}

// TestTutorial003StarWithMesh: the tutorial's note "Wildcard can't be used"
// once mesh is listed. istiod rejects hosts "*" with mesh, so the
// VirtualService is ignored everywhere and Lint reports it.
func TestTutorial003StarWithMesh(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: echo-route, namespace: echo}
spec:
  hosts: ["*"]
  gateways: [istio-system/ingressgateway, mesh]
  http:
  - route:
    - destination: {host: echo-service, subset: v1}`
	docs := tutorial003(`["*"]`, "[mesh]")
	docs[len(docs)-1] = vs
	m := model(t, docs...)
	r := m.Resolve(Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"})
	assertStatus(t, r, 404)
	r = m.Resolve(Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/echo", SourceNamespace: "echo"})
	assertShares(t, r, map[string]float64{"v1": 0.5, "v2": 0.5})
	found := false
	for _, f := range m.Lint() {
		if f.Object == "VirtualService echo/echo-route" && f.Field == "spec.hosts[0]" && f.Severity == SeverityError {
			found = true
		}
	}
	if !found {
		t.Fatalf("Lint lacks the hosts \"*\" with mesh error: %+v", m.Lint())
	}
}

// TestTutorial003FirstStep is the tutorial's first VirtualService: hosts
// "*", only the ingress gateway, no subset; from the ingress every host
// reaches both pods, in-mesh traffic ignores it.
func TestTutorial003FirstStep(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: echo-route, namespace: echo}
spec:
  hosts: ["*"]
  gateways: [istio-system/ingressgateway]
  http:
  - name: echo-route
    match:
    - uri: {prefix: /echo}
    route:
    - destination: {host: echo-service}`
	docs := tutorial003(`["*"]`, "[mesh]")
	docs[len(docs)-1] = vs
	m := model(t, docs...)
	r := m.Resolve(Request{Vantage: Ingress, Host: "localhost", Path: "/echo"})
	assertShares(t, r, map[string]float64{"v1": 0.5, "v2": 0.5})
	if !strings.Contains(r.Reason, "ingress requests to any host take route") {
		t.Fatalf("reason %q", r.Reason)
	}
	assertStatus(t, m.Resolve(Request{Vantage: Ingress, Host: "localhost", Path: "/"}), 404)
	r = m.Resolve(Request{Vantage: Mesh, Host: "echo-service", Path: "/", SourceNamespace: "echo"})
	assertShares(t, r, map[string]float64{"v1": 0.5, "v2": 0.5})
	if !hasNote(r, "in-mesh requests to echo-service.echo.svc.cluster.local ignore VirtualService echo/echo-route: its gateways do not include mesh") {
		t.Fatalf("notes %q", r.Notes)
	}
}
