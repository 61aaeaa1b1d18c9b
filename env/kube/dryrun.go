package kube

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env/programmed"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// writeDryRun writes what running s would apply to a cluster, changing
// nothing: for the setup (the namespaces) and then each step, the objects
// as meshcheck applies them (its labels added), as YAML documents in the
// order Apply sends them, each headed by a comment naming the step and the
// make-before-break phase; deletions as comment lines; OpenFaaS Functions
// as the gateway deployments sent before the make phase (and deleted after
// the break phase); and, before the
// first step with a probe from the mesh, the in-mesh agent's objects
// running images.Agent (AgentImage when empty) in the scenario's source
// namespace (one agent per ServiceAccount the step's mesh probes run as,
// each before the first step that needs it); then, as comment lines, the step's programmed-wait plan
// (writeWaitPlan). Images are replaced as images says (Images.Rewrite).
func writeDryRun(w io.Writer, s *scenario.Scenario, images Images) error {
	if err := validateScenarioName(s.Metadata.Name); err != nil {
		return err
	}
	var b strings.Builder
	name := s.Metadata.Name
	if err := writePhases(&b, name, "setup", SetupChange(s)); err != nil {
		return err
	}
	agents := map[string]bool{} // ServiceAccounts whose agent is written
	for i, st := range s.Steps {
		ch, err := StepChange(s, i)
		if err != nil {
			return err
		}
		if ch, err = images.Rewrite(ch); err != nil {
			return err
		}
		where := fmt.Sprintf("step %d/%d %s", i+1, len(s.Steps), st.Name)
		rest, fc, err := SplitFunctions(ch)
		if err != nil {
			return err
		}
		if err := writeFunctionDeploys(&b, name, where, fc); err != nil {
			return err
		}
		if err := writePhases(&b, name, where, rest); err != nil {
			return err
		}
		writeFunctionDeletes(&b, name, where, fc)
		for _, sa := range meshProbeAccounts(st) {
			if agents[sa] {
				continue
			}
			agents[sa] = true
			if err := writeAgent(&b, s, where, images.Agent, sa); err != nil {
				return err
			}
		}
		if err := writeWaitPlan(&b, s, i, where); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dryRunGatewayPodPort is the pod port behind the ingress gateway
// Service's port 80 in Istio's default installation (and meshcheck's kind
// cluster), which the plan shows; a run reads it from the Service.
const dryRunGatewayPodPort = 8080

// writeFunctionDeploys writes the OpenFaaS Functions a step deploys through
// the gateway before its make phase: per function its name, namespace,
// image and labels, and the FunctionDeployment JSON sent.
func writeFunctionDeploys(b *strings.Builder, scenarioName, where string, fc FunctionChange) error {
	for _, fn := range fc.Deploy {
		body, err := json.Marshal(openfaas.Deployment(fn))
		if err != nil {
			return fmt.Errorf("function %s: %w", fn.Name, err)
		}
		fmt.Fprintf(b, "# scenario %s, %s: before phase %s: deploy through the OpenFaaS gateway (POST /system/functions, PUT when it exists; then wait for availableReplicas >= 1): %s\n#   body: %s\n",
			scenarioName, where, PhaseMake, describeFunction(fn), body)
	}
	return nil
}

// writeFunctionDeletes writes the OpenFaaS Functions a step deletes through
// the gateway after its break phase.
func writeFunctionDeletes(b *strings.Builder, scenarioName, where string, fc FunctionChange) {
	for _, fn := range fc.Delete {
		fmt.Fprintf(b, "# scenario %s, %s: after phase %s: delete through the OpenFaaS gateway (DELETE /system/functions): function %s in namespace %s\n",
			scenarioName, where, PhaseBreak, fn.Spec.Name, openfaas.Namespace(fn))
	}
}

// writeWaitPlan writes, for each probe of step i, what the programmed wait
// will wait for before the probe: which proxies, which route
// configuration, host and path, and which destinations with which shares
// (programmed.ForProbe, the expectation the wait checks).
func writeWaitPlan(b *strings.Builder, s *scenario.Scenario, i int, where string) error {
	for _, p := range s.Steps[i].Probes {
		e, err := programmed.ForProbe(s, i, p, dryRunGatewayPodPort)
		if err != nil {
			return fmt.Errorf("probe %s: %w", p.Name, err)
		}
		proxies := "every ready ingress gateway pod in namespace istio-system (behind Service istio-ingressgateway)"
		rc := fmt.Sprintf("%q (the pod port behind the gateway Service's port 80: %d in Istio's default, read from the Service at run time)", e.RouteConfig, dryRunGatewayPodPort)
		if p.From == mesh.Mesh {
			proxies = "the in-mesh agent's istio-proxy sidecar in namespace " + s.SourceNamespace()
			rc = strconv.Quote(e.RouteConfig)
		}
		fmt.Fprintf(b, "# scenario %s, %s: programmed wait for probe %s: %s; route configuration %s; host %s, path %s; expected shares (subset|host): %s\n",
			s.Metadata.Name, where, p.Name, proxies, rc, e.Request.Host, e.Request.Path, e.Want)
	}
	return nil
}

// writeAgent writes the objects of the in-mesh agent running as
// ServiceAccount sa ("" for its own), running image (AgentImage when
// empty), in the scenario's source namespace.
func writeAgent(b *strings.Builder, s *scenario.Scenario, where, image, sa string) error {
	name, ns := s.Metadata.Name, s.SourceNamespace()
	objs, err := agentObjects(ns, image, sa)
	if err != nil {
		return err
	}
	for _, o := range objs {
		obj, err := prepare(o, name)
		if err != nil {
			return err
		}
		if err := writeObject(b, fmt.Sprintf("scenario %s, %s: in-mesh agent for probes from mesh, in namespace %s: apply %s", name, where, ns, refOf(obj)), obj); err != nil {
			return err
		}
	}
	return nil
}

// writePhases writes one change's objects phase by phase.
func writePhases(b *strings.Builder, scenarioName, where string, ch Change) error {
	ph, err := planPhases(scenarioName, ch)
	if err != nil {
		return err
	}
	head := fmt.Sprintf("scenario %s, %s", scenarioName, where)
	for _, obj := range ph.makeApply {
		note := ""
		if isKind(obj, istioNetworking, kindDestRule) {
			note = " (a DestinationRule that drops live subsets is first applied with the union of both)"
		}
		if err := writeObject(b, fmt.Sprintf("%s: phase %s: apply %s%s", head, PhaseMake, refOf(obj), note), obj); err != nil {
			return err
		}
	}
	for _, obj := range ph.routeApply {
		if err := writeObject(b, fmt.Sprintf("%s: phase %s: apply %s", head, PhaseRoute, refOf(obj)), obj); err != nil {
			return err
		}
	}
	for _, obj := range ph.routeDelete {
		fmt.Fprintf(b, "# %s: phase %s: delete %s\n", head, PhaseRoute, refOf(obj))
	}
	for _, obj := range ph.breakDelete {
		fmt.Fprintf(b, "# %s: phase %s: delete %s\n", head, PhaseBreak, refOf(obj))
	}
	return nil
}

// writeObject writes one YAML document headed by a comment.
func writeObject(b *strings.Builder, comment string, obj *unstructured.Unstructured) error {
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("render %s: %w", refOf(obj), err)
	}
	fmt.Fprintf(b, "---\n# %s\n", comment)
	b.Write(data)
	return nil
}

// meshProbeAccounts lists the ServiceAccounts the step's probes from mesh
// run as ("" for the agent's own), in probe order, each once.
func meshProbeAccounts(st scenario.Step) []string {
	var out []string
	for _, p := range st.Probes {
		if p.From == mesh.Mesh && !slices.Contains(out, p.ServiceAccount) {
			out = append(out, p.ServiceAccount)
		}
	}
	return out
}

// WriteDryRuns writes writeDryRun of every scenario, in order; errors name
// the scenario.
func WriteDryRuns(w io.Writer, scenarios []*scenario.Scenario, images Images) error {
	for _, s := range scenarios {
		if err := writeDryRun(w, s, images); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Metadata.Name, err)
		}
	}
	return nil
}
