//go:build apiserver

package apiservertest

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// TestStartServesIstioCRDs checks that the server is up and serves every
// Istio kind meshcheck's scenarios use.
func TestStartServesIstioCRDs(t *testing.T) {
	s := Start(t)
	ctx := t.Context()
	if _, err := s.Kube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default namespace: %v", err)
	}
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
		{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
		{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
		{Group: "networking.istio.io", Version: "v1alpha3", Resource: "virtualservices"},
		{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
	} {
		if _, err := s.Dynamic.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("list %s: %v", gvr, err)
		}
	}
}

// TestRunWorkloads checks the simulated controllers: a Deployment gets its
// ready pods (with a sidecar in an injected namespace) and becomes
// available, and a template change replaces the pods.
func TestRunWorkloads(t *testing.T) {
	s := Start(t)
	s.RunWorkloads(t)
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sim", Labels: map[string]string{"istio-injection": "enabled"}}}
	if _, err := s.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "a", "version": "v1"}
	two := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "sim"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
			},
		},
	}
	if _, err := s.Kube.AppsV1().Deployments("sim").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitPods(t, s, "sim", "app=a", 2, func(p *corev1.Pod) bool { return p.Labels["version"] == "v1" })
	for _, p := range pods {
		if len(p.Spec.Containers) != 2 || p.Spec.Containers[1].Name != SidecarName {
			t.Errorf("pod %s containers = %v, want app and %s", p.Name, p.Spec.Containers, SidecarName)
		}
	}
	// The simulated controller writes the status meanwhile: retry on
	// conflicts, as any client would.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := s.Kube.AppsV1().Deployments("sim").Get(ctx, "a", metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Spec.Template.Labels["version"] = "v2"
		_, err = s.Kube.AppsV1().Deployments("sim").Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitPods(t, s, "sim", "app=a", 2, func(p *corev1.Pod) bool { return p.Labels["version"] == "v2" })
}

// waitPods waits until the selector matches exactly n ready pods, all
// satisfying ok, and returns them.
func waitPods(t *testing.T, s *Server, ns, selector string, n int, ok func(*corev1.Pod) bool) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := s.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		if len(list.Items) != n {
			return false, nil
		}
		for i := range list.Items {
			if !ok(&list.Items[i]) || !podReady(&list.Items[i]) {
				return false, nil
			}
		}
		pods = list.Items
		return true, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d ready pods %s in %s: %v", n, selector, ns, err)
	}
	return pods
}
