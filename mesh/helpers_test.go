package mesh

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	securityv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// decode turns a multi-document YAML string into typed objects, strictly.
func decode(t testing.TB, docs string) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("decode type of %q: %v", doc, err)
		}
		var obj runtime.Object
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/Service":
			obj = &corev1.Service{}
		case "v1/Pod":
			obj = &corev1.Pod{}
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "apps/v1/StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "apps/v1/ReplicaSet":
			obj = &appsv1.ReplicaSet{}
		case "networking.istio.io/v1/Gateway":
			obj = &networkingv1.Gateway{}
		case "networking.istio.io/v1beta1/Gateway":
			obj = &networkingv1beta1.Gateway{}
		case "networking.istio.io/v1alpha3/Gateway":
			obj = &networkingv1alpha3.Gateway{}
		case "networking.istio.io/v1/VirtualService":
			obj = &networkingv1.VirtualService{}
		case "networking.istio.io/v1beta1/VirtualService":
			obj = &networkingv1beta1.VirtualService{}
		case "networking.istio.io/v1alpha3/VirtualService":
			obj = &networkingv1alpha3.VirtualService{}
		case "networking.istio.io/v1/DestinationRule":
			obj = &networkingv1.DestinationRule{}
		case "networking.istio.io/v1beta1/DestinationRule":
			obj = &networkingv1beta1.DestinationRule{}
		case "networking.istio.io/v1alpha3/DestinationRule":
			obj = &networkingv1alpha3.DestinationRule{}
		case "security.istio.io/v1/AuthorizationPolicy":
			obj = &securityv1.AuthorizationPolicy{}
		case "security.istio.io/v1beta1/AuthorizationPolicy":
			obj = &securityv1beta1.AuthorizationPolicy{}
		case "security.istio.io/v1/PeerAuthentication":
			obj = &securityv1.PeerAuthentication{}
		case "security.istio.io/v1beta1/PeerAuthentication":
			obj = &securityv1beta1.PeerAuthentication{}
		case "networking.istio.io/v1/ServiceEntry":
			obj = &networkingv1.ServiceEntry{}
		default:
			t.Fatalf("decode: unsupported %s %s", tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("decode %s: %v\n%s", tm.Kind, err, doc)
		}
		out = append(out, obj)
	}
	return out
}

// model builds a Model from YAML documents.
func model(t testing.TB, docs ...string) *Model {
	t.Helper()
	cfg, err := NewConfig(decode(t, strings.Join(docs, "\n---\n")))
	if err != nil {
		t.Fatalf("NewConfig: %v", err)
	}
	return New(cfg)
}

// deployment is a Deployment with the tutorial's labels.
func deployment(ns, name, app, version string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
  labels: {app: %[3]s, version: %[4]s}
spec:
  replicas: %[5]d
  selector:
    matchLabels: {app: %[3]s, version: %[4]s}
  template:
    metadata:
      labels: {app: %[3]s, version: %[4]s}
    spec:
      containers:
      - name: echo
        image: mendhak/http-https-echo:31
        ports: [{containerPort: 8080}]`, ns, name, app, version, replicas)
}

// echoService is tutorial 003's Service (port 80 -> 8080 as in scenarios/echo).
const echoService = `apiVersion: v1
kind: Service
metadata: {name: echo-service, namespace: echo}
spec:
  selector: {app: echo}
  ports:
  - {name: http, protocol: TCP, port: 80, targetPort: 8080}`

// echoDR is tutorial 003's DestinationRule (v1alpha3, short host).
const echoDR = `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: echo, namespace: echo}
spec:
  host: echo-service
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}`

// ingressGateway is the Gateway the scenario creates for tutorial 003.
func ingressGateway(hosts string) string {
	return `apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ` + hosts
}

// echoRoute is tutorial 003's VirtualService with the given gateways.
func echoRoute(gateways string) string {
	return `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: echo-route, namespace: echo}
spec:
  hosts: [echo-service.echo.svc.cluster.local, echo.local]
  gateways: ` + gateways + `
  http:
  - name: echo-route
    match:
    - uri: {prefix: /echo}
    route:
    - destination: {host: echo-service, subset: v1}
      weight: 75
    - destination: {host: echo-service, subset: v2}
      weight: 25`
}

// tutorial003 is the whole tutorial 003 configuration.
func tutorial003(serverHosts, gateways string) []string {
	return []string{
		deployment("echo", "echo-deployment-v1", "echo", "v1", 1),
		deployment("echo", "echo-deployment-v2", "echo", "v2", 1),
		echoService, echoDR, ingressGateway(serverHosts), echoRoute(gateways),
	}
}

// assertShares checks Shares("version") against want (errorShare under
// "503") exactly up to float rounding.
func assertShares(t testing.TB, r Resolution, want map[string]float64) {
	t.Helper()
	got, errShare := r.Shares("version")
	if errShare != 0 {
		got["503"] = errShare
	}
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		if math.Abs(got[k]-want[k]) > 1e-9 {
			t.Fatalf("shares = %v, want %v\nreason: %s\nnotes: %q", got, want, r.Reason, r.Notes)
		}
	}
}

// assertStatus checks the resolution status.
func assertStatus(t testing.TB, r Resolution, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status = %d, want %d\nreason: %s\nnotes: %q", r.Status, want, r.Reason, r.Notes)
	}
}

// hasNote reports whether some note contains every fragment.
func hasNote(r Resolution, fragments ...string) bool {
	return slices.ContainsFunc(r.Notes, func(n string) bool {
		for _, f := range fragments {
			if !strings.Contains(n, f) {
				return false
			}
		}
		return true
	})
}

// oneSentence checks a report sentence: non-empty, one line, no trailing
// period issues, not a fragment.
func oneSentence(t testing.TB, what, s string) {
	t.Helper()
	if s == "" || strings.ContainsAny(s, "\n") || strings.Count(s, ". ") > 0 {
		t.Fatalf("%s is not one plain sentence: %q", what, s)
	}
}
