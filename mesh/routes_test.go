package mesh

import (
	"testing"
)

// routesVS is a mesh VirtualService for echo-service with the given http
// routes; routes to subset v1 are "v1", to v2 "v2".
func routesVS(http string) []string {
	return echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n  http:\n"+http))
}

const toV1 = "    route:\n    - destination: {host: echo-service, subset: v1}\n"
const toV2 = "    route:\n    - destination: {host: echo-service, subset: v2}\n"

// TestHTTPMatch: istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest
// and #HTTPRoute (first matching route wins; match entries OR, fields AND).
func TestHTTPMatch(t *testing.T) {
	req := func(path string, headers map[string]string) Request {
		return Request{Vantage: Mesh, Host: "echo-service", Path: path, Headers: headers, SourceNamespace: "echo"}
	}
	withMethod := func(method, path string) Request {
		r := req(path, nil)
		r.Method = method
		return r
	}
	runRules(t, []ruleCase{
		{name: "first matching route wins", docs: routesVS("  - name: a\n    match: [{uri: {prefix: /a}}]\n" + toV1 + "  - name: b\n    match: [{uri: {prefix: /}}]\n" + toV2),
			req: req("/a/x", nil), shares: allV1, route: "a"},
		{name: "later route when the first does not match", docs: routesVS("  - name: a\n    match: [{uri: {prefix: /a}}]\n" + toV1 + "  - name: b\n    match: [{uri: {prefix: /}}]\n" + toV2),
			req: req("/b", nil), shares: allV2, route: "b"},
		{name: "route without match matches all", docs: routesVS("  - " + toV1[4:]), req: req("/anything?q", nil), shares: allV1, route: "#0"},
		{name: "no matching route in a matched VirtualService: 404", docs: routesVS("  - match: [{uri: {exact: /a}}]\n" + toV1),
			req: req("/b", nil), status: 404, reason: "the sidecar answers 404: no http route of VirtualService echo/r for echo-service.echo.svc.cluster.local matches GET /b"},
		{name: "uri exact", docs: routesVS("  - match: [{uri: {exact: /a}}]\n" + toV1), req: req("/a", nil), shares: allV1},
		{name: "uri exact ignores the query string", docs: routesVS("  - match: [{uri: {exact: /a}}]\n" + toV1), req: req("/a?x=1", nil), shares: allV1},
		{name: "uri exact is not a prefix", docs: routesVS("  - match: [{uri: {exact: /a}}]\n" + toV1), req: req("/ab", nil), status: 404},
		{name: "uri exact is case-sensitive", docs: routesVS("  - match: [{uri: {exact: /a}}]\n" + toV1), req: req("/A", nil), status: 404},
		{name: "ignoreUriCase exact", docs: routesVS("  - match: [{uri: {exact: /a}, ignoreUriCase: true}]\n" + toV1), req: req("/A", nil), shares: allV1},
		{name: "ignoreUriCase prefix", docs: routesVS("  - match: [{uri: {prefix: /echo}, ignoreUriCase: true}]\n" + toV1), req: req("/ECHO/x", nil), shares: allV1},
		{name: "ignoreUriCase does not apply to regex", docs: routesVS("  - match: [{uri: {regex: /a+}, ignoreUriCase: true}]\n" + toV1), req: req("/A", nil), status: 404},
		{name: "uri prefix", docs: routesVS("  - match: [{uri: {prefix: /echo}}]\n" + toV1), req: req("/echo/1", nil), shares: allV1},
		{name: "uri prefix is plain string prefix", docs: routesVS("  - match: [{uri: {prefix: /echo}}]\n" + toV1), req: req("/echoes", nil), shares: allV1},
		{name: "uri prefix mismatch", docs: routesVS("  - match: [{uri: {prefix: /echo}}]\n" + toV1), req: req("/ech", nil), status: 404},
		{name: "uri regex is a full match", docs: routesVS("  - match: [{uri: {regex: /ec}}]\n" + toV1), req: req("/echo", nil), status: 404},
		{name: "uri regex matches", docs: routesVS("  - match: [{uri: {regex: \"/e[a-z]+/[0-9]+\"}}]\n" + toV1), req: req("/echo/42", nil), shares: allV1},
		{name: "uri regex ignores the query string", docs: routesVS("  - match: [{uri: {regex: \"/echo\"}}]\n" + toV1), req: req("/echo?a=b", nil), shares: allV1},
		{name: "header exact", docs: routesVS("  - match: [{headers: {x-user: {exact: alice}}}]\n" + toV1 + "  - " + toV2[4:]),
			req: req("/", map[string]string{"x-user": "alice"}), shares: allV1},
		{name: "header exact mismatch falls through", docs: routesVS("  - match: [{headers: {x-user: {exact: alice}}}]\n" + toV1 + "  - " + toV2[4:]),
			req: req("/", map[string]string{"x-user": "bob"}), shares: allV2},
		{name: "header missing falls through", docs: routesVS("  - match: [{headers: {x-user: {exact: alice}}}]\n" + toV1 + "  - " + toV2[4:]),
			req: req("/", nil), shares: allV2},
		{name: "header name is case-insensitive in config", docs: routesVS("  - match: [{headers: {X-User: {exact: alice}}}]\n" + toV1),
			req: req("/", map[string]string{"x-user": "alice"}), shares: allV1},
		{name: "header prefix", docs: routesVS("  - match: [{headers: {x-user: {prefix: ali}}}]\n" + toV1), req: req("/", map[string]string{"x-user": "alice"}), shares: allV1},
		{name: "header regex full match", docs: routesVS("  - match: [{headers: {x-user: {regex: \"a.*e\"}}}]\n" + toV1), req: req("/", map[string]string{"x-user": "alicex"}), status: 404},
		{name: "header regex", docs: routesVS("  - match: [{headers: {x-user: {regex: \"a.*e\"}}}]\n" + toV1), req: req("/", map[string]string{"x-user": "alice"}), shares: allV1},
		{name: "header presence", docs: routesVS("  - match: [{headers: {x-canary: {}}}]\n" + toV1), req: req("/", map[string]string{"x-canary": ""}), shares: allV1},
		{name: "header presence missing", docs: routesVS("  - match: [{headers: {x-canary: {}}}]\n" + toV1), req: req("/", nil), status: 404},
		{name: "withoutHeaders excludes", docs: routesVS("  - match: [{withoutHeaders: {x-user: {exact: bob}}}]\n" + toV1),
			req: req("/", map[string]string{"x-user": "bob"}), status: 404},
		{name: "withoutHeaders: a missing header passes", docs: routesVS("  - match: [{withoutHeaders: {x-user: {exact: bob}}}]\n" + toV1),
			req: req("/", nil), shares: allV1},
		{name: "method exact", docs: routesVS("  - match: [{method: {exact: POST}}]\n" + toV1 + "  - " + toV2[4:]), req: withMethod("POST", "/"), shares: allV1},
		{name: "empty method is GET", docs: routesVS("  - match: [{method: {exact: GET}}]\n" + toV1), req: req("/", nil), shares: allV1},
		{name: "method mismatch", docs: routesVS("  - match: [{method: {exact: POST}}]\n" + toV1), req: req("/", nil), status: 404},
		{name: "authority", docs: routesVS("  - match: [{authority: {prefix: echo-service}}]\n" + toV1), req: req("/", nil), shares: allV1},
		{name: "scheme of plain HTTP probes", docs: routesVS("  - match: [{scheme: {exact: https}}]\n" + toV1 + "  - " + toV2[4:]), req: req("/", nil), shares: allV2},
		{name: "query params", docs: routesVS("  - match: [{queryParams: {v: {exact: \"1\"}}}]\n" + toV1 + "  - " + toV2[4:]), req: req("/x?v=1", nil), shares: allV1},
		{name: "query params mismatch", docs: routesVS("  - match: [{queryParams: {v: {exact: \"1\"}}}]\n" + toV1 + "  - " + toV2[4:]), req: req("/x?v=2", nil), shares: allV2},
		{name: "match entries are OR", docs: routesVS("  - match: [{uri: {prefix: /a}}, {headers: {x-v: {exact: \"1\"}}}]\n" + toV1 + "  - " + toV2[4:]),
			req: req("/b", map[string]string{"x-v": "1"}), shares: allV1},
		{name: "fields within a match are AND", docs: routesVS("  - match: [{uri: {prefix: /a}, headers: {x-v: {exact: \"1\"}}}]\n" + toV1 + "  - " + toV2[4:]),
			req: req("/a", nil), shares: allV2},
		{name: "fields within a match are AND, all hold", docs: routesVS("  - match: [{uri: {prefix: /a}, headers: {x-v: {exact: \"1\"}}}]\n" + toV1 + "  - " + toV2[4:]),
			req: req("/a", map[string]string{"x-v": "1"}), shares: allV1},
		{name: "match port selects the listener", docs: routesVS("  - match: [{port: 8080}]\n" + toV1 + "  - " + toV2[4:]), req: req("/", nil), shares: allV2},
		{name: "match port on the request's port", docs: routesVS("  - match: [{port: 80}]\n" + toV1 + "  - " + toV2[4:]), req: req("/", nil), shares: allV1},
		{name: "sourceNamespace", docs: routesVS("  - match: [{sourceNamespace: echo}]\n" + toV1 + "  - " + toV2[4:]), req: req("/", nil), shares: allV1},
		{name: "sourceNamespace of another client",
			docs: routesVS("  - match: [{sourceNamespace: team}]\n" + toV1 + "  - " + toV2[4:]), req: req("/", nil), shares: allV2},
		{name: "sourceLabels: the in-mesh client has no labels",
			docs: routesVS("  - match: [{sourceLabels: {app: client}}]\n" + toV1 + "  - " + toV2[4:]), req: req("/", nil), shares: allV2},
		{name: "redirect answers 301", docs: routesVS("  - redirect: {uri: /new}\n"), req: req("/", nil), status: 301},
		{name: "directResponse", docs: routesVS("  - directResponse: {status: 418}\n"), req: req("/", nil), status: 418},
		{name: "a missing delegate drops the route", docs: routesVS("  - delegate: {name: other}\n" + "  - " + toV2[4:]), req: req("/", nil), shares: allV2},
	})
}

