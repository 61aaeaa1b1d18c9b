package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/meshcheck/meshcheck/report"
)

// The container names that tell the mesh's pods apart in a kubelet
// summary, which names containers but carries no labels:
//   - istiod's container is "discovery" (Istio's chart
//     manifests/charts/istio-control/istio-discovery/templates/deployment.yaml);
//   - a gateway pod runs Envoy as its only container, "istio-proxy" (the
//     gateway charts manifests/charts/gateways/istio-ingress and
//     manifests/charts/gateway, injected with the "gateway" template);
//   - an injected workload runs "istio-proxy" beside its own containers (the
//     sidecar injection template, as a native sidecar on Kubernetes >= 1.33
//     with Istio >= 1.27, which the kubelet still reports among the pod's
//     containers while it runs).
const (
	istiodContainer = "discovery"
	proxyContainer  = "istio-proxy"
)

// MeshCost reads the kubelet summary of every node
// (GET /api/v1/nodes/<node>/proxy/stats/summary, the Summary API of
// k8s.io/kubelet/pkg/apis/stats/v1alpha1) and sums what istiod, the gateways
// and the sidecars use. after names the step it is read after.
func MeshCost(ctx context.Context, kube kubernetes.Interface, after string) (report.MeshCost, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return report.MeshCost{}, fmt.Errorf("mesh cost: listing the nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return report.MeshCost{}, errors.New("mesh cost: the cluster lists no node")
	}
	summaries := make([]statsv1alpha1.Summary, 0, len(nodes.Items))
	for _, n := range nodes.Items {
		raw, err := kube.CoreV1().RESTClient().Get().Resource("nodes").Name(n.Name).
			SubResource("proxy").Suffix("stats", "summary").DoRaw(ctx)
		if err != nil {
			return report.MeshCost{}, fmt.Errorf("mesh cost: kubelet summary of node %s: %w", n.Name, err)
		}
		var s statsv1alpha1.Summary
		if err := json.Unmarshal(raw, &s); err != nil {
			return report.MeshCost{}, fmt.Errorf("mesh cost: kubelet summary of node %s: %w", n.Name, err)
		}
		summaries = append(summaries, s)
	}
	c := SumMeshCost(summaries)
	c.After = after
	return c, nil
}

// SumMeshCost sums the mesh's usage over kubelet summaries: whole pods for
// istiod and the gateways, only the istio-proxy container of every other
// pod that has one. A figure the kubelet has not measured yet counts 0.
func SumMeshCost(summaries []statsv1alpha1.Summary) report.MeshCost {
	c := report.MeshCost{Nodes: len(summaries)}
	for _, s := range summaries {
		for _, p := range s.Pods {
			names := make([]string, len(p.Containers))
			for i, ct := range p.Containers {
				names[i] = ct.Name
			}
			switch {
			case slices.Contains(names, istiodContainer):
				c.Istiod.Add(podUsage(p))
			case len(names) == 1 && names[0] == proxyContainer:
				c.Gateways.Add(podUsage(p))
			default:
				for _, ct := range p.Containers {
					if ct.Name == proxyContainer {
						u := usage(ct.CPU, ct.Memory)
						u.Pods = 1
						c.Sidecars.Add(u)
					}
				}
			}
		}
	}
	return c
}

// podUsage is a pod's own figures, or the sum of its containers' when the
// kubelet gave none for the pod.
func podUsage(p statsv1alpha1.PodStats) report.Usage {
	u := usage(p.CPU, p.Memory)
	if p.CPU == nil && p.Memory == nil {
		for _, ct := range p.Containers {
			u.Add(usage(ct.CPU, ct.Memory))
		}
	}
	u.Pods = 1
	return u
}

// usage converts the kubelet's CPU (nanocores) and working set (bytes).
func usage(cpu *statsv1alpha1.CPUStats, mem *statsv1alpha1.MemoryStats) report.Usage {
	var u report.Usage
	if cpu != nil && cpu.UsageNanoCores != nil {
		u.MilliCPU = float64(*cpu.UsageNanoCores) / 1e6
	}
	if mem != nil && mem.WorkingSetBytes != nil {
		u.MemoryBytes = *mem.WorkingSetBytes
	}
	return u
}
