package kube

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshcheck/meshcheck/scenario"
)

func loadScenario(t *testing.T, dir string) *scenario.Scenario {
	t.Helper()
	s, _, err := scenario.Load(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return s
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, refOf(o).String())
	}
	return out
}

// TestStepChange checks that each step applies the whole state after it and
// deletes exactly what left the state.
func TestStepChange(t *testing.T) {
	s := loadScenario(t, "testdata/shift")
	want := []struct{ apply, del []string }{
		{apply: []string{"Service shift/echo-service", "Deployment shift/echo-deployment-v1", "DestinationRule shift/echo", "VirtualService shift/echo-route"}},
		{apply: []string{"Service shift/echo-service", "Deployment shift/echo-deployment-v1", "DestinationRule shift/echo", "VirtualService shift/echo-route", "Deployment shift/echo-deployment-v2"}},
		{apply: []string{"Service shift/echo-service", "DestinationRule shift/echo", "VirtualService shift/echo-route", "Deployment shift/echo-deployment-v2"},
			del: []string{"Deployment shift/echo-deployment-v1"}},
		{apply: []string{"Service shift/echo-service", "Deployment shift/echo-deployment-v2"},
			del: []string{"DestinationRule shift/echo", "VirtualService shift/echo-route"}},
	}
	for i, w := range want {
		ch, err := StepChange(s, i)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := names(ch.Apply); !slices.Equal(got, w.apply) {
			t.Errorf("step %d apply = %v, want %v", i, got, w.apply)
		}
		got := names(ch.Delete)
		slices.Sort(got)
		if !slices.Equal(got, w.del) {
			t.Errorf("step %d delete = %v, want %v", i, got, w.del)
		}
	}
	if _, err := StepChange(s, 4); err == nil || !strings.Contains(err.Error(), "no step 4") {
		t.Errorf("StepChange(4) error = %v, want one naming the missing step", err)
	}
}

// TestObjectsKeepTheManifest checks that objects are read from the YAML as
// written: no defaulted fields the manifest does not set.
func TestObjectsKeepTheManifest(t *testing.T) {
	s := loadScenario(t, "testdata/shift")
	objs, err := Objects(s.Steps[0].Apply[1].Objects)
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0]
	if _, found, _ := unstructured.NestedFieldNoCopy(d.Object, "status"); found {
		t.Error("status present: the object was not read from the manifest's YAML")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(d.Object, "metadata", "creationTimestamp"); found {
		t.Error("metadata.creationTimestamp present: the object was not read from the manifest's YAML")
	}
}

