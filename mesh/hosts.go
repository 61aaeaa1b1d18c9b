package mesh

import (
	"net/netip"
	"strings"
)

// meshGateway is the reserved gateway name for all sidecars
// (istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-gateways).
const meshGateway = "mesh"

// clusterDomain is the Kubernetes DNS domain Istio assumes (meshConfig
// trustDomain / proxy DNSDomain suffix "svc.cluster.local").
const clusterDomain = "cluster.local"

// serviceFQDN is a Service's registry hostname, "<name>.<ns>.svc.cluster.local".
func serviceFQDN(name, ns string) string {
	return name + "." + ns + ".svc." + clusterDomain
}

// resolveHost expands a host named in a VirtualService, DestinationRule or
// destination: a short name (no dot) is resolved in the namespace of the rule
// that names it, not of the Service; names with a dot, "*" and IP addresses
// are taken as fully qualified. Hosts are case-insensitive.
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-hosts
// ("Istio will interpret the short name based on the namespace of the rule")
// and pilot/pkg/model/config.go ResolveShortnameToFQDN: "reviews.default" is
// NOT expanded and so does not name reviews.default.svc.cluster.local.
func resolveHost(h, ruleNamespace string) string {
	h = strings.ToLower(h)
	if h == "" || h == "*" || strings.Contains(h, ".") {
		return h
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return h
	}
	return h + "." + ruleNamespace + ".svc." + clusterDomain
}

// resolveGatewayRef turns a VirtualService `gateways` entry into
// "<namespace>/<name>": `mesh` stays as it is, a name without namespace is in
// the VirtualService's namespace, "./name" too, and the legacy form
// "name.ns[.svc.cluster.local]" means ns/name.
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-gateways
// ("specifying a gateway with no namespace qualifier is the same as specifying
// the VirtualService's namespace") and pilot/pkg/model/config.go resolveGatewayName.
func resolveGatewayRef(g, vsNamespace string) string {
	if g == meshGateway {
		return g
	}
	if ns, name, ok := strings.Cut(g, "/"); ok {
		if ns == "." {
			return vsNamespace + "/" + name
		}
		return g
	}
	if name, rest, ok := strings.Cut(g, "."); ok {
		ns, _, _ := strings.Cut(rest, ".")
		return ns + "/" + name
	}
	return vsNamespace + "/" + g
}

// isWildcard reports whether a host starts with "*" ("*" or "*.example.com").
func isWildcard(h string) bool { return len(h) > 0 && h[0] == '*' }

// hostMatches reports whether two host patterns overlap: both plain and
// equal, or a wildcard whose suffix the other ends with. Follows
// pkg/config/host/name.go Name.Matches, used by istiod to attach
// VirtualServices to Services.
func hostMatches(a, b string) bool {
	aw, bw := isWildcard(a), isWildcard(b)
	switch {
	case aw && bw:
		if len(a) < len(b) {
			return strings.HasSuffix(b[1:], a[1:])
		}
		return strings.HasSuffix(a[1:], b[1:])
	case aw:
		return strings.HasSuffix(b, a[1:])
	case bw:
		return strings.HasSuffix(a, b[1:])
	}
	return a == b
}

// hostSubsetOf reports whether every host a matches is matched by b
// (pkg/config/host/name.go Name.SubsetOf).
func hostSubsetOf(a, b string) bool {
	aw, bw := isWildcard(a), isWildcard(b)
	switch {
	case aw && bw:
		if len(a) < len(b) {
			return false
		}
		return strings.HasSuffix(a[1:], b[1:])
	case aw:
		return false
	case bw:
		return strings.HasSuffix(a, b[1:])
	}
	return a == b
}

// intersectHosts returns the hostnames that a Gateway server's hosts and a
// VirtualService's hosts have in common, each time the more specific of two
// overlapping names: server "*" with VirtualService "echo.local" gives
// "echo.local", server "*.example.com" with VirtualService "*" gives
// "*.example.com". These become the route domains at the gateway.
// Follows istio.io/latest/docs/reference/config/networking/gateway/#Server-hosts
// ("The match could be an exact match or a suffix match with the server's
// hosts") and pkg/config/host/names.go Names.Intersection.
func intersectHosts(server, vs []string) []string {
	var out []string
	add := func(h string) {
		for _, o := range out {
			if o == h {
				return
			}
		}
		out = append(out, h)
	}
	for _, s := range server {
		for _, v := range vs {
			switch {
			case hostSubsetOf(s, v):
				add(s)
			case hostSubsetOf(v, s):
				add(v)
			}
		}
	}
	return out
}

