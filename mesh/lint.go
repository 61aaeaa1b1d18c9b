package mesh

import (
	"fmt"
	"slices"
)

// Finding is one static problem of the config.
type Finding struct {
	// Object is "<Kind> <namespace>/<name>", e.g. "VirtualService echo/echo-route".
	Object string
	// Field is the path of the offending field, e.g.
	// "spec.http[0].route[1].destination.subset".
	Field string
	// Severity is "error" (Istio rejects the object, or requests fail) or
	// "warning" (legal, but probably not what was meant).
	Severity string
	// Message is one sentence: what is wrong and what follows from it.
	Message string
	// Rejected is set when istiod's validation rejects the object, so
	// applying it fails (a negative weight, hosts "*" with mesh, a bad
	// regex).
	Rejected bool
}

// Severities of findings.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Lint reports static problems: objects istiod's validation rejects (hosts
// "*" with mesh, bad weights, bad regexes), subsets no DestinationRule
// defines (503), destination hosts or ports no Service has (503), gateway
// references to no Gateway, weights not summing to 100, conflicting
// VirtualServices for one host in the mesh, DestinationRule subsets that
// select no pod, delegating routes whose delegate istiod cannot use, and
// AuthorizationPolicies that are rejected, use fields the model does not
// evaluate, select no workload or allow principals no workload has.
func (m *Model) Lint() []Finding {
	var out []Finding
	add := func(obj, field, sev, format string, args ...any) {
		out = append(out, Finding{Object: obj, Field: field, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	meshOwner := map[string]*vsInfo{}
	for _, v := range m.vss {
		obj := "VirtualService " + v.key
		for _, p := range v.problems {
			add(obj, p.field, SeverityError, "%s %s, so istiod's validation rejects the VirtualService", p.field, p.msg)
			out[len(out)-1].Rejected = true
		}
		if len(v.hosts) == 0 && !m.delegatedTo(v) {
			add(obj, "spec.hosts", SeverityWarning,
				"the VirtualService has no hosts and no VirtualService delegates to it, so it routes nothing")
		}
		// Gateway references (VirtualService-gateways).
		for i, g := range v.gateways {
			if g == meshGateway || len(v.obj.Spec.GetGateways()) == 0 {
				continue
			}
			gi := m.gwByKey[g]
			switch {
			case gi == nil:
				add(obj, fmt.Sprintf("spec.gateways[%d]", i), SeverityError,
					"gateway %s does not exist, so these routes apply to no gateway through it", g)
			case !gi.selectsIngress:
				add(obj, fmt.Sprintf("spec.gateways[%d]", i), SeverityWarning,
					"Gateway %s does not select the ingress gateway (istio=ingressgateway), so ingress probes do not use these routes", g)
			}
		}
		if v.invalid == "" && v.mesh && exportedTo(v.exportTo, v.ns, v.ns) {
			for i, h := range v.hosts {
				if h == "*" || isWildcard(h) {
					continue
				}
				if first := meshOwner[h]; first != nil {
					add(obj, fmt.Sprintf("spec.hosts[%d]", i), SeverityError,
						"VirtualService %s already binds host %s to mesh, and sidecars use only the oldest VirtualService for a host (IST0109), so this one is ignored in the mesh", first.key, h)
				} else {
					meshOwner[h] = v
				}
			}
		}
		for _, r := range v.routes {
			m.lintRoute(v, r, add)
		}
	}
	for _, d := range m.drs {
		obj := "DestinationRule " + d.key
		var svcs []*service
		for _, s := range m.svcList {
			if hostSubsetOf(s.host, d.host) {
				svcs = append(svcs, s)
			}
		}
		if len(svcs) == 0 {
			add(obj, "spec.host", SeverityWarning, "host %s names no Service, so the rule applies to nothing", d.host)
			continue
		}
		for _, sub := range d.subsets {
			n := 0
			for _, s := range svcs {
				for _, w := range s.pods {
					if labelsInclude(w.Labels, sub.labels) {
						n++
					}
				}
			}
			if n == 0 {
				add(obj, fmt.Sprintf("spec.subsets[%d].labels", sub.index), SeverityWarning,
					"subset %s (%s) selects no pod of %s, so requests routed to it get 503 (UH: no healthy upstream)",
					sub.name, labelString(sub.labels), svcs[0].host)
			}
		}
	}
	m.lintAuthz(add, func() { out[len(out)-1].Rejected = true })
	for _, s := range m.svcList {
		for i, sp := range s.ports {
			if sp.target == 0 {
				add("Service "+s.ns+"/"+s.name, fmt.Sprintf("spec.ports[%d].targetPort", i), SeverityWarning,
					"targetPort %q is a container port name, which the model cannot resolve to a number", sp.targetName)
			}
		}
	}
	return out
}

// lintRoute checks one http route's destinations.
func (m *Model) lintRoute(v *vsInfo, r *httpRoute, add func(obj, field, sev, format string, args ...any)) {
	obj := "VirtualService " + v.key
	at := fmt.Sprintf("spec.http[%d]", r.index)
	if r.delegate != "" && m.delegate(v, r) == nil {
		add(obj, at+".delegate", SeverityError,
			"route %s delegates to VirtualService %s, which does not exist, is invalid or is not exported to namespace %s, so istiod drops the route", r.label, r.delegate, v.ns)
	}
	total := 0
	for _, d := range r.dests {
		total += d.weight
	}
	// Weights are relative since Istio 1.x validation dropped the sum-to-100
	// rule; a sum other than 100 is legal but usually a slip.
	if len(r.dests) > 1 && total > 0 && total != 100 {
		add(obj, at+".route", SeverityWarning,
			"the weights of route %s sum to %d, not 100; Istio sends each destination weight/%d of the requests", r.label, total, total)
	}
	for _, d := range r.dests {
		field := fmt.Sprintf("%s.route[%d].destination", at, d.index)
		s := m.services[d.host]
		if s == nil {
			add(obj, field+".host", SeverityError,
				"host %s is not a Service, so Envoy answers 503 (NC) for this destination's share", d.host)
			continue
		}
		if d.port != 0 && s.portByNumber(d.port) == nil {
			add(obj, field+".port.number", SeverityError,
				"Service %s has no port %d, so Envoy answers 503 (NC) for this destination's share", s.host, d.port)
		}
		if d.subset == "" {
			continue
		}
		// The DestinationRules that apply depend on the client's namespace:
		// check the clients this VirtualService serves.
		var clients []string
		if v.mesh {
			clients = append(clients, v.ns)
			if s.ns != v.ns {
				clients = append(clients, s.ns)
			}
		}
		if slices.ContainsFunc(v.gateways, func(g string) bool { return g != meshGateway }) {
			clients = append(clients, rootNamespace)
		}
		for _, c := range clients {
			if sub, _ := m.findSubset(s, d.subset, c); sub == nil {
				add(obj, field+".subset", SeverityError,
					"subset %s is defined by no DestinationRule for %s (seen from namespace %s), so Envoy answers 503 (NC) for this destination's share",
					d.subset, s.host, c)
				break
			}
		}
	}
}
