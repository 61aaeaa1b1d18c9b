package kube

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func node(name string, ready bool) *corev1.Node {
	status, reason := corev1.ConditionFalse, "KubeletNotReady"
	if ready {
		status, reason = corev1.ConditionTrue, "KubeletReady"
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason}}},
	}
}

func TestWaitNodesBecomesReady(t *testing.T) {
	client := fake.NewClientset(node("n1", false))
	listed := make(chan struct{}, 1)
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case listed <- struct{}{}:
		default:
		}
		return false, nil, nil
	})
	done := make(chan error, 1)
	go func() { done <- WaitNodes(t.Context(), client, 1, Wait{Timeout: time.Minute, Poll: time.Millisecond}) }()
	<-listed
	if _, err := client.CoreV1().Nodes().UpdateStatus(t.Context(), node("n1", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitNodesTimesOut(t *testing.T) {
	err := WaitNodes(t.Context(), fake.NewClientset(node("n1", false)), 1, Wait{Timeout: 50 * time.Millisecond, Poll: time.Millisecond})
	if !IsNotReady(err) || !strings.Contains(err.Error(), "n1: Ready=False (KubeletNotReady)") {
		t.Errorf("WaitNodes with a NotReady node = %v", err)
	}
	err = WaitNodes(t.Context(), fake.NewClientset(), 1, Wait{Timeout: 50 * time.Millisecond, Poll: time.Millisecond})
	if !IsNotReady(err) || !strings.Contains(err.Error(), "0 of 1 nodes registered") {
		t.Errorf("WaitNodes with no node = %v", err)
	}
}

func TestWaitDeploymentsNoneIsReady(t *testing.T) {
	if err := WaitDeployments(t.Context(), fake.NewClientset(), nil, Wait{}); err != nil {
		t.Errorf("WaitDeployments of nothing = %v", err)
	}
}

// TestReplaceImages replaces the images named, in containers and init
// containers of every kind with a pod spec, on copies.
func TestReplaceImages(t *testing.T) {
	s := loadScenario(t, "testdata/shift")
	ch, err := StepChange(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	var from string
	for _, o := range ch.Apply {
		if o.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			from = cs[0].(map[string]any)["image"].(string)
		}
	}
	got, err := ch.ReplaceImages(map[string]string{from: "reg.example/app@sha256:00"})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range got.Apply {
		if o.GetKind() != "Deployment" {
			if o != ch.Apply[i] {
				t.Errorf("%s copied although it has no pod spec", refOf(o))
			}
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if img := cs[0].(map[string]any)["image"]; img != "reg.example/app@sha256:00" {
			t.Errorf("%s image %v", refOf(o), img)
		}
		orig, _, _ := unstructured.NestedSlice(ch.Apply[i].Object, "spec", "template", "spec", "containers")
		if orig[0].(map[string]any)["image"] != from {
			t.Errorf("%s: the original object was changed", refOf(o))
		}
	}
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
		"spec": map[string]any{"initContainers": []any{map[string]any{"name": "i", "image": "a:1"}}, "containers": []any{map[string]any{"name": "c", "image": "b:1"}}}}}
	got, err = Change{Apply: []*unstructured.Unstructured{pod}}.ReplaceImages(map[string]string{"a:1": "A", "b:1": "B"})
	if err != nil {
		t.Fatal(err)
	}
	ic, _, _ := unstructured.NestedSlice(got.Apply[0].Object, "spec", "initContainers")
	cs, _, _ := unstructured.NestedSlice(got.Apply[0].Object, "spec", "containers")
	if ic[0].(map[string]any)["image"] != "A" || cs[0].(map[string]any)["image"] != "B" {
		t.Errorf("pod images %v %v", ic, cs)
	}
}

// TestReplaceImagesKnativeService: a Knative Service's revision template
// gets the replacement (--image-registry on --env existing), a core
// Service is left alone, and a Deployment kind of another API group is
// not taken for a workload.
func TestReplaceImagesKnativeService(t *testing.T) {
	containers := func() map[string]any {
		return map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": "meshcheck.local/fixture:v0.1.0"}}}}}
	}
	ksvc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "hello-v1", "namespace": "hello"}, "spec": containers()}}
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "hello-app-service"}, "spec": map[string]any{"ports": []any{}}}}
	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "x"}, "spec": containers()}}
	got, err := Change{Apply: []*unstructured.Unstructured{ksvc, svc, other}}.ReplaceImages(map[string]string{"meshcheck.local/fixture:v0.1.0": "reg.example/fixture:v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	image := func(u *unstructured.Unstructured) any {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		return cs[0].(map[string]any)["image"]
	}
	if img := image(got.Apply[0]); img != "reg.example/fixture:v0.1.0" {
		t.Errorf("Knative Service image %v, want the replacement", img)
	}
	if image(ksvc) != "meshcheck.local/fixture:v0.1.0" {
		t.Error("the original Knative Service was changed")
	}
	if got.Apply[1] != svc {
		t.Error("the core Service was copied although it has no pod spec")
	}
	if got.Apply[2] != other {
		t.Errorf("example.com Deployment rewritten: image %v", image(got.Apply[2]))
	}
}
