// Package routegen generates seeded Istio routing configs for the
// differential test of meshcheck's routing model against istiod: Services
// with versioned pods, DestinationRules, Gateways and VirtualServices that
// vary the features the model claims to follow (short, fully qualified and
// wildcard hosts; several VirtualServices per host; gateways omitted,
// `mesh`, named or `ns/name`; Gateway server hosts with and without
// `ns/` prefixes; prefix, exact, regex and header matches in order;
// subsets defined and undefined; weight 0; exportTo; delegation), each
// with the requests to judge it by from the ingress gateway and from
// sidecars.
//
// Configs are independent: config i lives in its own namespaces
// (c<i>a, c<i>b), its gateway hosts end in .c<i>.test and its wildcards
// never reach another config, so many can be applied to one istiod at once.
package routegen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/mesh"
)

// Config is one generated routing config and the requests to judge it by.
type Config struct {
	// Index is the config's number: its namespaces are c<Index>a and
	// c<Index>b.
	Index int
	// Features names what the generator put in, for reports.
	Features []string
	// Objects are the config's Kubernetes and Istio objects.
	Objects []runtime.Object
	// Requests are the requests to route, from either vantage.
	Requests []mesh.Request
}

// Generate returns n configs from seed; the same arguments always give the
// same configs. Config i is generated from (seed, i) alone, so a sample of
// the first k configs is a prefix of any larger corpus.
func Generate(seed uint64, n int) []Config {
	out := make([]Config, n)
	for i := range n {
		out[i] = generate(seed, i)
	}
	return out
}

// gen holds the state of one config's generation.
type gen struct {
	r        *rand.Rand
	i        int
	nsA, nsB string
	objs     []runtime.Object
	features []string
	services []svcRef
	gwHosts  []string
	gateways []string // "ns/name" of the config's Gateways
}

type svcRef struct{ name, ns string }

func (s svcRef) fqdn() string { return s.name + "." + s.ns + ".svc.cluster.local" }

func (g *gen) feature(f string) {
	if !slices.Contains(g.features, f) {
		g.features = append(g.features, f)
	}
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

func generate(seed uint64, i int) Config {
	g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i))), i: i,
		nsA: "c" + strconv.Itoa(i) + "a", nsB: "c" + strconv.Itoa(i) + "b"}
	g.services = []svcRef{{"svc0", g.nsA}, {"svc1", g.nsA}}
	if g.chance(0.5) {
		g.services = append(g.services, svcRef{"svc2", g.nsB})
	}
	for _, s := range g.services {
		g.service(s)
	}
	g.gwHosts = []string{g.gwHost(0), g.gwHost(1)}
	g.gatewaysOf()
	for _, s := range g.services {
		if g.chance(0.8) {
			g.destinationRule(s)
		}
	}
	nvs := 1 + g.r.IntN(3)
	for k := range nvs {
		g.virtualService(k)
	}
	if nvs > 1 {
		g.feature("several VirtualServices")
	}
	if g.chance(0.04) {
		// A Sidecar limiting nsA's sidecars to their own namespace and
		// istio-system (Sidecar-egress hosts): the model refuses it.
		sc := &networkingv1.Sidecar{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Sidecar"}, ObjectMeta: meta("default", g.nsA)}
		sc.Spec.Egress = []*apinetworking.IstioEgressListener{{Hosts: []string{"./*", "istio-system/*"}}}
		g.objs = append(g.objs, sc)
		g.feature("Sidecar egress hosts")
	}
	return Config{Index: i, Features: g.features, Objects: g.objs, Requests: g.requests()}
}

func (g *gen) gwHost(k int) string { return "h" + strconv.Itoa(k) + ".c" + strconv.Itoa(g.i) + ".test" }

func meta(name, ns string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }

// service adds a Service on port 80 (targetPort 8080) and Deployments of
// versions v1 and v2 with 1-2 replicas.
func (g *gen) service(s svcRef) {
	g.objs = append(g.objs, &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(s.name, s.ns),
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": s.name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	})
	for _, v := range []string{"v1", "v2"} {
		n := int32(1 + g.r.IntN(2))
		labels := map[string]string{"app": s.name, "version": v}
		g.objs = append(g.objs, &appsv1.Deployment{
			TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta(s.name+"-"+v, s.ns),
			Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}}},
		})
	}
}

