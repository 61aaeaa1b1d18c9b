//go:build apiserver

package kube

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/scenario"
)

// ensureIstioSystem creates istio-system as Istio's installation would (not
// meshcheck's), if it does not exist yet.
func ensureIstioSystem(t *testing.T, s *apiservertest.Server) {
	t.Helper()
	_, err := s.Kube.CoreV1().Namespaces().Get(t.Context(), "istio-system", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		createNamespace(t, s, "istio-system", nil)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
}

// createBystanders creates objects meshcheck must never touch: unlabelled
// copies of every object of the scenario's final state in namespace ns
// (same kinds, same names), and a ConfigMap in istio-system labelled for
// another meshcheck scenario.
func createBystanders(t *testing.T, srv *apiservertest.Server, d *Deployer, s *scenario.Scenario, ns string) {
	t.Helper()
	createNamespace(t, srv, ns, nil)
	objs, err := Objects(s.StateAt(len(s.Steps) - 1))
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{}
	for _, o := range objs {
		// Objects of one kind and name in several of the scenario's
		// namespaces (PeerAuthentication default) get one bystander.
		key := o.GetKind() + "/" + o.GetName()
		if o.GetKind() == "Namespace" || made[key] {
			continue
		}
		made[key] = true
		c := o.DeepCopy()
		c.SetNamespace(ns)
		res, _, err := d.c.resource(c.GroupVersionKind(), ns)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := res.Create(t.Context(), c, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create bystander %s: %v", refOf(c), err)
		}
	}
	// Let the simulated controllers finish with the bystanders' status, so
	// that any later change to them is the scenario's doing.
	var deps []Ref
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			deps = append(deps, Ref{GVK: gvkDeploy, Namespace: ns, Name: o.GetName()})
		}
	}
	if err := d.WaitReady(t.Context(), deps); err != nil {
		t.Fatal(err)
	}
	other := &unstructured.Unstructured{}
	other.SetAPIVersion("v1")
	other.SetKind("ConfigMap")
	other.SetNamespace("istio-system")
	other.SetName("other-scenario-" + s.Metadata.Name)
	other.SetLabels(map[string]string{LabelManagedBy: ManagedBy, LabelScenario: "other-" + s.Metadata.Name})
	res, _, err := d.c.resource(gvkConfigMap, "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.Create(t.Context(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestScenarios applies every scenario under scenarios/ step by step to a
// real API server with Istio's CRDs (whose schemas validate the manifests),
// checks labels and field manager, that a second apply of each step writes
// nothing, the pod -> version map of each probe, and that Cleanup deletes
// exactly what meshcheck created: bystanders of the same kinds and names
// elsewhere, and another scenario's objects, survive unchanged.
func TestScenarios(t *testing.T) {
	srv := apiservertest.Shared(t)
	srv.RunWorkloads(t)
	ensureIstioSystem(t, srv)
	dirs, err := filepath.Glob("../../scenarios/*/scenario.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios found under ../../scenarios (%v)", err)
	}
	for _, file := range dirs {
		// The test API server runs no function backend: a scenario with
		// one gets the backend's objects and its Functions' faas-netes
		// Deployments and Services applied instead.
		s, err := loadScenario(t, filepath.Dir(file)).WithBackendEmulated()
		if err != nil {
			t.Fatal(err)
		}
		t.Run(s.Metadata.Name, func(t *testing.T) {
			j := &journal{}
			d := newDeployer(t, srv, s.Metadata.Name, j)
			kinds, err := Kinds(s)
			if err != nil {
				t.Fatal(err)
			}
			createBystanders(t, srv, d, s, "bystander-"+s.Metadata.Name)
			before := snapshot(t, d, kinds)

			if err := d.Apply(t.Context(), SetupChange(s)); err != nil {
				t.Fatalf("setup: %v", err)
			}
			for _, ns := range s.Namespaces {
				l := live(t, d, gvkNamespace, "", ns.Name).GetLabels()
				if l[LabelManagedBy] != ManagedBy || l[LabelScenario] != s.Metadata.Name || injectionEnabled(l) != ns.Injection {
					t.Errorf("namespace %s labels = %v, want meshcheck's and injection %v", ns.Name, l, ns.Injection)
				}
			}
			for i, st := range s.Steps {
				ch, err := StepChange(s, i)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Apply(t.Context(), ch); err != nil {
					t.Fatalf("step %s: %v", st.Name, err)
				}
				for _, o := range ch.Apply {
					checkApplied(t, d, o, s.Metadata.Name)
				}
				for _, o := range ch.Delete {
					res, _, _ := d.c.resource(o.GroupVersionKind(), o.GetNamespace())
					if _, err := res.Get(t.Context(), o.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						t.Errorf("step %s: %s still there after its delete (%v)", st.Name, refOf(o), err)
					}
				}

				// Idempotency: the same step again changes nothing.
				first := snapshot(t, d, kinds)
				j.take()
				if err := d.Apply(t.Context(), ch); err != nil {
					t.Fatalf("step %s again: %v", st.Name, err)
				}
				if again := snapshot(t, d, kinds); !maps.Equal(first, again) {
					t.Errorf("step %s: a second apply changed resourceVersions:\nfirst  %v\nsecond %v", st.Name, first, again)
				}
				if events := j.take(); slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, "propagate") }) {
					t.Errorf("step %s: a second apply waited for propagation although nothing changed: %q", st.Name, events)
				}

				for _, p := range st.Probes {
					// A status or header probe reads no versions, and one
					// classified by the version itself (no podLabel, no
					// values, such as thermo's control, whose answer names
					// the version of a pod it called) no pods to map.
					if p.Classify.By != "" && p.Expect.Status == 0 && (p.Classify.PodLabel != "" || len(p.Classify.Values) > 0) {
						checkVersionMap(t, d, s, i, p)
					}
				}
			}

			cleaned, err := d.Cleanup(t.Context(), kinds)
			if err != nil {
				t.Fatalf("cleanup: %v", err)
			}
			var want []string
			objs, err := Objects(s.StateAt(len(s.Steps) - 1))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				want = append(want, refOf(o).String())
			}
			for _, ns := range s.Namespaces {
				want = append(want, "Namespace "+ns.Name)
			}
			var got []string
			for _, r := range cleaned.Deleted {
				got = append(got, r.String())
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("cleanup deleted %q, want exactly %q", got, want)
			}
			if len(cleaned.Kept) > 0 {
				t.Errorf("cleanup kept namespaces: %q", cleaned.Kept)
			}
			// What existed before the scenario is untouched.
			after := snapshot(t, d, kinds)
			for k, rv := range before {
				if after[k] != rv {
					t.Errorf("bystander %s changed or deleted by the scenario (resourceVersion %s -> %q)", k, rv, after[k])
				}
			}
			// Nothing of the scenario is left but namespaces terminating
			// (the test server has no namespace controller to finish them).
			for k := range after {
				if _, ok := before[k]; ok {
					continue
				}
				ref := strings.SplitN(k, " ", 2)
				if ref[0] != "Namespace" {
					t.Errorf("%s left after cleanup", k)
					continue
				}
				if ns := live(t, d, gvkNamespace, "", ref[1]); ns.GetDeletionTimestamp() == nil {
					t.Errorf("%s not deleted", k)
				}
			}
			// A second cleanup finds nothing more to delete.
			again, err := d.Cleanup(t.Context(), kinds)
			if err != nil || len(again.Deleted) != 0 {
				t.Errorf("second cleanup deleted %v (%v), want nothing", again.Deleted, err)
			}
			finishNamespaces(t, srv, s)
		})
	}
}

