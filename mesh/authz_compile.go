package mesh

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// dryRunAnnotation marks an AuthorizationPolicy whose rules istiod renders
// as Envoy shadow rules: they are evaluated and logged but never enforced
// (https://istio.io/latest/docs/tasks/security/authorization/authz-dry-run/).
const dryRunAnnotation = "istio.io/dry-run"

// authzPolicy is one compiled AuthorizationPolicy.
type authzPolicy struct {
	key    string // "ns/name"
	ns     string
	action apisecurity.AuthorizationPolicy_Action
	// selector is the workload selector's labels; nil selects every
	// workload in scope.
	selector map[string]string
	// targeted: the policy names targetRef(s); istiod attaches it to
	// Kubernetes Gateway API gateways and waypoints only, never to a sidecar
	// or the classic ingress gateway (pilot/pkg/model/policyattachment.go,
	// ShouldAttachPolicy: "if targetRef is specified, ignore the policy
	// altogether").
	targeted bool
	// dryRun: the istio.io/dry-run annotation is "true"; the policy is never
	// enforced.
	dryRun bool
	rules  []*authzRule
	// problems are istiod validation errors; a policy with any is rejected
	// by the API server and takes no part in Access.
	problems []problem
	// unmodelled names the features the model does not evaluate.
	unmodelled []string
}

// authzRule is one compiled Rule: AP ref, Rule: "A match occurs when at least
// one source, one operation and all conditions matches the request. An empty
// rule is always matched."
type authzRule struct {
	from [][]clause // any source matches; within a source every clause
	to   [][]clause // any operation matches; within one every clause
	when []clause   // every condition
	// paths: the rule consults the request path (normalisation matters).
	paths bool
}

// pred is one compiled value of a policy field.
type pred func(*reqFacts) bool

// clause is one field of a Source, Operation or Condition: some positive
// value must match (when there are any) and no negative value may (AP ref:
// "principals ... notPrincipals: A list of negative match of ..."; istiod
// builder renders the pair as and_ids[or_ids[values], not_id[or_ids[notValues]]]).
type clause struct {
	pos, neg []pred
}

func (c clause) matches(f *reqFacts) bool {
	if len(c.pos) > 0 && !anyPred(c.pos, f) {
		return false
	}
	return !anyPred(c.neg, f)
}

func anyPred(ps []pred, f *reqFacts) bool {
	for _, p := range ps {
		if p(f) {
			return true
		}
	}
	return false
}

func allClauses(cs []clause, f *reqFacts) bool {
	for _, c := range cs {
		if !c.matches(f) {
			return false
		}
	}
	return true
}

func (r *authzRule) matches(f *reqFacts) bool {
	if len(r.from) > 0 && !anyClauses(r.from, f) {
		return false
	}
	if len(r.to) > 0 && !anyClauses(r.to, f) {
		return false
	}
	return allClauses(r.when, f)
}

func anyClauses(alts [][]clause, f *reqFacts) bool {
	for _, a := range alts {
		if allClauses(a, f) {
			return true
		}
	}
	return false
}

// reqFacts is an AccessRequest normalised for matching.
type reqFacts struct {
	mtls   bool   // the peer presented an Istio certificate
	spiffe string // the peer's SPIFFE ID, "" without mTLS
	ns, sa string
	port   int
	method string
	host   string
	path   string // without the query string
	// headers by lower-case name.
	headers map[string]string
}

// compiler collects a policy's validation problems and unmodelled notes
// while it compiles the policy's values.
type compiler struct {
	p *authzPolicy
}

func (c *compiler) problem(field, format string, args ...any) {
	c.p.problems = append(c.p.problems, problem{field, fmt.Sprintf(format, args...)})
}

func (c *compiler) unmodelled(field, format string, args ...any) {
	c.p.unmodelled = append(c.p.unmodelled, field+" "+fmt.Sprintf(format, args...))
}

