package scenario

import (
	"reflect"
	"testing"

	"github.com/meshcheck/meshcheck/mesh"
)

func TestSourceNamespace(t *testing.T) {
	for _, c := range []struct {
		name string
		nss  []Namespace
		want string
	}{
		{"first injected", []Namespace{{Name: "plain"}, {Name: "app", Injection: true}, {Name: "other", Injection: true}}, "app"},
		{"none injected: the first", []Namespace{{Name: "plain"}, {Name: "other"}}, "plain"},
		{"no namespaces", nil, "default"},
	} {
		if got := (&Scenario{Namespaces: c.nss}).SourceNamespace(); got != c.want {
			t.Errorf("%s: SourceNamespace() = %q, want %q", c.name, got, c.want)
		}
	}
	s, _, err := Load(echoDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.SourceNamespace(); got != "echo" {
		t.Errorf("scenarios/echo: SourceNamespace() = %q, want echo", got)
	}
}

func TestProbeModelRequest(t *testing.T) {
	headers := map[string]string{"x-user": "a"}
	for _, c := range []struct {
		name string
		p    Probe
		want mesh.Request
	}{
		{"ingress: Host and path on port 80, no source namespace",
			Probe{From: mesh.Ingress, Request: Request{Host: "echo.local", Path: "/echo?x=1", Method: "GET", Headers: headers}},
			mesh.Request{Vantage: mesh.Ingress, Host: "echo.local", Port: 80, Path: "/echo?x=1", Method: "GET", Headers: headers}},
		{"ingress without a path asks for /",
			Probe{From: mesh.Ingress, Request: Request{Host: "echo.local"}},
			mesh.Request{Vantage: mesh.Ingress, Host: "echo.local", Port: 80, Path: "/"}},
		{"mesh: the URL's host, port and path, from the source namespace",
			Probe{From: mesh.Mesh, Request: Request{URL: "http://echo-service.echo:8080/echo?x=1", Method: "POST"}},
			mesh.Request{Vantage: mesh.Mesh, Host: "echo-service.echo:8080", Port: 8080, Path: "/echo?x=1", Method: "POST", SourceNamespace: "client"}},
		{"mesh: no port is 80, no path is /",
			Probe{From: mesh.Mesh, Request: Request{URL: "http://echo-service.echo.svc.cluster.local"}},
			mesh.Request{Vantage: mesh.Mesh, Host: "echo-service.echo.svc.cluster.local", Port: 80, Path: "/", SourceNamespace: "client"}},
		{"ingress with a URL: its path, the probe's Host kept, port 80",
			Probe{From: mesh.Ingress, Request: Request{Host: "echo.local", URL: "http://gw:8080/echo"}},
			mesh.Request{Vantage: mesh.Ingress, Host: "echo.local", Port: 80, Path: "/echo"}},
	} {
		if got := c.p.ModelRequest("client"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}
