package scenario

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/backend/fields"
	"github.com/meshcheck/meshcheck/backend/knative"
	"github.com/meshcheck/meshcheck/backend/openfaas"
)

// ClusterObjects returns objs with every OpenFaaS Function replaced by the
// Deployment and Service faas-netes creates for it (openfaas.Expand), and
// every Knative Service by the Deployment and Service that stand for it
// (knative.Expand: an emulation of what Knative and net-istio serve at its
// address), in its place and with its File and Line; the other objects are
// kept as they are. It is what runs on a cluster for these manifests: the
// routing model, the local environment and the API-server tiers read it.
// Raw of an expanded object is nil (it has no text of its own).
func ClusterObjects(objs []Object) ([]Object, error) {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		var (
			dep runtime.Object
			svc runtime.Object
			err error
		)
		switch x := o.Object.(type) {
		case *openfaas.Function:
			dep, svc, err = expandFunction(x)
		case *knative.Service:
			dep, svc, err = expandKnative(x)
		default:
			out = append(out, o)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", o.File, o.Line, err)
		}
		for _, x := range []runtime.Object{dep, svc} {
			out = append(out, Object{File: o.File, Line: o.Line, Object: x})
		}
	}
	return out, nil
}

func expandFunction(fn *openfaas.Function) (runtime.Object, runtime.Object, error) {
	dep, svc, err := openfaas.Expand(fn, openfaas.Namespace(fn))
	if err != nil {
		return nil, nil, err
	}
	return dep, svc, nil
}

func expandKnative(ks *knative.Service) (runtime.Object, runtime.Object, error) {
	dep, svc, err := knative.Expand(ks)
	if err != nil {
		return nil, nil, err
	}
	return dep, svc, nil
}

// BackendObjects returns the objects the scenario's backend installs
// that routing depends on, for the routing model and the emulation: for
// BackendOpenFaaS the chart's gateway (openfaas.Gateway); none for
// BackendNone and BackendKnative (its Services stand for themselves:
// ClusterObjects). They carry the scenario file and the line of spec.backend.
func (s *Scenario) BackendObjects() []Object {
	if s.Backend != BackendOpenFaaS {
		return nil
	}
	var out []Object
	for _, obj := range openfaas.Gateway() {
		out = append(out, Object{File: s.File, Line: s.lines["spec.backend"], Object: obj})
	}
	return out
}

// ClusterStateAt returns what runs on a cluster after step: the backend's
// objects (BackendObjects), then the objects in effect (StateAt) with
// every Function expanded (ClusterObjects).
func (s *Scenario) ClusterStateAt(step int) ([]Object, error) {
	state, err := ClusterObjects(s.StateAt(step))
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", s.stepName(step), err)
	}
	return append(s.BackendObjects(), state...), nil
}

// backendManifest names the manifest WithBackendEmulated adds: the
// backend's own objects, as its installer would create them.
const backendManifest = "(backend openfaas: the chart's gateway)"

// backendManifests are the backend manifests WithBackendEmulated adds, by
// backend: none for a backend without objects of its own (BackendObjects).
func (s *Scenario) backendManifests() []Manifest {
	objs := s.BackendObjects()
	if len(objs) == 0 {
		return nil
	}
	return []Manifest{{File: backendManifest, Objects: objs}}
}

// WithBackendEmulated returns a copy of s that needs no function backend:
// Backend is BackendNone, the backend's objects (BackendObjects) are
// applied by the first step as one more manifest, before the scenario's
// own, and every Function (Knative Service) of every step's manifests is
// replaced by the Deployment and Service faas-netes creates for it (that
// stand for it; ClusterObjects). It
// is how a tier with an API server but no backend (the API-server and
// control-plane tiers) runs a scenario with one; s itself is not changed.
// A scenario without a backend is returned as it is.
func (s *Scenario) WithBackendEmulated() (*Scenario, error) {
	if s.Backend == BackendNone {
		return s, nil
	}
	out := *s
	out.Backend = BackendNone
	out.Steps = make([]Step, len(s.Steps))
	expand := func(ms []Manifest) ([]Manifest, error) {
		var res []Manifest
		for _, m := range ms {
			objs, err := ClusterObjects(m.Objects)
			if err != nil {
				return nil, err
			}
			res = append(res, Manifest{File: m.File, Objects: objs})
		}
		return res, nil
	}
	for i, st := range s.Steps {
		apply, err := expand(st.Apply)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", st.Name, err)
		}
		del, err := expand(st.Delete)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", st.Name, err)
		}
		if i == 0 {
			apply = append(s.backendManifests(), apply...)
		}
		out.Steps[i] = Step{Name: st.Name, Apply: apply, Delete: del, Probes: st.Probes}
	}
	return &out, nil
}

// Functions returns the OpenFaaS Functions among objs.
func Functions(objs []Object) []*openfaas.Function {
	var fns []*openfaas.Function
	for _, o := range objs {
		if fn, ok := o.Object.(*openfaas.Function); ok {
			fns = append(fns, fn)
		}
	}
	return fns
}

// validateFunction checks a decoded Function (openfaas.Validate) and
// reports its first problem at the line of the field it names.
func validateFunction(file string, d document, root *yaml.Node, fn *openfaas.Function) *Diagnostic {
	return fieldsDiagnostic(file, d, root, openfaas.Validate(fn))
}

// fieldsDiagnostic is nil without problems, else the first problem of a
// backend object's Validate at the line of its field, naming the others.
func fieldsDiagnostic(file string, d document, root *yaml.Node, es fields.List) *Diagnostic {
	if len(es) == 0 {
		return nil
	}
	field, msg := es.First()
	return docError(file, d, pathLine(root, field), field, "%s", msg)
}

// KnativeServices returns the Knative Services among objs.
func KnativeServices(objs []Object) []*knative.Service {
	var out []*knative.Service
	for _, o := range objs {
		if ks, ok := o.Object.(*knative.Service); ok {
			out = append(out, ks)
		}
	}
	return out
}

// validateKnativeService checks a decoded Knative Service
// (knative.Validate) and reports its first problem at the line of the
// field it names.
func validateKnativeService(file string, d document, root *yaml.Node, ks *knative.Service) *Diagnostic {
	return fieldsDiagnostic(file, d, root, knative.Validate(ks))
}
