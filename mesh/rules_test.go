package mesh

import (
	"strings"
	"testing"
)

// vsDoc is a VirtualService document.
func vsDoc(ns, name, spec string) string {
	return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec
}

// gwDoc is a Gateway document.
func gwDoc(ns, name, spec string) string {
	return "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n" + spec
}

// echoBase is tutorial 003 without its VirtualService: one pod per version.
func echoBase(extra ...string) []string {
	return append([]string{
		deployment("echo", "echo-deployment-v1", "echo", "v1", 1),
		deployment("echo", "echo-deployment-v2", "echo", "v2", 1),
		echoService, echoDR, ingressGateway(`["*"]`),
	}, extra...)
}

// split7525 is a route body sending 75/25 to the echo subsets.
const split7525 = `    route:
    - destination: {host: echo-service.echo.svc.cluster.local, subset: v1}
      weight: 75
    - destination: {host: echo-service.echo.svc.cluster.local, subset: v2}
      weight: 25
`

var (
	all7525 = map[string]float64{"v1": 0.75, "v2": 0.25}
	all5050 = map[string]float64{"v1": 0.5, "v2": 0.5}
	allV1   = map[string]float64{"v1": 1}
	allV2   = map[string]float64{"v2": 1}
)

type ruleCase struct {
	name   string
	docs   []string
	req    Request
	status int
	shares map[string]float64
	route  string
	note   string
	reason string
}

