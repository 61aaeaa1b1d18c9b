package scenario

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/verify"
)

// existingNamespaces are namespaces a cluster with Istio already has, which
// scenarios may use without listing them.
var existingNamespaces = map[string]bool{"default": true, "istio-system": true}

// clusterScoped are the kinds a manifest may leave without a namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "PersistentVolume": true,
	"StorageClass": true, "PriorityClass": true, "IngressClass": true, "RuntimeClass": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true, "Node": true,
}

// checker gathers warnings, each reported once however many steps share it.
type checker struct {
	s        *Scenario
	warnings []Warning
	seen     map[Warning]bool
}

func (c *checker) warn(w Warning) {
	if c.seen[w] {
		return
	}
	c.seen[w] = true
	c.warnings = append(c.warnings, w)
}

// crossCheck checks what no single file shows: objects against the
// scenario's namespaces, deletions against the state, the routing model's
// findings on each step's state, and each probe's expectation against what
// the model predicts for it.
func crossCheck(s *Scenario, d *decoded) ([]Warning, error) {
	c := &checker{s: s, seen: map[Warning]bool{}}
	declared := map[string]bool{}
	for _, ns := range s.Namespaces {
		declared[ns.Name] = true
	}
	for i, st := range s.Steps {
		if err := c.checkObjects(st, declared); err != nil {
			return nil, err
		}
		before := s.StateAt(i - 1)
		for j, m := range st.Delete {
			for _, o := range m.Objects {
				if !inState(before, o) {
					ref := d.delete[i][j]
					c.warn(Warning{File: s.File, Line: ref.node.Line, Field: ref.field,
						Msg: fmt.Sprintf("%s (%s:%d) is not in effect before step %s: deleting it changes nothing", describeObject(o.Object), o.File, o.Line, st.Name)})
				}
			}
		}
		state := s.StateAt(i)
		objs := make([]runtime.Object, len(state))
		for k, o := range state {
			objs[k] = o.Object
		}
		cfg, err := mesh.NewConfig(objs)
		if err != nil {
			field := index("spec.steps", i)
			for j, p := range st.Probes {
				if p.Expect.FromConfig {
					f := join(index(join(field, "probes"), j), "expect.fromConfig")
					return nil, &Error{File: s.File, Line: s.lines[f], Field: f,
						Msg: fmt.Sprintf("the routing model cannot derive the expected split at step %s: %v; give explicit weights instead", st.Name, err)}
				}
			}
			c.warn(Warning{File: s.File, Line: s.lines[join(field, "name")], Field: field,
				Msg: fmt.Sprintf("the routing model cannot check step %s: %v", st.Name, err)})
			continue
		}
		model := mesh.New(cfg)
		for _, f := range model.Lint() {
			c.warn(c.findingWarning(state, f, st.Name))
		}
		for j, p := range st.Probes {
			c.checkProbe(model, p, index(join(index("spec.steps", i), "probes"), j))
		}
	}
	return c.warnings, nil
}

// checkObjects checks the namespaces of the objects a step applies, and
// that no file applies the same object twice.
func (c *checker) checkObjects(st Step, declared map[string]bool) error {
	for _, m := range st.Apply {
		seen := map[objectKey]Object{}
		for _, o := range m.Objects {
			a, err := meta.Accessor(o.Object)
			if err != nil {
				continue
			}
			k := keyOf(o.Object)
			if first, dup := seen[k]; dup {
				return &Error{File: o.File, Line: fieldLine(o, "metadata.name"), Field: "metadata.name",
					Msg: fmt.Sprintf("%s is defined twice in this file (first on line %d): define each object once", describeObject(o.Object), fieldLine(first, "metadata.name"))}
			}
			seen[k] = o
			if a.GetName() == "" {
				return &Error{File: o.File, Line: o.Line, Field: "metadata.name",
					Msg: fmt.Sprintf("a %s needs a name (generateName cannot be applied idempotently)", k.kind)}
			}
			ns := a.GetNamespace()
			switch {
			case ns == "" && !clusterScoped[k.kind]:
				c.warn(Warning{File: o.File, Line: fieldLine(o, "metadata"), Field: "metadata.namespace",
					Msg: fmt.Sprintf("%s has no namespace: it lands in the namespace of the cluster context (usually default); name one of the scenario's namespaces", describeObject(o.Object))})
			case ns != "" && !declared[ns] && !existingNamespaces[ns]:
				c.warn(Warning{File: o.File, Line: fieldLine(o, "metadata.namespace"), Field: "metadata.namespace",
					Msg: fmt.Sprintf("namespace %s is not in spec.namespaces (nor default or istio-system): the apply fails unless the cluster has it; list it in spec.namespaces", ns)})
			}
		}
	}
	return nil
}

func inState(state []Object, o Object) bool {
	k := keyOf(o.Object)
	for _, s := range state {
		if keyOf(s.Object) == k {
			return true
		}
	}
	return false
}

