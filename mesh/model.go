package mesh

import (
	"maps"
	"strconv"
	"strings"
	"sync"

	apisecurity "istio.io/api/security/v1beta1"
)

// Vantage is where a request enters the mesh.
type Vantage string

const (
	// Ingress: the request reaches the ingress gateway (IngressGateway) from
	// outside the cluster and is routed by the Gateways that select it.
	Ingress Vantage = "ingress"
	// Mesh: the request leaves a pod with a sidecar (in
	// Request.SourceNamespace) and is routed by the sidecar.
	Mesh Vantage = "mesh"
)

// Request is one HTTP request as the model sees it.
type Request struct {
	// Vantage is where the request enters: Ingress or Mesh.
	Vantage Vantage
	// Host is the Host header as sent; it may carry ":port", which Istio
	// ignores when it matches hosts (HostPortRule).
	Host string
	// Port is the port the request is sent to: the ingress gateway Service's
	// port at the ingress, the destination Service's port in the mesh. 0
	// means 80.
	Port int
	// Path is the request target, "/" when empty; it may carry a query string.
	Path string
	// Method is the HTTP method, GET when empty.
	Method string
	// Headers are request headers by lower-case name.
	Headers map[string]string
	// SourceNamespace is the namespace of the in-mesh client: it decides
	// which short names (`svc`) resolve and which DestinationRules and
	// exportTo-restricted VirtualServices apply. Empty means "default". The
	// client is modelled as a pod without labels, so routes restricted by
	// sourceLabels do not apply to it. Ignored at the ingress, whose client
	// is IngressGateway.
	SourceNamespace string
}

// Resolution is what Istio does with a Request. Its slices are shared with
// the Model and other Resolutions: treat them as read-only.
type Resolution struct {
	// Status is 0 when the request is routed to Destinations; otherwise the
	// status Envoy answers itself: 404 (no matching host or route, Envoy
	// NR), 503 (every destination is unavailable), 301 (redirect),
	// or a directResponse status.
	Status int
	// Reason is one sentence: which route matched and why, or why none did.
	Reason string
	// VirtualService is "ns/name" of the VirtualService whose route matched,
	// "" if none did.
	VirtualService string
	// Route is the matched http route's name, or "#<index>" when it has none.
	Route string
	// Destinations are the weighted destinations of the matched route (or the
	// Service's default route when no VirtualService applies).
	Destinations []Destination
	// Notes are sentences on config that did NOT apply to this request and
	// why, e.g. "in-mesh requests to echo-service.echo.svc.cluster.local
	// ignore VirtualService echo/echo-route: its gateways do not include mesh".
	Notes []string

	plan *plan
}

// Destination is one weighted destination of a route.
type Destination struct {
	// Host is the destination's FQDN (short names resolved in the
	// VirtualService's namespace).
	Host string
	// Subset is the DestinationRule subset, "" for the whole Service.
	Subset string
	// Port is the pod port requests reach (the Service port's targetPort), 0
	// when the Service names a targetPort that the model cannot resolve.
	Port int
	// Weight is the route's weight for this destination: a percentage when
	// the route's weights sum to 100, as they usually do; Istio sends
	// Weight/(sum of weights) of the requests (HTTPRouteDestination weight).
	// A single destination gets 100.
	Weight int
	// Status is 503 when Envoy answers this share itself (undefined subset,
	// unknown host or port: NC; no endpoints: UH), else 0.
	Status int
	// Reason is one sentence on this destination: the pods it reaches or why
	// it fails.
	Reason string
	// Workloads are the pods (endpoints) requests to this destination reach,
	// each with the same probability.
	Workloads []Workload
}

// Model answers routing questions about one Config. It is safe for
// concurrent use.
type Model struct {
	services map[string]*service
	svcList  []*service
	vss      []*vsInfo
	vsByKey  map[string]*vsInfo // by "ns/name", for delegation
	drs      []*drInfo
	gws      []*gwInfo
	gwByKey  map[string]*gwInfo

	authz      []*authzPolicy                     // in Config order (creation time)
	authzSpecs []*apisecurity.AuthorizationPolicy // the specs of authz, for Lint
	workloads  []Workload
	peerAuths  []*peerAuth // in Config order (creation time)

	ingressProxy proxy
	ingress      *table

	meshTables map[string]*table // prebuilt for known namespaces; read-only
	mu         sync.Mutex
	extra      map[string]*table // built on demand for other namespaces
}

