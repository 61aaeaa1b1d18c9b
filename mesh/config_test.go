package mesh

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestPodName(t *testing.T) {
	re := regexp.MustCompile(`^echo-deployment-v1-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	seen := map[string]bool{}
	hash := ""
	for r := range 2000 {
		n := PodName("echo-deployment-v1", r)
		if !re.MatchString(n) {
			t.Fatalf("PodName(%d) = %q, not pod-like", r, n)
		}
		if seen[n] {
			t.Fatalf("PodName(%d) = %q repeats", r, n)
		}
		seen[n] = true
		h := n[len("echo-deployment-v1-") : len("echo-deployment-v1-")+10]
		if hash != "" && h != hash {
			t.Fatalf("template hash changes between replicas: %q vs %q", h, hash)
		}
		hash = h
	}
	if PodName("a", 3) != PodName("a", 3) {
		t.Fatal("PodName is not deterministic")
	}
	if PodName("a", 0)[2:12] == PodName("b", 0)[2:12] {
		t.Fatal("different Deployments share a template hash")
	}
}

func TestIngressGateway(t *testing.T) {
	w := IngressGateway
	if w.Namespace != "istio-system" || w.Labels["istio"] != "ingressgateway" || w.Labels["app"] != "istio-ingressgateway" ||
		!strings.HasPrefix(w.Name, "istio-ingressgateway-") || w.Deployment != "istio-ingressgateway" {
		t.Fatalf("IngressGateway = %+v", w)
	}
}

func TestNewConfig(t *testing.T) {
	objs := decode(t, strings.Join([]string{
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: echo}",
		deployment("echo", "echo-deployment-v2", "echo", "v2", 2),
		`apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: i}]}`,
		`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, namespace: echo}
spec:
  replicas: 2
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec: {containers: [{name: c, image: i}]}`,
		`apiVersion: v1
kind: Pod
metadata:
  name: web-7d4b9c8f6d-x2x4z
  namespace: echo
  labels: {app: web, pod-template-hash: 7d4b9c8f6d}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c8f6d, uid: u}]
spec: {containers: [{name: c, image: i}]}`,
		`apiVersion: v1
kind: Pod
metadata: {name: done, namespace: echo}
spec: {containers: [{name: c, image: i}]}
status: {phase: Succeeded}`,
		echoService,
		"apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: g, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]",
		echoDR,
		echoRoute("[mesh]"),
		vsDoc("echo", "a-first", "  hosts: [x]\n  http:\n  - route:\n    - destination: {host: x}"),
	}, "\n---\n"))
	cfg, err := NewConfig(objs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range cfg.Workloads {
		names = append(names, w.Namespace+"/"+w.Name+"@"+w.Deployment)
	}
	want := []string{
		"default/" + PodName("d", 0) + "@d",
		"echo/" + PodName("echo-deployment-v2", 0) + "@echo-deployment-v2",
		"echo/" + PodName("echo-deployment-v2", 1) + "@echo-deployment-v2",
		"echo/s-0@s", "echo/s-1@s", "echo/web-7d4b9c8f6d-x2x4z@web",
	}
	slices.Sort(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("workloads\n got %v\nwant %v", names, want)
	}
	if cfg.Workloads[1].Labels["version"] != "v2" || cfg.Workloads[2].Replica != 1 {
		t.Fatalf("workload details: %+v", cfg.Workloads[1:3])
	}
	if len(cfg.Services) != 1 || len(cfg.Gateways) != 1 || len(cfg.DestinationRules) != 1 || len(cfg.VirtualServices) != 2 {
		t.Fatalf("config: %d services, %d gateways, %d rules, %d virtual services",
			len(cfg.Services), len(cfg.Gateways), len(cfg.DestinationRules), len(cfg.VirtualServices))
	}
	if cfg.Gateways[0].APIVersion != "networking.istio.io/v1" || cfg.DestinationRules[0].Spec.GetHost() != "echo-service" {
		t.Fatalf("conversion lost data: %+v / %+v", cfg.Gateways[0].TypeMeta, cfg.DestinationRules[0].Spec.GetHost())
	}
	if cfg.VirtualServices[0].Name != "a-first" || len(cfg.VirtualServices[1].Spec.GetHttp()[0].GetRoute()) != 2 {
		t.Fatalf("virtual services not in istiod's order or converted badly: %s", cfg.VirtualServices[0].Name)
	}
	// Deep copies: editing the input does not change the Config.
	objs[len(objs)-2].(*networkingv1alpha3.VirtualService).Spec.Hosts[0] = "changed"
	if cfg.VirtualServices[1].Spec.GetHosts()[0] != "echo-service.echo.svc.cluster.local" {
		t.Fatal("NewConfig did not copy the VirtualService")
	}
}

func TestNewConfigOrderByCreation(t *testing.T) {
	older := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "z", Namespace: "echo",
		CreationTimestamp: metav1.Unix(100, 0)}}
	newer := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "echo",
		CreationTimestamp: metav1.Unix(200, 0)}}
	cfg, err := NewConfig([]runtime.Object{newer, older})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VirtualServices[0].Name != "z" {
		t.Fatalf("order %s, %s: want the older first", cfg.VirtualServices[0].Name, cfg.VirtualServices[1].Name)
	}
}

func TestNewConfigErrors(t *testing.T) {
	svc := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "echo"}}
	}
	tests := []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"nil object", []runtime.Object{nil}, "object 0 is nil"},
		{"typed nil object", []runtime.Object{svc("a"), (*corev1.Service)(nil)}, "object 1 is a nil *v1.Service"},
		{"no name", []runtime.Object{svc("")}, "has no metadata.name"},
		{"duplicate", []runtime.Object{svc("a"), svc("a")}, "Service echo/a appears twice"},
		{"ServiceEntry", decode(t, "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: echo}\nspec: {hosts: [a.com]}"),
			"changes routing but is not modelled"},
		{"negative replicas", decode(t, strings.Replace(deployment("echo", "d", "a", "v", 1), "replicas: 1", "replicas: -1", 1)), "spec.replicas is -1"},
		{"ReplicaSet", decode(t, "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs, namespace: echo}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}"),
			"expands Deployments, StatefulSets and Pods only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConfig(tc.objs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