// gatewaysOf adds one or two Gateways on the ingress gateway, in the
// config's namespace or istio-system, with plain, wildcard and ns/-scoped
// server hosts.
func (g *gen) gatewaysOf() {
	n := 1 + g.r.IntN(2)
	for k := range n {
		ns := pick(g, g.nsA, "istio-system")
		name := "gw" + strconv.Itoa(g.i) + "-" + strconv.Itoa(k)
		var hosts []string
		switch g.r.IntN(5) {
		case 0:
			hosts = []string{g.gwHosts[0], g.gwHosts[1]}
		case 1:
			hosts = []string{"*.c" + strconv.Itoa(g.i) + ".test"}
			g.feature("wildcard server host")
		case 2:
			hosts = []string{g.nsA + "/" + g.gwHosts[0], g.nsB + "/" + g.gwHosts[1]}
			g.feature("ns/host server host")
		case 3:
			hosts = []string{"./" + g.gwHosts[k%2], "*/" + g.gwHosts[(k+1)%2]}
			g.feature("ns/host server host")
		default:
			hosts = []string{g.gwHosts[k%2]}
		}
		g.gateways = append(g.gateways, ns+"/"+name)
		g.objs = append(g.objs, &networkingv1.Gateway{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"}, ObjectMeta: meta(name, ns),
			Spec: apinetworking.Gateway{Selector: map[string]string{"istio": "ingressgateway"}, Servers: []*apinetworking.Server{{
				Port: &apinetworking.Port{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: hosts}}},
		})
	}
}

// destinationRule adds a rule for s with subsets v1 and v2 (sometimes only
// v1), in s's namespace or the other one, with a short or full host.
func (g *gen) destinationRule(s svcRef) {
	ns := s.ns
	host := s.fqdn()
	if g.chance(0.5) && ns == g.nsA {
		host = s.name
		g.feature("short DestinationRule host")
	} else if g.chance(0.2) {
		ns = g.otherNS(s.ns)
		g.feature("DestinationRule in another namespace")
	}
	subsets := []*apinetworking.Subset{{Name: "v1", Labels: map[string]string{"version": "v1"}}}
	if g.chance(0.85) {
		subsets = append(subsets, &apinetworking.Subset{Name: "v2", Labels: map[string]string{"version": "v2"}})
	}
	dr := &networkingv1.DestinationRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"},
		ObjectMeta: meta("dr-"+s.name+"-"+strconv.Itoa(g.r.IntN(3)), ns),
	}
	dr.Spec.Host, dr.Spec.Subsets = host, subsets
	if g.chance(0.15) {
		dr.Spec.ExportTo = []string{"."}
		g.feature("DestinationRule exportTo")
	}
	g.objs = append(g.objs, dr)
}

func (g *gen) otherNS(ns string) string {
	if ns == g.nsA {
		return g.nsB
	}
	return g.nsA
}

