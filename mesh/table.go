package mesh

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// table is the route configuration of one proxy: per listener port, the
// virtual hosts Envoy chooses from by Host header.
type table struct {
	proxy  *proxy
	who    string // "the ingress gateway", "the sidecar"
	phrase string // "ingress requests", "in-mesh requests"
	ports  map[int]*listener
	// contrib records, per port, which VirtualServices contributed routes to
	// some virtual host (for notes).
	contrib map[int]map[*vsInfo]bool
}

// listener is the route configuration of one port.
type listener struct {
	port  int
	exact map[string]*vhost
	wild  []*vhost // "*.suffix" domains, longest first
	star  *vhost   // domain "*"
}

// vhost is an Envoy virtual host: its routes, in order.
type vhost struct {
	domain  string
	port    int
	entries []entry
	vs      []*vsInfo // VirtualServices whose routes it holds
	notes   []string
	fixed   *Resolution // the answer regardless of path (redirects, TCP ports)
}

// entry is one Envoy route: one HTTPMatchRequest of an http route (nil =
// matches everything) with its answer precomputed.
type entry struct {
	m   *matchSpec
	res Resolution
}

// rawEntry is an entry before its answer is computed.
type rawEntry struct {
	vs *vsInfo
	r  *httpRoute
	m  *matchSpec
}

// lookup chooses the virtual host for a host (lower case, port stripped):
// an exact domain first, then the longest matching "*.suffix" wildcard, then
// "*". A wildcard needs at least one character in place of "*".
// Follows Envoy's RouteConfiguration virtual host selection
// (config.route.v3.VirtualHost domains: "exact domain names ... suffix domain
// wildcards ... special wildcard * matching any domain", longest first).
func (l *listener) lookup(h string) *vhost {
	if v := l.exact[h]; v != nil {
		return v
	}
	for _, v := range l.wild {
		suffix := v.domain[1:]
		if len(h) > len(suffix) && strings.HasSuffix(h, suffix) {
			return v
		}
	}
	return l.star
}

// add registers a virtual host under its domain; false if the domain is
// taken already (the first registration wins, as istiod dedupes domains).
func (l *listener) add(v *vhost) bool {
	if l.has(v.domain) {
		return false
	}
	switch {
	case v.domain == "*":
		l.star = v
	case isWildcard(v.domain):
		l.wild = append(l.wild, v)
		sort.SliceStable(l.wild, func(i, j int) bool { return len(l.wild[i].domain) > len(l.wild[j].domain) })
	default:
		l.exact[v.domain] = v
	}
	return true
}

func (l *listener) has(domain string) bool {
	switch {
	case domain == "*":
		return l.star != nil
	case isWildcard(domain):
		return slices.ContainsFunc(l.wild, func(v *vhost) bool { return v.domain == domain })
	}
	return l.exact[domain] != nil
}

func newTable(p *proxy) *table {
	t := &table{proxy: p, ports: map[int]*listener{}, contrib: map[int]map[*vsInfo]bool{}}
	if p.vantage == Ingress {
		t.who, t.phrase = "the ingress gateway", "ingress requests"
	} else {
		t.who, t.phrase = "the sidecar", "in-mesh requests"
	}
	return t
}

func (t *table) listener(port int) *listener {
	l := t.ports[port]
	if l == nil {
		l = &listener{port: port, exact: map[string]*vhost{}}
		t.ports[port] = l
		t.contrib[port] = map[*vsInfo]bool{}
	}
	return l
}

