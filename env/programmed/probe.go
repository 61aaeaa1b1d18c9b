package programmed

import (
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// ForProbe is what probe p's vantage proxy must be programmed with after
// step of s, from the routing model's one prediction
// (scenario.(*Scenario).Predict): the request as the model sees it (at the
// ingress the probe's Host and path, in the mesh its URL's host and path),
// the route configuration the proxy uses for it (a sidecar's for the URL's
// Service port, 80 when it has none; the ingress gateway's for
// gatewayPodPort, the pod port behind the gateway Service's port the
// request reaches, 8080 for Istio's port 80), and the model's
// destinations and weights.
func ForProbe(s *scenario.Scenario, step int, p scenario.Probe, gatewayPodPort int) (Expectation, error) {
	pr, err := s.Predict(step, p)
	if err != nil {
		return Expectation{}, err
	}
	req := p.ModelRequest(s.SourceNamespace())
	rc := SidecarRouteConfig(req.Port)
	if p.From == mesh.Ingress {
		rc = GatewayRouteConfig(gatewayPodPort)
	}
	return Expect(pr.Resolution, rc, Request{Host: req.Host, Path: req.Path, Method: req.Method, Headers: req.Headers}), nil
}