// finishNamespaces does what the namespace controller, which the test
// server lacks, does with a deleted namespace: it deletes what is left in
// the scenario's namespaces (the simulated workloads' pods) and finalizes
// them, so that a later scenario with the same ones (openfaas and
// openfaas-fn) starts from empty namespaces.
func finishNamespaces(t *testing.T, srv *apiservertest.Server, s *scenario.Scenario) {
	t.Helper()
	for _, n := range s.Namespaces {
		if err := srv.Kube.CoreV1().Pods(n.Name).DeleteCollection(t.Context(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatalf("delete the pods of namespace %s: %v", n.Name, err)
		}
		ns, err := srv.Kube.CoreV1().Namespaces().Get(t.Context(), n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ns.Spec.Finalizers = nil
		if _, err := srv.Kube.CoreV1().Namespaces().Finalize(t.Context(), ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("finalize namespace %s: %v", n.Name, err)
		}
	}
}

// checkApplied checks that o is live with meshcheck's labels, owned by the
// field manager "meshcheck" through apply.
func checkApplied(t *testing.T, d *Deployer, o *unstructured.Unstructured, scenarioName string) {
	t.Helper()
	l := live(t, d, o.GroupVersionKind(), o.GetNamespace(), o.GetName())
	if l.GetLabels()[LabelManagedBy] != ManagedBy || l.GetLabels()[LabelScenario] != scenarioName {
		t.Errorf("%s labels = %v, want %s=%s and %s=%s", refOf(o), l.GetLabels(), LabelManagedBy, ManagedBy, LabelScenario, scenarioName)
	}
	applied := false
	for _, mf := range l.GetManagedFields() {
		if mf.Manager == fieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			applied = true
		}
	}
	if !applied {
		t.Errorf("%s has no managed fields of %q through Apply: %v", refOf(o), fieldManager, l.GetManagedFields())
	}
}

// checkVersionMap checks the pod -> version map of a probe: one entry per
// pod behind the probe's Services, each the pod's own label.
func checkVersionMap(t *testing.T, d *Deployer, s *scenario.Scenario, step int, p scenario.Probe) {
	t.Helper()
	services, err := ProbeServices(s, step, p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Client().VersionMap(t.Context(), services, p.VersionLabel())
	if err != nil {
		t.Fatalf("probe %s: %v", p.Name, err)
	}
	wantVersions := map[string]bool{}
	wantPods := 0
	objs, err := Objects(s.StateAt(step))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		v, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "labels", p.VersionLabel())
		n, found, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
		if !found {
			n = 1
		}
		if v != "" {
			wantVersions[v] = true
			wantPods += int(n)
		}
	}
	if len(m) != wantPods {
		t.Errorf("probe %s: version map has %d pods, want %d: %v", p.Name, len(m), wantPods, m)
	}
	for pod, v := range m {
		if !wantVersions[v] {
			t.Errorf("probe %s: pod %s maps to %q, not a version of the scenario %v", p.Name, pod, v, wantVersions)
		}
		pl, err := d.c.Kube.CoreV1().Pods(services[0].Namespace).Get(t.Context(), pod, metav1.GetOptions{})
		if err != nil || pl.Labels[p.VersionLabel()] != v {
			t.Errorf("probe %s: pod %s maps to %q but is %v (%v)", p.Name, pod, v, pl, err)
		}
	}
}

