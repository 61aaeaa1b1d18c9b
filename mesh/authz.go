package mesh

import (
	"fmt"
	"strings"

	apisecurity "istio.io/api/security/v1beta1"
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
	// otherwise it names, per policy that applies to the destination, the
	// fields the model does not evaluate (CUSTOM action, ipBlocks, JWT
	// request principals, path templates, source.ip and similar conditions),
	// or a request path that Envoy would normalise. Allowed is then the
	// answer with those values taken as never matching, and may be wrong.
	Unmodelled string
}

// RBACDeniedBody is the body Envoy's RBAC filter answers a denied request
// with (status 403).
const RBACDeniedBody = "RBAC: access denied"

// Access answers whether the destination's sidecar lets the request through:
// first PeerAuthentication (STRICT refuses plaintext), then the
// AuthorizationPolicies that apply to the destination workload, by AP ref's
// evaluation rules: "2. If there are any DENY policies that match the
// request, deny the request. 3. If there are no ALLOW policies for the
// workload, allow the request. 4. If any of the ALLOW policies match the
// request, allow the request. 5. Deny the request." Rule 1 (CUSTOM) is not
// modelled and reported in Unmodelled; AUDIT policies never change the
// answer.
func (m *Model) Access(req AccessRequest) Access {
	mode, pa := m.PeerAuthenticationMode(req.Destination, req.Port)
	dest := req.Destination.Namespace + "/" + req.Destination.Name
	// PA ref, MutualTLS.Mode STRICT: "Connection is an mTLS tunnel (TLS with
	// client cert must be presented)"; DISABLE: "Connection is not
	// tunneled", so no peer identity reaches the RBAC filter.
	if mode == "STRICT" && !req.MTLS {
		return Access{Status: 503, Policy: pa, Reason: fmt.Sprintf(
			"the sidecar of %s refuses the plaintext connection on port %d: PeerAuthentication %s sets mTLS mode STRICT", dest, req.Port, pa)}
	}
	f := reqFacts{port: req.Port, method: req.Method, host: req.Host, path: req.Path, headers: req.Headers}
	if f.method == "" {
		f.method = "GET"
	}
	if f.path == "" {
		f.path = "/"
	}
	if i := strings.IndexAny(f.path, "?#"); i >= 0 {
		f.path = f.path[:i]
	}
	if req.MTLS && mode != "DISABLE" && !req.Source.IsZero() {
		f.mtls, f.spiffe, f.ns, f.sa = true, req.Source.SPIFFE(), req.Source.Namespace, req.Source.ServiceAccount
	}
	var unmodelled []string
	var allows []*authzPolicy
	deny := Access{Allowed: true}
	for _, p := range m.authz {
		if !p.appliesTo(req.Destination) {
			continue
		}
		if len(p.unmodelled) > 0 {
			unmodelled = append(unmodelled, "AuthorizationPolicy "+p.key+": "+strings.Join(p.unmodelled, "; "))
		}
		if p.consultsPath() && needsNormalising(f.path) {
			unmodelled = append(unmodelled, fmt.Sprintf("AuthorizationPolicy %s matches paths and the request path %q "+
				"holds dot segments or percent-encoding, which Envoy normalises and the model does not", p.key, f.path))
		}
		switch p.action {
		case apisecurity.AuthorizationPolicy_DENY:
			if i, ok := p.matches(&f); ok && deny.Allowed {
				deny = Access{Status: 403, Policy: p.key, Reason: fmt.Sprintf(
					"DENY AuthorizationPolicy %s rules[%d] matches %s %s to %s, so its sidecar answers 403 %q",
					p.key, i, f.method, f.path, dest, RBACDeniedBody)}
			}
		case apisecurity.AuthorizationPolicy_ALLOW:
			allows = append(allows, p)
		}
	}
	un := strings.Join(unmodelled, "; ")
	if !deny.Allowed {
		deny.Unmodelled = un
		return deny
	}
	if len(allows) == 0 {
		return Access{Allowed: true, Unmodelled: un, Reason: fmt.Sprintf(
			"no ALLOW AuthorizationPolicy applies to %s and no DENY policy matches, so the request is allowed", dest)}
	}
	names := make([]string, len(allows))
	for k, p := range allows {
		if i, ok := p.matches(&f); ok {
			return Access{Allowed: true, Policy: p.key, Unmodelled: un, Reason: fmt.Sprintf(
				"ALLOW AuthorizationPolicy %s rules[%d] matches %s %s to %s", p.key, i, f.method, f.path, dest)}
		}
		names[k] = p.key
	}
	who := "a client without an mTLS identity"
	if f.mtls {
		who = req.Source.Principal()
	}
	return Access{Status: 403, Unmodelled: un, Reason: fmt.Sprintf(
		"ALLOW AuthorizationPolicies (%s) apply to %s and none matches %s %s from %s, so by default deny its sidecar answers 403 %q",
		strings.Join(names, ", "), dest, f.method, f.path, who, RBACDeniedBody)}
}

// consultsPath reports whether a rule of the policy matches paths.
func (p *authzPolicy) consultsPath() bool {
	for _, r := range p.rules {
		if r.paths {
			return true
		}
	}
	return false
}

// needsNormalising reports whether Envoy's path normalisation (Istio's
// default meshConfig pathNormalization BASE: RFC 3986 dot-segment removal
// and percent-decoding of unreserved characters) may change the path.
func needsNormalising(path string) bool {
	if strings.Contains(path, "%") {
		return true
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
