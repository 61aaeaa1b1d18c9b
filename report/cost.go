package report

import (
	"fmt"
	"io"
	"strings"
)

// MeshCost is what the mesh itself used while a scenario ran, read from
// the kubelet summary API of every node after the scenario's last step:
// istiod, the gateways, and the sidecars (their istio-proxy containers
// only, not the workloads beside them). It is one reading of the kubelet's
// latest figures, not an average.
type MeshCost struct {
	// After names the step after which it was read.
	After string `json:"after"`
	// Nodes is how many nodes' summaries were read.
	Nodes int `json:"nodes"`
	// Istiod, Gateways and Sidecars are the usage of each part.
	Istiod   Usage `json:"istiod"`
	Gateways Usage `json:"gateways"`
	Sidecars Usage `json:"sidecars"`
}

// Usage is the CPU and memory of a set of containers.
type Usage struct {
	// Pods is how many pods they are in.
	Pods int `json:"pods"`
	// MilliCPU is their CPU use in thousandths of a core (the kubelet's
	// usageNanoCores / 10^6).
	MilliCPU float64 `json:"milliCPU"`
	// MemoryBytes is their working-set memory, what the kubelet evicts by.
	MemoryBytes uint64 `json:"memoryBytes"`
}

// Add adds u2 to u.
func (u *Usage) Add(u2 Usage) {
	u.Pods += u2.Pods
	u.MilliCPU += u2.MilliCPU
	u.MemoryBytes += u2.MemoryBytes
}

// Total is the mesh's usage in all.
func (c MeshCost) Total() Usage {
	var t Usage
	for _, u := range []Usage{c.Istiod, c.Gateways, c.Sidecars} {
		t.Add(u)
	}
	return t
}

// parts are the cost's parts with the names every format shows.
func (c MeshCost) parts() []struct {
	name string
	u    Usage
} {
	return []struct {
		name string
		u    Usage
	}{{"istiod", c.Istiod}, {"gateways", c.Gateways}, {"sidecars", c.Sidecars}, {"total", c.Total()}}
}

// String is the usage as every format shows it: "2 pods, 12m CPU, 80 MiB".
func (u Usage) String() string {
	return fmt.Sprintf("%s, %.0fm CPU, %s", plural(int64(u.Pods), "pod"), u.MilliCPU, mebibytes(u.MemoryBytes))
}

// mebibytes shows a byte count in MiB, one decimal under 10 MiB.
func mebibytes(b uint64) string {
	m := float64(b) / (1 << 20)
	if m < 10 {
		return fmt.Sprintf("%.1f MiB", m)
	}
	return fmt.Sprintf("%.0f MiB", m)
}

// costText is the one-line form: "istiod 1 pod, 8m CPU, 61 MiB; gateways
// ...; total ...".
func costText(c MeshCost) string {
	parts := c.parts()
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.name + " " + p.u.String()
	}
	return strings.Join(out, "; ")
}

// writeCosts writes a line per scenario with a mesh cost ("mesh cost
// echo (after split-75-25, 1 node): istiod ..."), nothing when none has.
func writeCosts(w io.Writer, r Run) error {
	for _, s := range r.Scenarios {
		if s.MeshCost == nil {
			continue
		}
		c := s.MeshCost
		if _, err := fmt.Fprintf(w, "%-13s%s (after %s, %s): %s\n", "mesh cost", s.Name, c.After, plural(int64(c.Nodes), "node"), costText(*c)); err != nil {
			return err
		}
	}
	return nil
}
