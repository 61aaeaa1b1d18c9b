package local

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/fixtures"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// template is a pod template of the scenario: a Deployment's or
// StatefulSet's, or a bare Pod's own spec.
type template struct {
	kind, namespace, name string
	file                  string
	line                  int
	labels                map[string]string
	spec                  corev1.PodSpec
}

// where names the template's object and where it was written.
func (t *template) where() string {
	return fmt.Sprintf("%s %s/%s (%s:%d)", t.kind, t.namespace, t.name, t.file, t.line)
}

func templateKey(kind, namespace, name string) string { return kind + ":" + namespace + "/" + name }

// templates collects the pod templates among a state's objects.
func templates(objs []scenario.Object) map[string]*template {
	out := map[string]*template{}
	add := func(kind string, ns, name string, o scenario.Object, labels map[string]string, spec corev1.PodSpec) {
		if ns == "" {
			ns = "default" // as kubectl and mesh.NewConfig place it
		}
		out[templateKey(kind, ns, name)] = &template{kind: kind, namespace: ns, name: name, file: o.File, line: o.Line, labels: labels, spec: spec}
	}
	for _, o := range objs {
		switch obj := o.Object.(type) {
		case *appsv1.Deployment:
			add("Deployment", obj.Namespace, obj.Name, o, obj.Spec.Template.Labels, obj.Spec.Template.Spec)
		case *appsv1.StatefulSet:
			add("StatefulSet", obj.Namespace, obj.Name, o, obj.Spec.Template.Labels, obj.Spec.Template.Spec)
		case *corev1.Pod:
			add("Pod", obj.Namespace, obj.Name, o, obj.Labels, obj.Spec)
		}
	}
	return out
}

// templateFor finds the template a workload of the routing model comes from.
func templateFor(tpls map[string]*template, w mesh.Workload) (*template, bool) {
	for _, k := range []string{
		templateKey("Pod", w.Namespace, w.Name),
		templateKey("Deployment", w.Namespace, w.Deployment),
		templateKey("StatefulSet", w.Namespace, w.Deployment),
	} {
		if t, ok := tpls[k]; ok {
			return t, true
		}
	}
	return nil, false
}

// podSpec is one pod to run: which workload, and its stand-in's spec.
type podSpec struct {
	workload    mesh.Workload
	spec        fixtures.Spec
	fingerprint string
	ignored     []string // containers after the first, not run
}

// podFor resolves the template's first container for one pod: its image,
// command, args and environment (values, and the pod fields Kubernetes'
// downward API offers). Errors wrap env.ErrUnsupported and name the object,
// the container and the field.
func (t *template) podFor(w mesh.Workload) (podSpec, error) {
	if len(t.spec.Containers) == 0 {
		return podSpec{}, fmt.Errorf("%w: %s: the pod template has no containers", env.ErrUnsupported, t.where())
	}
	c := t.spec.Containers[0]
	field := fmt.Sprintf("%s: container %s", t.where(), c.Name)
	if len(c.EnvFrom) > 0 {
		return podSpec{}, fmt.Errorf("%w: %s: envFrom: the local environment resolves env entries with value or valueFrom.fieldRef only", env.ErrUnsupported, field)
	}
	vars := map[string]string{"HOSTNAME": w.Name}
	for i, ev := range c.Env {
		v, err := t.envValue(ev, w, vars)
		if err != nil {
			return podSpec{}, fmt.Errorf("%w: %s: env[%d] (%s): %v", env.ErrUnsupported, field, i, ev.Name, err)
		}
		vars[ev.Name] = v
	}
	ps := podSpec{
		workload: w,
		spec: fixtures.Spec{
			Image:   c.Image,
			Command: slices.Clone(c.Command),
			Args:    slices.Clone(c.Args),
			Env:     vars,
			PodName: w.Name,
		},
	}
	for _, other := range t.spec.Containers[1:] {
		ps.ignored = append(ps.ignored, other.Name)
	}
	fp, err := json.Marshal(struct {
		Image          string
		Command, Args  []string
		Env, Labels    map[string]string
		ServiceAccount string
	}{c.Image, c.Command, c.Args, vars, w.Labels, w.ServiceAccount})
	if err != nil {
		return podSpec{}, fmt.Errorf("%s: %w", field, err)
	}
	ps.fingerprint = string(fp)
	return ps, nil
}