// TestMakeBeforeBreak records the writes of each step of a scenario that
// shifts echo from v1 to v2 (tutorial 003's manifests) and checks Istio's
// make-before-break order: DestinationRule subsets (and the workloads) are
// written before the VirtualService that uses them, with a propagation wait
// between; subsets, DestinationRules and Deployments are removed only after
// the VirtualService stopped using them, again with a wait between.
func TestMakeBeforeBreak(t *testing.T) {
	srv := apiservertest.Shared(t)
	srv.RunWorkloads(t)
	s := loadScenario(t, "testdata/shift")
	j := &journal{}
	d := newDeployer(t, srv, "shift", j)
	if err := d.Apply(t.Context(), SetupChange(s)); err != nil {
		t.Fatal(err)
	}
	step := func(i int) []string {
		t.Helper()
		ch, err := StepChange(s, i)
		if err != nil {
			t.Fatal(err)
		}
		j.take()
		if err := d.Apply(t.Context(), ch); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		return j.take()
	}

	// Step v1: everything is new.
	ev := step(0)
	svc := indexOf(t, ev, "PATCH services shift/echo-service", 0)
	dep := indexOf(t, ev, "PATCH deployments shift/echo-deployment-v1", 0)
	dr := indexOf(t, ev, "PATCH destinationrules shift/echo", 0)
	mk := indexOf(t, ev, "propagate make", 0)
	vs := indexOf(t, ev, "PATCH virtualservices shift/echo-route", 0)
	indexOf(t, ev, "propagate route", vs)
	if !(svc < dep && dep < dr && dr < mk && mk < vs) {
		t.Errorf("step v1 order: want Service, Deployment, DestinationRule, wait, VirtualService; got %q", ev)
	}

	// Step v1-v2: subset v2 and its Deployment before the 75/25 route.
	ev = step(1)
	dep = indexOf(t, ev, "PATCH deployments shift/echo-deployment-v2", 0)
	dr = indexOf(t, ev, "PATCH destinationrules shift/echo", 0)
	mk = indexOf(t, ev, "propagate make", 0)
	vs = indexOf(t, ev, "PATCH virtualservices shift/echo-route", 0)
	if !(dep < mk && dr < mk && mk < vs) {
		t.Errorf("step v1-v2 order: want Deployment v2 and DestinationRule, wait, VirtualService; got %q", ev)
	}
	if got := subsets(t, live(t, d, gvkDR, "shift", "echo")); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("after step v1-v2 subsets = %v, want [v1 v2]", got)
	}

	// Step v2: the route leaves v1 first; then subset v1 and Deployment v1 go.
	ev = step(2)
	first := indexOf(t, ev, "PATCH destinationrules shift/echo", 0)
	vs = indexOf(t, ev, "PATCH virtualservices shift/echo-route", 0)
	rt := indexOf(t, ev, "propagate route", vs)
	final := indexOf(t, ev, "PATCH destinationrules shift/echo", first+1)
	del := indexOf(t, ev, "DELETE deployments shift/echo-deployment-v1", 0)
	indexOf(t, ev, "propagate break", del)
	if !(first < vs && vs < rt && rt < final && final < del) {
		t.Errorf("step v2 order: want DestinationRule (union), VirtualService, wait, DestinationRule (final), Deployment v1 deleted; got %q", ev)
	}
	if slices.Contains(ev[:vs], "propagate make") {
		t.Errorf("step v2: the make phase changed nothing (the union of subsets is the live rule) but waited: %q", ev)
	}
	if got := subsets(t, live(t, d, gvkDR, "shift", "echo")); !slices.Equal(got, []string{"v2"}) {
		t.Errorf("after step v2 subsets = %v, want [v2]", got)
	}

	// Step unrouted: the VirtualService goes before the DestinationRule.
	ev = step(3)
	vs = indexOf(t, ev, "DELETE virtualservices shift/echo-route", 0)
	rt = indexOf(t, ev, "propagate route", vs)
	dr = indexOf(t, ev, "DELETE destinationrules shift/echo", 0)
	indexOf(t, ev, "propagate break", dr)
	if !(vs < rt && rt < dr) {
		t.Errorf("step unrouted order: want VirtualService deleted, wait, DestinationRule deleted; got %q", ev)
	}

	if _, err := d.Cleanup(t.Context(), mustKinds(t, s)); err != nil {
		t.Fatal(err)
	}
}

