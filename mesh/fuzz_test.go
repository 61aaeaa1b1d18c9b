package mesh

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzResolve throws random Host, Path, method, header and port values at
// the tutorial 003 configuration from both vantages: Resolve must not panic,
// must explain itself, and its shares must sum to at most 1.
func FuzzResolve(f *testing.F) {
	f.Add(true, "echo.local", "/echo", "GET", "x-user", "alice", 0, "echo")
	f.Add(true, "echo.local:80", "/echo?x=1", "POST", "", "", 80, "")
	f.Add(false, "echo-service", "/echo/sub", "", "x", "", 0, "echo")
	f.Add(false, "echo-service.echo.svc.cluster.local:8080", "/other", "PUT", "host", "x", 0, "default")
	f.Add(false, "[::1]:80", "", "", "", "", 8080, "istio-system")
	f.Add(true, "*.", "/%zz?%", "GET", "X-Up", "v", -1, "")
	f.Add(false, ":", "?", "", "", "", 65536, "a/b")
	m := model(f, tutorial003(`["*"]`, "[istio-system/ingressgateway, mesh]")...)
	f.Fuzz(func(t *testing.T, ingress bool, host, path, method, hk, hv string, port int, ns string) {
		req := Request{Vantage: Mesh, Host: host, Path: path, Method: method, Port: port, SourceNamespace: ns,
			Headers: map[string]string{hk: hv}}
		if ingress {
			req.Vantage = Ingress
		}
		r := m.Resolve(req)
		if r.Reason == "" {
			t.Fatalf("no reason for %+v", req)
		}
		versions, errShare := r.Shares("version")
		sum := errShare
		for _, v := range versions {
			if v < 0 {
				t.Fatalf("negative share %v", versions)
			}
			sum += v
		}
		if sum > 1+1e-9 || math.IsNaN(sum) {
			t.Fatalf("shares sum to %v: %v + %v", sum, versions, errShare)
		}
		if r.Status == 0 && math.Abs(sum-1) > 1e-9 {
			t.Fatalf("routed request's shares sum to %v", sum)
		}
		w, status := r.Pick(rand.New(rand.NewPCG(uint64(len(host)), uint64(len(path)))))
		if (status == 0) == (w.Name == "") {
			t.Fatalf("Pick = %+v, %d", w, status)
		}
	})
}