// virtualService adds VirtualService k.
func (g *gen) virtualService(k int) {
	ns := g.nsA
	if g.chance(0.25) {
		ns = g.nsB
	}
	obj := &networkingv1.VirtualService{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"}}
	vs := &obj.Spec
	// Gateways: omitted (mesh only), mesh, a Gateway by name or ns/name,
	// or a Gateway and mesh.
	var gws []string
	switch g.r.IntN(5) {
	case 0:
		g.feature("gateways omitted")
	case 1:
		gws = []string{"mesh"}
	case 2:
		gws = []string{g.gatewayRef(ns)}
	case 3:
		gws = []string{g.gatewayRef(ns), "mesh"}
	default:
		gws = []string{g.gatewayRef(ns), g.gatewayRef(ns)}
	}
	vs.Gateways = slices.Compact(gws)
	bindsMesh := len(vs.Gateways) == 0 || slices.Contains(vs.Gateways, "mesh")
	bindsGateway := slices.ContainsFunc(vs.Gateways, func(s string) bool { return s != "mesh" })
	if bindsMesh {
		s := pick(g, g.services...)
		switch g.r.IntN(4) {
		case 0:
			if s.ns == ns {
				vs.Hosts = append(vs.Hosts, s.name)
				g.feature("short host")
			} else {
				vs.Hosts = append(vs.Hosts, s.fqdn())
			}
		case 1:
			vs.Hosts = append(vs.Hosts, "*."+s.ns+".svc.cluster.local")
			g.feature("wildcard host")
		default:
			vs.Hosts = append(vs.Hosts, s.fqdn())
		}
	}
	if bindsGateway || g.chance(0.2) {
		if g.chance(0.25) {
			vs.Hosts = append(vs.Hosts, "*.c"+strconv.Itoa(g.i)+".test")
			g.feature("wildcard gateway host")
		} else {
			vs.Hosts = append(vs.Hosts, pick(g, g.gwHosts...))
		}
	}
	if g.chance(0.15) {
		vs.ExportTo = []string{pick(g, ".", "istio-system", g.nsA, "*")}
		g.feature("exportTo")
	}
	nroutes := 1 + g.r.IntN(3)
	for j := range nroutes {
		vs.Http = append(vs.Http, g.route(ns, j == nroutes-1))
	}
	if g.chance(0.05) {
		// Delegation: the last route hands the request to a VirtualService
		// without hosts (VirtualService-http delegate).
		name := "dlg" + strconv.Itoa(k)
		vs.Http[len(vs.Http)-1] = &apinetworking.HTTPRoute{Delegate: &apinetworking.Delegate{Name: name, Namespace: ns}}
		d := &networkingv1.VirtualService{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"}, ObjectMeta: meta(name, ns)}
		d.Spec.Http = []*apinetworking.HTTPRoute{g.route(ns, true)}
		g.objs = append(g.objs, d)
		g.feature("delegation")
	}
	obj.ObjectMeta = meta("vs"+strconv.Itoa(k)+"-"+pick(g, "a", "b", "c"), ns)
	g.objs = append(g.objs, obj)
}

// gatewayRef names one of the config's Gateways from a VirtualService in
// ns: by name when it is in ns, else as ns/name.
func (g *gen) gatewayRef(ns string) string {
	ref := pick(g, g.gateways...)
	gwNS, name, _ := cutSlash(ref)
	if gwNS == ns && g.chance(0.5) {
		g.feature("gateway by name")
		return name
	}
	g.feature("gateway ns/name")
	return ref
}

func cutSlash(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// route is one http route: matches (prefix, exact, regex, header) unless
// last, and weighted destinations.
func (g *gen) route(ns string, last bool) *apinetworking.HTTPRoute {
	r := &apinetworking.HTTPRoute{}
	if !last || g.chance(0.4) {
		nm := 1 + g.r.IntN(2)
		for range nm {
			m := &apinetworking.HTTPMatchRequest{}
			switch g.r.IntN(5) {
			case 0:
				m.Uri = &apinetworking.StringMatch{MatchType: &apinetworking.StringMatch_Prefix{Prefix: pick(g, "/a", "/a/", "/")}}
				g.feature("prefix match")
			case 1:
				m.Uri = &apinetworking.StringMatch{MatchType: &apinetworking.StringMatch_Exact{Exact: pick(g, "/a/b", "/a")}}
				g.feature("exact match")
			case 2:
				m.Uri = &apinetworking.StringMatch{MatchType: &apinetworking.StringMatch_Regex{Regex: pick(g, "/r[0-9]+", "/a.*")}}
				g.feature("regex match")
			case 3:
				m.Headers = map[string]*apinetworking.StringMatch{"x-v": {MatchType: &apinetworking.StringMatch_Exact{Exact: "2"}}}
				g.feature("header match")
			default:
				m.Uri = &apinetworking.StringMatch{MatchType: &apinetworking.StringMatch_Prefix{Prefix: "/a"}}
				m.Headers = map[string]*apinetworking.StringMatch{"x-v": {MatchType: &apinetworking.StringMatch_Prefix{Prefix: "1"}}}
				g.feature("header match")
			}
			r.Match = append(r.Match, m)
		}
	}
	s := pick(g, g.services...)
	host := s.fqdn()
	if s.ns == ns && g.chance(0.5) {
		host = s.name
	}
	switch g.r.IntN(4) {
	case 0:
		r.Route = []*apinetworking.HTTPRouteDestination{{Destination: &apinetworking.Destination{Host: host}}}
	case 1:
		r.Route = []*apinetworking.HTTPRouteDestination{{Destination: &apinetworking.Destination{Host: host, Subset: pick(g, "v1", "v2", "v3")}}}
	default:
		w := pick(g, 0, 10, 25, 50, 75, 90, 100)
		if w == 0 || w == 100 {
			g.feature("weight 0")
		}
		sub2 := "v2"
		if g.chance(0.1) {
			sub2 = "v3"
			g.feature("undefined subset")
		}
		r.Route = []*apinetworking.HTTPRouteDestination{
			{Destination: &apinetworking.Destination{Host: host, Subset: "v1"}, Weight: int32(w)},
			{Destination: &apinetworking.Destination{Host: host, Subset: sub2}, Weight: int32(100 - w)},
		}
	}
	return r
}

// requests lists the requests to judge a config by: from the ingress
// gateway to each gateway host (with and without port) and a host no
// Gateway names; from sidecars in both namespaces to each Service by its
// short, namespaced and full name; each on several paths and with and
// without the match header.
func (g *gen) requests() []mesh.Request {
	paths := []string{"/", "/a", "/a/b", "/r7", "/zz"}
	var out []mesh.Request
	add := func(req mesh.Request) {
		for _, p := range paths {
			r := req
			r.Path = p
			out = append(out, r)
		}
		r := req
		r.Path = "/a"
		r.Headers = map[string]string{"x-v": pick(g, "2", "1x")}
		out = append(out, r)
	}
	for _, h := range append(slices.Clone(g.gwHosts), g.gwHosts[0]+":80", "nohost.c"+strconv.Itoa(g.i)+".test") {
		add(mesh.Request{Vantage: mesh.Ingress, Host: h, Port: 80})
	}
	for _, src := range []string{g.nsA, g.nsB} {
		for _, s := range g.services {
			for _, h := range []string{s.name, s.name + "." + s.ns, s.fqdn()} {
				if h == s.name && s.ns != src {
					continue // Kubernetes DNS would not resolve it
				}
				add(mesh.Request{Vantage: mesh.Mesh, Host: h, Port: 80, SourceNamespace: src})
			}
		}
	}
	return out
}

// String names a config for reports.
func (c Config) String() string {
	return fmt.Sprintf("config %d (%v)", c.Index, c.Features)
}
