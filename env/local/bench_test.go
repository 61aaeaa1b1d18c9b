package local

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/scenario"
)

// benchRequests measures one request at a time through an endpoint of the
// echo test scenario (step 0: the 75/25 VirtualService) to a pod's echo
// stand-in and back, over loopback with keep-alive.
func benchRequests(b *testing.B, probeName string, step int) {
	s := loadBench(b)
	e := New()
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := e.Teardown(ctx); err != nil {
			b.Error(err)
		}
	}()
	if err := e.Apply(ctx, s, step); err != nil {
		b.Fatal(err)
	}
	ep, err := e.Endpoint(ctx, probe(s, step, probeName))
	if err != nil {
		b.Fatal(err)
	}
	c := client(ep)
	defer c.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do(b, c, ep)
	}
}

func do(b *testing.B, c *http.Client, ep env.Endpoint) {
	req, err := http.NewRequest(http.MethodGet, ep.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Host = ep.Host
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

func loadBench(b *testing.B) *scenario.Scenario {
	b.Helper()
	s, _, err := scenario.Load("testdata/echo")
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkIngressRequest: client -> ingress listener (route, pick) -> echo pod.
func BenchmarkIngressRequest(b *testing.B) { benchRequests(b, "ingress", 0) }

// BenchmarkMeshRequest: client -> sidecar emulation (forward proxy) -> echo pod.
func BenchmarkMeshRequest(b *testing.B) { benchRequests(b, "in-mesh", 1) }
