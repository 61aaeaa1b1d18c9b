//go:build apiserver

package existing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// fakeForwarder records port-forwards and keeps their tunnels, so that a
// test can end one as a lost connection does; a real one needs a kubelet.
type fakeForwarder struct {
	mu      sync.Mutex
	calls   []string
	tunnels []*kube.Tunnel
	stopped int
}

func (f *fakeForwarder) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := fmt.Sprintf("%s/%s:%d", ns, pod, port)
	f.calls = append(f.calls, target)
	t := kube.NewTunnel(fmt.Sprintf("127.0.0.1:%d", 10000+len(f.calls)), target, func() {
		f.mu.Lock()
		f.stopped++
		f.mu.Unlock()
	})
	f.tunnels = append(f.tunnels, t)
	return t, nil
}

// lose ends tunnel i as a lost connection to the pod does.
func (f *fakeForwarder) lose(i int) {
	f.mu.Lock()
	t := f.tunnels[i]
	f.mu.Unlock()
	t.End(errors.New("lost connection to pod"))
}

// installIstio creates what an Istio installation has that meshcheck
// checks and uses: istiod and the ingress gateway (Deployments, pods made
// ready by the simulated controllers) and the gateway's Service with
// Istio's three ports.
func installIstio(t *testing.T, srv *apiservertest.Server) {
	t.Helper()
	ctx := t.Context()
	if _, err := srv.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: istioNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ name, app string }{{"istiod", "istiod"}, {"istio-ingressgateway", "istio-ingressgateway"}} {
		labels := map[string]string{"app": d.app}
		if d.name == "istio-ingressgateway" {
			labels["istio"] = "ingressgateway"
		}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: istioNamespace, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "docker.io/istio/pilot:1.31.1",
						Ports: []corev1.ContainerPort{{Name: "http2", ContainerPort: 8080}}}}},
				},
			},
		}
		if _, err := srv.Kube.AppsV1().Deployments(istioNamespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ingressGatewayService, Namespace: istioNamespace},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"istio": "ingressgateway"},
			Ports: []corev1.ServicePort{
				{Name: "status-port", Port: 15021, TargetPort: intstr.FromInt32(15021)},
				{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)},
			},
		},
	}
	if _, err := srv.Kube.CoreV1().Services(istioNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRequiresIstio: a cluster without istiod, or with istiod not
// available, is refused with ErrNoIstio; once istiod is available New
// succeeds.
func TestRequiresIstio(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := t.Context()
	_, err := connect(ctx, WithKubeconfig(srv.Kubeconfig))
	if !errors.Is(err, ErrNoIstio) || !strings.Contains(err.Error(), "no istiod Deployment") || !strings.Contains(err.Error(), `context "envtest"`) {
		t.Errorf("New without Istio: err = %v, want ErrNoIstio naming istiod and the context", err)
	}
	installIstio(t, srv)
	_, err = connect(ctx, WithKubeconfig(srv.Kubeconfig))
	if !errors.Is(err, ErrNoIstio) || !strings.Contains(err.Error(), "istiod in namespace istio-system is not ready") {
		t.Errorf("New with istiod unavailable: err = %v, want ErrNoIstio", err)
	}
	srv.RunWorkloads(t)
	waitAvailable(t, srv, "istiod")
	_, err = connect(ctx, WithKubeconfig(srv.Kubeconfig))
	if err != nil {
		t.Errorf("New with istiod available: %v", err)
	}
}

// TestScenarioOnExistingCluster runs the echo scenario through the
// environment against a real API server: namespaces, steps, endpoints (the
// in-mesh agent and the ingress gateway through port-forwards, a load
// balancer address, a given URL), the version map and teardown, and checks
// that the kubeconfig and every object meshcheck did not create stay as
// they were.
func TestScenarioOnExistingCluster(t *testing.T) {
	srv := apiservertest.Start(t)
	srv.RunWorkloads(t)
	installIstio(t, srv)
	ctx := t.Context()
	waitAvailable(t, srv, "istiod")
	waitAvailable(t, srv, "istio-ingressgateway")

	// The user's own app, with the scenario's names in another namespace.
	user := "user-app"
	if _, err := srv.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: user}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	userSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo-service", Namespace: user},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := srv.Kube.CoreV1().Services(user).Create(ctx, userSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := inventory(t, srv)
	kc := srv.KubeconfigFingerprint(t)

	s, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	fw := &fakeForwarder{}
	e, err := connect(ctx,
		WithKubeconfig(srv.Kubeconfig),
		WithContext("envtest"),
		WithForwarder(fw),
		WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })),
		WithReadyTimeout(30*time.Second),
		WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "existing" || e.Emulated() {
		t.Errorf("Name %q Emulated %v", e.Name(), e.Emulated())
	}
	if _, err := e.VersionMap(ctx, s.Steps[0].Probes[0]); err == nil {
		t.Error("VersionMap before Setup: no error")
	}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	ns, err := srv.Kube.CoreV1().Namespaces().Get(ctx, "echo", metav1.GetOptions{})
	if err != nil || ns.Labels[kube.LabelInjection] != "enabled" || ns.Labels[kube.LabelManagedBy] != kube.ManagedBy {
		t.Fatalf("namespace echo: %v, labels %v", err, ns.Labels)
	}
	for i := range s.Steps {
		if err := e.Apply(ctx, s, i); err != nil {
			t.Fatal(err)
		}
	}

	var ingress, inMesh scenario.Probe
	for _, p := range s.Steps[0].Probes {
		switch p.From {
		case mesh.Ingress:
			ingress = p
		case mesh.Mesh:
			inMesh = p
		}
	}
	gw, err := e.Endpoint(ctx, ingress)
	if err != nil {
		t.Fatal(err)
	}
	if gw.URL != "http://127.0.0.1:10001"+ingress.Request.Path || gw.Host != ingress.Request.Host || gw.Agent != "" {
		t.Errorf("ingress endpoint = %+v", gw)
	}
	agent, err := e.Endpoint(ctx, inMesh)
	if err != nil {
		t.Fatal(err)
	}
	if agent.URL != inMesh.Request.URL || agent.Agent != "http://127.0.0.1:10002" {
		t.Errorf("mesh endpoint = %+v", agent)
	}
	// Both are reused: still two port-forwards.
	if _, err := e.Endpoint(ctx, inMesh); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Endpoint(ctx, ingress); err != nil {
		t.Fatal(err)
	}
	if len(fw.calls) != 2 || !strings.HasPrefix(fw.calls[0], "istio-system/istio-ingressgateway-") || !strings.HasSuffix(fw.calls[0], ":8080") ||
		!strings.HasPrefix(fw.calls[1], "echo/meshcheck-agent-") || !strings.HasSuffix(fw.calls[1], ":8080") {
		t.Errorf("port-forwards = %q, want the gateway pod's 8080 then the agent pod's 8080", fw.calls)
	}
	// A lost tunnel is dropped and reopened, to the pod looked up again,
	// before the next probe: once for the agent, once for the gateway.
	fw.lose(1)
	again, err := e.Endpoint(ctx, inMesh)
	if err != nil {
		t.Fatal(err)
	}
	if again.Agent != "http://127.0.0.1:10003" || len(fw.calls) != 3 || !strings.HasPrefix(fw.calls[2], "echo/meshcheck-agent-") {
		t.Errorf("after the agent's tunnel was lost: endpoint %+v, port-forwards %q: want a third, to the agent pod", again, fw.calls)
	}
	fw.lose(0)
	gwAgain, err := e.Endpoint(ctx, ingress)
	if err != nil {
		t.Fatal(err)
	}
	if gwAgain.URL != "http://127.0.0.1:10004"+ingress.Request.Path || len(fw.calls) != 4 || !strings.HasPrefix(fw.calls[3], "istio-system/istio-ingressgateway-") {
		t.Errorf("after the gateway's tunnel was lost: endpoint %+v, port-forwards %q: want a fourth, to a gateway pod", gwAgain, fw.calls)
	}
	if _, err := e.Endpoint(ctx, inMesh); err != nil || len(fw.calls) != 4 {
		t.Errorf("a live reopened tunnel is not reused: %v, port-forwards %q", err, fw.calls)
	}

	for _, p := range []scenario.Probe{ingress, inMesh} {
		m, err := e.VersionMap(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		versions := slices.Sorted(maps.Values(m))
		if !slices.Equal(versions, []string{"v1", "v2"}) {
			t.Errorf("probe %s: version map %v, want one v1 pod and one v2 pod", p.Name, m)
		}
		for pod := range m {
			if !strings.HasPrefix(pod, "echo-deployment-") {
				t.Errorf("probe %s: pod %s is not an echo pod (the agent must not be in the map)", p.Name, pod)
			}
		}
	}

	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if fw.stopped != 4 {
		t.Errorf("port-forwards stopped: %d, want 4 (two lost, two at Teardown)", fw.stopped)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	after := inventory(t, srv)
	for k, rv := range before {
		if after[k] != rv {
			t.Errorf("%s changed or deleted (resourceVersion %s -> %q)", k, rv, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; ok {
			continue
		}
		if k == "Namespace echo" {
			ns, err := srv.Kube.CoreV1().Namespaces().Get(ctx, "echo", metav1.GetOptions{})
			if err != nil || ns.DeletionTimestamp == nil {
				t.Errorf("namespace echo not deleted (%v)", err)
			}
			continue
		}
		if !strings.HasPrefix(k, "Pod echo/") {
			t.Errorf("%s left after Teardown", k)
		}
	}
	if got := srv.KubeconfigFingerprint(t); got != kc {
		t.Errorf("kubeconfig changed: %s -> %s", kc, got)
	}

	// A load balancer address is used as it is, with no port-forward.
	svc, err := srv.Kube.CoreV1().Services(istioNamespace).Get(ctx, ingressGatewayService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	if svc, err = srv.Kube.CoreV1().Services(istioNamespace).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
	if _, err := srv.Kube.CoreV1().Services(istioNamespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ingressURL, want string }{
		{"", "http://203.0.113.7/echo"},
		{"https://gw.example:8443/", "https://gw.example:8443/echo"},
	} {
		fw2 := &fakeForwarder{}
		e2, err := connect(ctx, WithKubeconfig(srv.Kubeconfig), WithForwarder(fw2), WithIngressURL(c.ingressURL),
			WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })))
		if err != nil {
			t.Fatal(err)
		}
		s2 := *s
		s2.Namespaces = nil // no namespace needed to ask for the ingress
		if err := e2.Setup(ctx, &s2); err != nil {
			t.Fatal(err)
		}
		ep, err := e2.Endpoint(ctx, ingress)
		if err != nil {
			t.Fatal(err)
		}
		if ep.URL != c.want || len(fw2.calls) != 0 {
			t.Errorf("ingress URL %q: endpoint %q with port-forwards %q, want %q and none", c.ingressURL, ep.URL, fw2.calls, c.want)
		}
		if err := e2.Teardown(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// waitAvailable waits for the simulated controllers to make an Istio
// Deployment available, by watching it.
func waitAvailable(t *testing.T, srv *apiservertest.Server, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w, err := srv.Kube.AppsV1().Deployments(istioNamespace).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if d, ok := ev.Object.(*appsv1.Deployment); ok && d.Status.AvailableReplicas > 0 {
			return
		}
	}
	t.Fatalf("Deployment %s/%s not available: %v", istioNamespace, name, ctx.Err())
}

// inventory maps "Kind ns/name" to resourceVersion for the kinds a scenario
// and Istio's installation use.
func inventory(t *testing.T, srv *apiservertest.Server) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	add := func(kind, ns, name, rv string) {
		if ns != "" {
			name = ns + "/" + name
		}
		out[kind+" "+name] = rv
	}
	nss, err := srv.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range nss.Items {
		add("Namespace", "", o.Name, o.ResourceVersion)
	}
	deps, err := srv.Kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range deps.Items {
		add("Deployment", o.Namespace, o.Name, o.ResourceVersion)
	}
	svcs, err := srv.Kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range svcs.Items {
		add("Service", o.Namespace, o.Name, o.ResourceVersion)
	}
	pods, err := srv.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range pods.Items {
		add("Pod", o.Namespace, o.Name, o.ResourceVersion)
	}
	sas, err := srv.Kube.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range sas.Items {
		add("ServiceAccount", o.Namespace, o.Name, o.ResourceVersion)
	}
	for _, res := range []string{"virtualservices", "destinationrules", "gateways"} {
		list, err := srv.Dynamic.Resource(istioGVR(res)).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			add(o.GetKind(), o.GetNamespace(), o.GetName(), o.GetResourceVersion())
		}
	}
	return out
}

func istioGVR(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: resource}
}

// connect validates the options and connects.
func connect(ctx context.Context, opts ...Option) (*Env, error) {
	o, err := New(opts...)
	if err != nil {
		return nil, err
	}
	return o.Connect(ctx)
}
