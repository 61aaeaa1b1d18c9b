package mesh

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	tests := []struct {
		name     string
		docs     []string
		object   string
		field    string
		severity string
		message  string
		rejected bool // istiod's validation rejects the object
	}{
		{name: "undefined subset",
			docs:   echoBase(echoRoute("[istio-system/ingressgateway, mesh]"), vsDoc("echo", "bad", "  hosts: [echo.local]\n  gateways: [istio-system/ingressgateway]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n      weight: 90\n    - destination: {host: echo-service, subset: v3}\n      weight: 10\n")),
			object: "VirtualService echo/bad", field: "spec.http[0].route[1].destination.subset", severity: SeverityError,
			message: "subset v3 is defined by no DestinationRule for echo-service.echo.svc.cluster.local (seen from namespace istio-system), so Envoy answers 503 (NC) for this destination's share"},
		{name: "weights not summing to 100",
			docs:   echoBase(vsDoc("echo", "w", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n      weight: 70\n    - destination: {host: echo-service, subset: v2}\n      weight: 20\n")),
			object: "VirtualService echo/w", field: "spec.http[0].route", severity: SeverityWarning,
			message: "the weights of route #0 sum to 90, not 100; Istio sends each destination weight/90 of the requests"},
		{name: "weights summing to 0",
			docs:   echoBase(vsDoc("echo", "w", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n    - destination: {host: echo-service, subset: v2}\n")),
			object: "VirtualService echo/w", field: "spec.http[0].route", severity: SeverityError,
			message: "has 2 destinations whose weights sum to 0, so istiod's validation rejects the VirtualService", rejected: true},
		{name: "negative weight",
			docs:   echoBase(vsDoc("echo", "neg", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, subset: v1}\n      weight: 125\n    - destination: {host: echo-service, subset: v2}\n      weight: -25\n")),
			object: "VirtualService echo/neg", field: "spec.http[0].route[1].weight", severity: SeverityError,
			message: "spec.http[0].route[1].weight is negative, so istiod's validation rejects the VirtualService", rejected: true},
		{name: "gateway reference to no Gateway",
			docs:   echoBase(vsDoc("echo", "g", "  hosts: [echo.local]\n  gateways: [mesh, missing]\n  http:\n  - route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/g", field: "spec.gateways[1]", severity: SeverityError,
			message: "gateway echo/missing does not exist"},
		{name: "hosts * with mesh",
			docs:   echoBase(vsDoc("echo", "s", "  hosts: [\"*\"]\n  http:\n  - route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/s", field: "spec.hosts[0]", severity: SeverityError,
			message: `spec.hosts[0] is "*", which Istio does not allow in a VirtualService bound to mesh, so istiod's validation rejects the VirtualService`, rejected: true},
		{name: "destination host with no Service",
			docs:   echoBase(vsDoc("echo", "h", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-servce}\n")),
			object: "VirtualService echo/h", field: "spec.http[0].route[0].destination.host", severity: SeverityError,
			message: "host echo-servce.echo.svc.cluster.local is not a Service, so Envoy answers 503 (NC) for this destination's share"},
		{name: "destination port the Service lacks",
			docs:   echoBase(vsDoc("echo", "p", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service, port: {number: 8080}}\n")),
			object: "VirtualService echo/p", field: "spec.http[0].route[0].destination.port.number", severity: SeverityError,
			message: "Service echo-service.echo.svc.cluster.local has no port 8080"},
		{name: "subset selecting no pods",
			docs:   []string{deployment("echo", "echo-deployment-v1", "echo", "v1", 1), echoService, echoDR},
			object: "DestinationRule echo/echo", field: "spec.subsets[1].labels", severity: SeverityWarning,
			message: "subset v2 (version=v2) selects no pod of echo-service.echo.svc.cluster.local, so requests routed to it get 503 (UH: no healthy upstream)"},
		{name: "DestinationRule host with no Service",
			docs:   []string{strings.Replace(echoDR, "host: echo-service", "host: nothing", 1)},
			object: "DestinationRule echo/echo", field: "spec.host", severity: SeverityWarning,
			message: "host nothing.echo.svc.cluster.local names no Service"},
		{name: "invalid regex",
			docs:   echoBase(vsDoc("echo", "re", "  hosts: [echo-service]\n  http:\n  - match: [{uri: {regex: \"(\"}}]\n    route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/re", field: "spec.http[0].match[0].uri.regex", severity: SeverityError,
			message: "is not valid RE2", rejected: true},
		{name: "conflicting VirtualServices in the mesh",
			docs: echoBase(vsDoc("echo", "a", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service}\n"),
				vsDoc("echo", "b", "  hosts: [echo-service]\n  http:\n  - route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/b", field: "spec.hosts[0]", severity: SeverityError,
			message: "VirtualService echo/a already binds host echo-service.echo.svc.cluster.local to mesh"},
		{name: "delegate that does not exist",
			docs:   echoBase(vsDoc("echo", "d", "  hosts: [echo-service]\n  http:\n  - delegate: {name: child}\n")),
			object: "VirtualService echo/d", field: "spec.http[0].delegate", severity: SeverityError,
			message: "delegates to VirtualService echo/child, which does not exist"},
		{name: "route with both destinations and a redirect",
			docs:   echoBase(vsDoc("echo", "rr", "  hosts: [echo-service]\n  http:\n  - redirect: {uri: /x}\n    route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/rr", field: "spec.http[0]", severity: SeverityError,
			message: "combines route, redirect, directResponse or delegate", rejected: true},
		{name: "VirtualService without hosts",
			docs:   echoBase(vsDoc("echo", "child", "  http:\n  - route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/child", field: "spec.hosts", severity: SeverityWarning,
			message: "no VirtualService delegates to it"},
		{name: "Gateway that does not select the ingress gateway",
			docs: echoBase(gwDoc("echo", "eg", "  selector: {istio: egressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n"),
				vsDoc("echo", "e", "  hosts: [echo.local]\n  gateways: [eg]\n  http:\n  - route:\n    - destination: {host: echo-service}\n")),
			object: "VirtualService echo/e", field: "spec.gateways[0]", severity: SeverityWarning,
			message: "does not select the ingress gateway"},
		{name: "named targetPort",
			docs:   []string{strings.Replace(echoService, "targetPort: 8080", "targetPort: web", 1)},
			object: "Service echo/echo-service", field: "spec.ports[0].targetPort", severity: SeverityWarning,
			message: `targetPort "web" is a container port name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			findings := model(t, tc.docs...).Lint()
			for _, f := range findings {
				oneSentence(t, "finding", f.Message)
				if f.Object == tc.object && f.Field == tc.field && f.Severity == tc.severity && strings.Contains(f.Message, tc.message) && f.Rejected == tc.rejected {
					return
				}
			}
			t.Fatalf("no %s finding %s %s %q (rejected %v) in\n%+v", tc.severity, tc.object, tc.field, tc.message, tc.rejected, findings)
		})
	}
}

// TestLintClean: the scenarios' configurations have no findings.
func TestLintClean(t *testing.T) {
	for _, gws := range []string{"[istio-system/ingressgateway, mesh]", "[mesh]"} {
		if f := model(t, tutorial003(`["echo.local"]`, gws)...).Lint(); len(f) != 0 {
			t.Fatalf("gateways %s: findings %+v", gws, f)
		}
	}
}

func TestLintAuthz(t *testing.T) {
	for _, tc := range []struct {
		name, doc, field, severity, message string
		rejected                            bool
	}{
		{"unknown principal", policy("thermo", "p", "  rules: [{from: [{source: {principals: [cluster.local/ns/thermo/sa/contrl]}}]}]"),
			"spec.rules[0].from[0].source.principals[0]", SeverityWarning, "principal cluster.local/ns/thermo/sa/contrl is the identity of no workload", false},
		{"bad port", policy("thermo", "p", "  rules: [{to: [{operation: {ports: [http]}}]}]"),
			"spec.rules[0].to[0].operation.ports[0]", SeverityError, `"http" is not a port number`, true},
		{"DENY without rules", policy("thermo", "p", "  action: DENY"),
			"spec.rules", SeverityError, "a DENY policy without rules never triggers", true},
		{"selects nothing", policy("thermo", "p", "  selector: {matchLabels: {app: nothing}}"),
			"spec.selector", SeverityWarning, "selects no workload", false},
		{"not modelled", policy("thermo", "p", "  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]"),
			"spec.rules[0].from[0].source.ipBlocks[0]", SeverityWarning, "source IP blocks are not modelled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found := false
			for _, f := range New(config(t, thermoDocs, tc.doc)).Lint() {
				if f.Object == "AuthorizationPolicy thermo/p" && f.Field == tc.field && f.Severity == tc.severity &&
					strings.Contains(f.Message, tc.message) && f.Rejected == tc.rejected {
					found = true
				}
			}
			if !found {
				t.Errorf("no finding %s %s %q (rejected=%v) in %+v", tc.field, tc.severity, tc.message, tc.rejected, New(config(t, thermoDocs, tc.doc)).Lint())
			}
		})
	}
	if fs := New(config(t, thermoDocs, thermoAllowControl)).Lint(); len(fs) != 0 {
		t.Errorf("tutorial 004's policy has findings: %+v", fs)
	}
}
