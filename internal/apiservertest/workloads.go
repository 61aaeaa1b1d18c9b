package apiservertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// SidecarName is the container name of Istio's sidecar proxy.
const SidecarName = "istio-proxy"

// sidecarImage stands for Istio's proxy image in simulated pods; nothing
// pulls it.
const sidecarImage = "docker.io/istio/proxyv2:1.31.1"

// templateHashLabel is the label the Deployment controller puts on the pods
// of one template revision; the simulation uses it the same way.
const templateHashLabel = "pod-template-hash"

// CreatePods creates n pods of Deployment d directly through the API, as its
// ReplicaSet would: the template's labels (plus pod-template-hash) and
// containers, and an istio-proxy sidecar container when sidecar is true. The
// pods stay Pending until MarkPodReady.
func CreatePods(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment, n int, sidecar bool) ([]*corev1.Pod, error) {
	hash, err := templateHash(d)
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName: d.Name + "-" + hash + "-",
				Namespace:    d.Namespace,
				Labels:       map[string]string{templateHashLabel: hash},
				Annotations:  d.Spec.Template.Annotations,
			},
			Spec: *d.Spec.Template.Spec.DeepCopy(),
		}
		for k, v := range d.Spec.Template.Labels {
			pod.Labels[k] = v
		}
		if sidecar {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: SidecarName, Image: sidecarImage})
		}
		created, err := kube.CoreV1().Pods(d.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return pods, fmt.Errorf("create pod of Deployment %s/%s: %w", d.Namespace, d.Name, err)
		}
		pods = append(pods, created)
	}
	return pods, nil
}

// MarkPodReady writes the status a kubelet would report for a running pod
// whose containers are all ready.
func MarkPodReady(ctx context.Context, kube kubernetes.Interface, pod *corev1.Pod) (*corev1.Pod, error) {
	now := metav1.NewTime(time.Now())
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.Conditions = nil
	for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	p.Status.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:    c.Name,
			Image:   c.Image,
			Ready:   true,
			Started: ptr(true),
			State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	out, err := kube.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("mark pod %s/%s ready: %w", p.Namespace, p.Name, err)
	}
	return out, nil
}

// MarkDeploymentAvailable writes the status the Deployment controller would
// report once all replicas of the current template are available.
func MarkDeploymentAvailable(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	n := replicas(d)
	now := metav1.NewTime(time.Now())
	c := d.DeepCopy()
	c.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           n,
		UpdatedReplicas:    n,
		ReadyReplicas:      n,
		AvailableReplicas:  n,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
		},
	}
	out, err := kube.AppsV1().Deployments(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("mark Deployment %s/%s available: %w", c.Namespace, c.Name, err)
	}
	return out, nil
}

// RunWorkloads plays the Deployment controller and the kubelets until the
// test ends: for every Deployment it sees, it keeps exactly spec.replicas
// pods of the current template (replacing pods of older templates), with an
// istio-proxy container when the namespace is labelled
// istio-injection=enabled and the template does not opt out, marks them
// ready and the Deployment available. Errors fail the test.
func (s *Server) RunWorkloads(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(s.Kube, 0)
	informer := factory.Apps().V1().Deployments().Informer()
	sync := func(obj any) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			return
		}
		if err := reconcile(ctx, s.Kube, d); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			t.Errorf("simulated workloads: %v", err)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, obj any) { sync(obj) },
	}); err != nil {
		cancel()
		t.Fatalf("simulated workloads: %v", err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("simulated workloads: the Deployment informer did not sync")
	}
}

// reconcile brings one Deployment's simulated pods and status in line with
// its spec.
func reconcile(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) error {
	if d.DeletionTimestamp != nil {
		return nil
	}
	hash, err := templateHash(d)
	if err != nil {
		return err
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("Deployment %s/%s selector: %w", d.Namespace, d.Name, err)
	}
	list, err := kube.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return fmt.Errorf("list pods of Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	want := int(replicas(d))
	var current []*corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if p.Labels[templateHashLabel] != hash || len(current) >= want {
			if err := kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
			}
			continue
		}
		current = append(current, p)
	}
	if len(current) < want {
		sidecar, err := injected(ctx, kube, d)
		if err != nil {
			return err
		}
		created, err := CreatePods(ctx, kube, d, want-len(current), sidecar)
		if err != nil {
			return err
		}
		current = append(current, created...)
	}
	for _, p := range current {
		if !podReady(p) {
			if _, err := MarkPodReady(ctx, kube, p); err != nil {
				return err
			}
		}
	}
	st := d.Status
	if st.ObservedGeneration == d.Generation && st.AvailableReplicas == int32(want) && st.Replicas == int32(want) &&
		st.ReadyReplicas == int32(want) && st.UpdatedReplicas == int32(want) {
		return nil
	}
	_, err = MarkDeploymentAvailable(ctx, kube, d)
	return err
}

// injected reports whether Istio's injector would add a sidecar to the
// Deployment's pods: the namespace is labelled istio-injection=enabled and
// the template does not set sidecar.istio.io/inject=false.
func injected(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) (bool, error) {
	ns, err := kube.CoreV1().Namespaces().Get(ctx, d.Namespace, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("namespace of Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	if ns.Labels["istio-injection"] != "enabled" {
		return false, nil
	}
	tpl := d.Spec.Template
	return tpl.Labels["sidecar.istio.io/inject"] != "false" && tpl.Annotations["sidecar.istio.io/inject"] != "false", nil
}

// templateHash names the Deployment's current pod template, like the
// Deployment controller's pod-template-hash label.
func templateHash(d *appsv1.Deployment) (string, error) {
	data, err := json.Marshal(d.Spec.Template)
	if err != nil {
		return "", fmt.Errorf("hash the template of Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10], nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func ptr[T any](v T) *T { return &v }
