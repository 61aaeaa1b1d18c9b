package istio

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshcheck/meshcheck/env/kind/kwait"
)

// WaitDeployments waits, watching the API server, until every named
// Deployment in namespace is available: its controller observed the latest
// spec, all replicas are updated and ready, and the Available condition is
// True. After timeout it fails naming each Deployment that is not and why.
func WaitDeployments(ctx context.Context, client kubernetes.Interface, namespace string, names []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deployments := client.AppsV1().Deployments(namespace)
	src := kwait.ListWatch(deployments.List, deployments.Watch)
	var pending []string
	err := kwait.Until(ctx, src, func(objs kwait.Objects) bool {
		pending = pending[:0]
		for _, n := range names {
			obj, ok := objs[namespace+"/"+n]
			if !ok {
				pending = append(pending, fmt.Sprintf("%s/%s: not found", namespace, n))
				continue
			}
			if why := deploymentNotReady(obj.(*appsv1.Deployment)); why != "" {
				pending = append(pending, fmt.Sprintf("%s/%s: %s", namespace, n, why))
			}
		}
		return len(pending) == 0
	})
	if err == nil {
		return nil
	}
	if len(pending) == 0 {
		return fmt.Errorf("waiting for Deployments %s in %s: %w", strings.Join(names, ", "), namespace, err)
	}
	sort.Strings(pending)
	return fmt.Errorf("istio Deployments not available after %s: %s: %w", timeout, strings.Join(pending, "; "), err)
}

// deploymentNotReady says why d is not available, or "" when it is.
func deploymentNotReady(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.ObservedGeneration < d.Generation {
		return "spec change not yet observed"
	}
	if d.Status.UpdatedReplicas < want || d.Status.ReadyReplicas < want {
		return fmt.Sprintf("%d/%d replicas updated, %d ready", d.Status.UpdatedReplicas, want, d.Status.ReadyReplicas)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			if c.Status == corev1.ConditionTrue {
				return ""
			}
			return fmt.Sprintf("Available=%s (%s)", c.Status, c.Reason)
		}
	}
	return "no Available condition yet"
}
