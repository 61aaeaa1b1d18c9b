package mesh

import (
	"fmt"
	"slices"
	"strings"
)

// noListener answers a request to a port the proxy has no HTTP route table
// for.
func (t *table) noListener(port int) Resolution {
	if t.proxy.vantage == Ingress {
		return Resolution{Status: 404, Reason: fmt.Sprintf(
			"the ingress gateway answers 404: no Gateway that selects it has a plain HTTP server on port %d (a real gateway refuses the connection)", port)}
	}
	return Resolution{Status: 404, Reason: fmt.Sprintf(
		"the sidecar answers 404: no Service has port %d (meshcheck does not model passthrough traffic to other ports)", port)}
}

// noHost answers a request whose Host matches no virtual host: Envoy
// answers 404 (NR). At the ingress a Host must match a route domain (REFERENCES:
// "a Host that matches none gets 404"). In the mesh, a host that is neither a
// Service nor a host of a VirtualService bound to mesh would leave through
// the sidecar's passthrough cluster on a real cluster; meshcheck does not
// model traffic leaving the mesh and answers 404 instead.
func (m *Model) noHost(t *table, port int, h string) Resolution {
	l := t.ports[port]
	if t.proxy.vantage == Ingress {
		res := Resolution{Status: 404}
		if len(l.exact) == 0 && len(l.wild) == 0 && l.star == nil {
			res.Reason = fmt.Sprintf("the ingress gateway answers 404: no VirtualService binds a host to a Gateway server on port %d", port)
		} else {
			res.Reason = fmt.Sprintf("the ingress gateway answers 404: host %s matches no host that a VirtualService binds to a Gateway server on port %d", h, port)
		}
		res.Notes = m.ingressNotes(t, port, h, nil, false)
		return res
	}
	fqdn := meshFQDN(h, t.proxy.namespace)
	res := Resolution{Status: 404}
	switch s := m.services[fqdn]; {
	case s != nil:
		res.Reason = fmt.Sprintf("the sidecar answers 404: Service %s has no port %d", fqdn, port)
	case !strings.Contains(h, "."):
		res.Reason = fmt.Sprintf("the sidecar answers 404: a client in namespace %s resolves the short name %s to %s, which is no Service with port %d",
			t.proxy.namespace, h, fqdn, port)
		for _, o := range m.svcList {
			if o.name == h {
				res.Reason += " (Service " + h + " is in namespace " + o.ns + ")"
				break
			}
		}
	default:
		res.Reason = fmt.Sprintf("the sidecar answers 404: host %s is neither a Service with port %d nor a host of a VirtualService bound to mesh "+
			"(meshcheck does not model passthrough to hosts outside the mesh)", h, port)
	}
	res.Notes = m.meshNotes(t, port, h, nil)
	if fqdn != h && m.services[fqdn] != nil {
		res.Notes = append(res.Notes, m.meshNotes(t, port, fqdn, nil)...)
	}
	return res
}

// meshFQDN expands a Host as a sidecar in namespace ns would resolve it
// through Kubernetes DNS: "svc" in ns, "svc.ns", "svc.ns.svc".
func meshFQDN(h, ns string) string {
	switch strings.Count(h, ".") {
	case 0:
		return serviceFQDN(h, ns)
	case 1:
		return h + ".svc." + clusterDomain
	}
	if strings.HasSuffix(h, ".svc") {
		return h + "." + clusterDomain
	}
	return h
}

// noRoute answers a request whose virtual host has no matching route: Envoy
// answers 404 (NR). Istio adds no default route to a host a VirtualService
// routes.
func (vh *vhost) noRoute(t *table, method, path string) Resolution {
	keys := make([]string, len(vh.vs))
	for i, v := range vh.vs {
		keys[i] = v.key
	}
	what := "VirtualService " + strings.Join(keys, "")
	if len(keys) > 1 {
		what = "VirtualServices " + strings.Join(keys, ", ")
	}
	return Resolution{Status: 404, Notes: vh.notes, Reason: fmt.Sprintf(
		"%s answers 404: no http route of %s for %s matches %s %s", t.who, what, domainPhrase(vh.domain), method, path)}
}

// namesHost reports whether a VirtualService names host h (a host of it
// overlaps h, "*" included).
func namesHost(v *vsInfo, h string) bool {
	for _, vh := range v.hosts {
		if hostMatches(vh, h) {
			return true
		}
	}
	return false
}

