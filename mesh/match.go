package mesh

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	apinetworking "istio.io/api/networking/v1alpha3"
)

// strKind is the kind of an istio.io StringMatch.
type strKind uint8

const (
	// strPresent: the StringMatch is empty (`{}`) or the regex "*": the value
	// only has to be present.
	strPresent strKind = iota
	strExact
	strPrefix
	strRegex
)

// strMatcher is a compiled StringMatch
// (istio.io/latest/docs/reference/config/networking/virtual-service/#StringMatch).
type strMatcher struct {
	kind strKind
	val  string
	re   *regexp.Regexp
}

// compileStringMatch compiles a StringMatch. A regex is RE2 and must match
// the whole value: Envoy's safe_regex is a full match. An empty match and
// the regex "*" mean "present", as istiod translates them
// (pilot/pkg/networking/core/route/route.go canBeConvertedToPresentMatch).
func compileStringMatch(m *apinetworking.StringMatch) (strMatcher, error) {
	if m == nil {
		return strMatcher{kind: strPresent}, nil
	}
	switch t := m.GetMatchType().(type) {
	case *apinetworking.StringMatch_Exact:
		return strMatcher{kind: strExact, val: t.Exact}, nil
	case *apinetworking.StringMatch_Prefix:
		return strMatcher{kind: strPrefix, val: t.Prefix}, nil
	case *apinetworking.StringMatch_Regex:
		if t.Regex == "*" {
			return strMatcher{kind: strPresent}, nil
		}
		re, err := regexp.Compile(`^(?:` + t.Regex + `)$`)
		if err != nil {
			return strMatcher{}, fmt.Errorf("regex %q is not valid RE2: %w", t.Regex, err)
		}
		return strMatcher{kind: strRegex, val: t.Regex, re: re}, nil
	}
	return strMatcher{kind: strPresent}, nil
}

// match reports whether a present value v matches.
func (s *strMatcher) match(v string) bool {
	switch s.kind {
	case strExact:
		return v == s.val
	case strPrefix:
		return strings.HasPrefix(v, s.val)
	case strRegex:
		return s.re.MatchString(v)
	}
	return true
}

// String describes the matcher for reports: `exact "/a"`, `prefix "/echo"`.
func (s *strMatcher) String() string {
	switch s.kind {
	case strExact:
		return fmt.Sprintf("exact %q", s.val)
	case strPrefix:
		return fmt.Sprintf("prefix %q", s.val)
	case strRegex:
		return fmt.Sprintf("regex %q", s.val)
	}
	return "present"
}

// namedMatcher matches one header or query parameter.
type namedMatcher struct {
	name string
	m    strMatcher
}

// matchSpec is one compiled HTTPMatchRequest: all its conditions must hold
// (istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest).
type matchSpec struct {
	index      int
	uri        *strMatcher
	ignoreCase bool
	method     *strMatcher
	authority  *strMatcher
	scheme     *strMatcher
	headers    []namedMatcher
	without    []namedMatcher
	query      []namedMatcher
	port       uint32
	srcLabels  map[string]string
	srcNs      string
	gateways   []string // resolved "ns/name" or "mesh"
	catchAll   bool
	desc       string
}

// ignoredHeaderKeys are header keys that HTTPMatchRequest.headers ignores
// ("The keys uri, scheme, method, and authority will be ignored").
var ignoredHeaderKeys = map[string]bool{"uri": true, "scheme": true, "method": true, "authority": true}

// compileMatch compiles an HTTPMatchRequest of a VirtualService in namespace
// ns. An error names the field (relative to the match) and means istiod's
// validation rejects the VirtualService: it compiles regexes as RE2 too.
func compileMatch(index int, in *apinetworking.HTTPMatchRequest, ns string) (*matchSpec, string, error) {
	m := &matchSpec{index: index, ignoreCase: in.GetIgnoreUriCase(), port: in.GetPort(),
		srcLabels: maps.Clone(in.GetSourceLabels()), srcNs: in.GetSourceNamespace()}
	var desc []string
	singles := []struct {
		field string
		sm    *apinetworking.StringMatch
		dst   **strMatcher
	}{
		{"uri", in.GetUri(), &m.uri},
		{"method", in.GetMethod(), &m.method},
		{"authority", in.GetAuthority(), &m.authority},
		{"scheme", in.GetScheme(), &m.scheme},
	}
	for _, f := range singles {
		if f.sm == nil {
			continue
		}
		c, err := compileStringMatch(f.sm)
		if err != nil {
			return nil, f.field + ".regex", err
		}
		*f.dst = &c
		d := f.field + " " + c.String()
		if f.field == "uri" && m.ignoreCase {
			d += " (ignoring case)"
		}
		desc = append(desc, d)
	}
	multis := []struct {
		field   string
		src     map[string]*apinetworking.StringMatch
		headers bool
		dst     *[]namedMatcher
	}{
		{"headers", in.GetHeaders(), true, &m.headers},
		{"withoutHeaders", in.GetWithoutHeaders(), true, &m.without},
		{"queryParams", in.GetQueryParams(), false, &m.query},
	}
	for _, f := range multis {
		for _, k := range slices.Sorted(maps.Keys(f.src)) {
			name := k
			if f.headers {
				// Header names are case-insensitive; Request.Headers uses lower case.
				name = strings.ToLower(k)
				if ignoredHeaderKeys[name] {
					continue
				}
			}
			c, err := compileStringMatch(f.src[k])
			if err != nil {
				return nil, f.field + "." + k + ".regex", err
			}
			*f.dst = append(*f.dst, namedMatcher{name: name, m: c})
			desc = append(desc, f.field+" "+name+" "+c.String())
		}
	}
	if m.port != 0 {
		desc = append(desc, fmt.Sprintf("port %d", m.port))
	}
	for _, g := range in.GetGateways() {
		m.gateways = append(m.gateways, resolveGatewayRef(g, ns))
	}
	m.setCatchAll()
	if len(desc) == 0 {
		m.desc = "an empty match"
	} else {
		m.desc = strings.Join(desc, ", ")
	}
	return m, "", nil
}