func runRules(t *testing.T, tests []ruleCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := model(t, tc.docs...)
			r := m.Resolve(tc.req)
			assertStatus(t, r, tc.status)
			oneSentence(t, "reason", r.Reason)
			for _, n := range r.Notes {
				oneSentence(t, "note", n)
			}
			if tc.shares != nil {
				assertShares(t, r, tc.shares)
			}
			if tc.route != "" && r.Route != tc.route {
				t.Fatalf("route = %q, want %q (reason %s)", r.Route, tc.route, r.Reason)
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

// TestGatewayBinding: istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-gateways
// and .../gateway/#Gateway-selector.
func TestGatewayBinding(t *testing.T) {
	ing := Request{Vantage: Ingress, Host: "echo.local", Path: "/"}
	mesh := Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/", SourceNamespace: "echo"}
	spec := func(gateways string) string {
		return "  hosts: [echo.local, echo-service]\n" + gateways + "  http:\n  - " + split7525[4:]
	}
	runRules(t, []ruleCase{
		{name: "omitted = mesh only: mesh routes", docs: echoBase(vsDoc("echo", "r", spec(""))), req: mesh, shares: all7525},
		{name: "omitted = mesh only: ingress 404 with note", docs: echoBase(vsDoc("echo", "r", spec(""))), req: ing, status: 404,
			note: "ingress requests to echo.local ignore VirtualService echo/r: its gateways do not include a Gateway that selects the ingress gateway (it is bound to mesh only)"},
		{name: "list without mesh: mesh ignores it", docs: echoBase(vsDoc("echo", "r", spec("  gateways: [istio-system/ingressgateway]\n"))),
			req: mesh, shares: all5050, note: "its gateways do not include mesh"},
		{name: "list without mesh: ingress routes", docs: echoBase(vsDoc("echo", "r", spec("  gateways: [istio-system/ingressgateway]\n"))),
			req: ing, shares: all7525},
		{name: "mesh keyword only", docs: echoBase(vsDoc("echo", "r", spec("  gateways: [mesh]\n"))), req: mesh, shares: all7525},
		{name: "short gateway name resolves in the VirtualService's namespace",
			docs: echoBase(gwDoc("echo", "gw", "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [echo.local]\n"),
				vsDoc("echo", "r", spec("  gateways: [gw]\n"))), req: ing, shares: all7525},
		{name: "./name resolves in the VirtualService's namespace",
			docs: echoBase(gwDoc("echo", "gw", "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [echo.local]\n"),
				vsDoc("echo", "r", spec("  gateways: [./gw]\n"))), req: ing, shares: all7525},
		{name: "legacy name.ns.svc.cluster.local form",
			docs: echoBase(vsDoc("echo", "r", spec("  gateways: [ingressgateway.istio-system.svc.cluster.local]\n"))), req: ing, shares: all7525},
		{name: "short name does not find a Gateway in another namespace",
			docs: echoBase(vsDoc("echo", "r", spec("  gateways: [ingressgateway]\n"))), req: ing, status: 404,
			note: "ingress requests to echo.local ignore VirtualService echo/r: its gateway echo/ingressgateway does not exist"},
		{name: "Gateway in any namespace selects the ingress gateway",
			docs: echoBase(gwDoc("team", "gw", "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n"),
				vsDoc("echo", "r", spec("  gateways: [team/gw]\n"))), req: ing, shares: all7525},
		{name: "Gateway whose selector does not match",
			docs: echoBase(gwDoc("echo", "gw", "  selector: {istio: egressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n"),
				vsDoc("echo", "r", spec("  gateways: [gw]\n"))), req: ing, status: 404,
			note: "none of its gateways (echo/gw) selects the ingress gateway (istio=ingressgateway)"},
		{name: "Gateway without selector applies to all workloads",
			docs: echoBase(gwDoc("echo", "gw", "  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n"),
				vsDoc("echo", "r", spec("  gateways: [gw]\n"))), req: ing, shares: all7525},
		{name: "HTTPS server does not serve plain HTTP",
			docs: echoBase(gwDoc("echo", "gw", "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: c}\n"),
				vsDoc("echo", "r", spec("  gateways: [gw]\n"))), req: Request{Vantage: Ingress, Host: "echo.local", Port: 443}, status: 404,
			reason: "no Gateway that selects it has a plain HTTP server on port 443"},
		{name: "server on another port", docs: echoBase(vsDoc("echo", "r", spec("  gateways: [istio-system/ingressgateway]\n"))),
			req: Request{Vantage: Ingress, Host: "echo.local", Port: 8080}, status: 404},
		{name: "httpsRedirect answers 301",
			docs: echoBase(gwDoc("echo", "gw", "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 8081, name: http, protocol: HTTP}\n    hosts: [echo.local]\n    tls: {httpsRedirect: true}\n"),
				vsDoc("echo", "r", spec("  gateways: [gw]\n"))), req: Request{Vantage: Ingress, Host: "echo.local", Port: 8081}, status: 301},
		{name: "match.gateways restricts a route to a gateway",
			docs: echoBase(vsDoc("echo", "r", `  hosts: [echo.local, echo-service]
  gateways: [istio-system/ingressgateway, mesh]
  http:
  - name: mesh-only
    match:
    - gateways: [mesh]
    route:
    - destination: {host: echo-service, subset: v2}
  - name: rest
    route:
    - destination: {host: echo-service, subset: v1}
`)), req: ing, shares: allV1, route: "rest"},
		{name: "match.gateways mesh applies in the mesh",
			docs: echoBase(vsDoc("echo", "r", `  hosts: [echo.local, echo-service]
  gateways: [istio-system/ingressgateway, mesh]
  http:
  - name: mesh-only
    match:
    - gateways: [mesh]
    route:
    - destination: {host: echo-service, subset: v2}
  - name: rest
    route:
    - destination: {host: echo-service, subset: v1}
`)), req: mesh, shares: allV2, route: "mesh-only"},
	})
}

// TestHostMatching: istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-hosts
// and .../gateway/#Server-hosts.
func TestHostMatching(t *testing.T) {
	gw := func(ns, hosts string) string {
		return gwDoc(ns, "gw", "  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: "+hosts+"\n")
	}
	route := "  http:\n  - " + split7525[4:]
	ing := func(host string) Request { return Request{Vantage: Ingress, Host: host, Path: "/"} }
	mesh := func(host, ns string) Request {
		return Request{Vantage: Mesh, Host: host, Path: "/", SourceNamespace: ns}
	}
	runRules(t, []ruleCase{
		{name: "short VirtualService host resolves in its namespace",
			docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)), req: mesh("echo-service.echo.svc.cluster.local", "default"), shares: all7525},
		{name: "short host in another namespace names another Service",
			docs: echoBase(vsDoc("team", "r", "  hosts: [echo-service]\n"+route)), req: mesh("echo-service.echo.svc.cluster.local", "echo"), shares: all5050},
		{name: "svc.ns is not expanded as a VirtualService host",
			docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service.echo]\n"+route)), req: mesh("echo-service.echo.svc.cluster.local", "echo"), shares: all5050},
		{name: "wildcard VirtualService host at the ingress",
			docs: echoBase(gw("echo", `["*"]`), vsDoc("echo", "r", "  hosts: [\"*.example.com\"]\n  gateways: [gw]\n"+route)), req: ing("a.b.example.com"), shares: all7525},
		{name: "wildcard needs a label in place of *",
			docs: echoBase(gw("echo", `["*"]`), vsDoc("echo", "r", "  hosts: [\"*.example.com\"]\n  gateways: [gw]\n"+route)), req: ing("example.com"), status: 404},
		{name: "VirtualService host * at the ingress takes any host",
			docs: echoBase(gw("echo", `["*"]`), vsDoc("echo", "r", "  hosts: [\"*\"]\n  gateways: [gw]\n"+route)), req: ing("anything:1234"), shares: all7525},
		{name: "server host narrows VirtualService host *",
			docs: echoBase(gw("echo", `[echo.local]`), vsDoc("echo", "r", "  hosts: [\"*\"]\n  gateways: [gw]\n"+route)), req: ing("other.local"), status: 404},
		{name: "server host wildcard covers VirtualService host",
			docs: echoBase(gw("echo", `["*.local"]`), vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [gw]\n"+route)), req: ing("echo.local"), shares: all7525},
		{name: "server host ns/host admits VirtualServices of ns",
			docs: echoBase(gw("istio-system", `[echo/echo.local]`), vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [istio-system/gw]\n"+route)), req: ing("echo.local"), shares: all7525},
		{name: "server host ns/host excludes VirtualServices of other namespaces",
			docs: echoBase(gw("istio-system", `[team/echo.local]`), vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [istio-system/gw]\n"+route)), req: ing("echo.local"), status: 404,
			note: "no server of its Gateway istio-system/gw on port 80 exposes host echo.local to namespace echo"},
		{name: "server host */host admits every namespace",
			docs: echoBase(gw("istio-system", `["*/echo.local"]`), vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [istio-system/gw]\n"+route)), req: ing("echo.local"), shares: all7525},
		{name: "server host ./host means the Gateway's namespace",
			docs: echoBase(gw("echo", `[./echo.local]`), vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [gw]\n"+route)), req: ing("echo.local"), shares: all7525},
		{name: "server host ./host excludes other namespaces",
			docs: echoBase(gw("istio-system", `[./echo.local]`), vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [istio-system/gw]\n"+route)), req: ing("echo.local"), status: 404},
		{name: "Host header is case-insensitive", docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)),
			req: mesh("Echo-Service.ECHO.svc.cluster.local", "echo"), shares: all7525},
		{name: "sidecar: svc from the same namespace", docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)),
			req: mesh("echo-service", "echo"), shares: all7525},
		{name: "sidecar: svc:port", docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)),
			req: mesh("echo-service:80", "echo"), shares: all7525},
		{name: "sidecar: svc.ns from another namespace", docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)),
			req: mesh("echo-service.echo", "default"), shares: all7525},
		{name: "sidecar: svc.ns.svc:port from another namespace", docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)),
			req: mesh("echo-service.echo.svc:80", "default"), shares: all7525},
		{name: "sidecar: bare svc from another namespace is another Service", docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n"+route)),
			req: mesh("echo-service", "default"), status: 404, reason: "(Service echo-service is in namespace echo)"},
		{name: "sidecar: empty SourceNamespace is default", docs: echoBase(),
			req: Request{Vantage: Mesh, Host: "echo-service.echo"}, shares: all5050},
		{name: "sidecar: unknown host 404", docs: echoBase(), req: mesh("nowhere.example.com", "echo"), status: 404,
			reason: "host nowhere.example.com is neither a Service with port 80 nor a host of a VirtualService bound to mesh"},
		{name: "sidecar: non-Service host of a mesh VirtualService routes on port 80",
			docs: echoBase(vsDoc("echo", "r", "  hosts: [echo.local]\n"+route)), req: mesh("echo.local", "default"), shares: all7525},
		{name: "sidecar: wildcard VirtualService host names the Service",
			docs: echoBase(vsDoc("echo", "r", "  hosts: [\"*.echo.svc.cluster.local\"]\n"+route)), req: mesh("echo-service", "echo"), shares: all7525},
		{name: "sidecar: exact host beats wildcard",
			docs: echoBase(vsDoc("echo", "a", "  hosts: [\"*.echo.svc.cluster.local\"]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v2}\n"),
				vsDoc("echo", "b", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n")),
			req: mesh("echo-service", "echo"), shares: allV1},
		{name: "sidecar: the oldest of two VirtualServices for a host wins",
			docs: echoBase(vsDoc("echo", "b", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v2}\n"),
				vsDoc("echo", "a", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n")),
			req: mesh("echo-service", "echo"), shares: allV1,
			note: "in-mesh requests to echo-service.echo.svc.cluster.local ignore VirtualService echo/b: VirtualService echo/a already routes that host"},
		{name: "ingress: VirtualServices for one host merge, catch-all last",
			docs: echoBase(gw("echo", `["*"]`),
				vsDoc("echo", "a", "  hosts: [echo.local]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n"),
				vsDoc("echo", "b", "  hosts: [echo.local]\n  gateways: [gw]\n  http:\n  - match:\n    - uri: {prefix: /v2}\n    route:\n    - destination: {host: echo-service, subset: v2}\n")),
			req: ing2("echo.local", "/v2/x"), shares: allV2},
		{name: "ingress: merged catch-all still serves the rest",
			docs: echoBase(gw("echo", `["*"]`),
				vsDoc("echo", "a", "  hosts: [echo.local]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n"),
				vsDoc("echo", "b", "  hosts: [echo.local]\n  gateways: [gw]\n  http:\n  - match:\n    - uri: {prefix: /v2}\n    route:\n    - destination: {host: echo-service, subset: v2}\n")),
			req: ing2("echo.local", "/x"), shares: allV1},
		{name: "ingress: exact host beats wildcard host",
			docs: echoBase(gw("echo", `["*"]`),
				vsDoc("echo", "a", "  hosts: [\"*.local\"]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n"),
				vsDoc("echo", "b", "  hosts: [echo.local]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v2}\n")),
			req: ing("echo.local"), shares: allV2},
		{name: "exportTo . hides a VirtualService from other namespaces",
			docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n  exportTo: [\".\"]\n"+route)),
			req:  mesh("echo-service.echo", "default"), shares: all5050, note: "its exportTo does not include namespace default"},
		{name: "exportTo . applies in its own namespace",
			docs: echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n  exportTo: [\".\"]\n"+route)),
			req:  mesh("echo-service", "echo"), shares: all7525},
	})
}

func ing2(host, path string) Request { return Request{Vantage: Ingress, Host: host, Path: path} }
