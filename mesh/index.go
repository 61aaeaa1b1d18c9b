package mesh

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// service is an indexed Kubernetes Service.
type service struct {
	name, ns, host string
	ports          []svcPort
	pods           []Workload
}

// svcPort is one Service port.
type svcPort struct {
	name       string
	port       int
	target     int    // 0 when targetPort is a name the model cannot resolve
	targetName string // the named targetPort, if any
	http       bool   // HTTP, or protocol left to sniffing
	protocol   string // declared protocol, "" when sniffed
}

// portByNumber returns the Service port with that number.
func (s *service) portByNumber(n int) *svcPort {
	for i := range s.ports {
		if s.ports[i].port == n {
			return &s.ports[i]
		}
	}
	return nil
}

// portProtocol is the protocol Istio selects for a Service port: the
// appProtocol field, else the port name's prefix before "-" ("http-web" is
// HTTP, "tcp-db" is TCP); a name Istio does not know leaves the protocol to
// sniffing, which detects our probes' HTTP.
// Follows istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/.
func portProtocol(p corev1.ServicePort) (string, bool) {
	if p.Protocol == corev1.ProtocolUDP || p.Protocol == corev1.ProtocolSCTP {
		return strings.ToLower(string(p.Protocol)), false
	}
	name := strings.ToLower(p.Name)
	if p.AppProtocol != nil {
		name = strings.ToLower(*p.AppProtocol)
		switch name {
		case "kubernetes.io/h2c":
			return "http2", true
		case "kubernetes.io/ws":
			return "http", true
		}
	}
	prefix, _, _ := strings.Cut(name, "-")
	switch prefix {
	case "http", "http2", "grpc", "grpc-web", "h2c":
		return prefix, true
	case "grpcweb":
		return "grpc-web", true
	case "tcp", "tls", "https", "mongo", "mysql", "redis", "udp":
		return prefix, false
	}
	return "", true
}

// indexServices indexes Services and their endpoints. A Service's endpoints
// are the pods in its namespace whose labels include its selector; a
// Service without selector has none (Kubernetes creates no EndpointSlices).
func (m *Model) indexServices(cfg Config) {
	for _, s := range cfg.Services {
		if s == nil {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = defaultNamespace
		}
		svc := &service{name: s.Name, ns: ns, host: serviceFQDN(s.Name, ns)}
		for _, p := range s.Spec.Ports {
			sp := svcPort{name: p.Name, port: int(p.Port), target: int(p.Port)}
			sp.protocol, sp.http = portProtocol(p)
			switch {
			case p.TargetPort.Type == intstr.String && p.TargetPort.StrVal != "":
				if n, err := strconv.Atoi(p.TargetPort.StrVal); err == nil {
					sp.target = n
				} else {
					sp.target, sp.targetName = 0, p.TargetPort.StrVal
				}
			case p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0:
				sp.target = int(p.TargetPort.IntVal)
			}
			svc.ports = append(svc.ports, sp)
		}
		if len(s.Spec.Selector) > 0 {
			for _, w := range cfg.Workloads {
				if w.Namespace == ns && labelsInclude(w.Labels, s.Spec.Selector) {
					svc.pods = append(svc.pods, w)
				}
			}
		}
		if _, dup := m.services[svc.host]; dup {
			continue
		}
		m.services[svc.host] = svc
		m.svcList = append(m.svcList, svc)
	}
	slices.SortFunc(m.svcList, func(a, b *service) int { return strings.Compare(a.host, b.host) })
}