// compileAuthz compiles one AuthorizationPolicy, with the checks istiod's
// validation (pkg/config/validation ValidateAuthorizationPolicy) applies.
func compileAuthz(p *securityv1.AuthorizationPolicy) *authzPolicy {
	ap := &authzPolicy{key: p.Namespace + "/" + p.Name, ns: p.Namespace, action: p.Spec.Action}
	c := &compiler{p: ap}
	spec := &p.Spec
	if s := spec.Selector; s != nil && len(s.MatchLabels) > 0 {
		ap.selector = s.MatchLabels
	}
	ap.targeted = spec.TargetRef != nil || len(spec.TargetRefs) > 0
	if ap.targeted && spec.Selector != nil {
		c.problem("spec", "sets both selector and targetRef(s); only one is allowed")
	}
	if v, ok := p.Annotations[dryRunAnnotation]; ok {
		// istiod builder isDryRun: strconv.ParseBool; a bad value enforces.
		ap.dryRun, _ = strconv.ParseBool(v)
	}
	switch spec.Action {
	case apisecurity.AuthorizationPolicy_ALLOW, apisecurity.AuthorizationPolicy_AUDIT:
		// AP ref, Action AUDIT: "Audit a request if it matches any of the
		// rules"; it never changes whether the request is allowed.
	case apisecurity.AuthorizationPolicy_DENY:
		// Validation: "DENY action without `rules` is meaningless".
		if spec.Rules == nil {
			c.problem("spec.rules", "is missing: a DENY policy without rules never triggers (add an empty rule {} to deny everything)")
		}
	case apisecurity.AuthorizationPolicy_CUSTOM:
		c.unmodelled("spec.action", "CUSTOM is not modelled (an external authorizer decides)")
	}
	if spec.GetProvider() != nil && spec.Action != apisecurity.AuthorizationPolicy_CUSTOM {
		c.problem("spec.provider", "is set on a %s policy; only CUSTOM policies name a provider", spec.Action)
	}
	for i, r := range spec.Rules {
		field := fmt.Sprintf("spec.rules[%d]", i)
		if r == nil {
			c.problem(field, "is null")
			continue
		}
		ap.rules = append(ap.rules, c.rule(field, r))
	}
	return ap
}

// rule compiles one Rule.
func (c *compiler) rule(field string, r *apisecurity.Rule) *authzRule {
	out := &authzRule{}
	if r.From != nil && len(r.From) == 0 {
		c.problem(field+".from", "is empty")
	}
	for j, f := range r.From {
		ff := fmt.Sprintf("%s.from[%d].source", field, j)
		if f.GetSource() == nil {
			c.problem(ff, "is missing")
			continue
		}
		out.from = append(out.from, c.source(ff, f.GetSource()))
	}
	if r.To != nil && len(r.To) == 0 {
		c.problem(field+".to", "is empty")
	}
	for j, t := range r.To {
		tf := fmt.Sprintf("%s.to[%d].operation", field, j)
		if t.GetOperation() == nil {
			c.problem(tf, "is missing")
			continue
		}
		op := t.GetOperation()
		out.paths = out.paths || len(op.Paths)+len(op.NotPaths) > 0
		out.to = append(out.to, c.operation(tf, op))
	}
	for j, w := range r.When {
		wf := fmt.Sprintf("%s.when[%d]", field, j)
		if w == nil {
			c.problem(wf, "is null")
			continue
		}
		out.when = append(out.when, c.condition(wf, w))
	}
	return out
}

// values compiles a positive/negative pair of value lists (fields field and
// notField) with mk.
func (c *compiler) values(field, notField string, pos, neg []string, mk func(field, v string) pred) clause {
	var cl clause
	for k, v := range pos {
		f := fmt.Sprintf("%s[%d]", field, k)
		if v == "" {
			c.problem(f, "is empty")
			continue
		}
		cl.pos = append(cl.pos, mk(f, v))
	}
	for k, v := range neg {
		f := fmt.Sprintf("%s[%d]", notField, k)
		if v == "" {
			c.problem(f, "is empty")
			continue
		}
		cl.neg = append(cl.neg, mk(f, v))
	}
	return cl
}

// notName is the negative field beside a positive one: principals ->
// notPrincipals.
func notName(name string) string {
	return "not" + strings.ToUpper(name[:1]) + name[1:]
}

// source compiles one Source: AP ref, Source: "If a field is not set, its
// value is ignored" and set fields are ANDed.
func (c *compiler) source(field string, s *apisecurity.Source) []clause {
	if len(s.Principals)+len(s.NotPrincipals)+len(s.Namespaces)+len(s.NotNamespaces) > 0 &&
		len(s.ServiceAccounts)+len(s.NotServiceAccounts) > 0 {
		c.problem(field, "sets serviceAccounts together with principals or namespaces, which is not allowed")
	}
	var out []clause
	add := func(name string, pos, neg []string, mk func(field, v string) pred) {
		if len(pos)+len(neg) > 0 {
			out = append(out, c.values(field+"."+name, field+"."+notName(name), pos, neg, mk))
		}
	}
	add("principals", s.Principals, s.NotPrincipals, c.principal)
	add("namespaces", s.Namespaces, s.NotNamespaces, c.namespace)
	add("serviceAccounts", s.ServiceAccounts, s.NotServiceAccounts, c.serviceAccount)
	add("trustDomains", s.TrustDomains, s.NotTrustDomains, c.trustDomain)
	add("requestPrincipals", s.RequestPrincipals, s.NotRequestPrincipals, c.notModelled("JWT request principals are"))
	add("ipBlocks", s.IpBlocks, s.NotIpBlocks, c.notModelled("source IP blocks are"))
	add("remoteIpBlocks", s.RemoteIpBlocks, s.NotRemoteIpBlocks, c.notModelled("remote IP blocks are"))
	if len(out) == 0 {
		c.problem(field, "is empty")
	}
	return out
}

