package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// SidecarName is the container name of Istio's sidecar proxy.
const SidecarName = "istio-proxy"

// WaitReady waits, within the ready timeout, until every Deployment in refs
// is rolled out and available (as `kubectl rollout status` judges) and each
// has spec.replicas ready pods of its own, every one with an istio-proxy
// sidecar when its namespace has injection. A pod that should have a sidecar
// and has none fails at once: waiting cannot add it.
func (d *Deployer) WaitReady(ctx context.Context, refs []Ref) error {
	if len(refs) == 0 {
		return nil
	}
	pending := map[Ref]string{}
	for _, r := range refs {
		pending[r] = "not checked yet"
	}
	var fatal error
	err := wait.PollUntilContextTimeout(ctx, d.poll, d.readyTimeout, true, func(ctx context.Context) (bool, error) {
		for r := range pending {
			st, err := d.deploymentReady(ctx, r)
			if err != nil {
				fatal = err
				return false, err
			}
			switch {
			case st.ready:
				delete(pending, r)
				d.log.Info("ready", "object", r.String())
			case st.transient && pending[r] != "not checked yet":
				// Keep the last real reason: a failed call near the
				// deadline says nothing about the Deployment.
			default:
				pending[r] = st.why
			}
		}
		return len(pending) == 0, nil
	})
	if fatal != nil {
		return fatal
	}
	if err != nil {
		var lines []string
		for r, why := range pending {
			lines = append(lines, r.String()+": "+why)
		}
		slices.Sort(lines)
		return fmt.Errorf("%w after %s: %s: %w", errNotReady, d.readyTimeout, strings.Join(lines, "; "), err)
	}
	return nil
}

// errNotReady is wrapped by wait errors that ran out of time.
var errNotReady = errors.New("not ready")

// IsNotReady reports whether err is a wait that ran out of time.
func IsNotReady(err error) bool { return errors.Is(err, errNotReady) }

// readiness is one check of a Deployment.
type readiness struct {
	ready bool
	// why it is not ready yet
	why string
	// transient is set when an API call failed: the check said nothing.
	transient bool
}

// deploymentReady checks one Deployment. It returns why it is not ready
// yet, or an error when waiting cannot help. A failed API call is a reason
// to keep waiting (the server may be busy), reported if time runs out.
func (d *Deployer) deploymentReady(ctx context.Context, r Ref) (readiness, error) {
	dep, err := d.c.Kube.AppsV1().Deployments(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	if err != nil {
		return readiness{why: "read the Deployment: " + err.Error(), transient: true}, nil
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	st := dep.Status
	if st.ObservedGeneration < dep.Generation {
		return readiness{why: "the Deployment controller has not observed the latest spec"}, nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return readiness{}, fmt.Errorf("%s exceeded its progress deadline: %s", r, c.Message)
		}
	}
	switch {
	case st.UpdatedReplicas < want:
		return readiness{why: fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, want)}, nil
	case st.Replicas > st.UpdatedReplicas:
		return readiness{why: fmt.Sprintf("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas)}, nil
	case st.AvailableReplicas < want:
		return readiness{why: fmt.Sprintf("%d of %d replicas available", st.AvailableReplicas, want)}, nil
	}
	if !available(dep) {
		return readiness{why: "condition Available is not True"}, nil
	}
	if want == 0 {
		return readiness{ready: true}, nil
	}
	return d.podsReady(ctx, dep, want)
}

func available(dep *appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podsReady checks that the Deployment has want ready pods, with sidecars
// when its namespace injects them.
func (d *Deployer) podsReady(ctx context.Context, dep *appsv1.Deployment, want int32) (readiness, error) {
	ref := Ref{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Namespace: dep.Namespace, Name: dep.Name}
	ns, err := d.c.Kube.CoreV1().Namespaces().Get(ctx, dep.Namespace, metav1.GetOptions{})
	if err != nil {
		return readiness{why: "read its namespace: " + err.Error(), transient: true}, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return readiness{}, fmt.Errorf("wait for %s: spec.selector: %w", ref, err)
	}
	pods, err := d.c.Kube.CoreV1().Pods(dep.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return readiness{why: "list its pods: " + err.Error(), transient: true}, nil
	}
	var ready int32
	var why []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if InjectionEnabled(ns.Labels) && p.Labels[InjectOverride] != "false" && p.Annotations[InjectOverride] != "false" && !HasSidecar(p) {
			return readiness{}, fmt.Errorf("pod %s/%s of %s has no %s container although namespace %s has sidecar injection: is istiod's injector running, and was the namespace labelled before the pod was created?",
				p.Namespace, p.Name, ref, SidecarName, dep.Namespace)
		}
		if PodReady(p) {
			ready++
			continue
		}
		why = append(why, podWhy(p))
	}
	if ready < want {
		msg := fmt.Sprintf("%d of %d pods ready", ready, want)
		if len(why) > 0 {
			msg += " (" + strings.Join(why, "; ") + ")"
		}
		return readiness{why: msg}, nil
	}
	return readiness{ready: true}, nil
}

// HasSidecar reports whether the pod has Istio's proxy, as a container or
// as a native sidecar (an init container that keeps running).
func HasSidecar(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == SidecarName {
			return true
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == SidecarName && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return true
		}
	}
	return false
}

// PodReady reports whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podWhy says in a few words why a pod is not ready.
func podWhy(p *corev1.Pod) string {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("pod %s: container %s %s", p.Name, cs.Name, w.Reason)
		}
		if !cs.Ready && cs.State.Running != nil {
			return fmt.Sprintf("pod %s: container %s running, not ready", p.Name, cs.Name)
		}
	}
	if p.Status.Phase == "" {
		return fmt.Sprintf("pod %s: no status yet", p.Name)
	}
	return fmt.Sprintf("pod %s: %s", p.Name, p.Status.Phase)
}
