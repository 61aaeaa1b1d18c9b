//go:build apiserver

package kind

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	ksapi "github.com/meshcheck/meshcheck/backend/knative"
	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/knative"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestKnativeScenarioOnKind: on kind with --knative-manifests, the first
// scenario with backend knative installs the release files (labelled as
// the backend's, config-network set to net-istio's ingress class) after
// Istio, timed as the phase knative, before its namespaces are set up;
// its Knative Services are applied as objects of the scenario; a second
// scenario installs nothing again. Without --knative-manifests the
// scenario is skipped (env.ErrBackendUnavailable) naming the flag.
func TestKnativeScenarioOnKind(t *testing.T) {
	w, srv := apiserverWorld(t)
	ctx := t.Context()
	noWait := func(c *config) {
		c.existing = append(c.existing,
			existing.WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })),
			existing.WithPollInterval(20*time.Millisecond))
	}
	s, _, err := scenario.Load("../../scenarios/hello-knative")
	if err != nil {
		t.Fatal(err)
	}

	e, err := open(t, w.realDeps(), WithStateDir(t.TempDir()), WithReadyTimeout(30*time.Second), WithKeep(true), WithLogger(discard()), noWait,
		WithKnativeManifests(writeKnativeRelease(t)))
	if err != nil {
		t.Fatalf("Open: %v\nlogs:\n%s", err, w.logs)
	}
	// As without --knative-manifests.
	m := e.knative
	e.knative = nil
	err = e.Setup(ctx, s)
	if !errors.Is(err, env.ErrBackendUnavailable) || !strings.Contains(err.Error(), "backend knative is not available in environment kind: no --knative-manifests DIR") {
		t.Fatalf("Setup without --knative-manifests = %v, want env.ErrBackendUnavailable naming the flag", err)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Get(ctx, knative.Namespace, metav1.GetOptions{}); err == nil {
		t.Fatal("a skipped Setup created namespace knative-serving")
	}
	e.knative = m
	if err := e.Setup(ctx, s); err != nil {
		t.Fatalf("Setup = %v", err)
	}
	if err := knative.CheckInstalled(srv.Kube.Discovery()); err != nil {
		t.Errorf("after Setup: %v", err)
	}
	cm, err := srv.Kube.CoreV1().ConfigMaps(knative.Namespace).Get(ctx, knative.ConfigNetwork, metav1.GetOptions{})
	if err != nil || cm.Data[knative.KeyIngressClass] != knative.IngressClassIstio || cm.Labels[kube.LabelScenario] != knative.InstallLabel {
		t.Errorf("config-network: %v, data %v, labels %v", err, cm.Data, cm.Labels)
	}
	// No Knative controller runs here: the stand-in marks each Knative
	// Service Ready once it is applied, as the controller would.
	stop := markKnativeReady(t, srv.Dynamic, "hello")
	if err := e.Apply(ctx, s, 0); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	stop()
	ks, err := srv.Dynamic.Resource(ksapi.GroupVersionResource).Namespace("hello").Get(ctx, "hello-v1", metav1.GetOptions{})
	if err != nil || ks.GetLabels()[kube.LabelScenario] != "hello-knative" {
		t.Fatalf("Knative Service hello/hello-v1: %v, %v", err, ks)
	}
	var phases []string
	for _, tm := range e.Timings() {
		phases = append(phases, tm.Phase)
	}
	if i := slices.Index(phases, phaseIstio); i < 0 || slices.Index(phases, phaseKnative) < i {
		t.Errorf("phases %v lack %s, then %s", phases, phaseIstio, phaseKnative)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Kube.CoreV1().ConfigMaps(knative.Namespace).Get(ctx, knative.ConfigNetwork, metav1.GetOptions{}); err != nil {
		t.Errorf("the scenario's teardown removed the install's config-network: %v", err)
	}

	finishScenarioNamespaces(t, srv.Kube, s)
	s2 := *s
	s2.Metadata.Name = "hello-knative-again"
	if err := e.Setup(ctx, &s2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tm := range e.Timings() {
		if tm.Phase == phaseKnative {
			n++
		}
	}
	if n != 1 {
		t.Errorf("phase %s timed %d times, want once", phaseKnative, n)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
}

// finishScenarioNamespaces does what the namespace controller, which the
// test server lacks, does with a deleted namespace: it deletes the pods
// left in the scenario's namespaces and finalizes them, so that a later
// scenario with the same ones starts from empty namespaces.
func finishScenarioNamespaces(t *testing.T, kc kubernetes.Interface, s *scenario.Scenario) {
	t.Helper()
	for _, n := range s.Namespaces {
		if err := kc.CoreV1().Pods(n.Name).DeleteCollection(t.Context(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatalf("delete the pods of namespace %s: %v", n.Name, err)
		}
		ns, err := kc.CoreV1().Namespaces().Get(t.Context(), n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ns.Spec.Finalizers = nil
		if _, err := kc.CoreV1().Namespaces().Finalize(t.Context(), ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("finalize namespace %s: %v", n.Name, err)
		}
	}
}

// markKnativeReady watches the Knative Services of namespace ns and sets
// each one's status Ready (observedGeneration its generation), as Knative's
// controller would; the returned func stops it and waits for it.
func markKnativeReady(t *testing.T, dyn dynamic.Interface, ns string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	res := dyn.Resource(ksapi.GroupVersionResource).Namespace(ns)
	w, err := res.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if ready, _ := knative.ServiceReady(u); ready {
				continue
			}
			u.Object["status"] = map[string]any{
				"observedGeneration": u.GetGeneration(),
				"conditions":         []any{map[string]any{"type": "Ready", "status": "True"}},
			}
			// A conflict is a newer version, whose own event follows.
			if _, err := res.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
				t.Errorf("mark Knative Service %s/%s ready: %v", ns, u.GetName(), err)
			}
		}
	}()
	return func() {
		cancel()
		w.Stop()
		<-done
	}
}
