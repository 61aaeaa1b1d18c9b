package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The field manager and labels every object meshcheck applies carries.
const (
	// fieldManager is the server-side apply field manager.
	fieldManager = "meshcheck"
	// LabelManagedBy marks objects meshcheck created, with value ManagedBy.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "meshcheck"
	// LabelScenario holds the name of the scenario that created the object.
	LabelScenario = "meshcheck.dev/scenario"
	// LabelInjection is Istio's namespace label for sidecar injection.
	LabelInjection = "istio-injection"
	// labelRevision is Istio's namespace label for injection by a revision.
	labelRevision = "istio.io/rev"
	// injectOverride is the pod label (or annotation) that opts a pod out of
	// injection with the value "false".
	injectOverride = "sidecar.istio.io/inject"
)

// workloadKinds are the kinds whose pod template gets meshcheck's labels, so
// that their pods carry them too.
var workloadKinds = map[string]bool{
	"apps/Deployment": true, "apps/StatefulSet": true, "apps/DaemonSet": true,
	"apps/ReplicaSet": true, "batch/Job": true,
}

// validateScenarioName checks that name can be the value of LabelScenario.
func validateScenarioName(name string) error {
	if name == "" {
		return fmt.Errorf("scenario name is empty: it labels every object as %s=<name>", LabelScenario)
	}
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		return fmt.Errorf("scenario name %q cannot be a label value: %s", name, errs[0])
	}
	return nil
}

// Selector selects the objects scenario created.
func Selector(scenario string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, LabelScenario: scenario})
}

// addLabels puts meshcheck's labels on obj and on its pod template when obj
// is a workload.
func addLabels(obj *unstructured.Unstructured, scenario string) error {
	set := func(fields ...string) error {
		m, _, err := unstructured.NestedStringMap(obj.Object, fields...)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", refOf(obj), strings.Join(fields, "."), err)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[LabelManagedBy] = ManagedBy
		m[LabelScenario] = scenario
		return unstructured.SetNestedStringMap(obj.Object, m, fields...)
	}
	if err := set("metadata", "labels"); err != nil {
		return err
	}
	gvk := obj.GroupVersionKind()
	if workloadKinds[gvk.Group+"/"+gvk.Kind] {
		return set("spec", "template", "metadata", "labels")
	}
	return nil
}

// ownedBy reports whether labels mark an object of scenario; when they do
// not, the error says whose it is.
func ownedBy(ref Ref, l map[string]string, scenario string) error {
	if l[LabelManagedBy] != ManagedBy {
		return fmt.Errorf("%s exists and meshcheck did not create it (no label %s=%s): meshcheck never changes or deletes objects it did not create; delete it or use another name", ref, LabelManagedBy, ManagedBy)
	}
	if l[LabelScenario] != scenario {
		return fmt.Errorf("%s belongs to meshcheck scenario %q, not %q: tear that scenario down first", ref, l[LabelScenario], scenario)
	}
	return nil
}

func refOf(obj *unstructured.Unstructured) Ref {
	return Ref{GVK: obj.GroupVersionKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}
