package mesh

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkResolve measures one routing decision per request against the
// tutorial 003 configuration: the ingress 75/25 route, the in-mesh route,
// the in-mesh default route (no mesh gateway), and a 404.
func BenchmarkResolve(b *testing.B) {
	routed := model(b, tutorial003(`["*"]`, "[istio-system/ingressgateway, mesh]")...)
	noMesh := model(b, tutorial003(`["*"]`, "[istio-system/ingressgateway]")...)
	cases := []struct {
		name string
		m    *Model
		req  Request
	}{
		{"ingress-75-25", routed, Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"}},
		{"mesh-75-25", routed, Request{Vantage: Mesh, Host: "echo-service.echo.svc.cluster.local", Path: "/echo", SourceNamespace: "echo"}},
		{"mesh-default-route", noMesh, Request{Vantage: Mesh, Host: "echo-service", Path: "/echo", SourceNamespace: "echo"}},
		{"ingress-404-path", routed, Request{Vantage: Ingress, Host: "echo.local", Path: "/other"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.m.Resolve(c.req)
			}
		})
	}
}

// BenchmarkPick measures one weighted pick (destination, then pod).
func BenchmarkPick(b *testing.B) {
	docs := tutorial003(`["*"]`, "[istio-system/ingressgateway, mesh]")
	docs[0] = deployment("echo", "echo-deployment-v1", "echo", "v1", 3)
	r := model(b, docs...).Resolve(Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"})
	rnd := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		r.Pick(rnd)
	}
}
