package knative

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func testService() *Service {
	return &Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello-v1", Namespace: "hello"},
		Spec: ServiceSpec{Template: RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello-v1"}},
			Spec: RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
				Image: "meshcheck.local/fixture:v0.1.0",
				Args:  []string{"hello", "--message", "Hello V1"},
				Env:   []corev1.EnvVar{{Name: "A", Value: "1"}},
			}}}},
		}},
	}
}

func TestExpand(t *testing.T) {
	dep, svc, err := Expand(testService())
	if err != nil {
		t.Fatal(err)
	}
	if dep.Name != "hello-v1" || dep.Namespace != "hello" || svc.Name != "hello-v1" || svc.Namespace != "hello" {
		t.Fatalf("names: deployment %s/%s, service %s/%s", dep.Namespace, dep.Name, svc.Namespace, svc.Name)
	}
	pl := dep.Spec.Template.Labels
	if pl[LabelService] != "hello-v1" || pl["app"] != "hello-v1" || len(pl) != 2 {
		t.Errorf("pod labels %v, want serving.knative.dev/service=hello-v1 plus the template's", pl)
	}
	if got := svc.Spec.Selector; len(got) != 1 || got[LabelService] != "hello-v1" {
		t.Errorf("service selector %v", got)
	}
	if p := svc.Spec.Ports; len(p) != 1 || p[0].Port != ServicePort || p[0].TargetPort.IntVal != DefaultContainerPort {
		t.Errorf("service ports %v, want 80 -> %d", p, DefaultContainerPort)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "meshcheck.local/fixture:v0.1.0" || strings.Join(c.Args, " ") != "hello --message Hello V1" {
		t.Errorf("container image %s args %q", c.Image, c.Args)
	}
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if got := strings.Join(env, ","); got != "PORT=8080,A=1" {
		t.Errorf("env %s, want PORT first, then the template's", got)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != DefaultContainerPort {
		t.Errorf("ports %v", c.Ports)
	}
	if Address(testService()) != "http://hello-v1.hello.svc.cluster.local" {
		t.Errorf("address %s", Address(testService()))
	}
}

// A named container port is the port the pod listens on and the Service
// forwards to.
func TestExpandPort(t *testing.T) {
	ks := testService()
	ks.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http1", ContainerPort: 9000}}
	dep, svc, err := Expand(ks)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntVal != 9000 {
		t.Errorf("service ports %v, want 80 -> 9000", svc.Spec.Ports)
	}
	if c := dep.Spec.Template.Spec.Containers[0]; c.Env[0].Value != "9000" || c.Ports[0].ContainerPort != 9000 {
		t.Errorf("container env %v ports %v", c.Env, c.Ports)
	}
}

func TestValidate(t *testing.T) {
	if es := Validate(testService()); len(es) != 0 {
		t.Fatalf("valid service: %v", es)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Service)
		field string
		msg   string
	}{
		{"no name", func(ks *Service) { ks.Name = "" }, "metadata.name", "missing"},
		{"bad name", func(ks *Service) { ks.Name = "Hello" }, "metadata.name", `"Hello"`},
		{"no namespace", func(ks *Service) { ks.Namespace = "" }, "metadata.namespace", "missing"},
		{"knative label", func(ks *Service) { ks.Spec.Template.Labels[LabelService] = "x" }, "spec.template.metadata.labels.serving.knative.dev/service", "set by Knative"},
		{"bad label", func(ks *Service) { ks.Spec.Template.Labels["app"] = "a b" }, "spec.template.metadata.labels.app", "label value"},
		{"no container", func(ks *Service) { ks.Spec.Template.Spec.Containers = nil }, "spec.template.spec.containers", "missing"},
		{"two containers", func(ks *Service) {
			ks.Spec.Template.Spec.Containers = append(ks.Spec.Template.Spec.Containers, ks.Spec.Template.Spec.Containers[0])
		}, "spec.template.spec.containers", "2 containers"},
		{"no image", func(ks *Service) { ks.Spec.Template.Spec.Containers[0].Image = " " }, "spec.template.spec.containers[0].image", "missing"},
		{"spaced image", func(ks *Service) { ks.Spec.Template.Spec.Containers[0].Image = "a b" }, "spec.template.spec.containers[0].image", "white space"},
		{"reserved env", func(ks *Service) { ks.Spec.Template.Spec.Containers[0].Env[0].Name = "PORT" }, "spec.template.spec.containers[0].env[0].name", "set by Knative"},
		{"bad env", func(ks *Service) { ks.Spec.Template.Spec.Containers[0].Env[0].Name = "1A" }, "spec.template.spec.containers[0].env[0].name", "environment variable name"},
		{"env from", func(ks *Service) {
			ks.Spec.Template.Spec.Containers[0].Env[0].ValueFrom = &corev1.EnvVarSource{}
		}, "spec.template.spec.containers[0].env[0].valueFrom", "not supported"},
		{"two ports", func(ks *Service) {
			ks.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 1}, {ContainerPort: 2}}
		}, "spec.template.spec.containers[0].ports", "2 ports"},
		{"bad port", func(ks *Service) {
			ks.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}}
		}, "spec.template.spec.containers[0].ports[0].containerPort", "70000"},
		{"reserved port", func(ks *Service) {
			ks.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8012}}
		}, "spec.template.spec.containers[0].ports[0].containerPort", "reserved for Knative's queue-proxy"},
		{"port name", func(ks *Service) {
			ks.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
		}, "spec.template.spec.containers[0].ports[0].name", "http1 and h2c"},
		{"command", func(ks *Service) { ks.Spec.Template.Spec.Containers[0].Command = []string{"x"} }, "spec.template.spec.containers[0].command", "not supported"},
		{"volumes", func(ks *Service) { ks.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "v"}} }, "spec.template.spec.volumes", "not supported"},
		{"concurrency", func(ks *Service) { n := int64(1); ks.Spec.Template.Spec.ContainerConcurrency = &n }, "spec.template.spec.containerConcurrency", "not supported"},
		{"traffic", func(ks *Service) { ks.Spec.Traffic = []TrafficTarget{{Tag: "a"}} }, "spec.traffic", "Istio rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks := testService()
			tc.edit(ks)
			es := Validate(ks)
			if len(es) != 1 || es[0].Field != tc.field || !strings.Contains(es[0].Msg, tc.msg) {
				t.Fatalf("got %v, want one error at %s containing %q", es, tc.field, tc.msg)
			}
			if err := es.Err(SchemeGroupVersion.String() + " Service"); err == nil || !strings.Contains(err.Error(), "invalid serving.knative.dev/v1 Service: "+tc.field) {
				t.Errorf("Err() = %v", err)
			}
			if _, _, err := Expand(ks); err == nil {
				t.Errorf("Expand of an invalid service: no error")
			}
		})
	}
	if es := Validate(nil); len(es) != 1 {
		t.Errorf("nil: %v", es)
	}
}

