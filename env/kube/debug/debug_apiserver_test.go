//go:build apiserver

package debug

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

// adminForwarder stands for port-forwards to Envoy admin ports: every
// tunnel leads to one server that answers the route config_dump with the
// name of the pod the tunnel was opened to.
type adminForwarder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []string
	pod   string
}

func newAdminForwarder(t *testing.T) *adminForwarder {
	f := &adminForwarder{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		pod := f.pod
		f.mu.Unlock()
		if r.URL.RequestURI() != kube.RouteConfigDumpPath {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"configs":[],"pod":%q}`, pod)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *adminForwarder) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s/%s:%d", ns, pod, port))
	f.pod = pod
	return kube.NewTunnel(f.srv.Listener.Addr().String(), ns+"/"+pod, nil), nil
}

// runningPod creates a ready pod of a Deployment with the labels and
// container, with a sidecar when sidecar is set, on a node that has no
// kubelet (so that reading its logs fails as it does when a kubelet cannot
// be reached; an unscheduled pod's log reads as empty).
func runningPod(t *testing.T, s *apiservertest.Server, ns, name string, podLabels map[string]string, container string, sidecar bool) *corev1.Pod {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: container, Image: "example.invalid/" + container + ":1"}}}}}}
	pods, err := apiservertest.CreatePods(t.Context(), s.Kube, d, 1, sidecar)
	if err != nil {
		t.Fatal(err)
	}
	p, err := apiservertest.MarkPodReady(t.Context(), s.Kube, pods[0])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("bundle file %s: %v", name, err)
	}
	return string(b)
}

// TestCollect: the bundle has the pods, events in time order and a
// summary per pod of meshcheck's namespaces and istio-system (not of other
// namespaces), the logs of istiod, the gateway and the agent recorded as
// errors (the API-server tier has no kubelet), each vantage proxy's route
// config_dump through the forwarder, and istioctl proxy-status.
func TestCollect(t *testing.T) {
	s := apiservertest.Start(t)
	ctx := t.Context()
	for ns, l := range map[string]map[string]string{
		IstioNamespace: nil,
		"debug-echo":   {kube.LabelManagedBy: kube.ManagedBy},
		"someone-else": nil,
	} {
		if _, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: l}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	istiod := runningPod(t, s, IstioNamespace, "istiod", map[string]string{"app": "istiod"}, "discovery", false)
	gateway := runningPod(t, s, IstioNamespace, "istio-ingressgateway", map[string]string{"istio": "ingressgateway"}, "istio-proxy", false)
	agent := runningPod(t, s, "debug-echo", kube.AgentName, map[string]string{"app": kube.AgentName}, "agent", true)
	other := runningPod(t, s, "someone-else", "other", map[string]string{"app": kube.AgentName}, "agent", false)
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	for i, e := range []struct {
		reason string
		at     time.Time
	}{{"Late", t0.Add(time.Minute)}, {"Early", t0}} {
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ev-%d", i), Namespace: "debug-echo"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: agent.Name, Namespace: "debug-echo"},
			Reason:         e.reason, Message: e.reason + " thing happened", Type: corev1.EventTypeWarning, Count: 1,
			FirstTimestamp: metav1.NewTime(e.at), LastTimestamp: metav1.NewTime(e.at)}
		if _, err := s.Kube.CoreV1().Events("debug-echo").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fw := newAdminForwarder(t)
	dir := filepath.Join(t.TempDir(), "debug")
	err := Collect(ctx, dir, Options{Kube: s.Kube, Forwarder: fw, ProxyStatus: func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, "NAME  CLUSTER  ISTIOD  VERSION\nistio-ingressgateway  Kubernetes  istiod  1.31.1\n")
		return err
	}})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}

	if pods := read(t, dir, "istio-system/pods.yaml"); !strings.Contains(pods, "name: "+istiod.Name) || !strings.Contains(pods, "name: "+gateway.Name) || !strings.Contains(pods, "kind: Pod") {
		t.Errorf("istio-system/pods.yaml lacks its pods:\n%s", pods)
	}
	events := read(t, dir, "debug-echo/events.txt")
	if early, late := strings.Index(events, "Early"), strings.Index(events, "Late"); early < 0 || late < early {
		t.Errorf("events not in time order:\n%s", events)
	}
	describe := read(t, dir, "debug-echo/describe.txt")
	for _, want := range []string{"Pod debug-echo/" + agent.Name, "phase: Running", "Ready=True", "agent (example.invalid/agent:1): running since", "istio-proxy (", "restarts 0", "Warning Pod/" + agent.Name + "  Early: Early thing happened"} {
		if !strings.Contains(describe, want) {
			t.Errorf("describe.txt lacks %q:\n%s", want, describe)
		}
	}
	for _, name := range []string{
		"istio-system/logs/" + istiod.Name + ".discovery.log",
		"istio-system/logs/" + gateway.Name + ".istio-proxy.log",
		"debug-echo/logs/" + agent.Name + ".agent.log",
		"debug-echo/logs/" + agent.Name + ".istio-proxy.log",
	} {
		if got := read(t, dir, name); !strings.HasPrefix(got, "error: reading the log of ") {
			t.Errorf("%s = %q, want the error reading it (no kubelet)", name, got)
		}
	}
	for _, p := range []*corev1.Pod{gateway, agent} {
		name := "config_dump/" + p.Namespace + "." + p.Name + ".json"
		if got, want := read(t, dir, name), fmt.Sprintf(`{"configs":[],"pod":%q}`, p.Name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := strings.Join(fw.calls, ","); got != IstioNamespace+"/"+gateway.Name+":15000,debug-echo/"+agent.Name+":15000" {
		t.Errorf("port-forwards %s, want the gateway's and the agent's admin ports", got)
	}
	if got := read(t, dir, "istioctl-proxy-status.txt"); !strings.Contains(got, "istio-ingressgateway  Kubernetes  istiod  1.31.1") {
		t.Errorf("istioctl-proxy-status.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "someone-else")); err == nil || other == nil {
		t.Errorf("a namespace meshcheck does not manage is in the bundle")
	}
}
