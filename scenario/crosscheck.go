package scenario

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshcheck/meshcheck/mesh"
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

// checker runs the cross-checks of one scenario, adding what it finds to
// ds.
type checker struct {
	s  *Scenario
	ds *diagnostics
}

func (c *checker) warn(d Diagnostic) {
	d.Severity = SeverityWarning
	c.ds.add(d)
}

func (c *checker) fail(d Diagnostic) {
	d.Severity = SeverityError
	c.ds.add(d)
}

// at is a diagnostic at field of scenario.yaml.
func (c *checker) at(field, format string, args ...any) Diagnostic {
	return Diagnostic{File: c.s.File, Line: c.s.lines[field], Field: field, Msg: fmt.Sprintf(format, args...)}
}

// crossCheck checks what no single file shows: objects against the
// scenario's namespaces, deletions against the state, mesh probes against
// sidecar injection, the routing model's findings on each step's state, and
// each probe's expectation against what the model predicts for it.
func crossCheck(s *Scenario, d *decoded, ds *diagnostics) {
	c := &checker{s: s, ds: ds}
	declared := map[string]bool{}
	for _, ns := range s.Namespaces {
		declared[ns.Name] = true
	}
	c.checkInjection()
	for i, st := range s.Steps {
		before := len(ds.list)
		c.checkObjects(st, declared)
		objectsBad := slices.ContainsFunc(ds.list[before:], func(d Diagnostic) bool { return d.Severity == SeverityError })
		prev := s.StateAt(i - 1)
		for j, m := range st.Delete {
			for _, o := range m.Objects {
				if !inState(prev, o) {
					ref := d.delete[i][j]
					c.warn(Diagnostic{File: s.File, Line: ref.line, Field: ref.field,
						Msg: fmt.Sprintf("%s (%s:%d) is not in effect before step %s: deleting it changes nothing", describeObject(o.Object), o.File, o.Line, st.Name)})
				}
			}
		}
		if objectsBad {
			continue // the model would judge objects that cannot be applied
		}
		field := index("spec.steps", i)
		model, err := s.Model(i)
		if err != nil {
			fromConfig := false
			for j, p := range st.Probes {
				if p.Expect.FromConfig {
					fromConfig = true
					c.fail(c.at(join(index(join(field, "probes"), j), "expect.fromConfig"),
						"the routing model cannot derive the expected split at step %s: %v; give explicit weights instead", st.Name, errors.Unwrap(err)))
				}
			}
			if !fromConfig {
				c.warn(c.at(field, "the routing model cannot check step %s: %v", st.Name, errors.Unwrap(err)))
			}
			continue
		}
		state, err := s.ClusterStateAt(i)
		if err != nil {
			continue // Model reported it
		}
		for _, f := range model.Lint() {
			c.finding(state, f, st.Name)
		}
		for j, p := range st.Probes {
			c.checkProbe(Predict(model, p, s.SourceNamespace()), p, index(join(field, "probes"), j))
			c.checkServiceAccount(state, p, index(join(field, "probes"), j))
		}
	}
}

// checkServiceAccount warns of a probe that runs as a ServiceAccount the
// step's objects do not create in the source namespace: on a cluster the
// in-mesh agent cannot run as it unless someone else created it (the local
// environment needs no account object).
func (c *checker) checkServiceAccount(state []Object, p Probe, field string) {
	if p.ServiceAccount == "" || p.ServiceAccount == AgentServiceAccount {
		return
	}
	ns := c.s.SourceNamespace()
	for _, o := range state {
		if sa, ok := o.Object.(*corev1.ServiceAccount); ok && sa.Name == p.ServiceAccount && (sa.Namespace == ns || sa.Namespace == "" && ns == "default") {
			return
		}
	}
	c.warn(c.at(join(field, "serviceAccount"), "probe %s runs as ServiceAccount %s, which no manifest in effect creates in namespace %s: on a cluster its in-mesh agent cannot start unless the account exists",
		p.Name, p.ServiceAccount, ns))
}

