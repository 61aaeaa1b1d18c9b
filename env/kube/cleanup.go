package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kinds every scenario's cleanup sweeps besides those of its manifests:
// the namespaces and the in-mesh agent meshcheck creates itself.
var baseKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
}

// Kinds looked at, besides the swept ones, before a namespace is deleted:
// an object of these in it that is not the scenario's keeps the namespace.
var foreignKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Pod"},
	{Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Secret"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
}

// systemObjects are created in every namespace by Kubernetes or Istio, not
// by users; they never keep a namespace.
var systemObjects = map[string]bool{
	"ConfigMap/kube-root-ca.crt":   true,
	"ConfigMap/istio-ca-root-cert": true,
	"ServiceAccount/default":       true,
}

// Cleaned is what Cleanup did.
type Cleaned struct {
	// Deleted lists the objects deleted, in order.
	Deleted []Ref
	// Kept says which of the scenario's namespaces were not deleted and
	// why, one sentence each.
	Kept []string
}

// Cleanup deletes every object of the given kinds (plus Namespaces,
// ServiceAccounts and Deployments) that carries this scenario's labels, and
// nothing else: VirtualServices and Gateways first, then DestinationRules,
// then the rest in the reverse order of creation, namespaces last. Each
// delete has a UID precondition. A namespace of the scenario's that holds an
// object meshcheck did not create is kept, and Kept says so. Cleanup does
// not wait for namespaces to finish terminating (a later Apply does).
func (d *Deployer) Cleanup(ctx context.Context, kinds []schema.GroupVersionKind) (Cleaned, error) {
	var done Cleaned
	all := slices.Clone(baseKinds)
	for _, k := range kinds {
		if !slices.Contains(all, k) {
			all = append(all, k)
		}
	}
	// Reverse creation order; route kinds rank highest so they go first.
	slices.SortStableFunc(all, func(a, b schema.GroupVersionKind) int { return rankGVK(b) - rankGVK(a) })
	selector := Selector(d.scenario).String()
	for _, gvk := range all {
		res, _, err := d.c.resource(gvk, "")
		if err != nil {
			return done, fmt.Errorf("cleanup: %w", err)
		}
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return done, fmt.Errorf("cleanup: list %s labelled %s: %w", gvkString(gvk), selector, err)
		}
		slices.SortFunc(list.Items, func(a, b unstructured.Unstructured) int {
			return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
		})
		for i := range list.Items {
			live := &list.Items[i]
			ref := Ref{GVK: gvk, Namespace: live.GetNamespace(), Name: live.GetName()}
			if live.GetDeletionTimestamp() != nil {
				continue
			}
			// The list was filtered by the server; check again here, so
			// that nothing unlabelled can ever be deleted.
			if err := ownedBy(ref, live.GetLabels(), d.scenario); err != nil {
				return done, fmt.Errorf("cleanup: %w", err)
			}
			if gvk.Group == "" && gvk.Kind == "Namespace" {
				foreign, err := d.foreignObjects(ctx, live.GetName(), all)
				if err != nil {
					return done, err
				}
				if len(foreign) > 0 {
					msg := fmt.Sprintf("namespace %s kept: it holds objects meshcheck did not create (%s)", live.GetName(), strings.Join(foreign, ", "))
					d.log.Warn(msg)
					done.Kept = append(done.Kept, msg)
					continue
				}
			}
			r, _, err := d.c.resource(gvk, live.GetNamespace())
			if err != nil {
				return done, fmt.Errorf("cleanup: %w", err)
			}
			if err := deleteLive(ctx, r, live); err != nil {
				if apierrors.IsConflict(err) {
					// The UID changed: someone re-created the object.
					continue
				}
				return done, fmt.Errorf("cleanup: delete %s: %w", ref, err)
			}
			d.log.Info("deleted", "object", ref.String())
			done.Deleted = append(done.Deleted, ref)
		}
	}
	return done, nil
}

// foreignObjects lists the objects in namespace ns that are not this
// scenario's, among the swept and commonly used kinds, as "Kind name".
func (d *Deployer) foreignObjects(ctx context.Context, ns string, swept []schema.GroupVersionKind) ([]string, error) {
	kinds := slices.Clone(foreignKinds)
	for _, k := range swept {
		if !slices.Contains(kinds, k) && !(k.Group == "" && k.Kind == "Namespace") {
			kinds = append(kinds, k)
		}
	}
	var out []string
	for _, gvk := range kinds {
		res, namespaced, err := d.c.resource(gvk, ns)
		if err != nil {
			return nil, fmt.Errorf("cleanup: namespace %s: %w", ns, err)
		}
		if !namespaced {
			continue
		}
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("cleanup: namespace %s: list %s: %w", ns, gvkString(gvk), err)
		}
		for _, o := range list.Items {
			if o.GetDeletionTimestamp() != nil || systemObjects[gvk.Kind+"/"+o.GetName()] {
				continue
			}
			if ownedBy(Ref{}, o.GetLabels(), d.scenario) != nil {
				out = append(out, gvk.Kind+" "+o.GetName())
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