// serverHostsFor returns the server hosts of a Gateway that a VirtualService
// in namespace vsNamespace may bind: "ns/host" only for VirtualServices in
// ns, "*/host" and "host" for all, "./host" for the Gateway's own namespace.
// Follows istio.io/latest/docs/reference/config/networking/gateway/#Server-hosts
// ("The namespace can be set to * or ., representing any or the current
// namespace") and pkg/config/host/names.go NamesForNamespace.
func serverHostsFor(hosts []string, gatewayNamespace, vsNamespace string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		h = strings.ToLower(h)
		if ns, name, ok := strings.Cut(h, "/"); ok {
			if ns == "." {
				ns = gatewayNamespace
			}
			if ns != "*" && ns != vsNamespace {
				continue
			}
			h = name
		}
		out = append(out, h)
	}
	return out
}

// HostPortRule is the one wording of how Istio treats a Host header with a
// port, for every message that refuses one. Istio's gateway and sidecar
// route configurations set Envoy's ignore_port_in_host_matching
// (pilot/pkg/networking/core gateway.go and httproute.go,
// IgnorePortInHostMatching: true): at gateways since Istio 1.15
// (istio/istio#40474, PR #40475; the removed ISTIO_GATEWAY_STRIP_HOST_PORT
// flag: "in Istio 1.15+ port is ignored in domain matching"), at sidecars by
// default since 1.16 (1.16.0 change notes, SIDECAR_IGNORE_PORT_IN_HOST_MATCH).
// Earlier gateways answered 404 (istio/istio#6773).
const HostPortRule = "Istio ignores a port in the Host header when it matches hosts (at gateways since 1.15, at sidecars since 1.16) and answered 404 before (istio/istio#6773), so a port only makes results depend on the Istio version"

// stripHostPort removes a trailing ":<digits>" from a Host header value
// ("[v6]:port" too): the port plays no part in choosing the virtual host
// (see HostPortRule; the pinned Istio is 1.31).
func stripHostPort(h string) string {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || i == len(h)-1 {
		return h
	}
	if strings.IndexByte(h, ':') != i && !strings.HasPrefix(h, "[") {
		return h // bare IPv6 address, no port
	}
	for j := i + 1; j < len(h); j++ {
		if h[j] < '0' || h[j] > '9' {
			return h
		}
	}
	return h[:i]
}

// lowerASCII lower-cases s without allocating when it is lower case already:
// Envoy matches virtual host domains case-insensitively.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// exportedTo reports whether a VirtualService or DestinationRule in
// namespace owner with the given exportTo is visible to proxies in client:
// empty or "*" = every namespace, "." = the owner's namespace, "~" = none.
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-exportTo
// ("If no namespaces are specified then the virtual service is exported to
// all namespaces by default"); meshConfig defaults are assumed.
func exportedTo(exportTo []string, owner, client string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch e {
		case "*":
			return true
		case ".":
			if owner == client {
				return true
			}
		default:
			if e == client {
				return true
			}
		}
	}
	return false
}

// serviceDomains lists the Host header values a sidecar in namespace client
// matches for a Service: the FQDN, "svc.ns.svc" and "svc.ns" from any
// namespace, and the bare "svc" only from the Service's own namespace.
// Follows pilot/pkg/networking/core/httproute.go generateVirtualHostDomains /
// generateAltVirtualHostsForKubernetesService (ports are not added: the port
// is ignored in host matching, HostPortRule).
func serviceDomains(name, ns, client string) []string {
	fqdn := serviceFQDN(name, ns)
	if ns == client {
		return []string{fqdn, name, name + "." + ns + ".svc", name + "." + ns}
	}
	return []string{fqdn, name + "." + ns, name + "." + ns + ".svc"}
}
