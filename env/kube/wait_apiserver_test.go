//go:build apiserver

package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshcheck/meshcheck/internal/apiservertest"
)

// deployment returns a Deployment of app=name, version=v in ns.
func deployment(ns, name, v string, replicas int64) *unstructured.Unstructured {
	labels := map[string]any{"app": name, "version": v}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name + "-" + v, "namespace": ns},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "example.com/app:1"}}},
			},
		},
	}}
}

// TestWaitReady drives a Deployment's status and pods through the API as
// the controllers and kubelet would, and checks what WaitReady says at
// each point.
func TestWaitReady(t *testing.T) {
	srv := apiservertest.Shared(t)
	d := newDeployer(t, srv, "wait", nil)
	ctx := t.Context()
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{NamespaceObject("wait", true)}}); err != nil {
		t.Fatal(err)
	}
	obj := deployment("wait", "echo", "v1", 2)
	if _, err := d.apply(ctx, mustPrepare(t, d, obj)); err != nil {
		t.Fatal(err)
	}
	ref := refOf(obj)
	get := func() *appsv1.Deployment {
		dep, err := srv.Kube.AppsV1().Deployments("wait").Get(ctx, "echo-v1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return dep
	}
	short := func(want string) {
		t.Helper()
		d.readyTimeout = 200 * time.Millisecond
		defer func() { d.readyTimeout = 30 * time.Second }()
		err := d.WaitReady(ctx, []Ref{ref})
		if !IsNotReady(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Deployment wait/echo-v1") {
			t.Errorf("WaitReady = %v, want a timeout naming the Deployment and %q", err, want)
		}
	}

	short("has not observed the latest spec")

	dep, err := apiservertest.MarkDeploymentAvailable(ctx, srv.Kube, get())
	if err != nil {
		t.Fatal(err)
	}
	short("0 of 2 pods ready")

	// Pods without the sidecar in an injected namespace: no wait helps.
	bare, err := apiservertest.CreatePods(ctx, srv.Kube, dep, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	err = d.WaitReady(ctx, []Ref{ref})
	if err == nil || IsNotReady(err) || !strings.Contains(err.Error(), "has no istio-proxy container") {
		t.Errorf("WaitReady with pods lacking the sidecar = %v, want an immediate error about istio-proxy", err)
	}
	for _, p := range bare {
		if err := srv.Kube.CoreV1().Pods("wait").Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	pods, err := apiservertest.CreatePods(ctx, srv.Kube, dep, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	short("pod " + pods[0].Name)
	if _, err := apiservertest.MarkPodReady(ctx, srv.Kube, pods[0]); err != nil {
		t.Fatal(err)
	}
	short("1 of 2 pods ready")

	done := make(chan error, 1)
	go func() { done <- d.WaitReady(ctx, []Ref{ref}) }()
	if _, err := apiservertest.MarkPodReady(ctx, srv.Kube, pods[1]); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("WaitReady once both pods are ready = %v", err)
	}

	// A Deployment past its progress deadline fails at once.
	dep = get()
	dep.Status.Conditions = append(dep.Status.Conditions, appsv1.DeploymentCondition{
		Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "image pull failed",
	})
	for i, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionTrue {
			dep.Status.Conditions = append(dep.Status.Conditions[:i], dep.Status.Conditions[i+1:]...)
			break
		}
	}
	if _, err := srv.Kube.AppsV1().Deployments("wait").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = d.WaitReady(ctx, []Ref{ref})
	if err == nil || IsNotReady(err) || !strings.Contains(err.Error(), "progress deadline") {
		t.Errorf("WaitReady past the progress deadline = %v, want an immediate error", err)
	}
}

func mustPrepare(t *testing.T, d *Deployer, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	p, err := prepare(obj, d.scenario)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVersionMap creates pods directly through the API and checks the
// pod name -> label map of the Services in front of them.
func TestVersionMap(t *testing.T) {
	srv := apiservertest.Shared(t)
	d := newDeployer(t, srv, "versions", nil)
	ctx := t.Context()
	createNamespace(t, srv, "versions", nil)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "versions"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	noSel := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "versions"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	for _, s := range []*corev1.Service{svc, noSel} {
		if _, err := srv.Kube.CoreV1().Services("versions").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	asDeployment := func(obj *unstructured.Unstructured) *appsv1.Deployment {
		var dep appsv1.Deployment
		if err := runtimeFromUnstructured(obj, &dep); err != nil {
			t.Fatal(err)
		}
		return &dep
	}
	want := map[string]string{}
	for _, c := range []struct {
		v string
		n int
	}{{"v1", 2}, {"v2", 1}} {
		pods, err := apiservertest.CreatePods(ctx, srv.Kube, asDeployment(deployment("versions", "echo", c.v, int64(c.n))), c.n, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods {
			want[p.Name] = c.v
		}
	}
	// A pod without the label, a pod being deleted and a pod of another
	// app are left out.
	unlabelled := asDeployment(deployment("versions", "echo", "nolabel", 1))
	delete(unlabelled.Spec.Template.Labels, "version")
	if _, err := apiservertest.CreatePods(ctx, srv.Kube, unlabelled, 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := apiservertest.CreatePods(ctx, srv.Kube, asDeployment(deployment("versions", "other", "v9", 1)), 1, false); err != nil {
		t.Fatal(err)
	}
	going := asDeployment(deployment("versions", "echo", "v0", 1))
	gp, err := apiservertest.CreatePods(ctx, srv.Kube, going, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	gp[0].Finalizers = []string{"meshcheck.dev/test"}
	if _, err := srv.Kube.CoreV1().Pods("versions").Update(ctx, gp[0], metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kube.CoreV1().Pods("versions").Delete(ctx, gp[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p, err := srv.Kube.CoreV1().Pods("versions").Get(t.Context(), gp[0].Name, metav1.GetOptions{})
		if err == nil {
			p.Finalizers = nil
			_, _ = srv.Kube.CoreV1().Pods("versions").Update(t.Context(), p, metav1.UpdateOptions{})
		}
	})

	echo := Ref{GVK: gvkService, Namespace: "versions", Name: "echo"}
	got, err := d.Client().VersionMap(ctx, []Ref{echo}, "version")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("VersionMap = %v, want %v", got, want)
	}
	for pod, v := range want {
		if got[pod] != v {
			t.Errorf("VersionMap[%s] = %q, want %q", pod, got[pod], v)
		}
	}

	if _, err := d.Client().VersionMap(ctx, []Ref{echo}, "track"); err == nil || !strings.Contains(err.Error(), `label "track"`) || !strings.Contains(err.Error(), "classify.podLabel") {
		t.Errorf("VersionMap by a label no pod has: err = %v", err)
	}
	ext := Ref{GVK: gvkService, Namespace: "versions", Name: "external"}
	if _, err := d.Client().VersionMap(ctx, []Ref{ext}, "version"); err == nil || !strings.Contains(err.Error(), "has no selector") {
		t.Errorf("VersionMap of a Service without selector: err = %v", err)
	}
	missing := Ref{GVK: gvkService, Namespace: "versions", Name: "nope"}
	if _, err := d.Client().VersionMap(ctx, []Ref{missing}, "version"); err == nil || !strings.Contains(err.Error(), "versions/nope") {
		t.Errorf("VersionMap of a missing Service: err = %v", err)
	}
}

// TestDeployAgent deploys the in-mesh agent into an injected namespace
// (pods simulated) and checks where and how it runs.
func TestDeployAgent(t *testing.T) {
	srv := apiservertest.Shared(t)
	srv.RunWorkloads(t)
	d := newDeployer(t, srv, "agent", nil)
	ctx := t.Context()
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{NamespaceObject("agent", true), NamespaceObject("outside", false)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeployAgent(ctx, "outside", "", ""); err == nil || !strings.Contains(err.Error(), "no sidecar injection") {
		t.Errorf("agent outside the mesh: err = %v", err)
	}
	pod, err := d.DeployAgent(ctx, "agent", "", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := srv.Kube.CoreV1().Pods("agent").Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasSidecar(p) || p.Spec.ServiceAccountName != AgentName || p.Labels[LabelScenario] != "agent" {
		t.Errorf("agent pod: sidecar %v, service account %q, labels %v", hasSidecar(p), p.Spec.ServiceAccountName, p.Labels)
	}
	live(t, d, schemaSA, "agent", AgentName)

	// As a probe's ServiceAccount: refused while the account is missing,
	// then a second agent pod running as it.
	if _, err := d.DeployAgent(ctx, "agent", "", "control"); err == nil || !strings.Contains(err.Error(), "ServiceAccount control") {
		t.Errorf("agent as a missing ServiceAccount: err = %v", err)
	}
	if _, err := srv.Kube.CoreV1().ServiceAccounts("agent").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "control"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	asControl, err := d.DeployAgent(ctx, "agent", "", "control")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := srv.Kube.CoreV1().Pods("agent").Get(ctx, asControl, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if asControl == pod || !hasSidecar(pc) || pc.Spec.ServiceAccountName != "control" {
		t.Errorf("agent as control: pod %s (own agent %s), sidecar %v, service account %q", asControl, pod, hasSidecar(pc), pc.Spec.ServiceAccountName)
	}
	if again, err := d.c.AgentPod(ctx, "agent", ""); err != nil || again != pod {
		t.Errorf("AgentPod of the agent's own account = %q, %v, want %s", again, err, pod)
	}
	// The account is the scenario's, not meshcheck's: gone with its
	// manifests, before the cleanup.
	if err := srv.Kube.CoreV1().ServiceAccounts("agent").Delete(ctx, "control", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cleaned, err := d.Cleanup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cleaned.Deleted {
		got = append(got, r.String())
	}
	want := "Deployment agent/meshcheck-agent Deployment agent/meshcheck-agent-control ServiceAccount agent/meshcheck-agent Namespace agent Namespace outside"
	if strings.Join(got, " ") != want {
		t.Errorf("cleanup deleted %q, want %q", got, want)
	}
}

// TestWaitDeploymentsOutsideTheMesh is the rule as kind's Istio install
// uses it (istiod and the gateway in istio-system, no injection): timeout
// while the rollout or the pods are not ready, success once they are, and
// no sidecar asked for.
func TestWaitDeploymentsOutsideTheMesh(t *testing.T) {
	srv := apiservertest.Shared(t)
	ctx := t.Context()
	ns := fmt.Sprintf("plain-%d", time.Now().UnixNano()) // the shared server outlives a test run
	createNamespace(t, srv, ns, nil)
	t.Cleanup(func() { _ = srv.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	d := newDeployer(t, srv, "plain", nil)
	obj := deployment(ns, "istiod", "v1", 1)
	if _, err := d.apply(ctx, mustPrepare(t, d, obj)); err != nil {
		t.Fatal(err)
	}
	refs := []Ref{refOf(obj), {GVK: refOf(obj).GVK, Namespace: ns, Name: "absent"}}
	short := Wait{Timeout: 200 * time.Millisecond, Poll: 20 * time.Millisecond}
	err := WaitDeployments(ctx, srv.Kube, refs, short)
	for _, want := range []string{"Deployment " + ns + "/istiod-v1: the Deployment controller has not observed", "Deployment " + ns + "/absent: not found"} {
		if !IsNotReady(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("WaitDeployments before the rollout = %v, want a timeout naming %q", err, want)
		}
	}
	dep, err := srv.Kube.AppsV1().Deployments(ns).Get(ctx, "istiod-v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep, err = apiservertest.MarkDeploymentAvailable(ctx, srv.Kube, dep); err != nil {
		t.Fatal(err)
	}
	pods, err := apiservertest.CreatePods(ctx, srv.Kube, dep, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitDeployments(ctx, srv.Kube, refs[:1], short); !IsNotReady(err) || !strings.Contains(err.Error(), "0 of 1 pods ready") {
		t.Errorf("WaitDeployments with a pending pod = %v, want a timeout saying 0 of 1 pods ready", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- WaitDeployments(ctx, srv.Kube, refs[:1], Wait{Timeout: 30 * time.Second, Poll: 20 * time.Millisecond})
	}()
	if _, err := apiservertest.MarkPodReady(ctx, srv.Kube, pods[0]); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("WaitDeployments once the pod (no sidecar, none needed) is ready = %v", err)
	}
}

// TestWaitNodes registers a node through the API and drives its Ready
// condition: timeout while it is not ready, success once it is.
func TestWaitNodes(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := t.Context()
	short := Wait{Timeout: 200 * time.Millisecond, Poll: 20 * time.Millisecond}
	if err := WaitNodes(ctx, srv.Kube, 1, short); !IsNotReady(err) || !strings.Contains(err.Error(), "0 of 1 nodes registered") {
		t.Errorf("WaitNodes without nodes = %v", err)
	}
	n, err := srv.Kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}}
	if n, err = srv.Kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WaitNodes(ctx, srv.Kube, 1, short); !IsNotReady(err) || !strings.Contains(err.Error(), "node-1: Ready=False (KubeletNotReady)") {
		t.Errorf("WaitNodes with a NotReady node = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- WaitNodes(ctx, srv.Kube, 1, Wait{Timeout: 30 * time.Second, Poll: 20 * time.Millisecond})
	}()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
	if _, err := srv.Kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("WaitNodes once the node is Ready = %v", err)
	}
}