// TestSubsetSwap checks the union of subsets when one change both adds and
// removes subsets (v1,v2 -> v2,v3): the DestinationRule holds all three
// while the VirtualService moves, and drops v1 only after it.
func TestSubsetSwap(t *testing.T) {
	srv := apiservertest.Shared(t)
	j := &journal{}
	d := newDeployer(t, srv, "swap", j)
	if err := d.Apply(t.Context(), Change{Apply: []*unstructured.Unstructured{NamespaceObject("swap", false)}}); err != nil {
		t.Fatal(err)
	}
	dr := func(subsets ...string) *unstructured.Unstructured {
		var list []any
		for _, s := range subsets {
			list = append(list, map[string]any{"name": s, "labels": map[string]any{"version": s}})
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
			"metadata": map[string]any{"name": "echo", "namespace": "swap"},
			"spec":     map[string]any{"host": "echo-service", "subsets": list},
		}}
	}
	vs := func(a, b string) *unstructured.Unstructured {
		route := func(s string, w int64) map[string]any {
			return map[string]any{"destination": map[string]any{"host": "echo-service", "subset": s}, "weight": w}
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
			"metadata": map[string]any{"name": "echo-route", "namespace": "swap"},
			"spec": map[string]any{"hosts": []any{"echo-service"},
				"http": []any{map[string]any{"route": []any{route(a, 50), route(b, 50)}}}},
		}}
	}
	if err := d.Apply(t.Context(), Change{Apply: []*unstructured.Unstructured{dr("v1", "v2"), vs("v1", "v2")}}); err != nil {
		t.Fatal(err)
	}
	j.take()
	if err := d.Apply(t.Context(), Change{Apply: []*unstructured.Unstructured{dr("v2", "v3"), vs("v2", "v3")}}); err != nil {
		t.Fatal(err)
	}
	ev := j.events
	union := indexOf(t, ev, "PATCH destinationrules swap/echo", 0)
	body := string(j.body(ev[union]))
	route := indexOf(t, ev, "PATCH virtualservices swap/echo-route", 0)
	final := indexOf(t, ev, "PATCH destinationrules swap/echo", union+1)
	if !(union < route && route < final) {
		t.Fatalf("order: want DestinationRule (union), VirtualService, DestinationRule (final); got %q", ev)
	}
	for _, v := range []string{`"v1"`, `"v2"`, `"v3"`} {
		if !strings.Contains(body, v) {
			t.Errorf("union DestinationRule lacks subset %s: %s", v, body)
		}
	}
	if got := subsets(t, live(t, d, gvkDR, "swap", "echo")); !slices.Equal(got, []string{"v2", "v3"}) {
		t.Errorf("final subsets = %v, want [v2 v3]", got)
	}
	if _, err := d.Cleanup(t.Context(), []schema.GroupVersionKind{gvkDR, gvkVS}); err != nil {
		t.Fatal(err)
	}
}