// labelRef matches the downward API's metadata.labels['key'].
var labelRef = regexp.MustCompile(`^metadata\.labels\['([^']+)'\]$`)

// envValue resolves one env entry as the kubelet would for this pod.
func (t *template) envValue(ev corev1.EnvVar, w mesh.Workload, earlier map[string]string) (string, error) {
	if ev.ValueFrom == nil {
		// Kubernetes expands $(VAR) in values with the variables defined
		// before this one.
		return fixtures.ExpandArgs([]string{ev.Value}, earlier)[0], nil
	}
	ref := ev.ValueFrom.FieldRef
	if ref == nil {
		return "", fmt.Errorf("valueFrom: the local environment supports fieldRef only (no configMapKeyRef, secretKeyRef or resourceFieldRef)")
	}
	switch ref.FieldPath {
	case "metadata.name":
		return w.Name, nil
	case "metadata.namespace":
		return w.Namespace, nil
	case "spec.nodeName":
		return "meshcheck-local", nil
	case "spec.serviceAccountName":
		if t.spec.ServiceAccountName != "" {
			return t.spec.ServiceAccountName, nil
		}
		return "default", nil
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	}
	if m := labelRef.FindStringSubmatch(ref.FieldPath); m != nil {
		return w.Labels[m[1]], nil
	}
	return "", fmt.Errorf("valueFrom.fieldRef.fieldPath %q: the local environment offers metadata.name, metadata.namespace, metadata.labels['key'], spec.nodeName, spec.serviceAccountName, status.podIP and status.hostIP", ref.FieldPath)
}

// pod is one running workload.
type pod struct {
	workload    mesh.Workload
	fingerprint string
	srv         *server
}

// startPod runs a pod's stand-in on its own loopback server; its own calls
// go through the outbound sidecar emulation of its identity (namespace and
// ServiceAccount).
func (e *Env) startPod(ps podSpec) (*pod, error) {
	client, err := e.clientFor(ps.workload.Identity())
	if err != nil {
		return nil, err
	}
	spec := ps.spec
	spec.Client = client
	h, err := fixtures.Handler(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: pod %s/%s: %w", env.ErrUnsupported, ps.workload.Namespace, ps.workload.Name, err)
	}
	srv, err := startServer(h, e.log)
	if err != nil {
		return nil, fmt.Errorf("local environment: starting pod %s/%s: %w", ps.workload.Namespace, ps.workload.Name, err)
	}
	if len(ps.ignored) > 0 {
		e.log.Warn("only the first container runs in the local environment", "pod", ps.workload.Name, "notRun", ps.ignored)
	}
	e.log.Debug("pod started", "pod", ps.workload.Namespace+"/"+ps.workload.Name, "image", ps.spec.Image, "address", srv.url.Host, "labels", maps.Clone(ps.workload.Labels))
	return &pod{workload: ps.workload, fingerprint: ps.fingerprint, srv: srv}, nil
}

// stop stops the pod's server, letting requests in flight finish until ctx
// ends.
func (p *pod) stop(ctx context.Context) error {
	if err := p.srv.stop(ctx); err != nil {
		return fmt.Errorf("stopping pod %s/%s: %w", p.workload.Namespace, p.workload.Name, err)
	}
	return nil
}

// validate checks, without running anything, that every pod template of a
// state has a stand-in and resolvable settings.
func validate(objs []scenario.Object) error {
	for _, t := range sortedTemplates(templates(objs)) {
		w := mesh.Workload{Name: mesh.PodName(t.name, 0), Namespace: t.namespace, Deployment: t.name, Labels: t.labels}
		if t.kind == "Pod" {
			w.Name = t.name
		}
		ps, err := t.podFor(w)
		if err != nil {
			return err
		}
		if _, err := fixtures.Handler(ps.spec); err != nil {
			return fmt.Errorf("%w: %s: container %s: %w", env.ErrUnsupported, t.where(), t.spec.Containers[0].Name, err)
		}
	}
	return nil
}

func sortedTemplates(m map[string]*template) []*template {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]*template, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