// labelsInclude reports whether labels has every key/value of sel.
func labelsInclude(labels, sel map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// gwInfo is an indexed Gateway.
type gwInfo struct {
	obj            *networkingv1.Gateway
	key            string
	ns             string
	selectsIngress bool
}

// vsInfo is an indexed, compiled VirtualService.
type vsInfo struct {
	obj      *networkingv1.VirtualService
	key      string
	ns       string
	hosts    []string // resolved, lower case
	gateways []string // resolved "ns/name" or "mesh"; omitted = [mesh]
	mesh     bool
	exportTo []string
	invalid  string    // why istiod's validation webhook rejects it, "" if valid
	problems []problem // every validation error, for Lint
	routes   []*httpRoute
}

// problem is one reason istiod's validation rejects an object.
type problem struct {
	field string
	msg   string
}

// httpRoute is one compiled http route of a VirtualService.
type httpRoute struct {
	index     int
	label     string // `"name"` or "#<index>"
	name      string // name or "#<index>"
	matches   []*matchSpec
	dests     []destSpec
	status    int
	statusWhy string
	delegate  string // "ns/name" of the VirtualService this route delegates to
}

// destSpec is one route destination with its host resolved.
type destSpec struct {
	index  int
	host   string
	subset string
	port   int
	weight int
}

// drInfo is an indexed DestinationRule.
type drInfo struct {
	obj      *networkingv1.DestinationRule
	key      string
	ns       string
	host     string
	exportTo []string
	subsets  []subsetInfo
}

// subsetInfo is one DestinationRule subset.
type subsetInfo struct {
	index  int
	name   string
	labels map[string]string
}

// indexIstio indexes Gateways, VirtualServices and DestinationRules, in
// istiod's order (Config.sort).
func (m *Model) indexIstio(cfg Config) {
	for _, g := range cfg.Gateways {
		if g == nil {
			continue
		}
		ns := nsOr(g.Namespace)
		gi := &gwInfo{obj: g, key: ns + "/" + g.Name, ns: ns}
		// A Gateway applies to the workloads its selector matches, in any
		// namespace; a nil selector applies to all workloads.
		// istio.io/latest/docs/reference/config/networking/gateway/#Gateway-selector
		// (PILOT_SCOPE_GATEWAY_TO_NAMESPACE defaults to false).
		gi.selectsIngress = labelsInclude(IngressGateway.Labels, g.Spec.GetSelector())
		if _, dup := m.gwByKey[gi.key]; dup {
			continue
		}
		m.gwByKey[gi.key] = gi
		m.gws = append(m.gws, gi)
	}
	m.vsByKey = map[string]*vsInfo{}
	for _, v := range cfg.VirtualServices {
		if v != nil {
			vi := compileVirtualService(v)
			m.vss = append(m.vss, vi)
			if _, dup := m.vsByKey[vi.key]; !dup {
				m.vsByKey[vi.key] = vi
			}
		}
	}
	for _, d := range cfg.DestinationRules {
		if d == nil {
			continue
		}
		ns := nsOr(d.Namespace)
		di := &drInfo{obj: d, key: ns + "/" + d.Name, ns: ns,
			host: resolveHost(d.Spec.GetHost(), ns), exportTo: d.Spec.GetExportTo()}
		for i, s := range d.Spec.GetSubsets() {
			if s == nil {
				continue
			}
			di.subsets = append(di.subsets, subsetInfo{index: i, name: s.GetName(), labels: maps.Clone(s.GetLabels())})
		}
		m.drs = append(m.drs, di)
	}
}

func nsOr(ns string) string {
	if ns == "" {
		return defaultNamespace
	}
	return ns
}

// compileVirtualService resolves names and compiles routes, recording why
// istiod's validation would reject the object.
func compileVirtualService(v *networkingv1.VirtualService) *vsInfo {
	ns := nsOr(v.Namespace)
	vi := &vsInfo{obj: v, key: ns + "/" + v.Name, ns: ns, exportTo: v.Spec.GetExportTo()}
	spec := &v.Spec
	for _, h := range spec.GetHosts() {
		vi.hosts = append(vi.hosts, resolveHost(h, ns))
	}
	// `gateways` omitted = the reserved gateway `mesh` only; a list = only
	// those; include `mesh` to also cover sidecars.
	// istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-gateways
	if len(spec.GetGateways()) == 0 {
		vi.gateways = []string{meshGateway}
	} else {
		for _, g := range spec.GetGateways() {
			vi.gateways = append(vi.gateways, resolveGatewayRef(g, ns))
		}
	}
	vi.mesh = slices.Contains(vi.gateways, meshGateway)
	for i, h := range spec.GetHosts() {
		// "wildcard host * is not allowed for virtual services bound to the
		// mesh gateway" (pkg/config/validation/validation.go
		// ValidateVirtualService).
		if h == "*" && vi.mesh {
			vi.problems = append(vi.problems, problem{fmt.Sprintf("spec.hosts[%d]", i),
				`is "*", which Istio does not allow in a VirtualService bound to mesh`})
		}
	}
	if len(spec.GetHttp()) == 0 && len(spec.GetTcp()) == 0 && len(spec.GetTls()) == 0 {
		vi.problems = append(vi.problems, problem{"spec", "has no http, tcp or tls routes"})
	}
	for i, hr := range spec.GetHttp() {
		r, errs := compileRoute(i, hr, ns)
		vi.problems = append(vi.problems, errs...)
		vi.routes = append(vi.routes, r)
	}
	if len(vi.problems) > 0 {
		vi.invalid = vi.problems[0].field + " " + vi.problems[0].msg
	}
	return vi
}

// compileRoute compiles one HTTPRoute; the problems are validation errors.
func compileRoute(i int, hr *apinetworking.HTTPRoute, ns string) (*httpRoute, []problem) {
	r := &httpRoute{index: i, name: "#" + strconv.Itoa(i), label: "#" + strconv.Itoa(i)}
	var errs []problem
	at := func(format string, args ...any) string {
		return fmt.Sprintf("spec.http[%d]", i) + fmt.Sprintf(format, args...)
	}
	if hr == nil {
		return r, []problem{{at(""), "is null"}}
	}
	if hr.GetName() != "" {
		r.name = hr.GetName()
		r.label = strconv.Quote(hr.GetName())
	}
	for j, mr := range hr.GetMatch() {
		if mr == nil {
			continue
		}
		ms, field, err := compileMatch(j, mr, ns)
		if err != nil {
			errs = append(errs, problem{at(".match[%d].%s", j, field), err.Error()})
			continue
		}
		r.matches = append(r.matches, ms)
	}
	total := 0
	for j, rd := range hr.GetRoute() {
		d := rd.GetDestination()
		if d == nil || d.GetHost() == "" {
			errs = append(errs, problem{at(".route[%d].destination.host", j), "is required"})
			continue
		}
		if rd.GetWeight() < 0 {
			errs = append(errs, problem{at(".route[%d].weight", j), "is negative"})
			continue
		}
		total += int(rd.GetWeight())
		r.dests = append(r.dests, destSpec{index: j, host: resolveHost(d.GetHost(), ns), subset: d.GetSubset(),
			port: int(d.GetPort().GetNumber()), weight: int(rd.GetWeight())})
	}
	// "total destination weight = 0" is rejected when there are several
	// destinations (validation.go validateHTTPRouteDestinations).
	if len(hr.GetRoute()) > 1 && total == 0 {
		errs = append(errs, problem{at(".route"), fmt.Sprintf("has %d destinations whose weights sum to 0", len(hr.GetRoute()))})
	}
	// A route is one of: destinations, a redirect, a direct response, or (on
	// a root VirtualService) a delegation (validation/virtualservice.go
	// validateHTTPRouteConflict).
	kinds := 0
	for _, set := range []bool{len(hr.GetRoute()) > 0, hr.GetRedirect() != nil, hr.GetDirectResponse() != nil, hr.GetDelegate() != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		errs = append(errs, problem{at(""), "combines route, redirect, directResponse or delegate, which exclude each other"})
	}
	switch {
	case hr.GetDelegate() != nil:
		dns := hr.GetDelegate().GetNamespace()
		if dns == "" {
			dns = ns
		}
		r.delegate = dns + "/" + hr.GetDelegate().GetName()
	case hr.GetRedirect() != nil:
		r.status = 301
		if c := hr.GetRedirect().GetRedirectCode(); c != 0 {
			r.status = int(c)
		}
		r.statusWhy = "redirects, so Envoy answers " + strconv.Itoa(r.status) + " itself"
	case hr.GetDirectResponse() != nil:
		r.status = int(hr.GetDirectResponse().GetStatus())
		r.statusWhy = "has a directResponse, so Envoy answers " + strconv.Itoa(r.status) + " itself"
	case len(hr.GetRoute()) == 0:
		errs = append(errs, problem{at(""), "has no route, redirect, directResponse or delegate"})
	}
	return r, errs
}
