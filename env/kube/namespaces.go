package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// NamespaceObject returns the Namespace name as meshcheck applies it:
// labelled istio-injection=enabled when inject is true.
func NamespaceObject(name string, inject bool) *unstructured.Unstructured {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	if inject {
		ns.SetLabels(map[string]string{LabelInjection: "enabled"})
	}
	return ns
}

// ensureNamespace creates or updates a Namespace of meshcheck's. A
// namespace that exists and is not this scenario's is used as it is, never
// changed (and never deleted by Cleanup), provided it has sidecar injection
// when obj asks for it. A namespace still terminating from an earlier run is
// waited for. It reports whether anything changed.
func (d *Deployer) ensureNamespace(ctx context.Context, obj *unstructured.Unstructured) (bool, error) {
	name := obj.GetName()
	inject := obj.GetLabels()[LabelInjection] == "enabled"
	live, err := d.c.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil && live.DeletionTimestamp != nil {
		if live.Labels[LabelManagedBy] != ManagedBy {
			return false, fmt.Errorf("namespace %s is being deleted by someone else: wait for it to go or pick another namespace", name)
		}
		if err := d.waitNamespaceGone(ctx, name); err != nil {
			return false, err
		}
		live, err = nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
	}
	switch {
	case apierrors.IsNotFound(err):
		return d.apply(ctx, obj)
	case err != nil:
		return false, fmt.Errorf("read namespace %s: %w", name, err)
	}
	if ownedBy(refOf(obj), live.Labels, d.scenario) == nil {
		return d.apply(ctx, obj)
	}
	if inject && !injectionEnabled(live.Labels) {
		return false, fmt.Errorf("namespace %s exists without sidecar injection and meshcheck did not create it, so it will not change it: "+
			"label it yourself (kubectl label namespace %s %s=enabled), or delete it and let meshcheck create it", name, name, LabelInjection)
	}
	d.log.Info("using existing namespace as it is", "namespace", name)
	return false, nil
}

// waitNamespaceGone waits, within the ready timeout, for a namespace of
// meshcheck's that an earlier run deleted to disappear.
func (d *Deployer) waitNamespaceGone(ctx context.Context, name string) error {
	d.log.Info("waiting for namespace from an earlier run to finish terminating", "namespace", name)
	err := wait.PollUntilContextTimeout(ctx, d.poll, d.readyTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := d.c.Kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("namespace %s from an earlier run is still terminating after %s: %w", name, d.readyTimeout, err)
	}
	return nil
}

// injectionEnabled reports whether namespace labels turn on Istio's sidecar
// injection: istio-injection=enabled, or an istio.io/rev revision label
// without istio-injection=disabled.
func injectionEnabled(labels map[string]string) bool {
	switch labels[LabelInjection] {
	case "enabled":
		return true
	case "disabled":
		return false
	}
	return labels[labelRevision] != ""
}
