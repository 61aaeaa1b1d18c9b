//go:build apiserver

package kind

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// apiserverWorld is a kind world whose cluster is a real API server: kind
// "writes" the server's kubeconfig, clients are real, and the simulated
// controllers run istiod, the gateway and the scenario's Deployments.
func apiserverWorld(t *testing.T) (*world, *apiservertest.Server) {
	t.Helper()
	srv := apiservertest.Start(t)
	srv.RunWorkloads(t)
	ctx := t.Context()
	node, err := srv.Kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "meshcheck-control-plane"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = readyNode(node.Name, true).Status.Conditions
	if _, err := srv.Kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: istio.Namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{istio.IstiodDeployment, istio.GatewayDeployment} {
		l := map[string]string{"app": name}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istio.Namespace, Labels: l},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: l},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "docker.io/istio/pilot:1.31.0"}}}},
			},
		}
		if _, err := srv.Kube.AppsV1().Deployments(istio.Namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	kc, err := os.ReadFile(srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld()
	w.provider.kubeconfigs = map[string][]byte{DefaultName: kc}
	w.client = nil // NewClient below is the real one
	return w, srv
}

func (w *world) realDeps() Deps {
	d := w.deps()
	d.NewClient = func(kubeconfig string) (kubernetes.Interface, error) {
		w.clientFor = append(w.clientFor, kubeconfig)
		return NewClient(kubeconfig)
	}
	return d
}

// TestKindEnvironmentOnAPIServer runs the echo scenario through the kind
// environment whose cluster is a real API server: Open provisions (create,
// then reuse), the existing-cluster code deploys through meshcheck's own
// kubeconfig, the ingress is the host port kind maps to the gateway's
// nodePort, Teardown removes what meshcheck applied and Close deletes the
// cluster only when Open created it and it is not kept.
func TestKindEnvironmentOnAPIServer(t *testing.T) {
	w, srv := apiserverWorld(t)
	ctx := t.Context()
	dir := t.TempDir()
	// No kubelet serves port-forwards to the proxies' admin ports here:
	// the Deployer does not wait for them (env/existing tests the wait).
	noWait := func(c *config) {
		c.existing = append(c.existing, existing.WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })))
	}
	opts := []Option{WithStateDir(dir), WithReadyTimeout(30 * time.Second), noWait, WithLogger(discard())}
	e, err := open(t, w.realDeps(), append(opts, WithKeep(true))...)
	if err != nil {
		t.Fatalf("Open: %v\nlogs:\n%s", err, w.logs)
	}
	kubeconfig := filepath.Join(dir, "clusters", DefaultName, "kubeconfig")
	if !slices.Equal(slices.Compact(w.clientFor), []string{kubeconfig}) {
		t.Errorf("clients for %q, want meshcheck's kubeconfig only", w.clientFor)
	}
	if info, err := os.Stat(kubeconfig); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %s: %v, mode %v; want 0600", kubeconfig, err, info.Mode().Perm())
	}
	s, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	sel := labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedBy, kube.LabelScenario: "echo"}).String()
	deps, err := srv.Kube.AppsV1().Deployments("echo").List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil || len(deps.Items) != 2 {
		t.Fatalf("meshcheck's Deployments in echo: %v, %v", deps, err)
	}
	var ingress scenario.Probe
	for _, p := range s.Steps[0].Probes {
		if p.From == mesh.Ingress {
			ingress = p
		}
	}
	ep, err := e.Endpoint(ctx, ingress)
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://" + e.Session().HTTPAddr() + "/echo"; ep.URL != want || ep.Host != "echo.local" || ep.Agent != "" {
		t.Errorf("ingress endpoint %+v, want %s with Host echo.local (kind's port mapping)", ep, want)
	}
	vm, err := e.VersionMap(ctx, ingress)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Values(vm)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("version map %v", vm)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if left, err := srv.Kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: sel}); err != nil || len(left.Items) != 0 {
		t.Errorf("after Teardown: %d Deployments of meshcheck's left (%v)", len(left.Items), err)
	}
	// --keep: the cluster this run created stays.
	if err := e.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.provider.callList() {
		if strings.HasPrefix(c, "Delete") {
			t.Fatalf("--keep: %s", c)
		}
	}

	// The next run reuses it (kind exports meshcheck's kubeconfig again),
	// and never deletes what it did not create.
	e2, err := open(t, w.realDeps(), opts...)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	if e2.Session().Cluster.Created || !slices.Contains(w.provider.callList(), "ExportKubeConfig meshcheck "+kubeconfig) {
		t.Errorf("second Open did not reuse the cluster: %q", w.provider.callList())
	}
	if err := e2.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e2.Close(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.provider.callList() {
		if strings.HasPrefix(c, "Delete") {
			t.Fatalf("a reused cluster was deleted: %s", c)
		}
	}

	// A run that creates the cluster deletes it at the end.
	w.provider.clusters = nil
	e3, err := open(t, w.realDeps(), opts...)
	if err != nil {
		t.Fatalf("Open a third time: %v", err)
	}
	if !e3.Session().Cluster.Created {
		t.Error("third Open did not create the cluster")
	}
	if err := e3.Close(context.WithoutCancel(ctx), false); err != nil {
		t.Fatal(err)
	}
	calls := w.provider.callList()
	if last := calls[len(calls)-1]; last != "Delete meshcheck kubeconfig="+kubeconfig {
		t.Errorf("the cluster this run created was not deleted: last call %q", last)
	}
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("kubeconfig left after the cluster was deleted: %v", err)
	}
}
