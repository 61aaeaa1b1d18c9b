package programmed

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	apinetworking "istio.io/api/networking/v1alpha3"
)

// ClusterName is the name istiod gives the outbound cluster of a Service
// port and DestinationRule subset ("" for the whole Service):
// outbound|<port>|<subset>|<host> (pilot/pkg/model/service.go BuildSubsetKey).
func ClusterName(port int, subset, host string) string {
	return "outbound|" + strconv.Itoa(port) + "|" + subset + "|" + host
}

// SidecarRouteConfig is the RDS route configuration a sidecar uses for
// outbound HTTP to a Service port: its number (istiod's outbound listener
// 0.0.0.0_<port>).
func SidecarRouteConfig(port int) string { return strconv.Itoa(port) }

// GatewayRouteConfig is the RDS route configuration of a gateway's plain
// HTTP server on the port the gateway pod listens on ("http.8080" for
// the ingress gateway's Service port 80 -> 8080).
func GatewayRouteConfig(podPort int) string { return "http." + strconv.Itoa(podPort) }

// Expectation is the route a probe needs.
type Expectation struct {
	// RouteConfig names the route configuration the proxy uses for the
	// probe's port (SidecarRouteConfig, GatewayRouteConfig).
	RouteConfig string
	// Request is the probe's request.
	Request Request
	// Weights are the expected percent per version.
	Weights map[string]int
	// Versions maps cluster names to versions (from DestinationRule
	// subsets: ClusterName of each subset -> its version label's value).
	Versions map[string]string
}

// Check says whether rcs program the route a probe needs with the expected
// weighted versions: the named route configuration exists, the request
// reaches a route with clusters, each cluster has a version, and the
// clusters' weights give each version its expected share. When they do
// not, the sentence says what is programmed instead.
func Check(rcs []*routev3.RouteConfiguration, e Expectation) (bool, string) {
	var rc *routev3.RouteConfiguration
	for _, c := range rcs {
		if c.GetName() == e.RouteConfig {
			rc = c
		}
	}
	if rc == nil {
		names := make([]string, 0, len(rcs))
		for _, c := range rcs {
			names = append(names, strconv.Quote(c.GetName()))
		}
		return false, fmt.Sprintf("no route configuration %q is programmed (programmed: %s)", e.RouteConfig, orNone(names))
	}
	r := Match(rc, e.Request)
	if r.Status != 0 {
		return false, fmt.Sprintf("%s %s answers %d itself: %s; expected %s", e.Request.Host, pathOf(e.Request), r.Status, r.Reason, formatWeights(e.Weights))
	}
	total := uint64(0)
	for _, c := range r.Clusters {
		total += uint64(c.Weight)
	}
	got := map[string]float64{}
	var parts []string
	unknown := ""
	for _, c := range r.Clusters {
		v, ok := e.Versions[c.Name]
		label := "no known version"
		if ok {
			label = v
			got[v] += 100 * float64(c.Weight) / float64(total)
		} else if unknown == "" {
			unknown = c.Name
		}
		parts = append(parts, fmt.Sprintf("%s weight %d (%s)", c.Name, c.Weight, label))
	}
	has := fmt.Sprintf("%s sends %s %s to %s", r.Reason, e.Request.Host, pathOf(e.Request), strings.Join(parts, ", "))
	if unknown != "" {
		return false, fmt.Sprintf("%s; cluster %s is no subset with a version; expected %s", has, unknown, formatWeights(e.Weights))
	}
	for _, v := range slices.Sorted(maps.Keys(unionKeys(got, e.Weights))) {
		if math.Abs(got[v]-float64(e.Weights[v])) > 1e-6 {
			return false, fmt.Sprintf("%s; expected %s", has, formatWeights(e.Weights))
		}
	}
	return true, has
}

func unionKeys(a map[string]float64, b map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func pathOf(r Request) string {
	if r.Path == "" {
		return "/"
	}
	return r.Path
}

func formatWeights(w map[string]int) string {
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(w)) {
		parts = append(parts, fmt.Sprintf("%s %d%%", v, w[v]))
	}
	return orNone(parts)
}

func orNone(parts []string) string {
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// SubsetVersions maps the clusters of a DestinationRule's subsets for one
// Service port to versions: each subset's value of the version label
// (subsets without the label are left out). host is the Service's FQDN.
func SubsetVersions(host string, port int, subsets []*apinetworking.Subset, label string) map[string]string {
	out := map[string]string{}
	for _, s := range subsets {
		if v, ok := s.GetLabels()[label]; ok {
			out[ClusterName(port, s.GetName(), host)] = v
		}
	}
	return out
}