func subsets(t *testing.T, dr *unstructured.Unstructured) []string {
	t.Helper()
	list, _, err := unstructured.NestedSlice(dr.Object, "spec", "subsets")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list {
		out = append(out, subsetName(s))
	}
	return out
}

func mustKinds(t *testing.T, s *scenario.Scenario) []schema.GroupVersionKind {
	t.Helper()
	k, err := Kinds(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestNeverTouchesForeignObjects checks that objects meshcheck did not
// create (or another scenario created) are refused and left unchanged, and
// that a namespace that existed before is used as it is and never deleted.
func TestNeverTouchesForeignObjects(t *testing.T) {
	srv := apiservertest.Shared(t)
	d := newDeployer(t, srv, "guard", nil)
	ctx := t.Context()

	// A namespace without injection that meshcheck did not create is not
	// labelled for the scenario: that is an error.
	createNamespace(t, srv, "plain", nil)
	rv := live(t, d, gvkNamespace, "", "plain").GetResourceVersion()
	err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{NamespaceObject("plain", true)}})
	if err == nil || !strings.Contains(err.Error(), "without sidecar injection") {
		t.Errorf("apply into a foreign namespace without injection: err = %v", err)
	}
	if got := live(t, d, gvkNamespace, "", "plain"); got.GetResourceVersion() != rv {
		t.Errorf("foreign namespace changed: %v", got.GetLabels())
	}

	// One with injection is used as it is.
	createNamespace(t, srv, "shared", map[string]string{LabelInjection: "enabled"})
	rv = live(t, d, gvkNamespace, "", "shared").GetResourceVersion()
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{NamespaceObject("shared", true)}}); err != nil {
		t.Fatal(err)
	}
	if got := live(t, d, gvkNamespace, "", "shared"); got.GetResourceVersion() != rv {
		t.Errorf("foreign namespace changed: %v", got.GetLabels())
	}

	cm := func(name string, l map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"k": "v"}}}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace("shared")
		u.SetName(name)
		u.SetLabels(l)
		return u
	}
	res, _, err := d.c.resource(gvkConfigMap, "shared")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		obj  *unstructured.Unstructured
		want string
	}{
		{cm("users", nil), "meshcheck did not create it"},
		{cm("others", map[string]string{LabelManagedBy: ManagedBy, LabelScenario: "other"}), `belongs to meshcheck scenario "other"`},
	} {
		created, err := res.Create(ctx, c.obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mine := cm(c.obj.GetName(), nil)
		mine.Object["data"] = map[string]any{"k": "mine"}
		err = d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{mine}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("apply over %s: err = %v, want %q", c.obj.GetName(), err, c.want)
		}
		err = d.Apply(ctx, Change{Delete: []*unstructured.Unstructured{mine}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("delete of %s: err = %v, want %q", c.obj.GetName(), err, c.want)
		}
		if got := live(t, d, gvkConfigMap, "shared", c.obj.GetName()); got.GetResourceVersion() != created.GetResourceVersion() {
			t.Errorf("%s changed: %v", c.obj.GetName(), got.Object)
		}
	}

	// meshcheck's own object in the shared namespace goes; the namespace
	// and the others stay.
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{cm("mine", nil)}}); err != nil {
		t.Fatal(err)
	}
	cleaned, err := d.Cleanup(ctx, []schema.GroupVersionKind{gvkConfigMap})
	if err != nil {
		t.Fatal(err)
	}
	if len(cleaned.Deleted) != 1 || cleaned.Deleted[0].String() != "ConfigMap shared/mine" {
		t.Errorf("cleanup deleted %v, want only ConfigMap shared/mine", cleaned.Deleted)
	}
	for _, name := range []string{"users", "others"} {
		live(t, d, gvkConfigMap, "shared", name)
	}
	if ns := live(t, d, gvkNamespace, "", "shared"); ns.GetDeletionTimestamp() != nil {
		t.Error("cleanup deleted a namespace meshcheck did not create")
	}
}

