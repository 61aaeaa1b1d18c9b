//go:build apiserver

package openfaas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

var peerAuthentication = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1beta1", Resource: "peerauthentications"}

func TestInstallAppliesRenderedChart(t *testing.T) {
	s := apiservertest.Start(t)
	s.RunWorkloads(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := kube.NewClient(s.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, pin := testPin(t, "https://charts.example/")

	// A tampered archive is refused before anything is applied.
	bad := filepath.Join(t.TempDir(), "openfaas.tgz")
	if err := os.WriteFile(bad, append(append([]byte(nil), data...), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	var de *DigestError
	if _, err := (Fetcher{Pin: pin, Local: bad}).Fetch(ctx); !errors.As(err, &de) {
		t.Fatalf("Fetch(tampered) = %v, want a *DigestError", err)
	}
	if _, err := s.Kube.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace %s after a refused archive: %v, want none", Namespace, err)
	}

	good := filepath.Join(t.TempDir(), "openfaas.tgz")
	if err := os.WriteFile(good, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err := Fetcher{Pin: pin, Local: good}.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// istio.mtls=true, unlike Values(), so that the tier applies the
	// chart's PeerAuthentications (Istio's CRDs are served here) too.
	vals := Values()
	vals["istio"] = map[string]any{"mtls": true}
	r, err := Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	opts := InstallOptions{ReadyTimeout: time.Minute, PollInterval: 20 * time.Millisecond}
	if err := Install(ctx, c, r, opts); err != nil {
		t.Fatalf("Install = %v", err)
	}

	for _, ns := range []string{Namespace, FunctionNamespace} {
		got, err := s.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Labels[kube.LabelInjection] != "enabled" || got.Labels[kube.LabelScenario] != InstallLabel {
			t.Errorf("namespace %s labels = %v, want istio-injection=enabled and %s=%s", ns, got.Labels, kube.LabelScenario, InstallLabel)
		}
		pa, err := s.Dynamic.Resource(peerAuthentication).Namespace(ns).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("PeerAuthentication %s/default (istio.mtls=true): %v", ns, err)
		}
		if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "STRICT" {
			t.Errorf("PeerAuthentication %s/default mode = %q, want STRICT", ns, mode)
		}
	}
	dep, err := s.Kube.AppsV1().Deployments(Namespace).Get(ctx, GatewayDeployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["direct_functions"] != "true" || env["pro"] != "false" {
		t.Errorf("gateway env = %v, want direct_functions=true (gateway.directFunctions) and pro=false (openfaasPro)", env)
	}
	if _, err := s.Kube.CoreV1().Services(Namespace).Get(ctx, GatewayDeployment, metav1.GetOptions{}); err != nil {
		t.Errorf("Service %s/gateway: %v", Namespace, err)
	}
	user, pw, err := BasicAuth(ctx, s.Kube)
	if err != nil || user != "admin" || len(pw) != 32 {
		t.Fatalf("BasicAuth = %q, %d chars, %v; want admin and the chart's 32-character password", user, len(pw), err)
	}
	pod, err := GatewayPod(ctx, s.Kube)
	if err != nil {
		t.Fatalf("GatewayPod = %v", err)
	}

	// Installing again changes nothing: above all the hook's random
	// password stays what the running gateway read.
	r2, err := Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	if err := Install(ctx, c, r2, opts); err != nil {
		t.Fatalf("second Install = %v", err)
	}
	if _, pw2, err := BasicAuth(ctx, s.Kube); err != nil || pw2 != pw {
		t.Errorf("password after a second Install changed (%v)", err)
	}
	dep2, err := s.Kube.AppsV1().Deployments(Namespace).Get(ctx, GatewayDeployment, metav1.GetOptions{})
	if err != nil || dep2.Generation != dep.Generation {
		t.Errorf("gateway Deployment changed by a second Install (generation %d -> %d, %v)", dep.Generation, dep2.Generation, err)
	}
	if pod2, err := GatewayPod(ctx, s.Kube); err != nil || pod2 != pod {
		t.Errorf("gateway pod after a second Install = %s, %v; want %s", pod2, err, pod)
	}
}