// TestKinds checks the kinds Cleanup sweeps for a scenario.
func TestKinds(t *testing.T) {
	kinds, err := Kinds(loadScenario(t, "../../scenarios/echo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Namespace"}, {Version: "v1", Kind: "ServiceAccount"}, {Version: "v1", Kind: "Service"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"},
		{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"},
		{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"},
	} {
		if !slices.Contains(kinds, k) {
			t.Errorf("Kinds lacks %v", k)
		}
	}
}

// TestProbeServices checks that the Services behind a probe come from the
// routing model, with every Service as the fallback when it routes nowhere.
func TestProbeServices(t *testing.T) {
	s := loadScenario(t, "../../scenarios/echo")
	for _, p := range s.Steps[0].Probes {
		refs, err := ProbeServices(s, 0, p)
		if err != nil {
			t.Fatalf("probe %s: %v", p.Name, err)
		}
		if len(refs) != 1 || refs[0].String() != "Service echo/echo-service" {
			t.Errorf("probe %s: services = %v, want [Service echo/echo-service]", p.Name, refs)
		}
	}
	p := s.Steps[0].Probes[0]
	p.Request.Host = "nowhere.example"
	refs, err := ProbeServices(s, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Name != "echo-service" {
		t.Errorf("unrouted probe: services = %v, want every Service of the state", refs)
	}
}

// TestRankIsMakeBeforeBreak checks the order of kinds within Apply's make
// phase and Cleanup.
func TestRankIsMakeBeforeBreak(t *testing.T) {
	order := []schema.GroupVersionKind{
		{Version: "v1", Kind: "Namespace"},
		{Version: "v1", Kind: "ServiceAccount"},
		{Version: "v1", Kind: "ConfigMap"},
		{Version: "v1", Kind: "Service"},
		{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"},
		{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"},
	}
	for i := 1; i < len(order); i++ {
		if rankGVK(order[i-1]) >= rankGVK(order[i]) {
			t.Errorf("%s must come before %s", order[i-1].Kind, order[i].Kind)
		}
	}
}

// TestAddLabels checks meshcheck's labels on an object and its pod
// template, and that the manifest's own labels stay.
func TestAddLabels(t *testing.T) {
	s := loadScenario(t, "testdata/shift")
	objs, err := Objects(s.Steps[0].Apply[1].Objects)
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0]
	if err := addLabels(d, "shift"); err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{{"metadata", "labels"}, {"spec", "template", "metadata", "labels"}} {
		l, _, _ := unstructured.NestedStringMap(d.Object, path...)
		if l[LabelManagedBy] != ManagedBy || l[LabelScenario] != "shift" || l["version"] != "v1" {
			t.Errorf("%s = %v, want meshcheck's labels and version=v1", strings.Join(path, "."), l)
		}
	}
}

// TestValidateScenarioName checks that a name that cannot be a label value
// is refused.
func TestValidateScenarioName(t *testing.T) {
	for _, bad := range []string{"", "has space", strings.Repeat("x", 64), "-lead"} {
		if validateScenarioName(bad) == nil {
			t.Errorf("validateScenarioName(%q) = nil, want an error", bad)
		}
	}
	if err := validateScenarioName("echo"); err != nil {
		t.Errorf("validateScenarioName(echo) = %v", err)
	}
}

// TestInjectionEnabled follows Istio's namespace labels.
func TestInjectionEnabled(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{LabelInjection: "enabled"}, true},
		{map[string]string{LabelInjection: "disabled", labelRevision: "canary"}, false},
		{map[string]string{labelRevision: "canary"}, true},
		{nil, false},
	} {
		if got := injectionEnabled(c.labels); got != c.want {
			t.Errorf("injectionEnabled(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
}

// TestHasSidecar accepts the proxy as a container or a native sidecar.
func TestHasSidecar(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	plain := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}
	classic := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: SidecarName}}}}
	native := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: SidecarName, RestartPolicy: &always}},
		Containers: []corev1.Container{{Name: "app"}}}}
	initOnly := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: SidecarName}},
		Containers: []corev1.Container{{Name: "app"}}}}
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{{"plain", plain, false}, {"classic", classic, true}, {"native", native, true}, {"init only", initOnly, false}} {
		if got := hasSidecar(c.pod); got != c.want {
			t.Errorf("%s: hasSidecar = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAgentObjectsLockedDown checks the agent's security settings.
func TestAgentObjectsLockedDown(t *testing.T) {
	objs, err := agentObjects("echo", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "ServiceAccount" || objs[1].GetKind() != "Deployment" {
		t.Fatalf("objects = %v, want a ServiceAccount and a Deployment", names(objs))
	}
	spec := objs[1].Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if spec["serviceAccountName"] != AgentName || spec["automountServiceAccountToken"] != false {
		t.Errorf("pod spec service account = %v, token = %v", spec["serviceAccountName"], spec["automountServiceAccountToken"])
	}
	c := spec["containers"].([]any)[0].(map[string]any)
	if c["image"] != AgentImage || c["imagePullPolicy"] != "IfNotPresent" || strings.HasSuffix(AgentImage, ":latest") {
		t.Errorf("image %v pull %v", c["image"], c["imagePullPolicy"])
	}
	if got := c["args"].([]any); len(got) != 3 || got[0] != "agent" || got[2] != ":8080" {
		t.Errorf("args = %v, want agent --listen :8080", got)
	}
	sc := c["securityContext"].(map[string]any)
	if sc["runAsNonRoot"] != true || sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || sc["privileged"] != false {
		t.Errorf("container securityContext = %v", sc)
	}
	if psc := spec["securityContext"].(map[string]any); psc["runAsNonRoot"] != true || psc["runAsUser"] == int64(0) {
		t.Errorf("pod securityContext = %v", psc)
	}
}

// An agent running as a probe's ServiceAccount is its own Deployment (name
// and app label meshcheck-agent-<sa>) with the same locked-down pod, and
// no ServiceAccount of its own: the account is the scenario's.
func TestAgentObjectsAsServiceAccount(t *testing.T) {
	own, err := agentObjects("thermo", "", "")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := agentObjects("thermo", "", "control")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetKind() != "Deployment" || objs[0].GetName() != "meshcheck-agent-control" {
		t.Fatalf("objects = %v, want the Deployment meshcheck-agent-control alone", names(objs))
	}
	dep := objs[0].Object["spec"].(map[string]any)
	tpl := dep["template"].(map[string]any)
	spec := tpl["spec"].(map[string]any)
	if spec["serviceAccountName"] != "control" || spec["automountServiceAccountToken"] != false {
		t.Errorf("pod spec service account = %v, token = %v", spec["serviceAccountName"], spec["automountServiceAccountToken"])
	}
	if l := tpl["metadata"].(map[string]any)["labels"].(map[string]any); l["app"] != "meshcheck-agent-control" {
		t.Errorf("pod labels %v, want app=meshcheck-agent-control (apart from the agent's own)", l)
	}
	ownSpec := own[1].Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if !reflect.DeepEqual(spec["securityContext"], ownSpec["securityContext"]) ||
		!reflect.DeepEqual(spec["containers"], ownSpec["containers"]) {
		t.Errorf("the agent running as control differs from the agent's own pod beyond its account:\n%v\n%v", spec, ownSpec)
	}
	if same, err := AgentNameFor(AgentName); err != nil || same != AgentName {
		t.Errorf("AgentNameFor(%s) = %q, %v", AgentName, same, err)
	}
	if _, err := AgentNameFor(strings.Repeat("a", 48)); err == nil || !strings.Contains(err.Error(), "at most 47 characters") {
		t.Errorf("a 48-character account: %v, want an error naming the limit", err)
	}
}