// operation compiles one Operation (AP ref, Operation; fields ANDed).
func (c *compiler) operation(field string, o *apisecurity.Operation) []clause {
	var out []clause
	add := func(name string, pos, neg []string, mk func(field, v string) pred) {
		if len(pos)+len(neg) > 0 {
			out = append(out, c.values(field+"."+name, field+"."+notName(name), pos, neg, mk))
		}
	}
	add("hosts", o.Hosts, o.NotHosts, hostPred)
	add("ports", o.Ports, o.NotPorts, c.port)
	add("methods", o.Methods, o.NotMethods, methodPred)
	add("paths", o.Paths, o.NotPaths, c.path)
	if len(out) == 0 {
		c.problem(field, "is empty")
	}
	return out
}

// never is the clause of a value the validation rejects.
var never = clause{pos: []pred{func(*reqFacts) bool { return false }}}

// condition compiles one Condition (AP ref, Condition; keys from
// https://istio.io/latest/docs/reference/config/security/conditions/). A key
// istio does not know is a validation error (security.ValidateAttribute:
// "unknown attribute").
func (c *compiler) condition(field string, w *apisecurity.Condition) clause {
	key := w.Key
	if key == "" {
		c.problem(field+".key", "is empty")
		return never
	}
	if len(w.Values)+len(w.NotValues) == 0 {
		c.problem(field, "sets neither values nor notValues for key %s", key)
	}
	var mk func(field, v string) pred
	switch {
	case strings.HasPrefix(key, "request.headers"):
		name, ok := bracketName(strings.TrimPrefix(key, "request.headers"))
		if !ok {
			c.problem(field+".key", "%q is not request.headers[<name>]", key)
			return never
		}
		mk = headerPred(strings.ToLower(name))
	case key == "source.principal":
		mk = c.principal
	case key == "source.namespace":
		mk = c.namespace
	case key == "source.serviceAccount":
		mk = c.serviceAccount
	case key == "source.trustDomain":
		mk = c.trustDomain
	case key == "destination.port":
		mk = c.port
	case key == "source.ip", key == "remote.ip", key == "destination.ip", key == "connection.sni",
		strings.HasPrefix(key, "request.auth."), strings.HasPrefix(key, "experimental.envoy.filters."):
		mk = c.notModelled("condition key " + key + " is")
	default:
		c.problem(field+".key", "%q is not a known attribute (see istio.io conditions reference)", key)
		return never
	}
	return c.values(field+".values", field+".notValues", w.Values, w.NotValues, mk)
}

// bracketName reads "[<name>]".
func bracketName(s string) (string, bool) {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return "", false
	}
	return s[1 : len(s)-1], true
}

// notModelled returns a value compiler for a field the model does not
// evaluate: it records the field and never matches.
func (c *compiler) notModelled(what string) func(field, v string) pred {
	return func(field, v string) pred {
		c.unmodelled(field, "%s not modelled", what)
		return func(*reqFacts) bool { return false }
	}
}

// principal: AP ref, Source.principals, "the peer identity ... in the format
// <TRUST_DOMAIN>/ns/<NAMESPACE>/sa/<SERVICE_ACCOUNT>"; "This field requires
// mTLS enabled". istiod builder (matcher.StringMatcherWithPrefix) matches
// "spiffe://"+value on the authenticated peer's URI SAN: "*" any identity,
// "abc*" prefix, "*abc" suffix, else exact. Envoy's authenticated matcher
// never matches a plaintext connection.
func (c *compiler) principal(_, v string) pred {
	return func(f *reqFacts) bool { return f.mtls && matchPattern(v, strings.TrimPrefix(f.spiffe, "spiffe://")) }
}

