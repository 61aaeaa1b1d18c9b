package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/scenario"
)

// IsFunction reports whether obj is an OpenFaaS Function
// (openfaas.com/v1 Function), which is deployed through the OpenFaaS
// gateway's REST API, not applied.
func IsFunction(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == openfaas.Group && gvk.Kind == openfaas.Kind
}

// FunctionChange is what one step does to the OpenFaaS Functions of a
// scenario.
type FunctionChange struct {
	// Deploy holds the Functions in effect after the step, deployed (or
	// updated) before the step's other objects are applied, so that routes
	// only ever point at functions that are ready.
	Deploy []*openfaas.Function
	// Delete holds the Functions the step removes, deleted after the
	// step's other objects, once no route points at them.
	Delete []*openfaas.Function
}

// SplitFunctions takes the OpenFaaS Functions out of ch: the rest is
// applied as usual, the Functions go to the gateway.
func SplitFunctions(ch Change) (Change, FunctionChange, error) {
	var rest Change
	var fc FunctionChange
	for _, obj := range ch.Apply {
		if !IsFunction(obj) {
			rest.Apply = append(rest.Apply, obj)
			continue
		}
		fn, err := FunctionOf(obj)
		if err != nil {
			return Change{}, FunctionChange{}, err
		}
		fc.Deploy = append(fc.Deploy, fn)
	}
	for _, obj := range ch.Delete {
		if !IsFunction(obj) {
			rest.Delete = append(rest.Delete, obj)
			continue
		}
		fn, err := FunctionOf(obj)
		if err != nil {
			return Change{}, FunctionChange{}, err
		}
		fc.Delete = append(fc.Delete, fn)
	}
	return rest, fc, nil
}

// FunctionOf converts an unstructured Function.
func FunctionOf(obj *unstructured.Unstructured) (*openfaas.Function, error) {
	fn := &openfaas.Function{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, fn); err != nil {
		return nil, fmt.Errorf("%s: read the Function: %w", refOf(obj), err)
	}
	return fn, nil
}

// describeFunction is one line naming what the gateway is asked to deploy:
// the function's name, namespace, image and labels.
func describeFunction(fn *openfaas.Function) string {
	d := openfaas.Deployment(fn)
	labels := make([]string, 0, len(d.Labels))
	for _, k := range slices.Sorted(maps.Keys(d.Labels)) {
		labels = append(labels, k+"="+d.Labels[k])
	}
	return fmt.Sprintf("function %s in namespace %s: image %s, labels %s", d.Service, d.Namespace, d.Image, strings.Join(labels, ","))
}

// Functions returns every OpenFaaS Function the scenario's steps deploy,
// with images replaced as images says (Images.Rewrite).
func Functions(s *scenario.Scenario, images Images) ([]*openfaas.Function, error) {
	var fns []*openfaas.Function
	for i := range s.Steps {
		ch, err := StepChange(s, i)
		if err == nil {
			ch, err = images.Rewrite(ch)
		}
		if err != nil {
			return nil, err
		}
		_, fc, err := SplitFunctions(ch)
		if err != nil {
			return nil, err
		}
		fns = append(fns, fc.Deploy...)
	}
	return fns, nil
}
