package programmed

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/meshcheck/meshcheck/mesh"
)

// Outcome is what a proxy does with one request, in terms that both the
// routing model and a proxy's configuration give, so that the two can be
// compared (the control-plane corpus against istiod, the programmed wait
// against a live proxy): a status Envoy answers
// itself, or the share of requests per destination and whether Envoy can
// serve it.
type Outcome struct {
	// Status is 0 when the request is forwarded to Shares; else the status
	// Envoy answers itself (a sidecar's passthrough of a host outside the
	// mesh counts as 404, which is what the model answers for it).
	Status int
	// Shares maps "<subset>|<host>|<state>" to its share of requests;
	// state is ok, nc (no such cluster: Envoy answers 503 NC) or uh (no
	// endpoints: 503 UH).
	Shares map[string]float64
}

// String renders an outcome for reports: "404", or
// "v1|h|ok 75%, v2|h|nc 25%".
func (o Outcome) String() string {
	if o.Status != 0 {
		return fmt.Sprintf("status %d", o.Status)
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(o.Shares)) {
		parts = append(parts, fmt.Sprintf("%s %.4g%%", k, 100*o.Shares[k]))
	}
	if len(parts) == 0 {
		return "no destination"
	}
	return strings.Join(parts, ", ")
}

// Equal reports whether two outcomes agree: the same status, or the same
// destinations with the same shares.
func (o Outcome) Equal(p Outcome) bool {
	if o.Status != p.Status || len(o.Shares) != len(p.Shares) {
		return false
	}
	for k, v := range o.Shares {
		w, ok := p.Shares[k]
		if !ok || math.Abs(v-w) > 1e-9 {
			return false
		}
	}
	return true
}

// FromModel is the model's outcome: its status, or its destinations with
// their weights as shares (weight-0 destinations left out) and whether
// each is served.
func FromModel(res mesh.Resolution) Outcome {
	if res.Status != 0 && !(res.Status == 503 && len(res.Destinations) > 0) {
		return Outcome{Status: res.Status}
	}
	o := Outcome{Shares: map[string]float64{}}
	total := 0
	weight := func(d mesh.Destination) int {
		if len(res.Destinations) == 1 {
			return 1
		}
		return max(d.Weight, 0)
	}
	for _, d := range res.Destinations {
		total += weight(d)
	}
	for _, d := range res.Destinations {
		w := weight(d)
		if w == 0 || total == 0 {
			continue
		}
		state := "ok"
		switch {
		case d.Status != 0 && strings.Contains(d.Reason, "(NC)"):
			state = "nc"
		case d.Status != 0:
			state = "uh"
		}
		o.Shares[d.Subset+"|"+d.Host+"|"+state] += float64(w) / float64(total)
	}
	return o
}

// FromEnvoy is the outcome of the route a request matched in a proxy's
// configuration: clusters resolves whether a cluster exists (CDS) and how
// many endpoints it has (EDS); nil means unknown, and every cluster counts
// as ok (compare Routed outcomes then).
func FromEnvoy(r Route, clusters func(name string) (exists bool, endpoints int)) Outcome {
	if r.Status != 0 {
		return Outcome{Status: r.Status}
	}
	if len(r.Clusters) == 1 && r.Clusters[0].Name == "PassthroughCluster" {
		return Outcome{Status: 404}
	}
	o := Outcome{Shares: map[string]float64{}}
	total := 0.0
	for _, c := range r.Clusters {
		total += float64(c.Weight)
	}
	for _, c := range r.Clusters {
		parts := strings.Split(c.Name, "|")
		if len(parts) != 4 {
			o.Shares["?|"+c.Name+"|nc"] += float64(c.Weight) / total
			continue
		}
		state := "ok"
		if clusters != nil {
			switch exists, n := clusters(c.Name); {
			case !exists:
				state = "nc"
			case n == 0:
				state = "uh"
			}
		}
		o.Shares[parts[2]+"|"+parts[3]+"|"+state] += float64(c.Weight) / total
	}
	return o
}

// Routed is the outcome as route configuration alone gives it: shares
// per "<subset>|<host>", whatever the state of each destination's
// cluster, which RDS does not carry.
func (o Outcome) Routed() Outcome {
	if o.Status != 0 {
		return Outcome{Status: o.Status}
	}
	out := Outcome{Shares: map[string]float64{}}
	for k, v := range o.Shares {
		if i := strings.LastIndex(k, "|"); i >= 0 {
			k = k[:i]
		}
		out.Shares[k] += v
	}
	return out
}
