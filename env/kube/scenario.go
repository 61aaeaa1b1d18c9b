package kube

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// Objects converts scenario objects to the unstructured objects meshcheck
// applies, from each document's YAML as written (so that server-side apply
// owns exactly the fields the manifest sets). An error names file:line.
func Objects(objs []scenario.Object) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u, err := objectOf(o)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", o.File, o.Line, err)
		}
		out = append(out, u)
	}
	return out, nil
}

func objectOf(o scenario.Object) (*unstructured.Unstructured, error) {
	if len(o.Raw) > 0 {
		data, err := yaml.YAMLToJSON(o.Raw)
		if err != nil {
			return nil, fmt.Errorf("read the document: %w", err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("read the document: %w", err)
		}
		return u, nil
	}
	if o.Object == nil {
		return nil, fmt.Errorf("empty document")
	}
	gvk := o.Object.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		return nil, fmt.Errorf("object has no apiVersion and kind")
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Object)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// SetupChange is the change that creates the scenario's namespaces,
// labelled istio-injection=enabled where the scenario asks for injection.
func SetupChange(s *scenario.Scenario) Change {
	var ch Change
	for _, ns := range s.Namespaces {
		ch.Apply = append(ch.Apply, NamespaceObject(ns.Name, ns.Injection))
	}
	return ch
}

// StepChange is the change that makes the state after step current: every
// object in effect after it is applied (unchanged ones are no-ops), and the
// objects in effect after the previous step that are no longer are deleted.
func StepChange(s *scenario.Scenario, step int) (Change, error) {
	if step < 0 || step >= len(s.Steps) {
		return Change{}, fmt.Errorf("scenario %s has no step %d (it has %d)", s.Metadata.Name, step, len(s.Steps))
	}
	now := s.StateAt(step)
	apply, err := Objects(now)
	if err != nil {
		return Change{}, err
	}
	keep := map[string]bool{}
	for _, u := range apply {
		keep[key(u)] = true
	}
	var ch Change
	ch.Apply = apply
	if step > 0 {
		before, err := Objects(s.StateAt(step - 1))
		if err != nil {
			return Change{}, err
		}
		for _, u := range before {
			if !keep[key(u)] {
				ch.Delete = append(ch.Delete, u)
			}
		}
	}
	return ch, nil
}

// key identifies an object across API versions of its group.
func key(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + u.GetNamespace() + "/" + u.GetName()
}

// Kinds lists every kind the scenario's manifests use, plus those of
// meshcheck's own objects: what Cleanup sweeps.
func Kinds(s *scenario.Scenario) ([]schema.GroupVersionKind, error) {
	kinds := slices.Clone(AgentKinds)
	kinds = append(kinds, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	for _, st := range s.Steps {
		for _, m := range append(slices.Clone(st.Apply), st.Delete...) {
			objs, err := Objects(m.Objects)
			if err != nil {
				return nil, err
			}
			for _, u := range objs {
				if gvk := u.GroupVersionKind(); !slices.Contains(kinds, gvk) {
					kinds = append(kinds, gvk)
				}
			}
		}
	}
	return kinds, nil
}

// ProbeServices returns the Services whose pods answer a probe after step:
// the destinations meshcheck's routing model resolves the probe's request
// to, or, when it resolves to none (no route, an error status), every
// Service in the scenario's state.
func ProbeServices(s *scenario.Scenario, step int, p scenario.Probe) ([]Ref, error) {
	cfg, err := s.Config(step)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", p.Name, err)
	}
	res := scenario.Predict(mesh.New(cfg), p, s.SourceNamespace()).Resolution
	svcGVK := schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	var refs []Ref
	for _, d := range res.Destinations {
		// Cluster services are <name>.<namespace>.svc.<domain>.
		parts := strings.Split(d.Host, ".")
		if len(parts) < 4 || parts[2] != "svc" {
			continue
		}
		r := Ref{GVK: svcGVK, Namespace: parts[1], Name: parts[0]}
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	if len(refs) > 0 {
		return refs, nil
	}
	for _, svc := range cfg.Services {
		refs = append(refs, Ref{GVK: svcGVK, Namespace: svc.Namespace, Name: svc.Name})
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("probe %s: the scenario has no Service at step %d, so no pod can answer it", p.Name, step)
	}
	return refs, nil
}
