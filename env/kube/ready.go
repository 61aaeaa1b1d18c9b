package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// SidecarName is the container name of Istio's sidecar proxy.
const SidecarName = "istio-proxy"

// Wait bounds one wait for readiness.
type Wait struct {
	// Timeout bounds the whole wait; 0 means DefaultReadyTimeout.
	Timeout time.Duration
	// Poll is how often the API is read; 0 means DefaultPollInterval.
	Poll time.Duration
	// Log receives a line per object that became ready; nil discards.
	Log *slog.Logger
}

func (w Wait) timeout() time.Duration {
	if w.Timeout <= 0 {
		return DefaultReadyTimeout
	}
	return w.Timeout
}

func (w Wait) poll() time.Duration {
	if w.Poll <= 0 {
		return DefaultPollInterval
	}
	return w.Poll
}

func (w Wait) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

// WaitReady waits, within the Deployer's ready timeout, until every
// Deployment in refs is ready by the rule of WaitDeployments.
func (d *Deployer) WaitReady(ctx context.Context, refs []Ref) error {
	return WaitDeployments(ctx, d.c.Kube, refs, Wait{Timeout: d.readyTimeout, Poll: d.poll, Log: d.log})
}

// WaitDeployments is meshcheck's one readiness rule for Deployments, used by
// every environment on a real cluster (the scenario's workloads, the in-mesh
// agent, and on kind istiod and the ingress gateway). It polls the API
// (k8s.io/apimachinery/pkg/util/wait) until every Deployment in refs is
// rolled out and available, as `kubectl rollout status` judges (the
// controller observed the latest spec, all replicas updated, no old ones
// left, spec.replicas available, condition Available True), and has
// spec.replicas ready pods of its own, every one with an istio-proxy sidecar
// when its namespace has injection. A pod that should have a sidecar and has
// none, and a Deployment past its progress deadline, fail at once: waiting
// cannot help. Running out of time is an error for which IsNotReady holds,
// naming each Deployment that is not ready and why.
func WaitDeployments(ctx context.Context, client kubernetes.Interface, refs []Ref, w Wait) error {
	if len(refs) == 0 {
		return nil
	}
	pending := map[Ref]string{}
	for _, r := range refs {
		pending[r] = "not checked yet"
	}
	log := w.log()
	var fatal error
	err := wait.PollUntilContextTimeout(ctx, w.poll(), w.timeout(), true, func(ctx context.Context) (bool, error) {
		for r := range pending {
			st, err := deploymentReady(ctx, client, r)
			if err != nil {
				fatal = err
				return false, err
			}
			switch {
			case st.ready:
				delete(pending, r)
				log.Info("ready", "object", r.String())
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
		return fmt.Errorf("%w after %s: %s: %w", errNotReady, w.timeout(), strings.Join(lines, "; "), err)
	}
	return nil
}

// DeploymentReady checks once, by the rule of WaitDeployments, whether the
// Deployment r is ready: "" when it is, else why not. err is set when
// waiting cannot help (a pod without its sidecar, a Deployment past its
// progress deadline).
func DeploymentReady(ctx context.Context, client kubernetes.Interface, r Ref) (why string, err error) {
	st, err := deploymentReady(ctx, client, r)
	if err != nil || st.ready {
		return "", err
	}
	return st.why, nil
}

// WaitNodes waits until want nodes are registered and every node's Ready
// condition is True, or fails after the timeout naming the nodes that are
// not (IsNotReady holds).
func WaitNodes(ctx context.Context, client kubernetes.Interface, want int, w Wait) error {
	var pending []string
	listed := false
	err := wait.PollUntilContextTimeout(ctx, w.poll(), w.timeout(), true, func(ctx context.Context) (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			// The API server of a new cluster may still be starting; a
			// failed call near the deadline says nothing about the nodes,
			// so an earlier real reason is kept.
			if !listed {
				pending = []string{"list nodes: " + err.Error()}
			}
			return false, nil
		}
		listed = true
		pending = pending[:0]
		for i := range nodes.Items {
			if why := nodeNotReady(&nodes.Items[i]); why != "" {
				pending = append(pending, nodes.Items[i].Name+": "+why)
			}
		}
		if len(nodes.Items) < want {
			pending = append(pending, fmt.Sprintf("%d of %d nodes registered", len(nodes.Items), want))
		}
		return len(pending) == 0, nil
	})
	if err == nil {
		return nil
	}
	slices.Sort(pending)
	return fmt.Errorf("%w after %s: nodes: %s: %w", errNotReady, w.timeout(), strings.Join(pending, "; "), err)
}

func nodeNotReady(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return ""
			}
			return fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason)
		}
	}
	return "no Ready condition yet"
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
func deploymentReady(ctx context.Context, client kubernetes.Interface, r Ref) (readiness, error) {
	dep, err := client.AppsV1().Deployments(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return readiness{why: "not found"}, nil
	}
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
	return podsReady(ctx, client, dep, want)
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
func podsReady(ctx context.Context, client kubernetes.Interface, dep *appsv1.Deployment, want int32) (readiness, error) {
	ref := Ref{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Namespace: dep.Namespace, Name: dep.Name}
	ns, err := client.CoreV1().Namespaces().Get(ctx, dep.Namespace, metav1.GetOptions{})
	if err != nil {
		return readiness{why: "read its namespace: " + err.Error(), transient: true}, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return readiness{}, fmt.Errorf("wait for %s: spec.selector: %w", ref, err)
	}
	pods, err := client.CoreV1().Pods(dep.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
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
		if injectionEnabled(ns.Labels) && p.Labels[injectOverride] != "false" && p.Annotations[injectOverride] != "false" && !hasSidecar(p) {
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

// hasSidecar reports whether the pod has Istio's proxy, as a container or
// as a native sidecar (an init container that keeps running).
func hasSidecar(p *corev1.Pod) bool {
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