// TestIngressSourceLabels: at a gateway, sourceLabels are compared with the
// gateway's own labels (route.go sourceMatchHTTP).
func TestIngressSourceLabels(t *testing.T) {
	docs := echoBase(vsDoc("echo", "r", `  hosts: [echo.local]
  gateways: [istio-system/ingressgateway]
  http:
  - match: [{sourceLabels: {istio: ingressgateway}, sourceNamespace: istio-system}]
`+toV1))
	r := model(t, docs...).Resolve(Request{Vantage: Ingress, Host: "echo.local"})
	assertShares(t, r, allV1)
}

// TestWeights: istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRouteDestination-weight.
func TestWeights(t *testing.T) {
	req := Request{Vantage: Mesh, Host: "echo-service", SourceNamespace: "echo"}
	route := func(w1, w2 string) []string {
		return routesVS("  - route:\n    - destination: {host: echo-service, subset: v1}\n" + w1 +
			"    - destination: {host: echo-service, subset: v2}\n" + w2)
	}
	runRules(t, []ruleCase{
		{name: "75/25", docs: route("      weight: 75\n", "      weight: 25\n"), req: req, shares: all7525},
		{name: "100/0 sends nothing to weight 0", docs: route("      weight: 100\n", "      weight: 0\n"), req: req, shares: allV1},
		{name: "relative weights 1:3", docs: route("      weight: 1\n", "      weight: 3\n"), req: req, shares: map[string]float64{"v1": 0.25, "v2": 0.75}},
		{name: "single destination without weight gets all", docs: routesVS("  - " + toV2[4:]), req: req, shares: allV2},
		{name: "single destination with weight gets all", docs: routesVS("  - route:\n    - destination: {host: echo-service, subset: v2}\n      weight: 30\n"), req: req, shares: allV2},
		{name: "weights then pods: 75/25 over 3+1 pods", docs: func() []string {
			d := route("      weight: 50\n", "      weight: 50\n")
			d[0] = deployment("echo", "echo-deployment-v1", "echo", "v1", 3)
			return d
		}(), req: req, shares: all5050},
	})
	m := model(t, route("      weight: 75\n", "      weight: 25\n")...)
	r := m.Resolve(req)
	if r.Destinations[0].Weight != 75 || r.Destinations[1].Weight != 25 {
		t.Fatalf("weights %d/%d", r.Destinations[0].Weight, r.Destinations[1].Weight)
	}
	m = model(t, routesVS("  - route:\n    - destination: {host: echo-service, subset: v2}\n      weight: 30\n")...)
	if w := m.Resolve(req).Destinations[0].Weight; w != 100 {
		t.Fatalf("single destination weight = %d, want 100", w)
	}
}

