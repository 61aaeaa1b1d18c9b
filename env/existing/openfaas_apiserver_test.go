//go:build apiserver

package existing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/scenario"
)

// gatewayStandIn is a loopback stand-in of the OpenFaaS gateway's API:
// it records each call ("POST /system/functions hello-v1") and reports
// every deployed function available.
type gatewayStandIn struct {
	mu    sync.Mutex
	calls []string
	fns   map[string]bool
}

func (g *gatewayStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Service      string `json:"service"`
		FunctionName string `json:"functionName"`
	}
	_ = json.Unmarshal(body, &req)
	name := req.Service + req.FunctionName
	if r.Method == http.MethodGet {
		name = strings.TrimPrefix(r.URL.Path, "/system/function/")
	}
	g.calls = append(g.calls, r.Method+" "+r.URL.Path+" "+name)
	switch r.Method {
	case http.MethodGet:
		if !g.fns[name] {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "replicas": 1, "availableReplicas": 1})
	case http.MethodPost, http.MethodPut:
		g.fns[name] = true
		w.WriteHeader(http.StatusAccepted)
	case http.MethodDelete:
		delete(g.fns, name)
		w.WriteHeader(http.StatusAccepted)
	}
}

func (g *gatewayStandIn) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.calls
	g.calls = nil
	return out
}

// gatewayForwarder forwards to the stand-in for the gateway's pods and
// records every forward.
type gatewayForwarder struct {
	fakeForwarder
	addr string
}

func (f *gatewayForwarder) Forward(ctx context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	if ns == "openfaas" {
		f.mu.Lock()
		f.calls = append(f.calls, ns+"/"+pod)
		f.mu.Unlock()
		return kube.NewTunnel(f.addr, ns+"/"+pod, func() {}), nil
	}
	return f.fakeForwarder.Forward(ctx, ns, pod, port)
}

// installGatewayObjects creates what meshcheck reads of an OpenFaaS
// installation: the gateway Service, its Deployment (pods made ready by the
// simulated controllers) and the basic-auth Secret.
func installGatewayObjects(t *testing.T, srv *apiservertest.Server) {
	t.Helper()
	ctx := t.Context()
	if _, err := srv.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "openfaas"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l := map[string]string{"app": "gateway"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: "openfaas", Labels: l},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "gateway", Image: "ghcr.io/openfaas/gateway:test"}}}}},
	}
	if _, err := srv.Kube.AppsV1().Deployments("openfaas").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "basic-auth", Namespace: "openfaas"},
		Data: map[string][]byte{"basic-auth-user": []byte("admin"), "basic-auth-password": []byte("pw")}}
	if _, err := srv.Kube.CoreV1().Secrets("openfaas").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: "openfaas"},
		Spec: corev1.ServiceSpec{Selector: l, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
	if _, err := srv.Kube.CoreV1().Services("openfaas").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFaaSBackend: a scenario with backend openfaas on a cluster
// without the gateway is skipped (env.ErrBackendUnavailable naming what
// is missing) having created nothing; with the gateway its Functions go to
// the gateway's API before the step's objects are applied, are never
// applied as objects, and are deleted on teardown.
func TestOpenFaaSBackend(t *testing.T) {
	srv := apiservertest.Start(t)
	srv.RunWorkloads(t)
	installIstio(t, srv)
	ctx := t.Context()
	waitAvailable(t, srv, "istiod")
	s, _, err := scenario.Load("../kube/testdata/openfaas")
	if err != nil {
		t.Fatal(err)
	}
	standIn := &gatewayStandIn{fns: map[string]bool{}}
	gw := httptest.NewServer(standIn)
	defer gw.Close()
	fw := &gatewayForwarder{addr: gw.Listener.Addr().String()}
	e, err := connect(ctx, WithKubeconfig(srv.Kubeconfig), WithForwarder(fw),
		WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })),
		WithReadyTimeout(30*time.Second), WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	err = e.Setup(ctx, s)
	if !errors.Is(err, env.ErrBackendUnavailable) || !strings.Contains(err.Error(), "backend openfaas is not available in environment existing: OpenFaaS is not installed: no Service gateway in namespace openfaas") {
		t.Fatalf("Setup without OpenFaaS = %v, want env.ErrBackendUnavailable naming the gateway Service", err)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Get(ctx, "openfaas-fn", metav1.GetOptions{}); err == nil {
		t.Error("a skipped Setup created namespace openfaas-fn")
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatalf("Teardown after a skipped Setup = %v", err)
	}

	installGatewayObjects(t, srv)
	// The gateway pod becomes ready through the simulated controllers.
	waitPodReady(t, srv, "openfaas", "app=gateway")
	// meshcheck's local images (no --image-registry): CE would refuse them.
	err = e.Setup(ctx, s)
	if !errors.Is(err, env.ErrBackendUnavailable) || !strings.Contains(err.Error(), "image meshcheck.local/fixture:v0.1.0 is loaded into the nodes, in no registry") {
		t.Fatalf("Setup with local images = %v, want env.ErrBackendUnavailable naming the image", err)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	s = publicImages(s)
	if err := e.Setup(ctx, s); err != nil {
		t.Fatalf("Setup with OpenFaaS = %v", err)
	}
	if got := fw.calls; len(got) != 1 || !strings.HasPrefix(got[0], "openfaas/gateway-") {
		t.Errorf("port-forwards = %v, want one to the gateway pod", got)
	}
	if err := e.Apply(ctx, s, 0); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	want := []string{
		"GET /system/function/hello-v1 hello-v1", "POST /system/functions hello-v1",
		"GET /system/function/hello-v2 hello-v2", "POST /system/functions hello-v2",
		"GET /system/function/hello-v1 hello-v1", "GET /system/function/hello-v2 hello-v2",
	}
	if got := standIn.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gateway calls of Apply:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := srv.Kube.CoreV1().Services("openfaas-fn").Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Errorf("the step's Service openfaas-fn/hello was not applied: %v", err)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatalf("Teardown = %v", err)
	}
	want = []string{"DELETE /system/functions hello-v1", "DELETE /system/functions hello-v2"}
	if got := standIn.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gateway calls of Teardown:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// waitPodReady waits until a pod of the selector is ready.
func waitPodReady(t *testing.T, srv *apiservertest.Server, ns, selector string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w, err := srv.Kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && kube.PodReady(p) && p.Status.Phase == corev1.PodRunning {
			return
		}
	}
	t.Fatalf("no ready pod %s in %s", selector, ns)
}

// publicImages returns s with its Functions' images moved out of
// meshcheck's local registry, which OpenFaaS CE refuses.
func publicImages(s *scenario.Scenario) *scenario.Scenario {
	out := *s
	out.Steps = slices.Clone(s.Steps)
	for i := range out.Steps {
		out.Steps[i].Apply = slices.Clone(out.Steps[i].Apply)
		for j := range out.Steps[i].Apply {
			m := &out.Steps[i].Apply[j]
			m.Objects = slices.Clone(m.Objects)
			for k := range m.Objects {
				m.Objects[k].Raw = bytes.ReplaceAll(m.Objects[k].Raw, []byte("meshcheck.local/fixture"), []byte("ghcr.io/example/fixture"))
			}
		}
	}
	return &out
}
