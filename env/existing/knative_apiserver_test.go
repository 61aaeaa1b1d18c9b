//go:build apiserver

package existing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/knative"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/scenario"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// knativeServiceCRD is a minimal services.serving.knative.dev: enough for
// the API to serve the kind.
func knativeServiceCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "services.serving.knative.dev"},
		"spec": map[string]any{
			"group": "serving.knative.dev",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "services", "singular": "service", "kind": "Service", "listKind": "ServiceList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
}

// TestKnativeBackend: scenarios/hello-knative on a cluster without the
// CRD services.serving.knative.dev is skipped (env.ErrBackendUnavailable
// naming the CRD) having created nothing; with the CRD served, Setup
// creates the scenario's namespace.
func TestKnativeBackend(t *testing.T) {
	srv := apiservertest.Start(t)
	srv.RunWorkloads(t)
	installIstio(t, srv)
	ctx := t.Context()
	waitAvailable(t, srv, "istiod")
	s, _, err := scenario.Load("../../scenarios/hello-knative")
	if err != nil {
		t.Fatal(err)
	}
	e, err := connect(ctx, WithKubeconfig(srv.Kubeconfig),
		WithPropagator(kube.PropagatorFunc(func(_ context.Context, _ kube.Phase, _ []kube.Ref) error { return nil })),
		WithReadyTimeout(30*time.Second), WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = e.Setup(ctx, s)
	if !errors.Is(err, env.ErrBackendUnavailable) || !strings.Contains(err.Error(), "backend knative is not available in environment existing: Knative Serving is not installed: the API serves no services in serving.knative.dev/v1") ||
		!strings.Contains(err.Error(), "no CRD services.serving.knative.dev") {
		t.Fatalf("Setup without Knative = %v, want env.ErrBackendUnavailable naming the CRD", err)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Get(ctx, "hello", metav1.GetOptions{}); err == nil {
		t.Error("a skipped Setup created namespace hello")
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatalf("Teardown after a skipped Setup = %v", err)
	}

	if _, err := srv.Dynamic.Resource(crdResource).Create(ctx, knativeServiceCRD(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := knative.WaitServed(ctx, srv.Kube.Discovery(), knative.InstallOptions{ReadyTimeout: 30 * time.Second, PollInterval: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatalf("Setup with the CRD = %v", err)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Errorf("Setup with the CRD did not create namespace hello: %v", err)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
}