// TestCleanupKeepsNamespaceWithForeignObjects: a namespace meshcheck
// created, in which someone else put an object, is kept with a reason.
func TestCleanupKeepsNamespaceWithForeignObjects(t *testing.T) {
	srv := apiservertest.Shared(t)
	d := newDeployer(t, srv, "keep", nil)
	ctx := t.Context()
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{NamespaceObject("keep", true)}}); err != nil {
		t.Fatal(err)
	}
	notes := &unstructured.Unstructured{}
	notes.SetAPIVersion("v1")
	notes.SetKind("ConfigMap")
	notes.SetNamespace("keep")
	notes.SetName("user-notes")
	res, _, err := d.c.resource(gvkConfigMap, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.Create(ctx, notes, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cleaned, err := d.Cleanup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cleaned.Deleted) != 0 || len(cleaned.Kept) != 1 || !strings.Contains(cleaned.Kept[0], "ConfigMap user-notes") {
		t.Errorf("cleanup = %+v, want namespace keep kept because of ConfigMap user-notes", cleaned)
	}
	if ns := live(t, d, gvkNamespace, "", "keep"); ns.GetDeletionTimestamp() != nil {
		t.Error("namespace keep deleted with a foreign object in it")
	}
	live(t, d, gvkConfigMap, "keep", "user-notes")
}

// TestCRDSchemasValidate checks that Istio's CRD schemas on the server
// judge what meshcheck applies: a bad enum and an unknown field are
// refused; weights that do not sum to 100 are not (that is istiod's
// webhook, which this server lacks, so meshcheck's own checks must).
func TestCRDSchemasValidate(t *testing.T) {
	srv := apiservertest.Shared(t)
	d := newDeployer(t, srv, "schemas", nil)
	ctx := t.Context()
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{NamespaceObject("schemas", false)}}); err != nil {
		t.Fatal(err)
	}
	obj := func(kind string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": kind,
			"metadata": map[string]any{"name": "x", "namespace": "schemas"}, "spec": spec,
		}}
	}
	badEnum := obj("DestinationRule", map[string]any{"host": "echo", "trafficPolicy": map[string]any{
		"loadBalancer": map[string]any{"simple": "FASTEST"}}})
	unknown := obj("VirtualService", map[string]any{"hosts": []any{"echo"}, "htp": []any{}})
	for _, c := range []struct {
		obj  *unstructured.Unstructured
		want string
	}{{badEnum, "FASTEST"}, {unknown, "htp"}} {
		err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{c.obj}})
		var status apierrors.APIStatus
		if err == nil || !errors.As(err, &status) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("apply %s: err = %v, want the server to refuse %q", c.obj.GetKind(), err, c.want)
		}
	}
	weights := obj("VirtualService", map[string]any{"hosts": []any{"echo"}, "http": []any{map[string]any{"route": []any{
		map[string]any{"destination": map[string]any{"host": "echo", "subset": "v1"}, "weight": int64(60)},
		map[string]any{"destination": map[string]any{"host": "echo", "subset": "v2"}, "weight": int64(30)},
	}}}})
	if err := d.Apply(ctx, Change{Apply: []*unstructured.Unstructured{weights}}); err != nil {
		t.Errorf("weights summing to 90: err = %v; the CRD schema does not check sums", err)
	}
}
