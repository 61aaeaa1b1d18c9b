package local

import (
	"fmt"
	"log/slog"

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
	if s.Backend == scenario.BackendOpenFaaS {
		log.Info("OpenFaaS is emulated: a stand-in gateway forwards /function/<name> to the function's Service through its sidecar",
			"scenario", s.Metadata.Name, "gateway", "gateway.openfaas:8080", "functions", "openfaas-fn")
	}
}