// namespace: AP ref, Source.namespaces ("requires mTLS enabled"). istiod
// builder (srcNamespaceGenerator) renders it as the regex
// `.*/ns/<value with * as .*>/.*` over the peer's SPIFFE ID, so "*" may
// stand anywhere in the value.
func (c *compiler) namespace(field, v string) pred {
	parts := strings.Split(v, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	re, err := regexp.Compile("^.*/ns/" + strings.Join(parts, ".*") + "/.*$")
	if err != nil {
		c.unmodelled(field, "value %q does not compile as the regex istiod renders for it: %v", v, err)
		return func(*reqFacts) bool { return false }
	}
	return func(f *reqFacts) bool { return f.mtls && re.MatchString(f.spiffe) }
}

// serviceAccount: AP ref, Source.serviceAccounts, "<namespace>/<name>" or
// "<name>" for the policy's namespace, exact (istiod builder
// serviceAccountRegex); requires mTLS.
func (c *compiler) serviceAccount(field, v string) pred {
	ns, sa, ok := strings.Cut(v, "/")
	if !ok {
		ns, sa = c.p.ns, v
	}
	if sa == "" || ns == "" || strings.Contains(v, "*") || strings.Count(v, "/") > 1 {
		c.problem(field, "%q is not <namespace>/<serviceaccount> or <serviceaccount> (no wildcards)", v)
	}
	return func(f *reqFacts) bool { return f.mtls && f.ns == ns && f.sa == sa }
}

// trustDomain: AP ref, Source.trustDomains; istiod builder
// (srcTrustDomainGenerator): "*" any, "a*b" the trust domain segment
// matching a[^/]*b, else exact. Workload identities are in cluster.local.
func (c *compiler) trustDomain(field, v string) pred {
	match := v == "*" || v == trustDomain
	if before, after, ok := strings.Cut(v, "*"); ok && v != "*" {
		re, err := regexp.Compile("^" + regexp.QuoteMeta(before) + "[^/]*" + regexp.QuoteMeta(after) + "$")
		if err != nil {
			c.unmodelled(field, "value %q does not compile as the regex istiod renders for it: %v", v, err)
		} else {
			match = re.MatchString(trustDomain)
		}
	}
	return func(f *reqFacts) bool { return f.mtls && match }
}

// port: AP ref, Operation.ports ("A list of ports as specified in the
// connection") and the destination.port condition: decimal 0-65535
// (validation ValidatePorts).
func (c *compiler) port(field, v string) pred {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil {
		c.problem(field, "%q is not a port number 0-65535", v)
		return func(*reqFacts) bool { return false }
	}
	return func(f *reqFacts) bool { return f.port == int(n) }
}

// path: AP ref, Operation.paths, matched against the request path without
// the query string (Envoy url_path); exact, "abc*", "*abc", "*". Path
// templates ({*}, {**}) are not modelled.
func (c *compiler) path(field, v string) pred {
	if strings.ContainsAny(v, "{}") {
		c.unmodelled(field, "path template %q is not modelled", v)
		return func(*reqFacts) bool { return false }
	}
	return func(f *reqFacts) bool { return matchPattern(v, f.path) }
}

// hostPred: AP ref, Operation.hosts, "The match is case-insensitive", on
// the :authority header as sent (with its port, if the client sent one);
// "*" matches any request (istiod builder HostMatcher: present match).
func hostPred(_, v string) pred {
	lv := strings.ToLower(v)
	return func(f *reqFacts) bool { return v == "*" || matchPattern(lv, strings.ToLower(f.host)) }
}

// methodPred: AP ref, Operation.methods, on :method, case-sensitive.
func methodPred(_, v string) pred {
	return func(f *reqFacts) bool { return v == "*" || matchPattern(v, f.method) }
}

// headerPred: conditions ref, request.headers[<name>]; istiod builder
// (matcher.HeaderMatcher) renders "*" as a presence match (an empty value
// counts) and other values as exact, prefix or suffix; a missing header
// matches no value.
func headerPred(name string) func(field, v string) pred {
	return func(_, v string) pred {
		return func(f *reqFacts) bool {
			got, ok := f.headers[name]
			if !ok {
				return false
			}
			return v == "*" || matchPattern(v, got)
		}
	}
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

// appliesTo reports whether the policy applies to workload w: AP ref,
// AuthorizationPolicy.selector, "The selector will match with workloads in
// the same namespace as the authorization policy. If the authorization
// policy is in the root namespace, the selector will additionally match with
// workloads in all namespaces. If the selector and the targetRef are not set,
// the selector will match all workloads." matchLabels must be a subset of
// the workload's labels. A rejected, dry-run or targetRef policy applies to
// no sidecar.
func (p *authzPolicy) appliesTo(w Workload) bool {
	if len(p.problems) > 0 || p.dryRun || p.targeted {
		return false
	}
	if p.ns != w.Namespace && p.ns != rootNamespace {
		return false
	}
	return labelsInclude(w.Labels, p.selector)
}

// matches reports whether the policy matches the request and, if so, which
// rule: AP ref, AuthorizationPolicy.rules: "A match occurs when at least one
// rule matches the request. If not set, the match will never occur."
func (p *authzPolicy) matches(f *reqFacts) (int, bool) {
	for i, r := range p.rules {
		if r.matches(f) {
			return i, true
		}
	}
	return -1, false
}