// TestDestinations: istio.io/latest/docs/reference/config/networking/virtual-service/#Destination
// and .../destination-rule/ (subsets, host resolution, lookup order).
func TestDestinations(t *testing.T) {
	req := Request{Vantage: Mesh, Host: "echo-service", SourceNamespace: "echo"}
	split := func(subset2 string) []string {
		return routesVS("  - route:\n    - destination: {host: echo-service, subset: v1}\n      weight: 75\n" +
			"    - destination: {host: echo-service, subset: " + subset2 + "}\n      weight: 25\n")
	}
	dr := func(ns, host, labels string) string {
		return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr, namespace: " + ns + "}\nspec:\n  host: " + host +
			"\n  subsets:\n  - name: v1\n    labels: " + labels + "\n"
	}
	noDR := func(docs []string) []string {
		out := docs[:0:0]
		for _, d := range docs {
			if d != echoDR {
				out = append(out, d)
			}
		}
		return out
	}
	runRules(t, []ruleCase{
		{name: "undefined subset: its share is 503", docs: split("v3"), req: req, shares: map[string]float64{"v1": 0.75, "503": 0.25}},
		{name: "every destination undefined: 503", docs: routesVS("  - route:\n    - destination: {host: echo-service, subset: v9}\n"),
			req: req, status: 503, reason: "none of its destinations can serve it, so Envoy answers 503"},
		{name: "destination host that is no Service: 503", docs: routesVS("  - route:\n    - destination: {host: nothing}\n      weight: 50\n" +
			"    - destination: {host: echo-service}\n      weight: 50\n"), req: req, shares: map[string]float64{"v1": 0.25, "v2": 0.25, "503": 0.5}},
		{name: "destination short name resolves in the VirtualService's namespace",
			docs: echoBase(vsDoc("team", "r", "  hosts: [echo-service.echo.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: echo-service}\n")),
			req:  req, status: 503, reason: "none of its destinations can serve it"},
		{name: "destination FQDN from another namespace",
			docs: echoBase(vsDoc("team", "r", "  hosts: [echo-service.echo.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: echo-service.echo.svc.cluster.local, subset: v2}\n")),
			req:  req, shares: allV2},
		{name: "Service without endpoints: 503", docs: []string{echoService, echoDR}, req: req, status: 503,
			reason: "the Service has no endpoints, so Envoy answers 503"},
		{name: "subset selecting no pod: 503 (UH)", docs: append(noDR(split("v1")), dr("echo", "echo-service", "{version: v9}")), req: req, status: 503},
		{name: "DestinationRule short host resolves in its namespace",
			docs: append(noDR(split("v1")), dr("echo", "echo-service", "{version: v2}")), req: req, shares: allV2},
		{name: "DestinationRule in another namespace does not name the Service",
			docs: append(noDR(split("v1")), dr("team", "echo-service", "{version: v2}")), req: req, status: 503},
		{name: "client-namespace DestinationRule first",
			docs: append(split("v1"), dr("client", "echo-service.echo.svc.cluster.local", "{version: v2}")),
			req:  Request{Vantage: Mesh, Host: "echo-service.echo", SourceNamespace: "client"}, shares: allV2},
		{name: "root-namespace DestinationRule last",
			docs: append(noDR(split("v1")), dr("istio-system", "echo-service.echo.svc.cluster.local", "{version: v2}")), req: req, shares: allV2},
		{name: "wildcard DestinationRule host",
			docs: append(noDR(split("v1")), dr("echo", "\"*.echo.svc.cluster.local\"", "{version: v1}")), req: req, shares: allV1},
	})
	// A subset's pods carry the subset labels AND the Service selector:
	// pods of another app with version=v1 are not endpoints of echo-service.
	m := model(t, append(split("v2"), deployment("echo", "other-v1", "other", "v1", 5))...)
	r := m.Resolve(req)
	assertShares(t, r, all7525)
	if n := len(r.Destinations[0].Workloads); n != 1 {
		t.Fatalf("subset v1 reaches %d pods, want 1: %+v", n, r.Destinations[0].Workloads)
	}
}

