package mesh

import (
	"testing"

	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzAccessComplement compiles an ALLOW policy from fuzzed values of one
// field and the same policy with the negated field (paths vs notPaths, ...):
// for any request exactly one of the two allows it, unless the value is
// rejected or not modelled. Access must not panic and must explain itself.
func FuzzAccessComplement(f *testing.F) {
	f.Add(uint8(0), "/api/*", "/api/v1", "GET", "cluster.local/ns/thermo/sa/control", "x")
	f.Add(uint8(1), "*", "/", "POST", "cluster.local/ns/a/sa/b", "")
	f.Add(uint8(2), "th*", "/x", "", "", "v")
	f.Add(uint8(3), "*.json", "/a.json?x=1", "DELETE", "cluster.local/ns/thermo/sa/default", "v")
	f.Add(uint8(4), "admin*", "/%2e%2e/a", "GET", "cluster.local/ns/x/sa/y", "admin")
	f.Add(uint8(5), "8080", "/", "GET", "", "")
	f.Add(uint8(6), "control", "/", "GET", "cluster.local/ns/thermo/sa/control", "")
	f.Add(uint8(7), "*o", "/", "GET", "cluster.local/ns/xyz/sa/o", "")
	f.Fuzz(func(t *testing.T, field uint8, value, path, method, principal, header string) {
		mk := func(negate bool) *Model {
			pos, neg := []string{value}, []string(nil)
			if negate {
				pos, neg = nil, pos
			}
			var rule apisecurity.Rule
			src := func(s *apisecurity.Source) { rule.From = []*apisecurity.Rule_From{{Source: s}} }
			op := func(o *apisecurity.Operation) { rule.To = []*apisecurity.Rule_To{{Operation: o}} }
			switch field % 8 {
			case 0:
				op(&apisecurity.Operation{Paths: pos, NotPaths: neg})
			case 1:
				op(&apisecurity.Operation{Methods: pos, NotMethods: neg})
			case 2:
				src(&apisecurity.Source{Namespaces: pos, NotNamespaces: neg})
			case 3:
				op(&apisecurity.Operation{Hosts: pos, NotHosts: neg})
			case 4:
				rule.When = []*apisecurity.Condition{{Key: "request.headers[x-h]", Values: pos, NotValues: neg}}
			case 5:
				op(&apisecurity.Operation{Ports: pos, NotPorts: neg})
			case 6:
				src(&apisecurity.Source{ServiceAccounts: pos, NotServiceAccounts: neg})
			case 7:
				src(&apisecurity.Source{Principals: pos, NotPrincipals: neg})
			}
			p := &securityv1.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "thermo"}}
			p.Spec.Rules = []*apisecurity.Rule{&rule}
			w := Workload{Name: "t", Namespace: "thermo", Labels: map[string]string{"app": "thermostat"}}
			return New(Config{Workloads: []Workload{w}, AuthorizationPolicies: []*securityv1.AuthorizationPolicy{p}})
		}
		req := AccessRequest{MTLS: true, Destination: Workload{Name: "t", Namespace: "thermo", Labels: map[string]string{"app": "thermostat"}},
			Port: 8080, Method: method, Path: path, Host: "thermostat", Headers: map[string]string{"x-h": header}}
		if ns, sa, ok := cutPrincipal(principal); ok {
			req.Source = Identity{Namespace: ns, ServiceAccount: sa}
		}
		mp, mn := mk(false), mk(true)
		if len(mp.authz[0].problems)+len(mp.authz[0].unmodelled) > 0 {
			return
		}
		a, b := mp.Access(req), mn.Access(req)
		for _, x := range []Access{a, b} {
			if x.Reason == "" || x.Allowed != (x.Status == 0) {
				t.Fatalf("bad answer %+v for %+v", x, req)
			}
		}
		if a.Unmodelled == "" && a.Allowed == b.Allowed {
			t.Fatalf("field %d value %q: positive and negative policies agree (%v) on %+v:\n%s\n%s", field%8, value, a.Allowed, req, a.Reason, b.Reason)
		}
	})
}

// cutPrincipal splits "cluster.local/ns/<ns>/sa/<sa>".
func cutPrincipal(p string) (ns, sa string, ok bool) {
	rest, ok := cutPrefix(p, trustDomain+"/ns/")
	if !ok {
		return "", "", false
	}
	for i := 0; i+4 <= len(rest); i++ {
		if rest[i:i+4] == "/sa/" {
			return rest[:i], rest[i+4:], i > 0 && i+4 < len(rest)
		}
	}
	return "", "", false
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
