package istiodtest

import (
	"testing"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func regex(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: s}}}
}

func authenticated(m *matcherv3.StringMatcher) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{PrincipalName: m}}}
}

func notID(p *rbacv3.Principal) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: p}}
}

func anyPermission() *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Any{Any: true}}
}

func method(m string) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: &routev3.HeaderMatcher{Name: ":method",
		HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact(m)}}}}
}

func path(prefix string) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{
		Path: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: prefix}}}}}}
}

func filter(action rbacv3.RBAC_Action, policies map[string]*rbacv3.Policy) *rbachttpv3.RBAC {
	return &rbachttpv3.RBAC{Rules: &rbacv3.RBAC{Action: action, Policies: policies}}
}

// TestEvalRBAC holds the interpreter to Envoy's RBAC semantics on
// hand-built filters of the shapes istiod emits.
func TestEvalRBAC(t *testing.T) {
	const control = "spiffe://cluster.local/ns/thermo/sa/control"
	allowControl := filter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"p": {
		Permissions: []*rbacv3.Permission{anyPermission()},
		Principals:  []*rbacv3.Principal{authenticated(exact(control))},
	}})
	denyDeleteOutsideThermo := filter(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"d": {
		Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: []*rbacv3.Permission{
			method("DELETE"), {Rule: &rbacv3.Permission_NotRule{NotRule: path("/public")}}}}}}},
		Principals: []*rbacv3.Principal{notID(authenticated(regex(".*/ns/thermo/.*")))},
	}})
	header := filter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"h": {
		Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: 8080}}},
		Principals: []*rbacv3.Principal{{Identifier: &rbacv3.Principal_Header{Header: &routev3.HeaderMatcher{Name: "X-Role",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}}},
	}})
	for _, tc := range []struct {
		name    string
		filters []*rbachttpv3.RBAC
		req     RBACRequest
		allowed bool
		policy  string
	}{
		{"no filters", nil, RBACRequest{}, true, ""},
		{"shadow rules only", []*rbachttpv3.RBAC{{ShadowRules: allowControl.Rules}}, RBACRequest{}, true, ""},
		{"allow control", []*rbachttpv3.RBAC{allowControl}, RBACRequest{PeerURISAN: control}, true, "p"},
		{"other peer", []*rbachttpv3.RBAC{allowControl}, RBACRequest{PeerURISAN: control + "x"}, false, ""},
		{"plaintext", []*rbachttpv3.RBAC{allowControl}, RBACRequest{}, false, ""},
		{"empty ALLOW denies", []*rbachttpv3.RBAC{filter(rbacv3.RBAC_ALLOW, nil)}, RBACRequest{}, false, ""},
		{"deny: plaintext DELETE", []*rbachttpv3.RBAC{denyDeleteOutsideThermo}, RBACRequest{Method: "DELETE", Path: "/x"}, false, "d"},
		{"deny: thermo peer passes", []*rbachttpv3.RBAC{denyDeleteOutsideThermo}, RBACRequest{PeerURISAN: control, Method: "DELETE", Path: "/x"}, true, ""},
		{"deny: public path passes", []*rbachttpv3.RBAC{denyDeleteOutsideThermo}, RBACRequest{Method: "DELETE", Path: "/public?q=1"}, true, ""},
		{"deny before allow", []*rbachttpv3.RBAC{denyDeleteOutsideThermo, allowControl}, RBACRequest{PeerURISAN: control, Method: "GET", Path: "/"}, true, "p"},
		{"header present, empty value", []*rbachttpv3.RBAC{header}, RBACRequest{Port: 8080, Headers: map[string]string{"x-role": ""}}, true, "h"},
		{"header missing", []*rbachttpv3.RBAC{header}, RBACRequest{Port: 8080}, false, ""},
		{"other port", []*rbachttpv3.RBAC{header}, RBACRequest{Port: 9090, Headers: map[string]string{"x-role": "a"}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed, policy, err := EvalRBAC(tc.filters, tc.req)
			if err != nil || allowed != tc.allowed || policy != tc.policy {
				t.Errorf("EvalRBAC = %v %q %v, want %v %q", allowed, policy, err, tc.allowed, tc.policy)
			}
		})
	}
	// A matcher the interpreter does not evaluate is an error, not a guess.
	sni := filter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"s": {
		Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: exact("x")}}},
		Principals:  []*rbacv3.Principal{{Identifier: &rbacv3.Principal_Any{Any: true}}},
	}})
	if _, _, err := EvalRBAC([]*rbachttpv3.RBAC{sni}, RBACRequest{}); err == nil {
		t.Error("requested_server_name evaluated without error")
	}
}
