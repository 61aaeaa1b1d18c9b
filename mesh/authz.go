package mesh

import (
	"fmt"
	"strconv"
	"strings"

	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// The rules in this file follow the Istio authorization policy reference,
// https://istio.io/latest/docs/reference/config/security/authorization-policy/
// (istio.io/api security/v1beta1 authorization_policy.proto), cited below as
// "AP ref", and the way istiod renders a policy into Envoy's RBAC filter
// (pilot/pkg/security/authz/builder), cited as "istiod builder".

// trustDomain is the mesh's default trust domain (meshConfig.trustDomain),
// the first segment of every workload principal.
const trustDomain = "cluster.local"

// Identity is a workload's mTLS identity (its SPIFFE ID is
// spiffe://cluster.local/ns/<Namespace>/sa/<ServiceAccount>).
type Identity struct{ Namespace, ServiceAccount string }

// IsZero reports whether the identity is absent (a client without a sidecar,
// or a plaintext connection).
func (id Identity) IsZero() bool { return id.Namespace == "" && id.ServiceAccount == "" }

// Principal is the identity as AuthorizationPolicy source.principals name it:
// "cluster.local/ns/<ns>/sa/<sa>" (AP ref, Source.principals: "the peer
// identity ... in the format <TRUST_DOMAIN>/ns/<NAMESPACE>/sa/<SERVICE_ACCOUNT>").
// It is "" for the zero Identity.
func (id Identity) Principal() string {
	if id.IsZero() {
		return ""
	}
	return trustDomain + "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount
}

// SPIFFE is the identity's SPIFFE ID, "spiffe://" + Principal(), as it appears
// in the workload certificate's URI SAN and in Envoy's RBAC principal_name
// matchers. It is "" for the zero Identity.
func (id Identity) SPIFFE() string {
	if id.IsZero() {
		return ""
	}
	return "spiffe://" + id.Principal()
}

// Identity returns the workload's mTLS identity: its namespace and
// ServiceAccount ("default" when the Workload names none, as Kubernetes
// assigns it).
func (w Workload) Identity() Identity {
	return Identity{Namespace: w.Namespace, ServiceAccount: serviceAccount(w.ServiceAccount)}
}

// AccessRequest is one request arriving at a destination workload's sidecar.
type AccessRequest struct {
	// Source is the client's identity; zero: no identity (a client without a
	// sidecar, or plaintext).
	Source Identity
	// MTLS is whether the connection arrives over Istio mTLS (the source has
	// a sidecar and the destination's effective PeerAuthentication /
	// auto-mTLS gives mTLS). Without it Source is not known to the
	// destination and principal or namespace rules never match.
	MTLS bool
	// Destination is the workload whose sidecar receives the request.
	Destination Workload
	// Port is the destination pod port.
	Port int
	// Method is the HTTP method, GET when empty.
	Method string
	// Host is the Host (:authority) header.
	Host string
	// Path is the request target, "/" when empty; a query string is not part
	// of the path the policy matches.
	Path string
	// Headers are request headers by lower-case name.
	Headers map[string]string
}

// Access is the destination sidecar's answer.
type Access struct {
	// Allowed is whether the request reaches the application.
	Allowed bool
	// Status is 0 when allowed; 403 for an RBAC denial (Envoy answers with
	// the body "RBAC: access denied"), 503 when STRICT mTLS refuses a
	// plaintext connection (Envoy resets it: the client sees 503/reset).
	Status int
	// Policy is "ns/name" of the policy that decided, "" when no policy
	// applies or by default-deny.
	Policy string
	// Reason is one sentence naming the policy and the rule that allowed or
	// denied, or why the default applies.
	Reason string
	// Unmodelled is "" when the answer follows from modelled features only;
	// otherwise a sentence naming the policy and field that the model does not
	// evaluate (CUSTOM action, targetRefs, ipBlocks, JWT request principals,
	// unsupported when keys), in which case Allowed is the answer with those
	// clauses taken as not matching, and may be wrong.
	Unmodelled string
}

// RBACDeniedBody is the body Envoy's RBAC filter answers a denied request
// with (status 403).
const RBACDeniedBody = "RBAC: access denied"

// authzPolicy is one compiled AuthorizationPolicy.
type authzPolicy struct {
	key    string // "ns/name"
	ns     string
	action apisecurity.AuthorizationPolicy_Action
	// selector is the workload selector's labels; nil selects every
	// workload in scope.
	selector map[string]string
	rules    []authzRule
	// unmodelled names the first feature the model does not evaluate, "" if
	// none; it is reported on every answer the policy takes part in.
	unmodelled string
}

// authzRule is one compiled Rule.
type authzRule struct {
	from []authzSource // OR (AP ref, Rule.from: "If not set, any source is allowed.")
	to   []authzOp     // OR (AP ref, Rule.to)
	when []authzCond   // AND (AP ref, Rule.when)
}

// authzSource is one compiled Source: every set field must match (AP ref,
// Rule.From: "the fields ... are ANDed"); within a field any value matches.
type authzSource struct {
	principals, notPrincipals           []string
	namespaces, notNamespaces           []string
	serviceAccounts, notServiceAccounts []string
}

// authzOp is one compiled Operation, ANDed like authzSource.
type authzOp struct {
	hosts, notHosts     []string
	ports, notPorts     []int
	methods, notMethods []string
	paths, notPaths     []string
}

// authzCond is one compiled Condition.
type authzCond struct {
	key               string
	header            string // for request.headers[...]
	values, notValues []string
}

// compileAuthz compiles one AuthorizationPolicy.
func compileAuthz(p *securityv1.AuthorizationPolicy) *authzPolicy {
	ap := &authzPolicy{key: p.Namespace + "/" + p.Name, ns: p.Namespace, action: p.Spec.Action}
	note := func(format string, args ...any) {
		if ap.unmodelled == "" {
			ap.unmodelled = fmt.Sprintf("AuthorizationPolicy %s: ", ap.key) + fmt.Sprintf(format, args...)
		}
	}
	if s := p.Spec.Selector; s != nil && len(s.MatchLabels) > 0 {
		ap.selector = s.MatchLabels
	}
	// AP ref, targetRef/targetRefs: they attach a policy to a Gateway or
	// Service (waypoint, gateway); such a policy does not select sidecar
	// workloads by selector, which the model does not follow.
	if p.Spec.TargetRef != nil || len(p.Spec.TargetRefs) > 0 {
		note("targetRef/targetRefs are not modelled (only selector)")
	}
	switch p.Spec.Action {
	case apisecurity.AuthorizationPolicy_ALLOW, apisecurity.AuthorizationPolicy_DENY:
	case apisecurity.AuthorizationPolicy_AUDIT:
		// AP ref, Action AUDIT: "Audit a request if it matches any of the
		// rules" — it never changes whether the request is allowed.
	default:
		note("action %s is not modelled (an external authorizer decides)", p.Spec.Action)
	}
	for i, r := range p.Spec.Rules {
		if r == nil {
			r = &apisecurity.Rule{}
		}
		var cr authzRule
		for j, f := range r.From {
			s := f.GetSource()
			if s == nil {
				s = &apisecurity.Source{}
			}
			field := fmt.Sprintf("rules[%d].from[%d].source", i, j)
			if len(s.RequestPrincipals)+len(s.NotRequestPrincipals) > 0 {
				note("%s.requestPrincipals (JWT) are not modelled", field)
			}
			if len(s.IpBlocks)+len(s.NotIpBlocks)+len(s.RemoteIpBlocks)+len(s.NotRemoteIpBlocks) > 0 {
				note("%s ipBlocks/remoteIpBlocks are not modelled", field)
			}
			if len(s.TrustDomains)+len(s.NotTrustDomains) > 0 {
				note("%s.trustDomains are not modelled", field)
			}
			cr.from = append(cr.from, authzSource{
				principals: s.Principals, notPrincipals: s.NotPrincipals,
				namespaces: s.Namespaces, notNamespaces: s.NotNamespaces,
				serviceAccounts: s.ServiceAccounts, notServiceAccounts: s.NotServiceAccounts,
			})
		}
		for j, t := range r.To {
			o := t.GetOperation()
			if o == nil {
				o = &apisecurity.Operation{}
			}
			field := fmt.Sprintf("rules[%d].to[%d].operation", i, j)
			op := authzOp{hosts: o.Hosts, notHosts: o.NotHosts, methods: o.Methods, notMethods: o.NotMethods,
				paths: o.Paths, notPaths: o.NotPaths}
			var err error
			if op.ports, err = parsePorts(o.Ports); err != nil {
				note("%s.ports: %v", field, err)
			}
			if op.notPorts, err = parsePorts(o.NotPorts); err != nil {
				note("%s.notPorts: %v", field, err)
			}
			for _, v := range append(append([]string(nil), o.Paths...), o.NotPaths...) {
				if strings.Contains(v, "{") {
					note("%s path template %q is not modelled", field, v)
				}
			}
			cr.to = append(cr.to, op)
		}
		for j, c := range r.When {
			if c == nil {
				continue
			}
			cc := authzCond{key: c.Key, values: c.Values, notValues: c.NotValues}
			switch {
			case strings.HasPrefix(c.Key, "request.headers[") && strings.HasSuffix(c.Key, "]"):
				cc.header = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(c.Key, "request.headers["), "]"))
			case c.Key == "source.principal", c.Key == "source.namespace", c.Key == "destination.port":
			default:
				note("rules[%d].when[%d] key %q is not modelled (modelled: request.headers[...], source.principal, source.namespace, destination.port)", i, j, c.Key)
			}
			cr.when = append(cr.when, cc)
		}
		ap.rules = append(ap.rules, cr)
	}
	return ap
}

