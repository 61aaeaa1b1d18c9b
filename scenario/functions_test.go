package scenario

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/mesh"
)

const functionManifest = `# a function
apiVersion: openfaas.com/v1
kind: Function
metadata:
  name: env
  namespace: openfaas-fn
spec:
  name: env
  image: meshcheck.local/fixture:v0.1.0
  handler: echo
  labels:
    version: v1
  readOnlyRootFilesystem: true
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
  namespace: openfaas-fn
`

func TestDecodeFunction(t *testing.T) {
	objs, problems := decodeManifest("f.yaml", []byte(functionManifest))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	fns := Functions(objs)
	if len(fns) != 1 || fns[0].Spec.Handler != "echo" || fns[0].Spec.Labels["version"] != "v1" {
		t.Fatalf("functions %+v", fns)
	}
	cluster, err := ClusterObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cluster) != 3 {
		t.Fatalf("cluster objects %d, want Deployment, Service, ConfigMap", len(cluster))
	}
	dep, ok := cluster[0].Object.(*appsv1.Deployment)
	if !ok || dep.Name != "env" || dep.Namespace != openfaas.FunctionNamespace || cluster[0].Line != 2 || cluster[0].File != "f.yaml" {
		t.Fatalf("first cluster object %T %+v", cluster[0].Object, cluster[0])
	}
	if svc, ok := cluster[1].Object.(*corev1.Service); !ok || svc.Spec.Selector[openfaas.LabelFunction] != "env" {
		t.Fatalf("second cluster object %T", cluster[1].Object)
	}
	if _, ok := cluster[2].Object.(*corev1.ConfigMap); !ok {
		t.Fatalf("third cluster object %T", cluster[2].Object)
	}
	cfg, err := mesh.NewConfig([]runtime.Object{cluster[0].Object, cluster[1].Object})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Workloads) != 1 || cfg.Workloads[0].Labels["version"] != "v1" || len(cfg.Services) != 1 {
		t.Fatalf("model sees workloads %+v and services %d", cfg.Workloads, len(cfg.Services))
	}
}

func TestDecodeFunctionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		line           int
		field, msg     string
	}{
		{"names differ", "  name: env\n  image", "  name: envv\n  image", 8, "spec.name", `"envv" differs from metadata.name`},
		{"faas_function label", "    version: v1", "    faas_function: x", 12, "spec.labels.faas_function", "set by OpenFaaS"},
		{"other namespace", "namespace: openfaas-fn\nspec", "namespace: default\nspec", 6, "metadata.namespace", "only in openfaas-fn"},
		{"unknown field", "  handler: echo", "  handlr: echo", 10, "spec.handlr", "unknown field in a openfaas.com/v1 Function"},
		{"no image", "  image: meshcheck.local/fixture:v0.1.0\n", "", 7, "spec.image", "missing"},
		{"bad quantity", "  readOnlyRootFilesystem: true", "  readOnlyRootFilesystem: true\n  limits:\n    memory: lots", 15, "spec.limits.memory", "want a quantity"},
		{"two problems", "  handler: echo", "  handler: echo\n  secrets: [s]\n  constraints: [a=b]", 12, "spec.constraints", "also spec.secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(functionManifest, tc.from, tc.to, 1)
			if text == functionManifest {
				t.Fatalf("edit %q not applied", tc.from)
			}
			_, problems := decodeManifest("f.yaml", []byte(text))
			if len(problems) != 1 {
				t.Fatalf("problems %v, want one", problems)
			}
			p := problems[0]
			if p.Line != tc.line || p.Field != tc.field || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got %s (field %q), want line %d field %q containing %q", p, p.Field, tc.line, tc.field, tc.msg)
			}
		})
	}
}

// scenarios/openfaas: the backend's gateway and the Functions' Deployments
// and Services are what runs; its env probe expects status 200 with
// headers; the emulated-backend copy needs no backend.
func TestOpenFaaSScenario(t *testing.T) {
	s, ws, err := Load("../scenarios/openfaas")
	if err != nil || len(ws) != 0 {
		t.Fatalf("load: %v, warnings %v", err, ws)
	}
	if s.Backend != BackendOpenFaaS {
		t.Fatalf("backend %q", s.Backend)
	}
	state, err := s.ClusterStateAt(0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range state {
		names = append(names, describeObject(o.Object))
	}
	got := strings.Join(names, ", ")
	for _, want := range []string{"ServiceAccount openfaas/openfaas-controller", "Deployment openfaas/gateway", "Service openfaas/gateway",
		"Deployment openfaas-fn/env", "Service openfaas-fn/env", "Deployment openfaas-fn/nodeinfo"} {
		if !strings.Contains(got, want) {
			t.Errorf("cluster state %s lacks %s", got, want)
		}
	}
	if strings.Contains(got, "Function") {
		t.Errorf("cluster state %s holds a Function", got)
	}
	var env Probe
	for _, p := range s.Steps[0].Probes {
		if p.Name == "env-headers" {
			env = p
		}
	}
	exp := env.Expectation(nil)
	if exp.Status != 200 || exp.Condition != HeadersCondition || exp.Validate() != nil {
		t.Errorf("env-headers expectation %+v", exp)
	}
	check, err := env.HeaderCheck()
	if err != nil || check.IsZero() || !strings.Contains(check.String(), "x-forwarded-client-cert ~ /URI=spiffe://cluster\\.local/ns/openfaas/sa/openfaas-controller") {
		t.Errorf("header check %v (%v)", check, err)
	}
	if c, err := s.Steps[0].Probes[0].HeaderCheck(); err != nil || !c.IsZero() {
		t.Errorf("a status probe has header check %v (%v)", c, err)
	}
	plain, err := s.WithBackendEmulated()
	if err != nil {
		t.Fatal(err)
	}
	if plain.Backend != BackendNone || s.Backend != BackendOpenFaaS || len(Functions(plain.StateAt(0))) != 0 || len(Functions(s.StateAt(0))) != 2 {
		t.Fatalf("emulated copy: backend %q, functions %d; original backend %q", plain.Backend, len(Functions(plain.StateAt(0))), s.Backend)
	}
	pcfg, err := plain.Config(0)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcfg.Workloads) != len(cfg.Workloads) || len(pcfg.Services) != len(cfg.Services) {
		t.Errorf("the emulated copy's model has %d workloads and %d services, the scenario's %d and %d",
			len(pcfg.Workloads), len(pcfg.Services), len(cfg.Workloads), len(cfg.Services))
	}
}
