package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshcheck/meshcheck/report"
)

// summaryJSON is a kubelet summary of one node in the shape the Summary
// API writes (fields meshcheck does not read left out): istiod, an
// ingress gateway, two injected pods and a pod without a sidecar.
const summaryJSON = `{
  "node": {"nodeName": "%s"},
  "pods": [
    {"podRef": {"name": "istiod-7d4f9c8b6-abcde", "namespace": "istio-system", "uid": "1"},
     "cpu": {"usageNanoCores": 7800000}, "memory": {"workingSetBytes": 63963136},
     "containers": [{"name": "discovery", "cpu": {"usageNanoCores": 7700000}, "memory": {"workingSetBytes": 63000000}}]},
    {"podRef": {"name": "istio-ingressgateway-5b9f6c7d8-fghij", "namespace": "istio-system", "uid": "2"},
     "cpu": {"usageNanoCores": 3200000}, "memory": {"workingSetBytes": 39845888},
     "containers": [{"name": "istio-proxy", "cpu": {"usageNanoCores": 3100000}, "memory": {"workingSetBytes": 39000000}}]},
    {"podRef": {"name": "echo-v1-6c8d7f9b5-klmno", "namespace": "echo", "uid": "3"},
     "cpu": {"usageNanoCores": 9000000}, "memory": {"workingSetBytes": 90000000},
     "containers": [
       {"name": "echo", "cpu": {"usageNanoCores": 6000000}, "memory": {"workingSetBytes": 50000000}},
       {"name": "istio-proxy", "cpu": {"usageNanoCores": 3000000}, "memory": {"workingSetBytes": 40000000}}]},
    {"podRef": {"name": "echo-v2-6c8d7f9b5-pqrst", "namespace": "echo", "uid": "4"},
     "containers": [
       {"name": "echo"},
       {"name": "istio-proxy", "cpu": {"usageNanoCores": 2000000}, "memory": {"workingSetBytes": 30000000}}]},
    {"podRef": {"name": "coredns-6f6b679f8f-uvwxy", "namespace": "kube-system", "uid": "5"},
     "cpu": {"usageNanoCores": 2000000}, "memory": {"workingSetBytes": 20000000},
     "containers": [{"name": "coredns"}]}
  ]
}`

// A stand-in API server (the kubelet's summary is proxied by the API
// server, and no kubelet runs here) serving two nodes.
func TestMeshCost(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/nodes":
			fmt.Fprint(w, `{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"kind-control-plane"}},{"metadata":{"name":"kind-worker"}}]}`)
		case "/api/v1/nodes/kind-control-plane/proxy/stats/summary":
			fmt.Fprintf(w, summaryJSON, "kind-control-plane")
		case "/api/v1/nodes/kind-worker/proxy/stats/summary":
			fmt.Fprint(w, `{"node": {"nodeName": "kind-worker"}, "pods": []}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := MeshCost(context.Background(), kube, "split-75-25")
	if err != nil {
		t.Fatal(err)
	}
	want := report.MeshCost{After: "split-75-25", Nodes: 2,
		Istiod:   report.Usage{Pods: 1, MilliCPU: 7.8, MemoryBytes: 63963136},
		Gateways: report.Usage{Pods: 1, MilliCPU: 3.2, MemoryBytes: 39845888},
		Sidecars: report.Usage{Pods: 2, MilliCPU: 5, MemoryBytes: 70000000}}
	if got != want {
		t.Errorf("MeshCost = %+v\nwant        %+v", got, want)
	}
	if len(paths) != 3 {
		t.Errorf("requests %v, want the node list and one summary per node", paths)
	}
}

func TestMeshCostErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		summary func(w http.ResponseWriter)
		nodes   string
		want    string
	}{
		{name: "no node", nodes: `[]`, want: "mesh cost: the cluster lists no node"},
		{name: "kubelet unreachable", nodes: `[{"metadata":{"name":"n1"}}]`,
			summary: func(w http.ResponseWriter) {
				http.Error(w, "dial tcp: connection refused", http.StatusServiceUnavailable)
			},
			want: "mesh cost: kubelet summary of node n1:"},
		{name: "not a summary", nodes: `[{"metadata":{"name":"n1"}}]`,
			summary: func(w http.ResponseWriter) { fmt.Fprint(w, `{"pods": "none"}`) },
			want:    "mesh cost: kubelet summary of node n1: json: cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/api/v1/nodes" {
					fmt.Fprintf(w, `{"kind":"NodeList","apiVersion":"v1","items":%s}`, tc.nodes)
					return
				}
				tc.summary(w)
			}))
			defer srv.Close()
			kube, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = MeshCost(context.Background(), kube, "s")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