// routeEntries lists the Envoy routes a VirtualService contributes to proxy
// p for gateway gw on a listener port, in order: one per HTTPMatchRequest
// that applies there (a route without match is one catch-all). Routes after
// a catch-all are unreachable and dropped. The first route that matches a
// request wins.
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-http
// ("The first rule matching an incoming request is used"), HTTPRoute-match
// ("Match conditions to be satisfied for the rule to be activated. All
// conditions inside a single match block have AND semantics, while the list
// of match blocks have OR semantics"), and route.go
// BuildHTTPRoutesForVirtualService. A delegating route stands for the
// delegate's routes, merged with it (delegatedRoutes).
func (m *Model) routeEntries(v *vsInfo, p *proxy, gw string, port int) []rawEntry {
	var out []rawEntry
	for _, r := range v.routes {
		if r.delegate != "" {
			for _, d := range m.delegatedRoutes(v, r) {
				if len(d.matches) == 0 {
					return append(out, rawEntry{vs: v, r: d.route})
				}
				for _, mm := range d.matches {
					if !mm.applies(p, gw, port) {
						continue
					}
					out = append(out, rawEntry{vs: v, r: d.route, m: mm})
					if mm.catchAll {
						return out
					}
				}
			}
			continue
		}
		if len(r.matches) == 0 {
			return append(out, rawEntry{vs: v, r: r})
		}
		for _, m := range r.matches {
			if !m.applies(p, gw, port) {
				continue
			}
			out = append(out, rawEntry{vs: v, r: r, m: m})
			if m.catchAll {
				return out
			}
		}
	}
	return out
}

// finish computes the precomputed answers of a virtual host's entries.
func (m *Model) finish(t *table, port int, v *vhost, raw []rawEntry) {
	plans := map[*httpRoute]*plan{}
	for _, re := range raw {
		e := entry{m: re.m}
		e.res = Resolution{VirtualService: re.vs.key, Route: re.r.name, Notes: v.notes}
		head := fmt.Sprintf("%s to %s take route %s of VirtualService %s", t.phrase, domainPhrase(v.domain), re.r.label, re.vs.key)
		if re.r.status != 0 {
			e.res.Status = re.r.status
			e.res.Reason = head + ", which " + re.r.statusWhy
			v.entries = append(v.entries, e)
			continue
		}
		p := plans[re.r]
		if p == nil {
			p = m.routePlan(re.r, t.proxy.namespace, port)
			plans[re.r] = p
		}
		e.res.Destinations, e.res.plan = p.dests, p
		why := "it has no match conditions"
		if re.m != nil {
			why = "the first http route whose match holds: " + re.m.desc
		}
		e.res.Reason = head + " (" + why + ")"
		if p.fails {
			e.res.Status = 503
			e.res.Reason = head + " (" + why + "), but none of its destinations can serve it, so Envoy answers 503"
		}
		v.entries = append(v.entries, e)
	}
}

func domainPhrase(d string) string {
	if d == "*" {
		return "any host"
	}
	return d
}

