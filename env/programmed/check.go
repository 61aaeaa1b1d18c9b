package programmed

import (
	"fmt"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/meshcheck/meshcheck/mesh"
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
	// Want is the routed outcome the step's configuration implies
	// (FromModel(...).Routed()).
	Want Outcome
}

// Expect is the expectation for a request from the routing model's
// resolution of it: the one prediction, read as route configuration
// gives it.
func Expect(res mesh.Resolution, routeConfig string, req Request) Expectation {
	return Expectation{RouteConfig: routeConfig, Request: req, Want: FromModel(res).Routed()}
}

// Check says whether rcs program the route a probe needs: the request,
// matched in the named route configuration, has the expected status or
// the expected share per subset and host. A missing route configuration
// counts as 404, Envoy's answer then. The sentence says what the proxy
// has (route configuration, virtual host, route, clusters and weights)
// and, when it differs, what was expected.
func Check(rcs []*routev3.RouteConfiguration, e Expectation) (bool, string) {
	var rc *routev3.RouteConfiguration
	for _, c := range rcs {
		if c.GetName() == e.RouteConfig {
			rc = c
		}
	}
	var got Outcome
	var has string
	if rc == nil {
		names := make([]string, 0, len(rcs))
		for _, c := range rcs {
			names = append(names, strconv.Quote(c.GetName()))
		}
		got = Outcome{Status: 404}
		has = fmt.Sprintf("no route configuration %q is programmed (programmed: %s)", e.RouteConfig, orNone(names))
	} else {
		r := Match(rc, e.Request)
		got = FromEnvoy(r, nil).Routed()
		if r.Status != 0 {
			has = fmt.Sprintf("%s %s answers %d itself: %s", e.Request.Host, pathOf(e.Request), r.Status, r.Reason)
		} else {
			parts := make([]string, 0, len(r.Clusters))
			for _, c := range r.Clusters {
				parts = append(parts, fmt.Sprintf("%s weight %d", c.Name, c.Weight))
			}
			has = fmt.Sprintf("%s sends %s %s to %s", r.Reason, e.Request.Host, pathOf(e.Request), strings.Join(parts, ", "))
		}
	}
	if !got.Equal(e.Want) {
		return false, fmt.Sprintf("%s; expected %s", has, e.Want)
	}
	return true, has
}

func pathOf(r Request) string {
	if r.Path == "" {
		return "/"
	}
	return r.Path
}

func orNone(parts []string) string {
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