// parsePorts reads Operation ports: AP ref, Operation.ports: "A list of
// ports ... as specified in the connection"; each a decimal port number.
func parsePorts(in []string) ([]int, error) {
	var out []int
	for _, s := range in {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q is not a port number 1-65535", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// appliesTo reports whether the policy applies to workload w: AP ref,
// "the policy applies to workloads in the same namespace as the policy, and
// a policy in the root namespace applies to all namespaces in the mesh";
// selector.matchLabels must be a subset of the workload's labels
// (WorkloadSelector: "If not set, the policy will be applied to all
// workloads in the same namespace").
func (p *authzPolicy) appliesTo(w Workload) bool {
	if p.ns != w.Namespace && p.ns != rootNamespace {
		return false
	}
	for k, v := range p.selector {
		if got, ok := w.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// reqFacts is an AccessRequest normalised for matching.
type reqFacts struct {
	mtls      bool
	principal string // "" without mTLS
	ns, sa    string
	port      int
	method    string
	host      string
	path      string
	headers   map[string]string
}

// matches reports whether the policy matches the request and, if so, which
// rule: AP ref, AuthorizationPolicy.rules: "A match occurs when at least one
// rule matches the request. If not set, the match will never occur."
func (p *authzPolicy) matches(f *reqFacts) (int, bool) {
	for i := range p.rules {
		if p.rules[i].matches(f) {
			return i, true
		}
	}
	return -1, false
}

// matches reports whether every set part of the rule matches (AP ref, Rule:
// "A match occurs when at least one source, one operation and all conditions
// matches the request. An empty rule is always matched.").
func (r *authzRule) matches(f *reqFacts) bool {
	if len(r.from) > 0 && !anyOf(r.from, func(s *authzSource) bool { return s.matches(f) }) {
		return false
	}
	if len(r.to) > 0 && !anyOf(r.to, func(o *authzOp) bool { return o.matches(f) }) {
		return false
	}
	for i := range r.when {
		if !r.when[i].matches(f) {
			return false
		}
	}
	return true
}

func anyOf[T any](xs []T, ok func(*T) bool) bool {
	for i := range xs {
		if ok(&xs[i]) {
			return true
		}
	}
	return false
}

// matches evaluates one Source. AP ref, Source.principals and namespaces:
// "This field requires mTLS enabled": without mTLS the peer has no
// principal, so a positive principal/namespace/serviceAccount clause never
// matches and a negative one (notPrincipals, ...) always does (istiod builder
// renders notX as not_id over an authenticated matcher, and Envoy's
// authenticated matcher does not match a plaintext connection).
func (s *authzSource) matches(f *reqFacts) bool {
	principal := func(v string) bool { return f.mtls && matchPattern(v, f.principal) }
	namespace := func(v string) bool { return f.mtls && matchPattern(v, f.ns) }
	// AP ref, Source.serviceAccounts: "<namespace>/<serviceaccount>", exact.
	account := func(v string) bool { return f.mtls && v == f.ns+"/"+f.sa }
	return clause(s.principals, s.notPrincipals, principal) &&
		clause(s.namespaces, s.notNamespaces, namespace) &&
		clause(s.serviceAccounts, s.notServiceAccounts, account)
}

// clause is one positive/negative field pair: the positive list (if set)
// must have a match and the negative list must have none.
func clause(pos, neg []string, match func(string) bool) bool {
	if len(pos) > 0 && !anyString(pos, match) {
		return false
	}
	return !anyString(neg, match)
}

func anyString(xs []string, match func(string) bool) bool {
	for _, x := range xs {
		if match(x) {
			return true
		}
	}
	return false
}

// matches evaluates one Operation (AP ref, Operation).
func (o *authzOp) matches(f *reqFacts) bool {
	// AP ref, Operation.hosts: "A list of hosts as specified in the HTTP
	// request. The match is case-insensitive."
	host := func(v string) bool { return matchPattern(strings.ToLower(v), strings.ToLower(f.host)) }
	method := func(v string) bool { return matchPattern(v, f.method) }
	// AP ref, Operation.paths: "A list of paths as specified in the HTTP
	// request", matched against the path without the query string (Envoy
	// url_path).
	path := func(v string) bool { return matchPattern(v, f.path) }
	return clause(o.hosts, o.notHosts, host) &&
		portClause(o.ports, o.notPorts, f.port) &&
		clause(o.methods, o.notMethods, method) &&
		clause(o.paths, o.notPaths, path)
}

// portClause is clause for Operation ports/notPorts: AP ref,
// Operation.ports, exact numbers.
func portClause(pos, neg []int, port int) bool {
	has := func(xs []int) bool {
		for _, x := range xs {
			if x == port {
				return true
			}
		}
		return false
	}
	if len(pos) > 0 && !has(pos) {
		return false
	}
	return !has(neg)
}

// matches evaluates one Condition: AP ref, Condition: "values: A list of
// allowed values for the attribute", "notValues: A list of negative match
// of values for the attribute"; the supported keys follow
// https://istio.io/latest/docs/reference/config/security/conditions/.
func (c *authzCond) matches(f *reqFacts) bool {
	var match func(string) bool
	switch {
	case c.header != "":
		// conditions ref, request.headers: "HTTP request headers ... The
		// header name is surrounded by [] without any quotes"; values support
		// exact, prefix and suffix. A missing header matches no value.
		v, ok := f.headers[c.header]
		match = func(p string) bool { return ok && matchPattern(p, v) }
	case c.key == "source.principal":
		match = func(p string) bool { return f.mtls && matchPattern(p, f.principal) }
	case c.key == "source.namespace":
		match = func(p string) bool { return f.mtls && matchPattern(p, f.ns) }
	case c.key == "destination.port":
		match = func(p string) bool { return p == strconv.Itoa(f.port) }
	default:
		// Not modelled (reported by compileAuthz): never matches.
		return false
	}
	return clause(c.values, c.notValues, match)
}

// matchPattern matches one AuthorizationPolicy string value: AP ref, "Exact
// match: abc will match on value abc. Prefix match: abc* will match on value
// abc and abcd. Suffix match: *abc will match on value abc and xabc.
// Presence match: * will match when value is not empty."
func matchPattern(pattern, v string) bool {
	switch {
	case pattern == "*":
		return v != ""
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(v, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(v, pattern[:len(pattern)-1])
	}
	return pattern == v
}

// Access answers whether the destination's sidecar lets the request through:
// first PeerAuthentication (STRICT refuses plaintext), then the
// AuthorizationPolicies that apply to the destination workload, evaluated as
// AP ref, "Authorization Policy" overview describes: "CUSTOM, DENY and
// ALLOW actions ... the CUSTOM action is evaluated first, then the DENY
// action, and finally the ALLOW action": if any DENY policy matches the
// request is denied; if no ALLOW policy applies to the workload it is
// allowed; if any ALLOW policy matches it is allowed; otherwise denied.
func (m *Model) Access(req AccessRequest) Access {
	mode, pa := m.PeerAuthenticationMode(req.Destination, req.Port)
	dest := req.Destination.Namespace + "/" + req.Destination.Name
	// PeerAuthentication ref, MutualTLS.Mode STRICT: "Connection is an mTLS
	// tunnel (TLS with client cert must be presented)"; DISABLE: "Connection
	// is not tunneled", so no peer identity reaches the RBAC filter.
	if mode == "STRICT" && !req.MTLS {
		return Access{Status: 503, Policy: pa, Reason: fmt.Sprintf(
			"the sidecar of %s refuses the plaintext connection on port %d: PeerAuthentication %s sets mTLS mode STRICT", dest, req.Port, pa)}
	}
	f := reqFacts{mtls: req.MTLS && mode != "DISABLE", port: req.Port, method: req.Method, host: req.Host,
		path: req.Path, headers: req.Headers}
	if f.method == "" {
		f.method = "GET"
	}
	if f.path == "" {
		f.path = "/"
	}
	if i := strings.IndexAny(f.path, "?#"); i >= 0 {
		f.path = f.path[:i]
	}
	if f.mtls && !req.Source.IsZero() {
		f.principal, f.ns, f.sa = req.Source.Principal(), req.Source.Namespace, req.Source.ServiceAccount
	} else {
		f.mtls = false
	}
	var unmodelled []string
	var allows []*authzPolicy
	for _, p := range m.authz {
		if !p.appliesTo(req.Destination) {
			continue
		}
		if p.unmodelled != "" {
			unmodelled = append(unmodelled, p.unmodelled)
		}
		switch p.action {
		case apisecurity.AuthorizationPolicy_DENY:
			if i, ok := p.matches(&f); ok {
				return Access{Status: 403, Policy: p.key, Unmodelled: strings.Join(unmodelled, "; "), Reason: fmt.Sprintf(
					"DENY AuthorizationPolicy %s rules[%d] matches the request to %s: the sidecar answers 403 %q", p.key, i, dest, RBACDeniedBody)}
			}
		case apisecurity.AuthorizationPolicy_ALLOW:
			allows = append(allows, p)
		}
	}
	un := strings.Join(unmodelled, "; ")
	if len(allows) == 0 {
		return Access{Allowed: true, Unmodelled: un, Reason: fmt.Sprintf(
			"no ALLOW AuthorizationPolicy selects %s and no DENY policy matches: the request is allowed", dest)}
	}
	names := make([]string, len(allows))
	for k, p := range allows {
		if i, ok := p.matches(&f); ok {
			return Access{Allowed: true, Policy: p.key, Unmodelled: un, Reason: fmt.Sprintf(
				"ALLOW AuthorizationPolicy %s rules[%d] matches the request to %s", p.key, i, dest)}
		}
		names[k] = p.key
	}
	who := "a client without mTLS identity"
	if f.mtls {
		who = f.principal
	}
	return Access{Status: 403, Unmodelled: un, Reason: fmt.Sprintf(
		"ALLOW AuthorizationPolicies (%s) select %s and none matches %s %s from %s: default deny, the sidecar answers 403 %q",
		strings.Join(names, ", "), dest, f.method, f.path, who, RBACDeniedBody)}
}