// buildIngressTable builds the ingress gateway's route configuration.
//
// Gateways: those whose selector matches IngressGateway's labels, in any
// namespace (Gateway-selector; PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false).
// Servers: plain-text HTTP ones (protocol HTTP, HTTP2 or GRPC), per port.
// VirtualServices: those whose `gateways` name the Gateway
// (VirtualService-gateways) and are exported to istio-system. Route
// domains: the hostnames where the server's hosts (restricted by their
// namespace prefix) and the VirtualService's hosts overlap (Server-hosts).
// Several VirtualServices for one host are merged: their routes are
// concatenated in creation order and catch-all routes move to the end
// (istio.io/latest/docs/ops/best-practices/traffic-management/#split-virtual-services;
// pilot/pkg/networking/core/gateway.go buildGatewayHTTPRouteConfig and
// route.go SortVHostRoutes). A server with tls.httpsRedirect answers 301.
// With no route domain at all, every host gets 404 (istiod's blackhole
// virtual host).
func (m *Model) buildIngressTable() *table {
	p := &m.ingressProxy
	t := newTable(p)
	raws := map[*vhost][]rawEntry{}
	bound := map[*vhost]map[string]bool{} // "<vs>@<gateway>" pairs already added
	var order []*vhost
	type redirect struct {
		port int
		host string
		gw   string
	}
	var redirects []redirect
	for _, g := range m.gws {
		if !g.selectsIngress {
			continue
		}
		for _, srv := range g.obj.Spec.GetServers() {
			if srv == nil || srv.GetPort() == nil || !plainHTTP(srv.GetPort().GetProtocol()) {
				continue
			}
			port := int(srv.GetPort().GetNumber())
			l := t.listener(port)
			for _, v := range m.visibleVS(p.namespace, g.key) {
				hosts := intersectHosts(serverHostsFor(srv.GetHosts(), g.ns, v.ns), v.hosts)
				if len(hosts) == 0 {
					continue
				}
				raw := m.routeEntries(v, p, g.key, port)
				if len(raw) == 0 {
					continue
				}
				t.contrib[port][v] = true
				for _, h := range hosts {
					vh := l.exactOrWild(h)
					if vh == nil {
						vh = &vhost{domain: h, port: port}
						l.add(vh)
						order = append(order, vh)
					}
					if bound[vh] == nil {
						bound[vh] = map[string]bool{}
					}
					if pair := v.key + "@" + g.key; !bound[vh][pair] {
						bound[vh][pair] = true
						raws[vh] = append(raws[vh], raw...)
					}
					if !slices.Contains(vh.vs, v) {
						vh.vs = append(vh.vs, v)
					}
				}
			}
			if srv.GetTls().GetHttpsRedirect() {
				for _, h := range srv.GetHosts() {
					if _, name, ok := strings.Cut(h, "/"); ok {
						h = name
					}
					redirects = append(redirects, redirect{port, strings.ToLower(h), g.key})
				}
			}
		}
	}
	for _, rd := range redirects {
		l := t.listener(rd.port)
		vh := l.exactOrWild(rd.host)
		if vh == nil {
			vh = &vhost{domain: rd.host, port: rd.port}
			l.add(vh)
			order = append(order, vh)
		}
		if vh.fixed == nil {
			vh.fixed = &Resolution{Status: 301, Reason: fmt.Sprintf(
				"%s to %s on port %d are redirected to HTTPS (301) by the tls.httpsRedirect of Gateway %s", t.phrase, domainPhrase(rd.host), rd.port, rd.gw)}
		}
	}
	for _, vh := range order {
		raw := raws[vh]
		// Catch-all routes go last, keeping the relative order of the others.
		sort.SliceStable(raw, func(i, j int) bool { return !isCatchAll(raw[i]) && isCatchAll(raw[j]) })
		vh.notes = m.ingressNotes(t, vh.port, vh.domain, vh.vs, true)
		m.finish(t, vh.port, vh, raw)
		if vh.fixed != nil {
			vh.fixed.Notes = vh.notes
		}
	}
	return t
}

func isCatchAll(e rawEntry) bool { return e.m == nil || e.m.catchAll }

// exactOrWild returns the virtual host registered under exactly this domain.
func (l *listener) exactOrWild(domain string) *vhost {
	switch {
	case domain == "*":
		return l.star
	case isWildcard(domain):
		for _, v := range l.wild {
			if v.domain == domain {
				return v
			}
		}
		return nil
	}
	return l.exact[domain]
}

// plainHTTP reports whether a Gateway server protocol carries plain-text
// HTTP routes (Port-protocol: HTTP|HTTPS|GRPC|GRPC-WEB|HTTP2|MONGO|TCP|TLS;
// HTTPS needs TLS, which meshcheck's probes do not speak).
func plainHTTP(protocol string) bool {
	switch strings.ToUpper(protocol) {
	case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		return true
	}
	return false
}

