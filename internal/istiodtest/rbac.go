package istiodtest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// RBACRequest is what Envoy's RBAC filter sees of one request.
type RBACRequest struct {
	// PeerURISAN is the URI SAN of the client certificate (the peer's
	// SPIFFE ID), "" for a plaintext connection.
	PeerURISAN string
	// Port is the connection's destination (pod) port.
	Port int
	// Method, Authority and Path are the :method, :authority and :path
	// pseudo-headers (Path with its query string).
	Method, Authority, Path string
	// Headers are the other request headers by lower-case name.
	Headers map[string]string
}

// header returns a header as Envoy's matchers see it, pseudo-headers
// included.
func (r *RBACRequest) header(name string) (string, bool) {
	switch strings.ToLower(name) {
	case ":method":
		return r.Method, true
	case ":authority", "host":
		return r.Authority, true
	case ":path":
		return r.Path, true
	}
	v, ok := r.Headers[strings.ToLower(name)]
	return v, ok
}

// EvalRBAC runs a request through RBAC HTTP filters in order, as Envoy's
// RBAC filter does (envoy.extensions.filters.http.rbac.v3.RBAC and
// envoy.config.rbac.v3.RBAC): a filter's enforced rules with action DENY
// deny the request when some policy matches it, with action ALLOW when
// none does; LOG rules and shadow rules never deny. A policy matches when
// one of its permissions and one of its principals match. It returns the
// name of the policy that decided: the matching DENY policy, or the first
// matching ALLOW policy in name order ("" when the request is allowed by
// the absence of rules or denied by an ALLOW filter without a match). It
// fails on a matcher this interpreter does not evaluate (it covers what
// istiod emits for principals, namespaces, serviceAccounts, hosts, ports,
// methods, paths and header conditions).
func EvalRBAC(filters []*rbachttpv3.RBAC, r RBACRequest) (allowed bool, policy string, err error) {
	for _, f := range filters {
		rules := f.GetRules()
		if rules == nil {
			continue
		}
		var matched string
		for _, name := range slices.Sorted(maps.Keys(rules.GetPolicies())) {
			ok, err := policyMatches(rules.GetPolicies()[name], &r)
			if err != nil {
				return false, "", fmt.Errorf("policy %s: %w", name, err)
			}
			if ok {
				matched = name
				break
			}
		}
		switch rules.GetAction() {
		case rbacv3.RBAC_DENY:
			if matched != "" {
				return false, matched, nil
			}
		case rbacv3.RBAC_ALLOW:
			if matched == "" {
				return false, "", nil
			}
			policy = matched
		case rbacv3.RBAC_LOG:
		default:
			return false, "", fmt.Errorf("RBAC action %s is not evaluated", rules.GetAction())
		}
	}
	return true, policy, nil
}

func policyMatches(p *rbacv3.Policy, r *RBACRequest) (bool, error) {
	if p.GetCondition() != nil || p.GetCheckedCondition() != nil {
		return false, fmt.Errorf("CEL conditions are not evaluated")
	}
	perm, err := anyMatch(p.GetPermissions(), r, permissionMatches)
	if err != nil || !perm {
		return false, err
	}
	return anyMatch(p.GetPrincipals(), r, principalMatches)
}