// checkInjection fails mesh probes whose requests would not pass through a
// sidecar on a cluster: they run from SourceNamespace, which is a
// namespace with injection when the scenario has one; without one the
// emulation would still route them as if through a sidecar and pass.
func (c *checker) checkInjection() {
	for _, ns := range c.s.Namespaces {
		if ns.Injection {
			return
		}
	}
	var probes []string
	for i, st := range c.s.Steps {
		for j, p := range st.Probes {
			if p.From == mesh.Mesh {
				line := c.s.lines[join(index(join(index("spec.steps", i), "probes"), j), "from")]
				probes = append(probes, fmt.Sprintf("%s (line %d)", p.Name, line))
			}
		}
	}
	if len(probes) == 0 {
		return
	}
	src := c.s.SourceNamespace()
	which := "probe " + probes[0] + " runs"
	if len(probes) > 1 {
		which = "probes " + strings.Join(probes, ", ") + " run"
	}
	if len(c.s.Namespaces) == 0 {
		c.fail(c.at("spec",
			"%s from the mesh, but the scenario lists no namespace, so the in-mesh agent runs in namespace default, which meshcheck does not label for sidecar injection: the requests would bypass the mesh; list a namespace with injection: true in spec.namespaces", which))
		return
	}
	field := "spec.namespaces[0].injection"
	if _, ok := c.s.lines[field]; !ok {
		field = "spec.namespaces[0].name"
	}
	c.fail(c.at(field,
		"namespace %s has no sidecar injection, but %s from the mesh: the in-mesh agent runs in %s (the first namespace, as none has injection), where it gets no sidecar, so the requests would bypass the mesh; set injection: true on %s",
		src, which, src, src))
}

