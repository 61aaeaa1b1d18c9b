package kube

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshcheck/meshcheck/backend/knative"
)

// Images says which images a run deploys on a cluster.
type Images struct {
	// Agent is the in-mesh agent's image; AgentImage when empty.
	Agent string
	// Replace maps image references as the scenario's manifests write them
	// (e.g. meshcheck.local/fixture:v0.1.0) to the references deployed
	// instead (e.g. registry.example/fixture@sha256:...); nil deploys them
	// as written.
	Replace map[string]string
	// Functions maps the images of OpenFaaS Functions only (spec.image,
	// after Replace), e.g. to the in-cluster registry that --env kind
	// serves them from; containers keep their images.
	Functions map[string]string
}

// Rewrite returns ch with its images replaced as im says: Replace for every
// container and Function, then Functions for the Functions.
func (im Images) Rewrite(ch Change) (Change, error) {
	ch, err := ch.ReplaceImages(im.Replace)
	if err != nil || len(im.Functions) == 0 {
		return ch, err
	}
	out := Change{Delete: ch.Delete, Apply: make([]*unstructured.Unstructured, 0, len(ch.Apply))}
	for _, obj := range ch.Apply {
		if IsFunction(obj) {
			c, err := replaceFunctionImage(obj, im.Functions)
			if err != nil {
				return Change{}, err
			}
			obj = c
		}
		out.Apply = append(out.Apply, obj)
	}
	return out, nil
}

// replaceFunctionImage returns a copy of the OpenFaaS Function obj with its
// one image, spec.image, replaced as replace says.
func replaceFunctionImage(obj *unstructured.Unstructured, replace map[string]string) (*unstructured.Unstructured, error) {
	c := obj.DeepCopy()
	if img, _, _ := unstructured.NestedString(c.Object, "spec", "image"); replace[img] != "" {
		if err := unstructured.SetNestedField(c.Object, replace[img], "spec", "image"); err != nil {
			return nil, fmt.Errorf("%s: spec.image: %w", refOf(obj), err)
		}
	}
	return c, nil
}

// podSpecPaths are where a pod spec sits in the kinds that have one.
var podSpecPaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

// knativePodSpec is where a Knative Service keeps its revision template's
// pod spec (serving.knative.dev/v1 Service spec.template.spec).
var knativePodSpec = []string{"spec", "template", "spec"}

// podSpecPath returns where obj's pod spec sits, when its kind has one: the
// built-in workload kinds by kind, and a Knative Service by group as well
// (a core Service has the same kind and no pod spec).
func podSpecPath(obj *unstructured.Unstructured) ([]string, bool) {
	gvk := obj.GroupVersionKind()
	if gvk.Group == knative.Group && gvk.Kind == knative.Kind {
		return knativePodSpec, true
	}
	if gvk.Group != "" && gvk.Group != "apps" && gvk.Group != "batch" {
		return nil, false
	}
	path, ok := podSpecPaths[gvk.Kind]
	return path, ok
}

// ReplaceImages returns the change with every container and init container
// image (Knative Services' revision templates included), and every OpenFaaS
// Function's spec.image, that replace names replaced (copies of the objects it changes; the
// change itself is left alone).
func (ch Change) ReplaceImages(replace map[string]string) (Change, error) {
	if len(replace) == 0 {
		return ch, nil
	}
	out := Change{Delete: ch.Delete, Apply: make([]*unstructured.Unstructured, 0, len(ch.Apply))}
	for _, obj := range ch.Apply {
		if IsFunction(obj) {
			c, err := replaceFunctionImage(obj, replace)
			if err != nil {
				return Change{}, err
			}
			out.Apply = append(out.Apply, c)
			continue
		}
		path, ok := podSpecPath(obj)
		if !ok {
			out.Apply = append(out.Apply, obj)
			continue
		}
		c := obj.DeepCopy()
		for _, field := range []string{"containers", "initContainers"} {
			containers, found, err := unstructured.NestedSlice(c.Object, append(path, field)...)
			if err != nil {
				return Change{}, fmt.Errorf("%s: %s: %w", refOf(obj), field, err)
			}
			if !found {
				continue
			}
			for i, item := range containers {
				m, ok := item.(map[string]any)
				if !ok {
					return Change{}, fmt.Errorf("%s: %s[%d] is not an object", refOf(obj), field, i)
				}
				if img, ok := m["image"].(string); ok && replace[img] != "" {
					m["image"] = replace[img]
				}
			}
			if err := unstructured.SetNestedSlice(c.Object, containers, append(path, field)...); err != nil {
				return Change{}, fmt.Errorf("%s: %s: %w", refOf(obj), field, err)
			}
		}
		out.Apply = append(out.Apply, c)
	}
	return out, nil
}
