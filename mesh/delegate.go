package mesh

import (
	"maps"
	"slices"
	"strings"
)

// delegated is one route of a delegate VirtualService merged into the
// route of the root VirtualService that delegates to it.
type delegated struct {
	route   *httpRoute
	matches []*matchSpec // nil: no condition (catch-all)
}

// delegatedRoutes returns the routes that root route r of VirtualService v
// stands for: each http route of the delegate VirtualService, in order,
// with the root's match conditions merged in; a delegate route whose
// matches conflict with the root's is dropped. A delegate that does not
// exist, is rejected by validation, or is not exported to the root's
// namespace contributes nothing (istiod ignores the root route).
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#Delegate
// and pilot/pkg/model/virtualservice.go MergeHTTPRoutes, mergeHTTPRoute,
// mergeHTTPMatchRequests and hasConflict (through virtualservice_controller.go,
// which splices the merged routes in place of the delegating one).
func (m *Model) delegatedRoutes(v *vsInfo, r *httpRoute) []delegated {
	d := m.delegate(v, r)
	if d == nil {
		return nil
	}
	var out []delegated
	for _, dr := range d.routes {
		if dr.delegate != "" {
			continue // a delegate cannot delegate further
		}
		matches, conflict := mergeMatches(r.matches, dr.matches)
		if conflict {
			continue
		}
		merged := *dr
		merged.label = r.label + " (delegated to VirtualService " + d.key + ", its route " + dr.label + ")"
		switch {
		case r.name != "" && !strings.HasPrefix(r.name, "#") && !strings.HasPrefix(dr.name, "#"):
			merged.name = r.name + "-" + dr.name
		case strings.HasPrefix(dr.name, "#"):
			merged.name = r.name
		}
		out = append(out, delegated{route: &merged, matches: matches})
	}
	return out
}

// delegate returns the VirtualService route r of v delegates to, nil when
// istiod would ignore the route.
func (m *Model) delegate(v *vsInfo, r *httpRoute) *vsInfo {
	d := m.vsByKey[r.delegate]
	if d == nil || d.invalid != "" || !exportedTo(d.exportTo, d.ns, v.ns) {
		return nil
	}
	return d
}

// delegatedTo reports whether some VirtualService delegates to d.
func (m *Model) delegatedTo(d *vsInfo) bool {
	for _, v := range m.vss {
		for _, r := range v.routes {
			if r.delegate == d.key {
				return true
			}
		}
	}
	return false
}

// mergeMatches merges root and delegate match lists: either empty gives
// the other; otherwise every delegate match must merge with at least one
// root match it does not conflict with (else the delegate route is
// dropped), and each such pair gives one merged match.
func mergeMatches(root, leaf []*matchSpec) ([]*matchSpec, bool) {
	if len(root) == 0 {
		return leaf, false
	}
	if len(leaf) == 0 {
		return root, false
	}
	var out []*matchSpec
	for _, l := range leaf {
		found := false
		for _, r := range root {
			if matchConflict(r, l) {
				continue
			}
			out = append(out, mergeMatch(r, l))
			found = true
		}
		if !found {
			return nil, true
		}
	}
	return out, len(out) == 0
}

// mergeMatch is the delegate's match with what it leaves unset taken from
// the root's; headers, withoutHeaders, queryParams and sourceLabels are
// the union, the delegate's winning on the same name.
func mergeMatch(root, leaf *matchSpec) *matchSpec {
	out := *leaf
	for _, f := range []struct{ dst, src **strMatcher }{{&out.uri, &root.uri}, {&out.scheme, &root.scheme}, {&out.method, &root.method}, {&out.authority, &root.authority}} {
		if *f.dst == nil {
			*f.dst = *f.src
		}
	}
	out.headers = mergeNamed(root.headers, leaf.headers)
	out.without = mergeNamed(root.without, leaf.without)
	out.query = mergeNamed(root.query, leaf.query)
	if out.port == 0 {
		out.port = root.port
	}
	out.srcLabels = maps.Clone(root.srcLabels)
	if out.srcLabels == nil {
		out.srcLabels = map[string]string{}
	}
	maps.Copy(out.srcLabels, leaf.srcLabels)
	if out.srcNs == "" {
		out.srcNs = root.srcNs
	}
	if len(out.gateways) == 0 {
		out.gateways = root.gateways
	}
	out.desc = root.desc + " and " + leaf.desc
	out.setCatchAll()
	return &out
}

func mergeNamed(root, leaf []namedMatcher) []namedMatcher {
	out := slices.Clone(leaf)
	for _, r := range root {
		if !slices.ContainsFunc(leaf, func(l namedMatcher) bool { return l.name == r.name }) {
			out = append(out, r)
		}
	}
	return out
}

// matchConflict reports whether a delegate match cannot narrow a root
// match (virtualservice.go hasConflict).
func matchConflict(root, leaf *matchSpec) bool {
	for _, p := range [][2]*strMatcher{{root.uri, leaf.uri}, {root.scheme, leaf.scheme}, {root.method, leaf.method}, {root.authority, leaf.authority}} {
		if strConflict(p[0], p[1]) {
			return true
		}
	}
	for _, set := range [][2][]namedMatcher{{root.headers, leaf.headers}, {root.without, leaf.without}, {root.query, leaf.query}} {
		for _, l := range set[1] {
			i := slices.IndexFunc(set[0], func(r namedMatcher) bool { return r.name == l.name })
			if i >= 0 && strConflict(&set[0][i].m, &l.m) {
				return true
			}
		}
	}
	if root.ignoreCase != leaf.ignoreCase {
		return true
	}
	if root.port > 0 && leaf.port > 0 && root.port != leaf.port {
		return true
	}
	if root.srcNs != "" && leaf.srcNs != root.srcNs {
		return true
	}
	for k, v := range leaf.srcLabels {
		if rv, ok := root.srcLabels[k]; ok && rv != v {
			return true
		}
	}
	if len(root.gateways) > 0 && len(leaf.gateways) > 0 {
		for _, g := range leaf.gateways {
			if !slices.Contains(root.gateways, g) {
				return true
			}
		}
	}
	return false
}

// strConflict is virtualservice.go stringMatchConflict: a regex on either
// side admits nothing else on the other; an exact root admits only the
// same exact; a prefix root admits a prefix or exact that extends it;
// anything else conflicts.
func strConflict(root, leaf *strMatcher) bool {
	if root == nil || leaf == nil {
		return false
	}
	typed := func(s *strMatcher) bool { return s.kind != strPresent }
	if root.kind == strRegex && typed(leaf) || leaf.kind == strRegex && typed(root) {
		return true
	}
	switch root.kind {
	case strExact:
		return leaf.kind != strExact || leaf.val != root.val
	case strPrefix:
		if leaf.kind == strPrefix || leaf.kind == strExact {
			return !strings.HasPrefix(leaf.val, root.val)
		}
	}
	return true
}