// checkObjects checks the namespaces of the objects a step applies, and
// that no file applies the same object twice.
func (c *checker) checkObjects(st Step, declared map[string]bool) {
	for _, m := range st.Apply {
		seen := map[objectKey]Object{}
		for _, o := range m.Objects {
			a, err := meta.Accessor(o.Object)
			if err != nil {
				continue
			}
			k := keyOf(o.Object)
			if first, dup := seen[k]; dup {
				c.fail(Diagnostic{File: o.File, Line: fieldLine(o, "metadata.name"), Field: "metadata.name",
					Msg: fmt.Sprintf("%s is defined twice in this file (first on line %d): define each object once", describeObject(o.Object), fieldLine(first, "metadata.name"))})
				continue
			}
			seen[k] = o
			if a.GetName() == "" {
				c.fail(Diagnostic{File: o.File, Line: o.Line, Field: "metadata.name",
					Msg: fmt.Sprintf("a %s needs a name (generateName cannot be applied idempotently)", k.kind)})
				continue
			}
			ns := a.GetNamespace()
			switch {
			case ns == "" && !clusterScoped[k.kind]:
				c.warn(Diagnostic{File: o.File, Line: fieldLine(o, "metadata"), Field: "metadata.namespace",
					Msg: fmt.Sprintf("%s has no namespace: it lands in the namespace of the cluster context (usually default); name one of the scenario's namespaces", describeObject(o.Object))})
			case ns != "" && !declared[ns] && !existingNamespaces[ns]:
				c.warn(Diagnostic{File: o.File, Line: fieldLine(o, "metadata.namespace"), Field: "metadata.namespace",
					Msg: fmt.Sprintf("namespace %s is not in spec.namespaces (nor default or istio-system): the apply fails unless the cluster has it; list it in spec.namespaces", ns)})
			}
		}
	}
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

// finding places a routing-model finding at the file and line of the
// object and field it is about: an error when istiod rejects the object
// (applying it fails), else a warning, which predicts failure when the
// finding is of severity error (requests fail).
func (c *checker) finding(state []Object, f mesh.Finding, step string) {
	d := Diagnostic{File: c.s.File, Field: f.Field, Msg: fmt.Sprintf("%s: %s (at step %s)", f.Object, f.Message, step),
		PredictsFailure: f.Severity == mesh.SeverityError}
	for _, o := range state {
		if sameObject(o.Object, f.Object) {
			d.File, d.Line = o.File, fieldLine(o, f.Field)
			break
		}
	}
	if f.Rejected {
		c.fail(d)
		return
	}
	c.warn(d)
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

// checkProbe holds a probe against the model's prediction for it. Sure to
// fail, so errors: every request answered 404 (nothing serves the host or
// path) when the probe expects versions, and a podLabel that no pod the
// requests reach carries. Likely to fail, so warnings that predict failure:
// another status for every request, an error share above the budget, and
// explicit weights the prediction disagrees with.
func (c *checker) checkProbe(pr Prediction, p Probe, field string) {
	expectField := join(field, "expect")
	switch {
	case p.Expect.Weights != nil:
		expectField = join(expectField, "weights")
	case p.Expect.Status != 0:
		expectField = join(expectField, "status")
	default:
		expectField = join(expectField, "fromConfig")
	}
	res := pr.Resolution
	if res.Status != 0 {
		if p.Expect.Status == res.Status {
			return
		}
		hostField := join(field, "request.host")
		if p.From == mesh.Mesh {
			hostField = join(field, "request.url")
		}
		d := c.at(hostField, "probe %s: the model predicts status %d for every request%s", p.Name, res.Status, because(res.Reason))
		d.PredictsFailure = true
		if res.Status == 404 {
			d.Msg = fmt.Sprintf("probe %s: nothing serves this request: no Service or VirtualService routes it, so every request gets 404%s", p.Name, because(res.Reason))
			if p.Expect.Status == 0 {
				c.fail(d)
				return
			}
		}
		c.warn(d)
		return
	}
	if p.Classify.PodLabel != "" && len(pr.Shares) == 0 && pr.Unlabelled > 0 {
		c.fail(c.podLabelTypo(pr, p, join(field, "classify.podLabel")))
		return
	}
	exp := p.Expectation(pr.Weights)
	switch {
	case p.Expect.Status != 0:
		if pr.Disagrees(exp) {
			d := c.at(expectField, "probe %s expects %s but the model predicts %s: %s",
				p.Name, expectedText(exp), pr.statusText(), pr.accessWhy())
			d.PredictsFailure = true
			c.warn(d)
		}
	case p.Expect.FromConfig:
		if pr.ErrorShare > p.Settings.ErrorBudget {
			d := c.at(expectField, "probe %s: the model predicts %s of requests answered with errors (503), above the error budget %s: %s",
				p.Name, percent(pr.ErrorShare), percent(p.Settings.ErrorBudget), pr.Why())
			d.PredictsFailure = true
			c.warn(d)
		}
	case pr.Disagrees(exp):
		d := c.at(expectField, "probe %s expects %s but the routing model predicts %s: %s",
			p.Name, expectedText(exp), pr.Text(), pr.Why())
		d.PredictsFailure = true
		c.warn(d)
	}
}

// podLabelTypo says that no pod a probe reaches carries its podLabel, with
// the labels they do carry.
func (c *checker) podLabelTypo(pr Prediction, p Probe, field string) Diagnostic {
	keys := map[string]bool{}
	for _, d := range pr.Resolution.Destinations {
		for _, w := range d.Workloads {
			for k := range w.Labels {
				keys[k] = true
			}
		}
	}
	carried := make([]string, 0, len(keys))
	for k := range keys {
		carried = append(carried, k)
	}
	sort.Strings(carried)
	msg := fmt.Sprintf("probe %s: no pod its requests reach carries label %s, so no response can be classified; they carry %s",
		p.Name, p.Classify.PodLabel, strings.Join(carried, ", "))
	if s := closest(p.Classify.PodLabel, carried); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return c.at(field, "%s", msg)
}

// because prefixes a non-empty reason with ": ".
func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + strings.TrimSuffix(reason, ".")
}
