package mesh

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPickFollowsShares draws 200,000 picks (one seeded run per case) and
// checks every outcome's frequency against Shares within 5 standard errors
// (a false failure has probability below 1e-6 per outcome).
func TestPickFollowsShares(t *testing.T) {
	threeV1 := tutorial003(`["*"]`, "[istio-system/ingressgateway, mesh]")
	threeV1[0] = deployment("echo", "echo-deployment-v1", "echo", "v1", 3)
	undefined := echoBase(vsDoc("echo", "r", "  hosts: [echo-service]\n  http:\n  - route:\n"+
		"    - destination: {host: echo-service, subset: v1}\n      weight: 60\n"+
		"    - destination: {host: echo-service, subset: v3}\n      weight: 40\n"))
	tests := []struct {
		name string
		docs []string
		req  Request
	}{
		{"75/25 by weight over 3+1 pods", threeV1, Request{Vantage: Ingress, Host: "echo.local", Path: "/echo"}},
		{"75/25 by pods", threeV1[:len(threeV1)-1], Request{Vantage: Mesh, Host: "echo-service.echo"}},
		{"60 v1 / 40 undefined subset", undefined, Request{Vantage: Mesh, Host: "echo-service.echo"}},
	}
	const n = 200000
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := model(t, tc.docs...).Resolve(tc.req)
			versions, errShare := r.Shares("version")
			want := map[string]float64{"503": errShare}
			for k, v := range versions {
				want[k] = v
			}
			pods := map[string]float64{}
			for _, d := range r.Destinations {
				for _, w := range d.Workloads {
					pods[w.Name] += float64(d.Weight) / 100 / float64(len(d.Workloads))
				}
			}
			rnd := rand.New(rand.NewPCG(uint64(i), 42))
			got := map[string]int{}
			gotPod := map[string]int{}
			for range n {
				w, status := r.Pick(rnd)
				if status != 0 {
					got["503"]++
					continue
				}
				got[w.Labels["version"]]++
				gotPod[w.Name]++
			}
			check := func(what string, p float64, c int) {
				se := math.Sqrt(p * (1 - p) / n)
				if f := float64(c) / n; math.Abs(f-p) > 5*se+1e-12 {
					t.Errorf("%s: frequency %.4f, want %.4f (5 SE = %.4f)", what, f, p, 5*se)
				}
			}
			for k, p := range want {
				check(k, p, got[k])
			}
			for k, p := range pods {
				check(k, p, gotPod[k])
			}
		})
	}
}

// TestSharesSpecialCases covers Resolutions Envoy answers itself and
// hand-built ones.
func TestSharesSpecialCases(t *testing.T) {
	v, e := Resolution{Status: 404}.Shares("version")
	if len(v) != 0 || e != 1 {
		t.Fatalf("404: %v %v", v, e)
	}
	v, e = Resolution{Status: 301}.Shares("version")
	if len(v) != 0 || e != 0 {
		t.Fatalf("301: %v %v", v, e)
	}
	if w, st := (Resolution{Status: 404}).Pick(rand.New(rand.NewPCG(1, 1))); st != 404 || w.Name != "" {
		t.Fatalf("Pick of a 404: %v %d", w, st)
	}
	if _, st := (Resolution{}).Pick(rand.New(rand.NewPCG(1, 1))); st != 503 {
		t.Fatalf("Pick without destinations: %d", st)
	}
	// A hand-built Resolution: 2 pods of v1 weight 50, unlabeled pod weight 30,
	// unavailable destination weight 20.
	r := Resolution{Destinations: []Destination{
		{Weight: 50, Workloads: []Workload{{Name: "a", Labels: map[string]string{"version": "v1"}}, {Name: "b", Labels: map[string]string{"version": "v1"}}}},
		{Weight: 30, Workloads: []Workload{{Name: "c"}}},
		{Weight: 20, Status: 503},
	}}
	v, e = r.Shares("version")
	if math.Abs(v["v1"]-0.5) > 1e-12 || math.Abs(v[""]-0.3) > 1e-12 || math.Abs(e-0.2) > 1e-12 {
		t.Fatalf("hand-built shares %v %v", v, e)
	}
}

// TestResolveConcurrent resolves from many goroutines, including
// namespaces whose route tables are built on demand (run with -race).
func TestResolveConcurrent(t *testing.T) {
	m := model(t, tutorial003(`["*"]`, "[istio-system/ingressgateway, mesh]")...)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				ns := "ns" + string(rune('a'+(g+i)%5))
				r := m.Resolve(Request{Vantage: Mesh, Host: "echo-service.echo", Path: "/echo", SourceNamespace: ns})
				if r.Status != 0 || !strings.Contains(r.Reason, "echo-route") {
					t.Errorf("from %s: %d %s", ns, r.Status, r.Reason)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
