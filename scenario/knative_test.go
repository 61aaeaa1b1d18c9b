package scenario

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshcheck/meshcheck/backend/knative"
)

const knativeManifest = `# a Knative Service
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello-v1
  namespace: hello
spec:
  template:
    metadata:
      labels:
        app: hello-v1
    spec:
      containers:
        - image: meshcheck.local/fixture:v0.1.0
          args: ["hello", "--message", "Hello V1"]
          env:
            - name: A
              value: "1"
          ports:
            - containerPort: 8080
`

// A Knative Service decodes into its typed kind and, on the cluster, is
// the Deployment and Service that stand for it, at its file and line.
func TestDecodeKnativeService(t *testing.T) {
	objs, problems := decodeManifest("k.yaml", []byte(knativeManifest))
	if len(problems) != 0 {
		t.Fatalf("problems %v", problems)
	}
	kss := KnativeServices(objs)
	if len(kss) != 1 || kss[0].Name != "hello-v1" || kss[0].Spec.Template.Spec.Containers[0].Args[2] != "Hello V1" {
		t.Fatalf("knative services %+v", kss)
	}
	cluster, err := ClusterObjects(objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cluster) != 2 {
		t.Fatalf("cluster objects %d, want Deployment and Service", len(cluster))
	}
	dep, ok := cluster[0].Object.(*appsv1.Deployment)
	if !ok || dep.Name != "hello-v1" || dep.Namespace != "hello" || cluster[0].Line != 2 || cluster[0].File != "k.yaml" {
		t.Fatalf("first cluster object %T %+v", cluster[0].Object, cluster[0])
	}
	if svc, ok := cluster[1].Object.(*corev1.Service); !ok || svc.Spec.Selector[knative.LabelService] != "hello-v1" || svc.Spec.Ports[0].Port != 80 {
		t.Fatalf("second cluster object %T %+v", cluster[1].Object, cluster[1].Object)
	}
}

func TestDecodeKnativeServiceErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		line           int
		field, msg     string
	}{
		{"no namespace", "  namespace: hello\n", "", 4, "metadata.namespace", "missing"},
		{"knative label", "        app: hello-v1", "        serving.knative.dev/service: x", 10, "spec.template.metadata.labels.serving.knative.dev/service", "set by Knative"},
		{"reserved env", "- name: A", "- name: PORT", 17, "spec.template.spec.containers[0].env[0].name", "reserved"},
		{"port name", "        - containerPort: 8080", "        - containerPort: 8080\n              name: web", 21, "spec.template.spec.containers[0].ports[0].name", "http1 and h2c"},
		{"unknown field", "          args:", "          argz:", 15, "spec.template.spec.containers[0].argz", "unknown field"},
		{"command", "          args:", "          command: [x]\n          args:", 15, "spec.template.spec.containers[0].command", "not supported"},
		{"traffic", "spec:\n  template:", "spec:\n  traffic: [{percent: 100, latestRevision: true}]\n  template:", 8, "spec.traffic", "Istio rules"},
		{"two problems", "  namespace: hello\n", "", 4, "metadata.namespace", "also spec.template.spec.containers[0].env[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(knativeManifest, tc.from, tc.to, 1)
			if tc.name == "two problems" {
				text = strings.Replace(text, "- name: A", "- name: K_REVISION", 1)
			}
			if text == knativeManifest {
				t.Fatalf("edit %q not applied", tc.from)
			}
			_, problems := decodeManifest("k.yaml", []byte(text))
			if len(problems) != 1 {
				t.Fatalf("problems %v, want one", problems)
			}
			p := problems[0]
			if p.File != "k.yaml" || p.Line != tc.line || p.Field != tc.field || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got %s (field %q), want line %d field %q containing %q", p, p.Field, tc.line, tc.field, tc.msg)
			}
		})
	}
}

// scenarios/hello-knative: the Knative Services are, on the cluster, the
// Deployments and Services that stand for them, beside the proxies; the
// backend adds no objects; the emulated-backend copy needs no backend and
// has the same routing model.
func TestKnativeScenario(t *testing.T) {
	s, ws, err := Load("../scenarios/hello-knative")
	if err != nil || len(ws) != 0 {
		t.Fatalf("load: %v, warnings %v", err, ws)
	}
	if s.Backend != BackendKnative {
		t.Fatalf("backend %q", s.Backend)
	}
	if objs := s.BackendObjects(); len(objs) != 0 {
		t.Errorf("backend objects %v, want none", objs)
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
	for _, want := range []string{"Deployment hello/hello-v1", "Service hello/hello-v1", "Deployment hello/hello-v2", "Service hello/hello-v2",
		"Deployment hello/hello-app-deployment-v1", "Service hello/hello-app-service"} {
		if !strings.Contains(got, want) {
			t.Errorf("cluster state %s lacks %s", got, want)
		}
	}
	if len(KnativeServices(state)) != 0 {
		t.Errorf("cluster state %s holds a Knative Service", got)
	}
	for _, ks := range KnativeServices(s.StateAt(0)) {
		found := false
		for _, o := range s.StateAt(0) {
			if dep, ok := o.Object.(*appsv1.Deployment); ok && dep.Labels["app"] == "hello-app" &&
				strings.Contains(strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " "), knative.Address(ks)) {
				found = true
			}
		}
		if !found {
			t.Errorf("no proxy calls %s at %s", ks.Name, knative.Address(ks))
		}
	}
	plain, err := s.WithBackendEmulated()
	if err != nil {
		t.Fatal(err)
	}
	if plain.Backend != BackendNone || s.Backend != BackendKnative || len(KnativeServices(plain.StateAt(0))) != 0 || len(KnativeServices(s.StateAt(0))) != 2 {
		t.Fatalf("emulated copy: backend %q, services %d; original backend %q", plain.Backend, len(KnativeServices(plain.StateAt(0))), s.Backend)
	}
	for _, m := range plain.Steps[0].Apply {
		if strings.HasPrefix(m.File, "(backend") {
			t.Errorf("emulated copy applies backend manifest %s, want none for knative", m.File)
		}
	}
	pcfg, err := plain.Config(0)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcfg.Workloads) != len(cfg.Workloads) || len(pcfg.Services) != len(cfg.Services) || len(cfg.Workloads) != 4 {
		t.Errorf("the emulated copy's model has %d workloads and %d services, the scenario's %d and %d (want 4 workloads)",
			len(pcfg.Workloads), len(pcfg.Services), len(cfg.Workloads), len(cfg.Services))
	}
}