// TestPorts: Service port -> targetPort, Request.Port 0 = 80, destination
// port selection (Destination-port; route.go GetDestinationCluster).
func TestPorts(t *testing.T) {
	twoPorts := `apiVersion: v1
kind: Service
metadata: {name: multi, namespace: echo}
spec:
  selector: {app: echo, version: v1}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: http-admin, port: 9000, targetPort: 9090}
  - {name: tcp-db, port: 5432}`
	fwd := func(port string) string {
		return vsDoc("echo", "r", "  hosts: [echo.local]\n  gateways: [istio-system/ingressgateway]\n  http:\n  - route:\n    - destination: {host: multi"+port+"}\n")
	}
	tests := []struct {
		name   string
		docs   []string
		req    Request
		status int
		port   int
	}{
		{name: "targetPort", docs: echoBase(), req: Request{Vantage: Mesh, Host: "echo-service.echo"}, port: 8080},
		{name: "port 0 is 80", docs: echoBase(), req: Request{Vantage: Mesh, Host: "echo-service.echo", Port: 80}, port: 8080},
		{name: "in-mesh request to another Service port", docs: echoBase(twoPorts), req: Request{Vantage: Mesh, Host: "multi.echo", Port: 9000}, port: 9090},
		{name: "in-mesh request to a port the Service lacks", docs: echoBase(twoPorts), req: Request{Vantage: Mesh, Host: "echo-service.echo", Port: 9000}, status: 404},
		{name: "in-mesh request to a port no Service has", docs: echoBase(), req: Request{Vantage: Mesh, Host: "echo-service.echo", Port: 7}, status: 404},
		{name: "TCP port: no HTTP routing, all endpoints", docs: echoBase(twoPorts), req: Request{Vantage: Mesh, Host: "multi.echo", Port: 5432}, port: 5432},
		{name: "multi-port Service, no destination port: the listener port", docs: echoBase(twoPorts, fwd("")), req: Request{Vantage: Ingress, Host: "echo.local"}, port: 8080},
		{name: "explicit destination port", docs: echoBase(twoPorts, fwd(", port: {number: 9000}")), req: Request{Vantage: Ingress, Host: "echo.local"}, port: 9090},
		{name: "destination port the Service lacks: 503", docs: echoBase(twoPorts, fwd(", port: {number: 1234}")), req: Request{Vantage: Ingress, Host: "echo.local"}, status: 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := model(t, tc.docs...).Resolve(tc.req)
			assertStatus(t, r, tc.status)
			if tc.status == 0 && (len(r.Destinations) != 1 || r.Destinations[0].Port != tc.port) {
				t.Fatalf("destinations %+v, want port %d (reason %s)", r.Destinations, tc.port, r.Reason)
			}
		})
	}
}