// visibleVS lists the valid VirtualServices bound to gateway gw ("mesh" for
// sidecars) that a proxy in namespace client can see, in istiod's order:
// rules exported only to the client's own namespace, then rules exported to
// it explicitly, then public rules, each in creation order
// (pilot/pkg/model/virtualservice.go SelectVirtualServices; exportTo per
// VirtualService-exportTo).
func (m *Model) visibleVS(client, gw string) []*vsInfo {
	var out []*vsInfo
	for class := range 3 {
		for _, v := range m.vss {
			if v.invalid != "" || len(v.hosts) == 0 || !slices.Contains(v.gateways, gw) ||
				!exportedTo(v.exportTo, v.ns, client) || exportClass(v, client) != class {
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// exportClass is 0 for a rule private to the client's namespace, 1 for one
// exported to it by name, 2 for a public one.
func exportClass(v *vsInfo, client string) int {
	if len(v.exportTo) == 0 || slices.Contains(v.exportTo, "*") {
		return 2
	}
	if v.ns == client {
		return 0
	}
	return 1
}

// buildMeshTable builds the outbound route configuration of a sidecar in
// namespace ns: one route table per Service port, holding a virtual host
// per Service (named by its FQDN and the short forms a client in ns can use)
// and per non-Service host of a VirtualService bound to mesh.
//
// A VirtualService bound to mesh (VirtualService-gateways: omitted or
// listing `mesh`) takes over the virtual host of each Service its hosts name
// (exact FQDN, or the most specific wildcard); a Service that no such
// VirtualService names keeps the default route to all its endpoints, so the
// split follows pod counts. When two VirtualServices name the same host the
// oldest wins (istio.io/latest/docs/reference/config/analysis/ist0109/:
// only gateways merge VirtualServices). Follows
// pilot/pkg/networking/core/httproute.go BuildSidecarOutboundVirtualHosts and
// route.go BuildSidecarVirtualHostWrapper.
func (m *Model) buildMeshTable(ns string) *table {
	p := &proxy{vantage: Mesh, namespace: ns}
	t := newTable(p)
	vsl := m.visibleVS(ns, meshGateway)
	best := m.mostSpecificVS(vsl)
	ports := map[int]bool{80: true}
	for _, s := range m.svcList {
		for _, sp := range s.ports {
			if sp.protocol != "udp" && sp.protocol != "sctp" {
				ports[sp.port] = true
			}
		}
	}
	for _, port := range slices.Sorted(maps.Keys(ports)) {
		l := t.listener(port)
		var onPort []*service
		for _, s := range m.svcList {
			if sp := s.portByNumber(port); sp != nil && sp.http {
				onPort = append(onPort, s)
			}
		}
		claimed := map[*service]bool{}
		type wrapper struct {
			v     *vsInfo
			raw   []rawEntry
			hosts []string
			svcs  []*service
		}
		var wrappers []wrapper
		for _, v := range vsl {
			raw := m.routeEntries(v, p, meshGateway, port)
			if len(raw) == 0 {
				continue
			}
			hosts, svcs := separateHosts(v, onPort, best)
			// Without a Service on this port, a VirtualService's other hosts
			// are served on port 80 only (httproute.go: "only select
			// virtualServices that matches a service" for other ports).
			if len(svcs) == 0 && port != 80 {
				continue
			}
			for _, s := range svcs {
				claimed[s] = true
			}
			wrappers = append(wrappers, wrapper{v, raw, hosts, svcs})
		}
		for _, w := range wrappers {
			for _, h := range w.hosts {
				vh := &vhost{domain: h, port: port, vs: []*vsInfo{w.v}}
				if !l.add(vh) {
					continue
				}
				t.contrib[port][w.v] = true
				vh.notes = m.meshNotes(t, port, h, w.v)
				m.finish(t, port, vh, w.raw)
			}
			for _, s := range w.svcs {
				vh := &vhost{domain: s.host, port: port, vs: []*vsInfo{w.v}}
				if !m.addService(l, vh, s, ns) {
					continue
				}
				t.contrib[port][w.v] = true
				vh.notes = m.meshNotes(t, port, s.host, w.v)
				m.finish(t, port, vh, w.raw)
			}
		}
		for _, s := range onPort {
			if claimed[s] {
				continue
			}
			vh := &vhost{domain: s.host, port: port}
			if !m.addService(l, vh, s, ns) {
				continue
			}
			vh.notes = m.meshNotes(t, port, s.host, nil)
			pl := m.defaultPlan(s, s.portByNumber(port))
			res := Resolution{Destinations: pl.dests, plan: pl, Notes: vh.notes,
				Reason: fmt.Sprintf("%s to %s match no VirtualService bound to mesh, so the sidecar balances them across the Service's %s (the split follows pod counts)",
					t.phrase, s.host, endpoints(len(s.pods)))}
			if pl.fails {
				res.Status = 503
				res.Reason = fmt.Sprintf("%s to %s match no VirtualService bound to mesh, and the Service has no endpoints, so Envoy answers 503", t.phrase, s.host)
			}
			vh.entries = []entry{{res: res}}
		}
		// Ports declared TCP get no HTTP routing: the sidecar forwards the
		// connection to the Service's endpoints
		// (istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/).
		for _, s := range m.svcList {
			sp := s.portByNumber(port)
			if sp == nil || sp.http {
				continue
			}
			vh := &vhost{domain: s.host, port: port}
			if !m.addService(l, vh, s, ns) {
				continue
			}
			pl := m.defaultPlan(s, sp)
			vh.fixed = &Resolution{Destinations: pl.dests, plan: pl, Reason: fmt.Sprintf(
				"%s to %s on port %d reach a port declared %s (%q), so the sidecar forwards them to the Service's %s without HTTP routing",
				t.phrase, s.host, port, strings.ToUpper(sp.protocol), sp.name, endpoints(len(s.pods)))}
			if pl.fails {
				vh.fixed.Status = 503
			}
		}
	}
	return t
}

func endpoints(n int) string {
	if n == 1 {
		return "1 endpoint"
	}
	return strconv.Itoa(n) + " endpoints"
}

// addService registers a Service's virtual host under every name a client
// in namespace client may use for it; names already taken stay with their
// first owner (httproute.go dedupeDomains).
func (m *Model) addService(l *listener, vh *vhost, s *service, client string) bool {
	if l.has(s.host) {
		return false
	}
	for _, d := range serviceDomains(s.name, s.ns, client) {
		if !l.has(d) {
			l.exact[d] = vh
		}
	}
	return true
}

// mostSpecificVS maps each Service host to the VirtualService whose host
// names it most specifically (an exact host, else the longest wildcard; the
// oldest on a tie), as sidecar.go computeWildcardHostVirtualServiceIndex does.
func (m *Model) mostSpecificVS(vsl []*vsInfo) map[string]*vsInfo {
	out := map[string]*vsInfo{}
	for _, s := range m.svcList {
		var bestVS *vsInfo
		bestHost := ""
		for _, v := range vsl {
			for _, h := range v.hosts {
				if !hostSubsetOf(s.host, h) {
					continue
				}
				if bestVS == nil || moreSpecific(h, bestHost) {
					bestVS, bestHost = v, h
				}
			}
		}
		if bestVS != nil {
			out[s.host] = bestVS
		}
	}
	return out
}

// separateHosts splits a VirtualService's hosts into Services on the port
// (exact hosts, and Services its wildcard hosts name most specifically) and
// other hostnames (route.go separateVSHostsAndServices).
func separateHosts(v *vsInfo, onPort []*service, best map[string]*vsInfo) ([]string, []*service) {
	var hosts []string
	var svcs []*service
	addSvc := func(s *service) {
		if !slices.Contains(svcs, s) {
			svcs = append(svcs, s)
		}
	}
	for _, h := range v.hosts {
		if !isWildcard(h) {
			found := false
			for _, s := range onPort {
				if s.host == h {
					addSvc(s)
					found = true
				}
			}
			if !found {
				hosts = append(hosts, h)
			}
			continue
		}
		found := false
		for _, s := range onPort {
			if hostMatches(s.host, h) {
				found = true
				if best[s.host] == v {
					addSvc(s)
				}
			}
		}
		if !found {
			hosts = append(hosts, h)
		}
	}
	return hosts, svcs
}