// ingressNotes explains, for requests to host h on port at the ingress,
// each VirtualService that names h but does not route it. With
// skipElsewhere, VirtualServices that route other hosts on the port are
// left out (a more specific host took the request).
func (m *Model) ingressNotes(t *table, port int, h string, routing []*vsInfo, skipElsewhere bool) []string {
	if h == "*" {
		return nil
	}
	var notes []string
	for _, v := range m.vss {
		if slices.Contains(routing, v) || !namesHost(v, h) {
			continue
		}
		if skipElsewhere && t.contrib[port][v] {
			continue
		}
		if why := m.ingressSkip(v, port, h); why != "" {
			notes = append(notes, fmt.Sprintf("%s to %s ignore VirtualService %s: %s", t.phrase, h, v.key, why))
		}
	}
	return notes
}

// ingressSkip says why VirtualService v does not route host h on port at
// the ingress gateway, "" if it does.
func (m *Model) ingressSkip(v *vsInfo, port int, h string) string {
	if v.invalid != "" {
		return "istiod rejects it (" + v.invalid + ")"
	}
	if !exportedTo(v.exportTo, v.ns, rootNamespace) {
		return "its exportTo does not include istio-system, the ingress gateway's namespace"
	}
	var selecting []*gwInfo
	missing := ""
	for _, g := range v.gateways {
		if g == meshGateway {
			continue
		}
		gi := m.gwByKey[g]
		switch {
		case gi == nil:
			if missing == "" {
				missing = g
			}
		case gi.selectsIngress:
			selecting = append(selecting, gi)
		}
	}
	if len(selecting) == 0 {
		switch {
		case missing != "":
			return "its gateway " + missing + " does not exist"
		case slices.Equal(v.gateways, []string{meshGateway}):
			return "its gateways do not include a Gateway that selects the ingress gateway (it is bound to mesh only)"
		}
		return "none of its gateways (" + strings.Join(v.gateways, ", ") + ") selects the ingress gateway (istio=ingressgateway)"
	}
	var why string
	for _, g := range selecting {
		onPort, exposes := false, false
		for _, srv := range g.obj.Spec.GetServers() {
			if srv == nil || srv.GetPort() == nil || int(srv.GetPort().GetNumber()) != port || !plainHTTP(srv.GetPort().GetProtocol()) {
				continue
			}
			onPort = true
			if len(intersectHosts(serverHostsFor(srv.GetHosts(), g.ns, v.ns), []string{h})) > 0 {
				exposes = true
			}
		}
		switch {
		case !onPort:
			why = fmt.Sprintf("its Gateway %s has no plain HTTP server on port %d", g.key, port)
		case !exposes:
			why = fmt.Sprintf("no server of its Gateway %s on port %d exposes host %s to namespace %s", g.key, port, h, v.ns)
		case len(m.routeEntries(v, &m.ingressProxy, g.key, port)) == 0:
			why = fmt.Sprintf("none of its http routes applies at Gateway %s on port %d", g.key, port)
		default:
			return ""
		}
	}
	return why
}

// meshNotes explains, for in-mesh requests to host h on port, each
// VirtualService that names h but does not route it; routing is the one
// that does (nil: none).
func (m *Model) meshNotes(t *table, port int, h string, routing *vsInfo) []string {
	var notes []string
	ns := t.proxy.namespace
	for _, v := range m.vss {
		if v == routing || !namesHost(v, h) {
			continue
		}
		var why string
		switch {
		case v.invalid != "":
			why = "istiod rejects it (" + v.invalid + ")"
		case !v.mesh:
			why = "its gateways do not include mesh"
		case !exportedTo(v.exportTo, v.ns, ns):
			why = "its exportTo does not include namespace " + ns
		case len(m.routeEntries(v, t.proxy, meshGateway, port)) == 0:
			why = fmt.Sprintf("none of its http routes applies on port %d to a client in namespace %s", port, ns)
		case routing != nil:
			why = "VirtualService " + routing.key + " already routes that host, and sidecars use only the oldest VirtualService for a host (IST0109)"
		default:
			why = "another VirtualService names that host more specifically"
		}
		notes = append(notes, fmt.Sprintf("%s to %s ignore VirtualService %s: %s", t.phrase, h, v.key, why))
	}
	return notes
}
