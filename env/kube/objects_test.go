package kube

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestToUnstructured: the typed objects come out with their kind and
// fields, and without status or the zero creation timestamps, which a
// server-side apply would otherwise send as fields meshcheck owns.
func TestToUnstructured(t *testing.T) {
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "registry", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "registry"}},
		}},
	}
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: "registry"}}
	out, err := ToUnstructured(dep, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].GetKind() != "Deployment" || out[1].GetKind() != "Service" || out[0].GetName() != "registry" {
		t.Fatalf("objects: %v", out)
	}
	for _, u := range out {
		if _, ok := u.Object["status"]; ok {
			t.Errorf("%s keeps status: %v", u.GetKind(), u.Object["status"])
		}
		if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "creationTimestamp"); ok {
			t.Errorf("%s keeps metadata.creationTimestamp", u.GetKind())
		}
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(out[0].Object, "spec", "template", "metadata", "creationTimestamp"); ok {
		t.Error("the Deployment keeps its pod template's creationTimestamp")
	}
	if l, _, _ := unstructured.NestedString(out[0].Object, "spec", "template", "metadata", "labels", "app"); l != "registry" {
		t.Errorf("the pod template lost its labels: %q", l)
	}
}