// setCatchAll records whether the match has no condition but a "/"
// prefix or ".*" regex on the uri (pilot/pkg/networking/core/route/route.go
// IsCatchAllRoute).
func (m *matchSpec) setCatchAll() {
	uriAll := m.uri == nil || m.uri.kind == strPresent ||
		(m.uri.kind == strPrefix && m.uri.val == "/") || (m.uri.kind == strRegex && m.uri.val == ".*")
	m.catchAll = uriAll && m.method == nil && m.authority == nil && m.scheme == nil &&
		len(m.headers) == 0 && len(m.without) == 0 && len(m.query) == 0
}

// applies reports whether the match is part of the route table that a
// proxy (the ingress gateway or a sidecar) builds for gateway gw ("mesh" for
// sidecars) on a listener port. `port`, `gateways`, `sourceLabels` and
// `sourceNamespace` are selectors evaluated when istiod builds the route
// table, not request-time conditions.
// Follows istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPMatchRequest
// (fields port, gateways, sourceLabels, sourceNamespace) and
// pilot/pkg/networking/core/route/route.go TranslateRoute / sourceMatchHTTP:
// match.gateways, when set, replaces the source checks.
func (m *matchSpec) applies(p *proxy, gw string, port int) bool {
	if m.port != 0 && int(m.port) != port {
		return false
	}
	if len(m.gateways) > 0 {
		return slices.Contains(m.gateways, gw)
	}
	return labelsInclude(p.labels, m.srcLabels) && (m.srcNs == "" || m.srcNs == p.namespace)
}

// reqView is a request prepared for matching.
type reqView struct {
	host    string
	headers map[string]string
	path    string // without the query string
	full    string // as sent ("/" if empty)
	method  string
	query   url.Values
	parsed  bool
}

// matches evaluates the request-time conditions of one HTTPMatchRequest; all
// must hold. uri exact and regex compare the path without its query string,
// prefix the whole :path, as Envoy's RouteMatch path, safe_regex and prefix
// do; ignoreUriCase applies to exact and prefix only ("The case will be
// ignored only in the case of exact and prefix URI matches", HTTPMatchRequest
// ignoreUriCase). Header names are lower case; a missing header fails every
// header condition but, in withoutHeaders, counts as the empty value
// (route.go TranslateRouteMatch: treat_missing_header_as_empty).
func (m *matchSpec) matches(r *reqView) bool {
	if u := m.uri; u != nil {
		switch u.kind {
		case strExact:
			if m.ignoreCase {
				if !strings.EqualFold(r.path, u.val) {
					return false
				}
			} else if r.path != u.val {
				return false
			}
		case strPrefix:
			if m.ignoreCase {
				if len(r.full) < len(u.val) || !strings.EqualFold(r.full[:len(u.val)], u.val) {
					return false
				}
			} else if !strings.HasPrefix(r.full, u.val) {
				return false
			}
		case strRegex:
			if !u.re.MatchString(r.path) {
				return false
			}
		}
	}
	if m.method != nil && !m.method.match(r.method) {
		return false
	}
	if m.authority != nil && !m.authority.match(r.host) {
		return false
	}
	// meshcheck's probes are plain HTTP.
	if m.scheme != nil && !m.scheme.match("http") {
		return false
	}
	for i := range m.headers {
		h := &m.headers[i]
		v, ok := r.headers[h.name]
		if !ok || !h.m.match(v) {
			return false
		}
	}
	for i := range m.without {
		h := &m.without[i]
		v, ok := r.headers[h.name]
		if h.m.kind == strPresent {
			if ok {
				return false
			}
			continue
		}
		if h.m.match(v) {
			return false
		}
	}
	if len(m.query) > 0 {
		if !r.parsed {
			r.parsed = true
			if _, q, ok := strings.Cut(r.full, "?"); ok {
				r.query, _ = url.ParseQuery(q)
			}
		}
		for i := range m.query {
			q := &m.query[i]
			vs, ok := r.query[q.name]
			if !ok || !q.m.match(vs[0]) {
				return false
			}
		}
	}
	return true
}
