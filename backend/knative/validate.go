package knative

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshcheck/meshcheck/backend/fields"
)

// The fields of a revision template meshcheck supports; Validate refuses
// the others, since neither the local emulation nor the routing model
// would follow them.
var (
	podFields       = []string{"containers"}
	containerFields = []string{"name", "image", "args", "env", "ports", "resources", "securityContext"}
)

// Validate returns the problems of ks that Knative (its webhook,
// knative.dev/serving pkg/apis/serving/v1 *_validation.go) would reject,
// or that meshcheck cannot run: metadata.name must be a DNS label (it names
// the revision, its Kubernetes Services and the host
// <name>.<namespace>.svc.cluster.local) and metadata.namespace must be
// given (the address names it); the template has exactly one container,
// with an image, environment variables that are valid and not Knative's own
// (PORT, K_SERVICE, K_CONFIGURATION, K_REVISION), at most one port
// (name http1 or h2c, or none; not one of the queue-proxy's); template labels are valid and not under
// serving.knative.dev/; spec.traffic and pod or container fields other
// than the ones listed in podFields and containerFields are not supported.
func Validate(ks *Service) fields.List {
	var es fields.List
	add := func(field, format string, args ...any) {
		es = append(es, fields.Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if ks == nil {
		add("", "no Service")
		return es
	}
	switch {
	case ks.Name == "":
		add("metadata.name", "missing: the Knative Service's name, which its address http://<name>.<namespace>.svc.cluster.local carries")
	default:
		for _, m := range validation.IsDNS1035Label(ks.Name) {
			add("metadata.name", "%q: %s", ks.Name, m)
		}
	}
	if ks.Namespace == "" {
		add("metadata.namespace", "missing: the namespace the Knative Service runs in (one of spec.namespaces, with injection)")
	} else {
		for _, m := range validation.IsDNS1123Label(ks.Namespace) {
			add("metadata.namespace", "%q: %s", ks.Namespace, m)
		}
	}
	tpl := ks.Spec.Template
	for _, k := range slices.Sorted(maps.Keys(tpl.Labels)) {
		f := "spec.template.metadata.labels." + k
		if strings.HasPrefix(k, LabelPrefix) {
			add(f, "set by Knative (%s...): remove it", LabelPrefix)
			continue
		}
		for _, m := range validation.IsQualifiedName(k) {
			add(f, "label key %q: %s", k, m)
		}
		for _, m := range validation.IsValidLabelValue(tpl.Labels[k]) {
			add(f, "label value %q: %s", tpl.Labels[k], m)
		}
	}
	pod := tpl.Spec.PodSpec
	pod.Containers = nil
	for _, k := range setFields(pod) {
		add("spec.template.spec."+k, "not supported: meshcheck runs a Knative revision's %s only", strings.Join(podFields, ", "))
	}
	if tpl.Spec.ContainerConcurrency != nil {
		add("spec.template.spec.containerConcurrency", "not supported: meshcheck does not emulate Knative's request queue; remove it")
	}
	if tpl.Spec.TimeoutSeconds != nil {
		add("spec.template.spec.timeoutSeconds", "not supported: meshcheck does not emulate Knative's request queue; remove it")
	}
	cs := tpl.Spec.Containers
	switch {
	case len(cs) == 0:
		add("spec.template.spec.containers", "missing: one container, the function")
	case len(cs) > 1:
		add("spec.template.spec.containers", "%d containers: meshcheck supports one, the function", len(cs))
	default:
		c := cs[0]
		at := "spec.template.spec.containers[0]."
		if strings.TrimSpace(c.Image) == "" {
			add(at+"image", "missing: the function's container image")
		} else if strings.ContainsAny(c.Image, " \t\r\n") {
			add(at+"image", "%q: an image reference has no white space", c.Image)
		}
		for i, e := range c.Env {
			f := fmt.Sprintf("%senv[%d]", at, i)
			switch {
			case slices.Contains(reservedEnv, e.Name):
				add(f+".name", "%q is set by Knative (reserved: %s): remove it", e.Name, strings.Join(reservedEnv, ", "))
			case e.ValueFrom != nil:
				add(f+".valueFrom", "not supported: meshcheck creates no Secrets or ConfigMaps for functions; give value")
			default:
				for _, m := range validation.IsEnvVarName(e.Name) {
					add(f+".name", "environment variable name %q: %s", e.Name, m)
				}
			}
		}
		switch {
		case len(c.Ports) > 1:
			add(at+"ports", "%d ports: Knative serves one container port", len(c.Ports))
		case len(c.Ports) == 1:
			p := c.Ports[0]
			switch {
			case p.ContainerPort < 1 || p.ContainerPort > 65535:
				add(at+"ports[0].containerPort", "%d: want a port from 1 to 65535 (or leave it out for %d)", p.ContainerPort, DefaultContainerPort)
			case slices.Contains(reservedPorts, p.ContainerPort):
				add(at+"ports[0].containerPort", "%d is reserved for Knative's queue-proxy (%v): choose another (or leave it out for %d)", p.ContainerPort, reservedPorts, DefaultContainerPort)
			}
			if p.Name != "" && p.Name != "http1" && p.Name != "h2c" {
				add(at+"ports[0].name", "%q: Knative knows http1 and h2c, or leave it out", p.Name)
			}
		}
		rest := c
		rest.Name, rest.Image, rest.Args, rest.Env, rest.Ports = "", "", nil, nil, nil
		rest.Resources.Limits, rest.Resources.Requests = nil, nil
		rest.SecurityContext = nil
		for _, k := range setFields(rest) {
			add(at+k, "not supported: meshcheck runs a Knative container's %s only", strings.Join(containerFields, ", "))
		}
	}
	if len(ks.Spec.Traffic) > 0 {
		add("spec.traffic", "not supported: the scenario splits traffic with Istio rules; leave it out (100%% to the latest revision)")
	}
	return es
}

// setFields returns the JSON names of v's fields that are set (not null,
// "", {} or []), sorted.
func setFields(v any) []string {
	data, err := json.Marshal(v)
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch x := m[k].(type) {
		case nil:
			continue
		case string:
			if x == "" {
				continue
			}
		case map[string]any:
			if len(x) == 0 {
				continue
			}
		case []any:
			if len(x) == 0 {
				continue
			}
		}
		out = append(out, k)
	}
	return out
}
