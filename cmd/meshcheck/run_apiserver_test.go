//go:build apiserver

package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/scenario"
)

// meshcheckResources are the resources the echo scenario and meshcheck's
// own objects use.
var meshcheckResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "namespaces"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
	{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
	{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
}

// seen is what watches saw of the objects labelled managed-by=meshcheck.
type seen struct {
	mu      sync.Mutex
	labels  map[string]map[string]string // "Kind ns/name" -> labels when first seen
	deleted map[string]bool              // deleted, or (namespaces) terminating
	changed chan struct{}
}

func (s *seen) record(ev watch.Event) {
	u, ok := ev.Object.(*unstructured.Unstructured)
	if !ok {
		return
	}
	key := u.GetKind() + " " + u.GetName()
	if u.GetNamespace() != "" {
		key = u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.labels[key]; !ok {
		s.labels[key] = u.GetLabels()
	}
	if ev.Type == watch.Deleted || u.GetDeletionTimestamp() != nil {
		s.deleted[key] = true
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// allDeleted reports whether every object seen is deleted, and lists those
// that are not.
func (s *seen) allDeleted() (bool, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var left []string
	for k := range s.labels {
		if !s.deleted[k] {
			left = append(left, k)
		}
	}
	slices.Sort(left)
	return len(left) == 0, left
}

// watchMeshcheck watches every object labelled managed-by=meshcheck until
// the test ends.
func watchMeshcheck(t *testing.T, srv *apiservertest.Server) *seen {
	t.Helper()
	s := &seen{labels: map[string]map[string]string{}, deleted: map[string]bool{}, changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for _, gvr := range meshcheckResources {
		w, err := srv.Dynamic.Resource(gvr).Watch(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedBy})
		if err != nil {
			t.Fatalf("watch %s: %v", gvr.Resource, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Stop()
			for {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					s.record(ev)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return s
}

// errorLine returns the one "meshcheck: " line of stderr (the rest is the
// log).
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "meshcheck: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one error line, got %q in:\n%s", lines, stderr)
	}
	return lines[0]
}

// TestRunExistingOnAPIServer runs `meshcheck run --env existing` against a
// real API server. Without istiod it exits 4 saying Istio is required.
// With an istiod made available through the API it applies the scenario's
// objects with meshcheck's labels; then the ingress probe finds no ingress
// gateway, the run fails with an environment error naming it, and
// everything meshcheck created is deleted. The kubeconfig is only read.
func TestRunExistingOnAPIServer(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := t.Context()
	kc := srv.KubeconfigFingerprint(t)
	args := []string{"run", "../../scenarios/echo", "--env", "existing", "--kubeconfig", srv.Kubeconfig,
		"--readiness-timeout", "1m", "--programmed-timeout", "10s"}

	code, out, errOut := runExec(t, args...)
	line := errorLine(t, errOut)
	if code != ExitEnvironment || out != "" || !strings.Contains(line, "no working Istio") || !strings.Contains(line, "istiod") {
		t.Fatalf("without Istio: exit %d, stdout %q, error %q; want 4 saying Istio is required", code, out, line)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Get(ctx, "echo", metav1.GetOptions{}); err == nil {
		t.Error("namespace echo created on a cluster without Istio")
	}

	// istiod, made available through the API; the simulated controllers
	// then run the scenario's Deployments.
	if _, err := srv.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l := map[string]string{"app": "istiod"}
	istiod, err := srv.Kube.AppsV1().Deployments("istio-system").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: "istio-system", Labels: l},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.31.0"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apiservertest.MarkDeploymentAvailable(ctx, srv.Kube, istiod); err != nil {
		t.Fatal(err)
	}
	srv.RunWorkloads(t)
	s, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	setup, step := kube.SetupChange(s), mustStep(t, s, 0)
	for _, o := range append(setup.Apply, step.Apply...) {
		want = append(want, refKey(o))
	}
	slices.Sort(want)
	watched := watchMeshcheck(t, srv)

	code, out, errOut = runExec(t, args...)
	line = errorLine(t, errOut)
	if code != ExitEnvironment || !strings.Contains(line, "probe ingress") || !strings.Contains(line, "ingress gateway") || strings.Contains(line, "Istio is") {
		t.Errorf("with istiod: exit %d, error %q; want 4 naming the ingress gateway the probe cannot reach\nstderr:\n%s", code, line, errOut)
	}
	// stdout has the run's summary (no probe ran) and its error, nothing else.
	if !strings.HasPrefix(out, "summary      INCONCLUSIVE: 0 probes") || !strings.Contains(out, "error        environment error: scenario echo") || strings.Count(out, "\n") != 2 {
		t.Errorf("stdout %q: want only the summary of a run in which no probe ran, and its error", out)
	}
	t.Logf("the run's error: %s", line)

	// Everything meshcheck applied was there with its labels, and is gone.
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for done, left := watched.allDeleted(); !done; done, left = watched.allDeleted() {
		select {
		case <-watched.changed:
		case <-deadline.C:
			t.Fatalf("still not deleted after the run: %q", left)
		}
	}
	watched.mu.Lock()
	var got []string
	for k, labels := range watched.labels {
		got = append(got, k)
		if labels[kube.LabelManagedBy] != kube.ManagedBy || labels[kube.LabelScenario] != "echo" {
			t.Errorf("%s had labels %v, want meshcheck's for scenario echo", k, labels)
		}
	}
	watched.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("meshcheck created\n %q\nwant the scenario's objects\n %q", got, want)
	}
	for _, gvr := range meshcheckResources {
		list, err := srv.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedBy})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			if o.GetDeletionTimestamp() == nil {
				t.Errorf("%s %s/%s left after the run", o.GetKind(), o.GetNamespace(), o.GetName())
			}
		}
	}
	if _, err := srv.Kube.AppsV1().Deployments("istio-system").Get(ctx, "istiod", metav1.GetOptions{}); err != nil {
		t.Errorf("istiod, which meshcheck did not create, is gone: %v", err)
	}
	if got := srv.KubeconfigFingerprint(t); got != kc {
		t.Errorf("the kubeconfig changed: %s -> %s", kc, got)
	}
}

func mustStep(t *testing.T, s *scenario.Scenario, step int) kube.Change {
	t.Helper()
	ch, err := kube.StepChange(s, step)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func refKey(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}