func TestScheme(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if !s.Recognizes(GroupVersionKind) {
		t.Fatal("scheme does not know the Service kind")
	}
	ks := testService()
	cp := ks.DeepCopyObject().(*Service)
	cp.Spec.Template.Labels["app"] = "changed"
	cp.Spec.Template.Spec.Containers[0].Args[0] = "changed"
	if ks.Spec.Template.Labels["app"] != "hello-v1" || ks.Spec.Template.Spec.Containers[0].Args[0] != "hello" {
		t.Error("DeepCopy shares the template with the original")
	}
	l := &ServiceList{Items: []Service{*ks}}
	if got := l.DeepCopyObject().(*ServiceList); len(got.Items) != 1 || got.Items[0].Name != "hello-v1" {
		t.Errorf("list copy %v", got)
	}
}

// FuzzValidate: whatever JSON a manifest's Service decodes from, Validate
// does not panic, and a Service it accepts expands into a Deployment and
// a Service of its name answering on port 80 at its container port.
func FuzzValidate(f *testing.F) {
	good, err := json.Marshal(testService())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"metadata":{"name":"a","namespace":"b"},"spec":{"template":{"spec":{"containers":[{"image":"i","ports":[{"containerPort":0}]}]}}}}`))
	f.Add([]byte(`{"metadata":{"name":"a","namespace":"b"},"spec":{"template":{"spec":{"containers":[{"image":"i","resources":{"claims":[{"name":"x"}]}}]}},"traffic":[{"percent":100}]}}`))
	f.Add([]byte(`{"spec":{"template":{"metadata":{"labels":{"serving.knative.dev/x":"1"}},"spec":{"nodeName":"n","containers":[]}}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var ks Service
		if json.Unmarshal(in, &ks) != nil {
			return
		}
		if len(Validate(&ks)) > 0 {
			return
		}
		dep, svc, err := Expand(&ks)
		if err != nil {
			t.Fatalf("valid service does not expand: %v", err)
		}
		if dep.Name != ks.Name || svc.Name != ks.Name || svc.Spec.Ports[0].Port != ServicePort || svc.Spec.Ports[0].TargetPort.IntVal != ContainerPort(&ks) {
			t.Fatalf("expanded %s/%s, ports %v", dep.Name, svc.Name, svc.Spec.Ports)
		}
		if dep.Spec.Template.Labels[LabelService] != ks.Name {
			t.Fatalf("pod labels %v", dep.Spec.Template.Labels)
		}
	})
}
