package openfaas

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshcheck/meshcheck/backend/fields"
)

// Validate returns the problems of fn that faas-netes (or the API server
// behind it) would reject, or that meshcheck cannot run: names must be DNS
// labels (they name a Deployment and a Service) and spec.name must equal
// metadata.name; the namespace must be openfaas-fn (CE runs functions only
// there); labels, annotations and environment names must be valid for
// Kubernetes; resource quantities must parse; faas_function may not be
// overridden (the Service selects by it); constraints and secrets are not
// supported.
func Validate(fn *Function) fields.List {
	var es fields.List
	add := func(field, format string, args ...any) {
		es = append(es, fields.Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if fn == nil {
		add("", "no Function")
		return es
	}
	switch {
	case fn.Name == "":
		add("metadata.name", "missing: a Function is named like its spec.name")
	default:
		for _, m := range validation.IsDNS1123Label(fn.Name) {
			add("metadata.name", "%q: %s", fn.Name, m)
		}
	}
	if ns := fn.Namespace; ns != "" && ns != FunctionNamespace {
		add("metadata.namespace", "%q: OpenFaaS CE runs functions only in %s; write that or leave it out", ns, FunctionNamespace)
	}
	switch {
	case fn.Spec.Name == "":
		add("spec.name", "missing: the function's name, the same as metadata.name")
	case fn.Spec.Name != fn.Name && fn.Name != "":
		add("spec.name", "%q differs from metadata.name %q: write the same name in both", fn.Spec.Name, fn.Name)
	default:
		for _, m := range validation.IsDNS1123Label(fn.Spec.Name) {
			add("spec.name", "%q: %s", fn.Spec.Name, m)
		}
	}
	if strings.TrimSpace(fn.Spec.Image) == "" {
		add("spec.image", "missing: the function's container image")
	} else if strings.ContainsAny(fn.Spec.Image, " \t\r\n") {
		add("spec.image", "%q: an image reference has no white space", fn.Spec.Image)
	}
	for _, k := range slices.Sorted(maps.Keys(fn.Spec.Labels)) {
		f := "spec.labels." + k
		if k == LabelFunction {
			add(f, "set by OpenFaaS to the function's name and selected by its Service: remove it")
			continue
		}
		for _, m := range validation.IsQualifiedName(k) {
			add(f, "label key %q: %s", k, m)
		}
		for _, m := range validation.IsValidLabelValue(fn.Spec.Labels[k]) {
			add(f, "label value %q: %s", fn.Spec.Labels[k], m)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fn.Spec.Annotations)) {
		for _, m := range validation.IsQualifiedName(k) {
			add("spec.annotations."+k, "annotation key %q: %s", k, m)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fn.Spec.Environment)) {
		f := "spec.environment." + k
		if k == EnvProcess && fn.Spec.Handler != "" {
			add(f, "given as well as spec.handler, which sets %s: give one", EnvProcess)
			continue
		}
		for _, m := range validation.IsEnvVarName(k) {
			add(f, "environment variable name %q: %s", k, m)
		}
	}
	if len(fn.Spec.Constraints) > 0 {
		add("spec.constraints", "not supported: OpenFaaS CE does not apply node constraints (faas-netes sets an empty nodeSelector); remove them")
	}
	if len(fn.Spec.Secrets) > 0 {
		add("spec.secrets", "not supported: meshcheck creates no Secrets for functions; pass configuration in spec.environment")
	}
	for _, r := range []struct {
		field string
		res   *FunctionResources
	}{{"spec.limits", fn.Spec.Limits}, {"spec.requests", fn.Spec.Requests}} {
		if r.res == nil {
			continue
		}
		if r.res.Memory != "" {
			if _, err := resource.ParseQuantity(r.res.Memory); err != nil {
				add(r.field+".memory", "%q: want a quantity such as 64Mi", r.res.Memory)
			}
		}
		if r.res.CPU != "" {
			if _, err := resource.ParseQuantity(r.res.CPU); err != nil {
				add(r.field+".cpu", "%q: want a quantity such as 100m", r.res.CPU)
			}
		}
	}
	return es
}