func anyMatch[T any](xs []T, r *RBACRequest, match func(T, *RBACRequest) (bool, error)) (bool, error) {
	for _, x := range xs {
		ok, err := match(x, r)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func allMatch[T any](xs []T, r *RBACRequest, match func(T, *RBACRequest) (bool, error)) (bool, error) {
	for _, x := range xs {
		ok, err := match(x, r)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// permissionMatches evaluates envoy.config.rbac.v3.Permission.
func permissionMatches(p *rbacv3.Permission, r *RBACRequest) (bool, error) {
	switch rule := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return rule.Any, nil
	case *rbacv3.Permission_AndRules:
		return allMatch(rule.AndRules.GetRules(), r, permissionMatches)
	case *rbacv3.Permission_OrRules:
		return anyMatch(rule.OrRules.GetRules(), r, permissionMatches)
	case *rbacv3.Permission_NotRule:
		ok, err := permissionMatches(rule.NotRule, r)
		return !ok, err
	case *rbacv3.Permission_Header:
		return headerMatches(rule.Header, r)
	case *rbacv3.Permission_UrlPath:
		// url_path: the path without query string and fragment.
		path := r.Path
		if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		sm := rule.UrlPath.GetPath()
		if sm == nil {
			return false, fmt.Errorf("url_path without a path matcher is not evaluated")
		}
		return stringMatches(sm, path)
	case *rbacv3.Permission_DestinationPort:
		return int(rule.DestinationPort) == r.Port, nil
	case *rbacv3.Permission_DestinationPortRange:
		return r.Port >= int(rule.DestinationPortRange.GetStart()) && r.Port < int(rule.DestinationPortRange.GetEnd()), nil
	}
	return false, fmt.Errorf("permission %T is not evaluated", p.GetRule())
}

// principalMatches evaluates envoy.config.rbac.v3.Principal.
func principalMatches(p *rbacv3.Principal, r *RBACRequest) (bool, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return id.Any, nil
	case *rbacv3.Principal_AndIds:
		return allMatch(id.AndIds.GetIds(), r, principalMatches)
	case *rbacv3.Principal_OrIds:
		return anyMatch(id.OrIds.GetIds(), r, principalMatches)
	case *rbacv3.Principal_NotId:
		ok, err := principalMatches(id.NotId, r)
		return !ok, err
	case *rbacv3.Principal_Header:
		return headerMatches(id.Header, r)
	case *rbacv3.Principal_Authenticated_:
		// Principal.Authenticated: only a connection with a validated peer
		// certificate matches; principal_name is matched against the URI
		// SAN (the only SAN Istio certificates carry).
		if r.PeerURISAN == "" {
			return false, nil
		}
		if id.Authenticated.GetPrincipalName() == nil {
			return true, nil
		}
		return stringMatches(id.Authenticated.GetPrincipalName(), r.PeerURISAN)
	}
	return false, fmt.Errorf("principal %T is not evaluated", p.GetIdentifier())
}

// headerMatches evaluates envoy.config.route.v3.HeaderMatcher for the
// subset istiod emits: present_match and string_match, a missing header
// matching nothing.
func headerMatches(h *routev3.HeaderMatcher, r *RBACRequest) (bool, error) {
	if h.GetInvertMatch() || h.GetTreatMissingHeaderAsEmpty() {
		return false, fmt.Errorf("header matcher %s: invert_match and treat_missing_header_as_empty are not evaluated", h.GetName())
	}
	v, ok := r.header(h.GetName())
	switch m := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		return ok == m.PresentMatch, nil
	case *routev3.HeaderMatcher_StringMatch:
		if !ok {
			return false, nil
		}
		return stringMatches(m.StringMatch, v)
	case *routev3.HeaderMatcher_ExactMatch:
		return ok && v == m.ExactMatch, nil
	case *routev3.HeaderMatcher_PrefixMatch:
		return ok && strings.HasPrefix(v, m.PrefixMatch), nil
	case *routev3.HeaderMatcher_SuffixMatch:
		return ok && strings.HasSuffix(v, m.SuffixMatch), nil
	}
	return false, fmt.Errorf("header matcher %s %T is not evaluated", h.GetName(), h.GetHeaderMatchSpecifier())
}

// stringMatches evaluates envoy.type.matcher.v3.StringMatcher: exact,
// prefix, suffix, contains (each optionally ignore_case) and safe_regex
// (RE2, matching the whole value).
func stringMatches(m *matcherv3.StringMatcher, v string) (bool, error) {
	fold := func(s string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return fold(v) == fold(p.Exact), nil
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(fold(v), fold(p.Prefix)), nil
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(fold(v), fold(p.Suffix)), nil
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(fold(v), fold(p.Contains)), nil
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := compileRegex(p.SafeRegex.GetRegex())
		if err != nil {
			return false, err
		}
		return re.MatchString(v), nil
	}
	return false, fmt.Errorf("string matcher %T is not evaluated", m.GetMatchPattern())
}

// regexes caches compiled safe_regex patterns: a corpus evaluates the same
// few thousand patterns for every request.
var regexes sync.Map // string -> *regexp.Regexp

func compileRegex(expr string) (*regexp.Regexp, error) {
	if re, ok := regexes.Load(expr); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", expr, err)
	}
	regexes.Store(expr, re)
	return re, nil
}
