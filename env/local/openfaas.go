package local

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/scenario"
)

// The function backend in the local environment. A scenario with backend
// openfaas runs on an emulated OpenFaaS CE: the chart's gateway
// (scenario.BackendObjects: Deployment and Service gateway in namespace
// openfaas, ServiceAccount openfaas-controller) runs the gateway stand-in
// (fixtures.OpenFaaSGateway), which sends /function/<name> to
// <name>.openfaas-fn:8080 through its own sidecar emulation, as the real
// gateway does with directFunctions=true; each Function runs as the
// Deployment and Service faas-netes would create for it (openfaas.Expand),
// its stand-in chosen by image like any Deployment's. faas-netes itself,
// scaling, the REST API and the UI are not emulated.
//
// A scenario with backend knative runs on an emulated Knative Serving: each
// serving.knative.dev/v1 Service runs as one pod of its container behind a
// Kubernetes Service of its name on port 80 (knative.Expand), so its
// address http://<name>.<namespace>.svc.cluster.local answers as net-istio
// makes it answer through knative-local-gateway. Revisions, the
// queue-proxy, the activator, autoscaling and scale to zero, tag
// resolution and the VirtualServices net-istio generates are not emulated.

// clusterState is what runs after step: the backend's objects and the
// scenario's, Functions expanded (scenario.ClusterStateAt). A Function
// that cannot be expanded wraps env.ErrUnsupported.
func clusterState(s *scenario.Scenario, step int) ([]scenario.Object, error) {
	objs, err := s.ClusterStateAt(step)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", env.ErrUnsupported, err)
	}
	return objs, nil
}

// logBackend says which function backend the scenario runs on, and that
// it is emulated.
func logBackend(log *slog.Logger, s *scenario.Scenario) {
	switch s.Backend {
	case scenario.BackendOpenFaaS:
		log.Info("OpenFaaS is emulated: a stand-in gateway forwards /function/<name> to the function's Service through its sidecar",
			"scenario", s.Metadata.Name, "gateway", "gateway.openfaas:8080", "functions", "openfaas-fn")
	case scenario.BackendKnative:
		var names []string
		for step := range s.Steps {
			for _, ks := range scenario.KnativeServices(s.StateAt(step)) {
				if n := ks.Namespace + "/" + ks.Name; !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
		log.Info("Knative Serving is emulated: each Knative Service runs as one pod behind a Service of its name on port 80 (no revisions, queue-proxy, activator or net-istio gateway)",
			"scenario", s.Metadata.Name, "services", strings.Join(names, ","))
	}
}
