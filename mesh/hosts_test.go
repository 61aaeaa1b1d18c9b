package mesh

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestResolveHost(t *testing.T) {
	for _, tc := range []struct{ in, ns, want string }{
		{"reviews", "default", "reviews.default.svc.cluster.local"},
		{"Reviews", "default", "reviews.default.svc.cluster.local"},
		{"reviews.default", "x", "reviews.default"}, // names with a dot are taken as FQDN
		{"echo.local", "echo", "echo.local"},
		{"*", "echo", "*"},
		{"*.example.com", "echo", "*.example.com"},
		{"10.0.0.1", "echo", "10.0.0.1"},
		{"::1", "echo", "::1"},
		{"", "echo", ""},
	} {
		if got := resolveHost(tc.in, tc.ns); got != tc.want {
			t.Errorf("resolveHost(%q, %q) = %q, want %q", tc.in, tc.ns, got, tc.want)
		}
	}
}

func TestResolveGatewayRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mesh", "mesh"},
		{"gw", "echo/gw"},
		{"./gw", "echo/gw"},
		{"istio-system/gw", "istio-system/gw"},
		{"gw.istio-system", "istio-system/gw"},
		{"gw.istio-system.svc.cluster.local", "istio-system/gw"},
	} {
		if got := resolveGatewayRef(tc.in, "echo"); got != tc.want {
			t.Errorf("resolveGatewayRef(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHostOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b           string
		matches, aInB  bool
		intersectionAB []string
	}{
		{"a.com", "a.com", true, true, []string{"a.com"}},
		{"a.com", "b.com", false, false, nil},
		{"x.a.com", "*.a.com", true, true, []string{"x.a.com"}},
		{"*.a.com", "x.a.com", true, false, []string{"x.a.com"}},
		{"a.com", "*.a.com", false, false, nil},
		{"*.x.a.com", "*.a.com", true, true, []string{"*.x.a.com"}},
		{"*.a.com", "*.x.a.com", true, false, []string{"*.x.a.com"}},
		{"*", "a.com", true, false, []string{"a.com"}},
		{"*", "*", true, true, []string{"*"}},
		{"*.b.com", "*.a.com", false, false, nil},
	} {
		if got := hostMatches(tc.a, tc.b); got != tc.matches {
			t.Errorf("hostMatches(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := hostSubsetOf(tc.a, tc.b); got != tc.aInB {
			t.Errorf("hostSubsetOf(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := intersectHosts([]string{tc.a}, []string{tc.b}); !slices.Equal(got, tc.intersectionAB) {
			t.Errorf("intersectHosts(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.intersectionAB)
		}
	}
}

func TestServerHostsFor(t *testing.T) {
	hosts := []string{"echo/a.com", "*/b.com", "./c.com", "d.com", "team/e.com"}
	if got := serverHostsFor(hosts, "istio-system", "echo"); !slices.Equal(got, []string{"a.com", "b.com", "d.com"}) {
		t.Errorf("for echo: %q", got)
	}
	if got := serverHostsFor(hosts, "istio-system", "istio-system"); !slices.Equal(got, []string{"b.com", "c.com", "d.com"}) {
		t.Errorf("for istio-system: %q", got)
	}
}

func TestStripHostPort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"echo.local", "echo.local"},
		{"echo.local:80", "echo.local"},
		{"echo.local:", "echo.local:"},
		{"echo.local:http", "echo.local:http"},
		{"[::1]:8080", "[::1]"},
		{"::1", "::1"},
		{"10.0.0.1:80", "10.0.0.1"},
	} {
		if got := stripHostPort(tc.in); got != tc.want {
			t.Errorf("stripHostPort(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExportedTo(t *testing.T) {
	for _, tc := range []struct {
		exportTo      []string
		owner, client string
		want          bool
	}{
		{nil, "a", "b", true},
		{[]string{"*"}, "a", "b", true},
		{[]string{"."}, "a", "a", true},
		{[]string{"."}, "a", "b", false},
		{[]string{"b"}, "a", "b", true},
		{[]string{"c"}, "a", "b", false},
		{[]string{"~"}, "a", "a", false},
	} {
		if got := exportedTo(tc.exportTo, tc.owner, tc.client); got != tc.want {
			t.Errorf("exportedTo(%q, %s, %s) = %v", tc.exportTo, tc.owner, tc.client, got)
		}
	}
}

func TestPortProtocol(t *testing.T) {
	h2c := "kubernetes.io/h2c"
	tcp := "tcp"
	for _, tc := range []struct {
		port  corev1.ServicePort
		proto string
		http  bool
	}{
		{corev1.ServicePort{Name: "http"}, "http", true},
		{corev1.ServicePort{Name: "http-web"}, "http", true},
		{corev1.ServicePort{Name: "grpc-api"}, "grpc", true},
		{corev1.ServicePort{Name: ""}, "", true},
		{corev1.ServicePort{Name: "web"}, "", true},
		{corev1.ServicePort{Name: "tcp-db"}, "tcp", false},
		{corev1.ServicePort{Name: "https"}, "https", false},
		{corev1.ServicePort{Name: "mysql"}, "mysql", false},
		{corev1.ServicePort{Name: "web", AppProtocol: &h2c}, "http2", true},
		{corev1.ServicePort{Name: "http", AppProtocol: &tcp}, "tcp", false},
		{corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP}, "udp", false},
	} {
		proto, http := portProtocol(tc.port)
		if proto != tc.proto || http != tc.http {
			t.Errorf("portProtocol(%+v) = %q, %v; want %q, %v", tc.port, proto, http, tc.proto, tc.http)
		}
	}
}

// TestGatewayDestinationRuleLookup: the ingress gateway runs in the root
// namespace; it uses the Service's namespace's DestinationRule before one in
// istio-system, unless that one is exported only to istio-system
// (push_context.go destinationRule).
func TestGatewayDestinationRuleLookup(t *testing.T) {
	rootDR := func(exportTo string) string {
		return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: root, namespace: istio-system}\nspec:\n" +
			"  host: echo-service.echo.svc.cluster.local\n" + exportTo + "  subsets:\n  - name: v1\n    labels: {version: v2}\n"
	}
	vs := echoRoute("[istio-system/ingressgateway]")
	req := Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"}
	r := model(t, append(echoBase(vs), rootDR(""))...).Resolve(req)
	assertShares(t, r, all7525)
	// Rules of different namespaces are not merged: the private root rule
	// defines only v1 (here selecting version=v2 pods), so subset v2 is
	// undefined for the gateway.
	r = model(t, append(echoBase(vs), rootDR("  exportTo: [\".\"]\n"))...).Resolve(req)
	assertShares(t, r, map[string]float64{"v2": 0.75, "503": 0.25})
	// The same root rule does not apply to sidecars in other namespaces.
	r = model(t, append(tutorial003(`["*"]`, "[mesh]"), rootDR("  exportTo: [\".\"]\n"))...).
		Resolve(Request{Vantage: Mesh, Host: "echo-service.echo", Path: "/echo", SourceNamespace: "team"})
	assertShares(t, r, all7525)
}

func TestPodReadiness(t *testing.T) {
	pod := func(status string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p-" + status + ", namespace: echo, labels: {app: echo, version: v1}}\n" +
			"spec: {containers: [{name: c, image: i}]}\nstatus: {conditions: [{type: Ready, status: \"" + status + "\"}]}"
	}
	m := model(t, echoService, pod("True"), pod("False"))
	r := m.Resolve(Request{Vantage: Mesh, Host: "echo-service.echo"})
	if len(r.Destinations) != 1 || len(r.Destinations[0].Workloads) != 1 || r.Destinations[0].Workloads[0].Name != "p-True" {
		t.Fatalf("endpoints %+v", r.Destinations)
	}
}