// describeObject names an object as "Kind ns/name".
func describeObject(obj runtime.Object) string {
	k := keyOf(obj)
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// findingWarning places a routing-model finding at the file and line of the
// object and field it is about.
func (c *checker) findingWarning(state []Object, f mesh.Finding, step string) Warning {
	msg := fmt.Sprintf("%s: %s (at step %s)", f.Object, f.Message, step)
	for _, o := range state {
		if !sameObject(o.Object, f.Object) {
			continue
		}
		return Warning{File: o.File, Line: fieldLine(o, f.Field), Field: f.Field, Msg: msg}
	}
	return Warning{File: c.s.File, Field: f.Field, Msg: msg}
}

// fieldLine returns the line of o's file holding the field at path
// ("spec.http[0].route[1].destination.subset"), or of the nearest enclosing
// field that exists; o.Line for an empty path.
func fieldLine(o Object, path string) int {
	if path == "" {
		return o.Line
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(o.Raw, &doc); err != nil || len(doc.Content) == 0 {
		return o.Line
	}
	return o.Line + pathLine(doc.Content[0], path) - 1
}

// sameObject reports whether obj is the object a finding names ("Kind
// ns/name"; mesh places objects without a namespace in default).
func sameObject(obj runtime.Object, name string) bool {
	k := keyOf(obj)
	ns := k.namespace
	if ns == "" {
		ns = "default"
	}
	return name == k.kind+" "+ns+"/"+k.name
}

// checkProbe resolves a probe's request with the routing model and warns
// when the request reaches nothing, or when an explicit expectation
// disagrees with the split the model predicts.
func (c *checker) checkProbe(model *mesh.Model, p Probe, field string) {
	res := model.Resolve(p.ModelRequest(c.s.SourceNamespace()))
	why := res.Reason
	if len(res.Notes) > 0 {
		why = res.Notes[0]
	}
	expectField := join(field, "expect")
	switch {
	case p.Expect.Weights != nil:
		expectField = join(expectField, "weights")
	case p.Expect.Status != 0:
		expectField = join(expectField, "status")
	default:
		expectField = join(expectField, "fromConfig")
	}
	at := func(f string) Warning { return Warning{File: c.s.File, Line: c.s.lines[f], Field: f} }
	if res.Status != 0 {
		if p.Expect.Status == res.Status {
			return
		}
		hostField := join(field, "request.host")
		if p.From == mesh.Mesh {
			hostField = join(field, "request.url")
		}
		w := at(hostField)
		if res.Status == 404 {
			w.Msg = fmt.Sprintf("probe %s: no Service or VirtualService routes this request (the model predicts 404 for every request)%s", p.Name, because(res.Reason))
		} else {
			w.Msg = fmt.Sprintf("probe %s: the model predicts status %d for every request%s", p.Name, res.Status, because(res.Reason))
		}
		c.warn(w)
		return
	}
	if p.Expect.Status != 0 {
		return // the model routes; whether a policy answers the status is beyond it
	}
	shares, errShare := res.Shares(p.VersionLabel())
	if p.Expect.FromConfig {
		if errShare > p.Settings.ErrorBudget {
			w := at(expectField)
			w.Msg = fmt.Sprintf("probe %s: the model predicts %s of requests answered with errors (503), above the error budget %s%s",
				p.Name, pct(errShare), pct(p.Settings.ErrorBudget), because(destinationTrouble(res, why)))
			c.warn(w)
		}
		return
	}
	if disagree(p, shares, errShare) {
		w := at(expectField)
		w.Msg = fmt.Sprintf("probe %s expects %s but the routing model predicts %s%s",
			p.Name, formatWeights(p.Expect.Weights), formatShares(shares, errShare), because(destinationTrouble(res, why)))
		c.warn(w)
	}
}

// because prefixes a non-empty reason with ": ".
func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + strings.TrimSuffix(reason, ".")
}

// destinationTrouble prefers the reason of a failing destination (an
// undefined subset) over the general explanation.
func destinationTrouble(res mesh.Resolution, why string) string {
	for _, d := range res.Destinations {
		if d.Status != 0 && d.Reason != "" {
			return d.Reason
		}
	}
	return why
}

// disagree reports whether the predicted shares fall outside the probe's
// bands, send traffic to versions it does not expect, or exceed its error
// budget.
func disagree(p Probe, shares map[string]float64, errShare float64) bool {
	if errShare > p.Settings.ErrorBudget {
		return true
	}
	expected := map[string]bool{}
	for _, w := range p.Expect.Weights {
		expected[w.Version] = true
		want := float64(w.Percent) / 100
		half := p.Settings.Tolerance
		if p.Settings.Relative {
			half = p.Settings.Tolerance * want
		}
		if math.Abs(shares[w.Version]-want) > half+1e-9 {
			return true
		}
	}
	for v, share := range shares {
		if !expected[v] && share > 1e-9 {
			return true
		}
	}
	return false
}

func pct(x float64) string {
	return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) + "%"
}

func formatWeights(ws []verify.Weight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %d%%", w.Version, w.Percent)
	}
	return strings.Join(parts, ", ")
}

func formatShares(shares map[string]float64, errShare float64) string {
	versions := make([]string, 0, len(shares))
	for v := range shares {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	var parts []string
	for _, v := range versions {
		name := v
		if name == "" {
			name = "(pods without the label)"
		}
		parts = append(parts, name+" "+pct(shares[v]))
	}
	if errShare > 0 {
		parts = append(parts, "errors "+pct(errShare))
	}
	if len(parts) == 0 {
		return "no responses"
	}
	return strings.Join(parts, ", ")
}
