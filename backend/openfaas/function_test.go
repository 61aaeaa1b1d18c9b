package openfaas

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func testFunction() *Function {
	return &Function{
		TypeMeta:   metav1.TypeMeta{APIVersion: "openfaas.com/v1", Kind: "Function"},
		ObjectMeta: metav1.ObjectMeta{Name: "env", Namespace: FunctionNamespace},
		Spec: FunctionSpec{
			Name:                   "env",
			Image:                  "meshcheck.local/fixture:v0.1.0",
			Handler:                "echo",
			Labels:                 map[string]string{"version": "v1", LabelScaleMin: "2"},
			Annotations:            map[string]string{"note": "x"},
			Environment:            map[string]string{"B": "2", "A": "1"},
			Limits:                 &FunctionResources{Memory: "64Mi"},
			Requests:               &FunctionResources{Memory: "16Mi", CPU: "10m"},
			ReadOnlyRootFilesystem: true,
		},
	}
}

func TestExpand(t *testing.T) {
	dep, svc, err := Expand(testFunction(), FunctionNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if dep.Name != "env" || dep.Namespace != FunctionNamespace || svc.Name != "env" || svc.Namespace != FunctionNamespace {
		t.Fatalf("names: deployment %s/%s, service %s/%s", dep.Namespace, dep.Name, svc.Namespace, svc.Name)
	}
	if got := dep.Labels; len(got) != 1 || got[LabelFunction] != "env" {
		t.Errorf("deployment labels %v, want only faas_function=env", got)
	}
	if got := dep.Spec.Selector.MatchLabels; len(got) != 1 || got[LabelFunction] != "env" {
		t.Errorf("selector %v", got)
	}
	pl := dep.Spec.Template.Labels
	if pl[LabelFunction] != "env" || pl["version"] != "v1" {
		t.Errorf("pod labels %v, want faas_function=env plus the user labels", pl)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2 from %s", *dep.Spec.Replicas, LabelScaleMin)
	}
	if dep.Annotations["prometheus.io.scrape"] != "false" || dep.Annotations["note"] != "x" {
		t.Errorf("annotations %v", dep.Annotations)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Name != "env" || c.Image != "meshcheck.local/fixture:v0.1.0" {
		t.Errorf("container %s image %s", c.Name, c.Image)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != FunctionPort {
		t.Errorf("ports %v", c.Ports)
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name+"="+e.Value)
	}
	if got := strings.Join(names, ","); got != "A=1,B=2,fprocess=echo" {
		t.Errorf("env %s, want sorted with fprocess", got)
	}
	if !*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.RunAsUser != RunAsUser {
		t.Errorf("security context %+v", c.SecurityContext)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/tmp" {
		t.Errorf("mounts %v, want the /tmp emptyDir", c.VolumeMounts)
	}
	if c.ReadinessProbe.HTTPGet.Path != HealthPath {
		t.Errorf("readiness %v", c.ReadinessProbe)
	}
	if q := c.Resources.Requests[corev1.ResourceCPU]; q.String() != "10m" {
		t.Errorf("cpu request %s", q.String())
	}
	if svc.Spec.Selector[LabelFunction] != "env" || len(svc.Spec.Selector) != 1 {
		t.Errorf("service selector %v", svc.Spec.Selector)
	}
	if p := svc.Spec.Ports; len(p) != 1 || p[0].Port != FunctionPort || p[0].TargetPort.IntVal != FunctionPort || p[0].Name != "http" {
		t.Errorf("service ports %v", p)
	}
}

func TestExpandWritableRoot(t *testing.T) {
	fn := testFunction()
	fn.Spec.ReadOnlyRootFilesystem = false
	fn.Spec.Labels = nil
	dep, _, err := Expand(fn, "openfaas-fn")
	if err != nil {
		t.Fatal(err)
	}
	if v := dep.Spec.Template.Spec.Volumes; len(v) != 0 {
		t.Errorf("volumes %v, want none without readOnlyRootFilesystem", v)
	}
	if *dep.Spec.Replicas != 1 {
		t.Errorf("replicas %d, want 1", *dep.Spec.Replicas)
	}
}

func TestExpandInvalid(t *testing.T) {
	fn := testFunction()
	fn.Spec.Limits.Memory = "lots"
	if _, _, err := Expand(fn, FunctionNamespace); err == nil || !strings.Contains(err.Error(), "spec.limits.memory") {
		t.Fatalf("err %v, want one naming spec.limits.memory", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Function)
		field  string
	}{
		{"no name", func(f *Function) { f.Name = "" }, "metadata.name"},
		{"bad name", func(f *Function) { f.Name, f.Spec.Name = "Env_1", "Env_1" }, "metadata.name"},
		{"other namespace", func(f *Function) { f.Namespace = "default" }, "metadata.namespace"},
		{"no spec name", func(f *Function) { f.Spec.Name = "" }, "spec.name"},
		{"names differ", func(f *Function) { f.Spec.Name = "other" }, "spec.name"},
		{"no image", func(f *Function) { f.Spec.Image = " " }, "spec.image"},
		{"space in image", func(f *Function) { f.Spec.Image = "a b" }, "spec.image"},
		{"faas_function label", func(f *Function) { f.Spec.Labels[LabelFunction] = "x" }, "spec.labels.faas_function"},
		{"bad label key", func(f *Function) { f.Spec.Labels["a b"] = "x" }, "spec.labels.a b"},
		{"bad label value", func(f *Function) { f.Spec.Labels["k"] = "a b" }, "spec.labels.k"},
		{"bad annotation", func(f *Function) { f.Spec.Annotations["-x"] = "" }, "spec.annotations.-x"},
		{"bad env", func(f *Function) { f.Spec.Environment["1A"] = "" }, "spec.environment.1A"},
		{"fprocess twice", func(f *Function) { f.Spec.Environment[EnvProcess] = "x" }, "spec.environment.fprocess"},
		{"constraints", func(f *Function) { f.Spec.Constraints = []string{"a=b"} }, "spec.constraints"},
		{"secrets", func(f *Function) { f.Spec.Secrets = []string{"s"} }, "spec.secrets"},
		{"bad cpu", func(f *Function) { f.Spec.Requests.CPU = "fast" }, "spec.requests.cpu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := testFunction()
			tc.modify(fn)
			es := Validate(fn)
			if len(es) == 0 {
				t.Fatal("no problems")
			}
			if es[0].Field != tc.field {
				t.Errorf("field %q (%v), want %q", es[0].Field, es, tc.field)
			}
			if es.Err("Function") == nil {
				t.Error("Err is nil")
			}
		})
	}
	if es := Validate(testFunction()); es.Err("Function") != nil {
		t.Errorf("valid function: %v", es.Err("Function"))
	}
	if es := Validate(nil); len(es) != 1 {
		t.Errorf("nil function: %v", es)
	}
}

func TestDeploymentJSON(t *testing.T) {
	b, err := json.Marshal(Deployment(testFunction()))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"service", "image", "namespace", "envProcess", "envVars", "labels", "annotations", "limits", "requests", "readOnlyRootFilesystem"} {
		if _, ok := got[k]; !ok {
			t.Errorf("body %s lacks %q", b, k)
		}
	}
	if got["service"] != "env" || got["envProcess"] != "echo" || got["namespace"] != FunctionNamespace {
		t.Errorf("body %s", b)
	}
	if _, ok := got["constraints"]; ok {
		t.Errorf("body %s has empty constraints", b)
	}
}

func TestDeepCopyAndScheme(t *testing.T) {
	fn := testFunction()
	cp := fn.DeepCopyObject().(*Function)
	cp.Spec.Labels["version"] = "v2"
	cp.Spec.Limits.Memory = "1Gi"
	if fn.Spec.Labels["version"] != "v1" || fn.Spec.Limits.Memory != "64Mi" {
		t.Fatal("DeepCopy shares maps or pointers")
	}
	list := &FunctionList{Items: []Function{*fn}}
	lc := list.DeepCopyObject().(*FunctionList)
	lc.Items[0].Spec.Environment["A"] = "changed"
	if fn.Spec.Environment["A"] != "1" {
		t.Fatal("list DeepCopy shares items")
	}
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if !s.Recognizes(GroupVersionKind) {
		t.Fatalf("scheme does not know %v", GroupVersionKind)
	}
	if Namespace(&Function{}) != FunctionNamespace {
		t.Error("default namespace")
	}
}