// proxy is the Envoy whose route table is built: the ingress gateway or a
// sidecar in a namespace.
type proxy struct {
	vantage   Vantage
	namespace string
	labels    map[string]string
}

// New builds a Model of cfg. The Config is indexed, not copied: do not
// change it while the Model is in use (NewConfig returns private copies).
func New(cfg Config) *Model {
	m := &Model{gwByKey: map[string]*gwInfo{}, services: map[string]*service{}}
	m.indexServices(cfg)
	m.indexIstio(cfg)
	m.workloads = cfg.Workloads
	for _, p := range cfg.AuthorizationPolicies {
		m.authz = append(m.authz, compileAuthz(p))
		m.authzSpecs = append(m.authzSpecs, &p.Spec)
	}
	for _, p := range cfg.PeerAuthentications {
		m.peerAuths = append(m.peerAuths, indexPeerAuth(p))
	}
	m.ingressProxy = proxy{vantage: Ingress, namespace: IngressGateway.Namespace, labels: maps.Clone(IngressGateway.Labels)}
	m.ingress = m.buildIngressTable()
	namespaces := map[string]bool{defaultNamespace: true, rootNamespace: true}
	for _, s := range cfg.Services {
		namespaces[s.Namespace] = true
	}
	for _, w := range cfg.Workloads {
		namespaces[w.Namespace] = true
	}
	for _, v := range m.vss {
		namespaces[v.ns] = true
	}
	for _, d := range m.drs {
		namespaces[d.ns] = true
	}
	m.meshTables = make(map[string]*table, len(namespaces))
	for ns := range namespaces {
		m.meshTables[ns] = m.buildMeshTable(ns)
	}
	return m
}

// meshTable returns the route tables of a sidecar in namespace ns.
func (m *Model) meshTable(ns string) *table {
	if t := m.meshTables[ns]; t != nil {
		return t
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.extra == nil {
		m.extra = map[string]*table{}
	}
	t := m.extra[ns]
	if t == nil {
		t = m.buildMeshTable(ns)
		m.extra[ns] = t
	}
	return t
}

// Resolve routes one request the way the ingress gateway or a sidecar does.
// It allocates nothing on the common paths once the Model is built.
func (m *Model) Resolve(req Request) Resolution {
	port := req.Port
	if port == 0 {
		port = 80
	}
	var t *table
	switch req.Vantage {
	case Ingress:
		t = m.ingress
	case Mesh:
		ns := req.SourceNamespace
		if ns == "" {
			ns = defaultNamespace
		}
		t = m.meshTable(ns)
	default:
		return Resolution{Status: 400, Reason: "request vantage " + strconv.Quote(string(req.Vantage)) + " is neither ingress nor mesh"}
	}
	if req.Host == "" {
		return Resolution{Status: 404, Reason: t.who + " answers 404: the request has no Host header"}
	}
	l := t.ports[port]
	if l == nil {
		return t.noListener(port)
	}
	h := lowerASCII(stripHostPort(req.Host))
	vh := l.lookup(h)
	if vh == nil {
		return m.noHost(t, port, h)
	}
	if vh.fixed != nil {
		return *vh.fixed
	}
	rv := reqView{host: req.Host, headers: req.Headers, full: req.Path, method: req.Method}
	if rv.full == "" {
		rv.full = "/"
	}
	rv.path = rv.full
	if i := strings.IndexAny(rv.full, "?#"); i >= 0 {
		rv.path = rv.full[:i]
	}
	if rv.method == "" {
		rv.method = "GET"
	}
	for i := range vh.entries {
		e := &vh.entries[i]
		if e.m != nil && !e.m.matches(&rv) {
			continue
		}
		return e.res
	}
	return vh.noRoute(t, rv.method, rv.full)
}
