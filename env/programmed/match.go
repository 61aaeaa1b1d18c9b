// Package programmed reads the routes an Envoy proxy is programmed with and
// says whether the route a probe needs is there with the expected weighted
// clusters. It is pure: it decodes route configurations from an xDS
// response or from an Envoy admin config_dump, and matches a request
// against them the way Envoy's router does; it does no I/O.
package programmed

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Request is the request a probe sends, as the proxy sees it.
type Request struct {
	// Host is the Host (:authority) header; it may carry ":port".
	Host string
	// Path is the :path, "/" when empty; it may carry a query string.
	Path string
	// Method is the HTTP method, GET when empty.
	Method string
	// Headers are the other request headers by name (any case).
	Headers map[string]string
}

// WeightedCluster is one upstream cluster of a route and its weight.
type WeightedCluster struct {
	Name   string
	Weight uint32
}

// Route is what one route configuration does with a request.
type Route struct {
	// VirtualHost is the name of the virtual host the Host selected, ""
	// when none did.
	VirtualHost string
	// Name is the matched route's name, "#<index>" when it has none.
	Name string
	// Clusters are the weighted clusters the route sends to; a route with a
	// single cluster has it with weight 1. Weight-0 clusters are left out:
	// Envoy sends them nothing.
	Clusters []WeightedCluster
	// Status is non-zero when Envoy answers itself: 404 for no virtual
	// host or no route, a redirect's code, a direct response's status.
	Status int
	// Reason is one phrase on how the route was chosen or why none was.
	Reason string
}

// Match routes req through route configuration rc as Envoy does: the
// virtual host whose domains match the Host (exact, then the longest
// suffix wildcard "*.x", then the longest prefix wildcard "x.*", then "*";
// case-insensitive; the port ignored when the configuration says
// ignore_port_in_host_matching), then the first route whose match holds
// (envoy.config.route.v3 VirtualHost.domains and Route.match).
func Match(rc *routev3.RouteConfiguration, req Request) Route {
	host := strings.ToLower(req.Host)
	if rc.GetIgnorePortInHostMatching() {
		host = stripPort(host)
	}
	vh := selectVirtualHost(rc.GetVirtualHosts(), host)
	if vh == nil {
		return Route{Status: 404, Reason: fmt.Sprintf("route configuration %q has no virtual host for host %q", rc.GetName(), req.Host)}
	}
	r := newRequest(req)
	for i, rt := range vh.GetRoutes() {
		if !routeMatches(rt.GetMatch(), r) {
			continue
		}
		out := Route{VirtualHost: vh.GetName(), Name: rt.GetName()}
		if out.Name == "" {
			out.Name = "#" + strconv.Itoa(i)
		}
		out.Reason = fmt.Sprintf("virtual host %q of route configuration %q, route %s", vh.GetName(), rc.GetName(), strconv.Quote(out.Name))
		switch a := rt.GetAction().(type) {
		case *routev3.Route_Route:
			switch cs := a.Route.GetClusterSpecifier().(type) {
			case *routev3.RouteAction_Cluster:
				out.Clusters = []WeightedCluster{{Name: cs.Cluster, Weight: 1}}
			case *routev3.RouteAction_WeightedClusters:
				for _, c := range cs.WeightedClusters.GetClusters() {
					if w := c.GetWeight().GetValue(); w > 0 {
						out.Clusters = append(out.Clusters, WeightedCluster{Name: c.GetName(), Weight: w})
					}
				}
			default:
				out.Status = 503
				out.Reason += " chooses its cluster in a way this package does not read"
			}
		case *routev3.Route_Redirect:
			out.Status = redirectCode(a.Redirect.GetResponseCode())
			out.Reason += " redirects"
		case *routev3.Route_DirectResponse:
			out.Status = int(a.DirectResponse.GetStatus())
			out.Reason += " answers directly"
		default:
			out.Status = 404
			out.Reason += " forwards nothing"
		}
		return out
	}
	return Route{VirtualHost: vh.GetName(), Status: 404, Reason: fmt.Sprintf(
		"no route of virtual host %q of route configuration %q matches %s %s", vh.GetName(), rc.GetName(), r.method, r.full)}
}

// redirectCode is the status of a RedirectAction response code.
func redirectCode(c routev3.RedirectAction_RedirectResponseCode) int {
	switch c {
	case routev3.RedirectAction_FOUND:
		return 302
	case routev3.RedirectAction_SEE_OTHER:
		return 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		return 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		return 308
	}
	return 301
}

// stripPort removes a trailing ":<digits>" (also after "[v6]").
func stripPort(h string) string {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || (strings.Count(h, ":") > 1 && !strings.HasPrefix(h, "[")) {
		return h
	}
	if _, err := strconv.Atoi(h[i+1:]); err != nil {
		return h
	}
	return h[:i]
}

// selectVirtualHost follows Envoy's search order: exact domain, longest
// suffix wildcard, longest prefix wildcard, "*". A wildcard matches at
// least one character.
func selectVirtualHost(vhs []*routev3.VirtualHost, host string) *routev3.VirtualHost {
	var star *routev3.VirtualHost
	type cand struct {
		vh  *routev3.VirtualHost
		len int
	}
	var suffix, prefix []cand
	for _, vh := range vhs {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				if star == nil {
					star = vh
				}
			case strings.HasPrefix(d, "*"):
				if len(host) > len(d)-1 && strings.HasSuffix(host, d[1:]) {
					suffix = append(suffix, cand{vh, len(d)})
				}
			case strings.HasSuffix(d, "*"):
				if len(host) > len(d)-1 && strings.HasPrefix(host, d[:len(d)-1]) {
					prefix = append(prefix, cand{vh, len(d)})
				}
			case d == host:
				return vh
			}
		}
	}
	for _, cs := range [][]cand{suffix, prefix} {
		if len(cs) > 0 {
			sort.SliceStable(cs, func(i, j int) bool { return cs[i].len > cs[j].len })
			return cs[0].vh
		}
	}
	return star
}

// request is a Request prepared for matching.
type request struct {
	full    string // :path as sent
	path    string // without the query string
	method  string
	headers map[string]string // lower-case names, pseudo-headers included
	query   url.Values
}

func newRequest(req Request) *request {
	r := &request{full: req.Path, method: req.Method, headers: map[string]string{}}
	if r.full == "" {
		r.full = "/"
	}
	if r.method == "" {
		r.method = "GET"
	}
	r.path = r.full
	if i := strings.IndexAny(r.full, "?#"); i >= 0 {
		r.path = r.full[:i]
	}
	if _, q, ok := strings.Cut(r.full, "?"); ok {
		r.query, _ = url.ParseQuery(q)
	}
	for k, v := range req.Headers {
		r.headers[strings.ToLower(k)] = v
	}
	r.headers[":authority"] = req.Host
	r.headers[":method"] = r.method
	r.headers[":path"] = r.full
	r.headers[":scheme"] = "http"
	return r
}

// routeMatches evaluates a RouteMatch: the path specifier, then every
// header and query parameter matcher.
func routeMatches(m *routev3.RouteMatch, r *request) bool {
	caseSensitive := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	eq := func(a, b string) bool {
		if caseSensitive {
			return a == b
		}
		return strings.EqualFold(a, b)
	}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		// The prefix must match the beginning of the :path header.
		if len(r.full) < len(p.Prefix) || !eq(r.full[:len(p.Prefix)], p.Prefix) {
			return false
		}
	case *routev3.RouteMatch_Path:
		// The path must match the :path header once the query string is removed.
		if !eq(r.path, p.Path) {
			return false
		}
	case *routev3.RouteMatch_SafeRegex:
		if !regexFull(p.SafeRegex.GetRegex(), r.path) {
			return false
		}
	case *routev3.RouteMatch_PathSeparatedPrefix:
		// The prefix must match the path up to a "/" or its end.
		pre := p.PathSeparatedPrefix
		if len(r.path) < len(pre) || !eq(r.path[:len(pre)], pre) || (len(r.path) > len(pre) && r.path[len(pre)] != '/') {
			return false
		}
	default:
		return false
	}
	for _, h := range m.GetHeaders() {
		if !headerMatches(h, r) {
			return false
		}
	}
	for _, q := range m.GetQueryParameters() {
		vs, ok := r.query[q.GetName()]
		switch {
		case q.GetPresentMatch():
			if !ok {
				return false
			}
		case q.GetStringMatch() != nil:
			if !ok || !stringMatches(q.GetStringMatch(), vs[0]) {
				return false
			}
		}
	}
	return true
}

// headerMatches evaluates a HeaderMatcher as Envoy's
// HeaderUtility::matchHeaders does: a missing header (unless
// treat_missing_header_as_empty) matches only present_match false, or with
// invert_match only present_match true; otherwise the specifier's result,
// flipped by invert_match.
func headerMatches(h *routev3.HeaderMatcher, r *request) bool {
	v, ok := r.headers[strings.ToLower(h.GetName())]
	present, isPresent := h.GetHeaderMatchSpecifier().(*routev3.HeaderMatcher_PresentMatch)
	if !ok && !h.GetTreatMissingHeaderAsEmpty() {
		if !isPresent {
			return false
		}
		return present.PresentMatch == h.GetInvertMatch()
	}
	var matched bool
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		matched = s.PresentMatch
	case *routev3.HeaderMatcher_ExactMatch:
		matched = s.ExactMatch == "" || v == s.ExactMatch
	case *routev3.HeaderMatcher_PrefixMatch:
		matched = strings.HasPrefix(v, s.PrefixMatch)
	case *routev3.HeaderMatcher_SuffixMatch:
		matched = strings.HasSuffix(v, s.SuffixMatch)
	case *routev3.HeaderMatcher_ContainsMatch:
		matched = strings.Contains(v, s.ContainsMatch)
	case *routev3.HeaderMatcher_SafeRegexMatch:
		matched = regexFull(s.SafeRegexMatch.GetRegex(), v)
	case *routev3.HeaderMatcher_StringMatch:
		matched = stringMatches(s.StringMatch, v)
	case *routev3.HeaderMatcher_RangeMatch:
		n, err := strconv.ParseInt(v, 10, 64)
		matched = err == nil && n >= s.RangeMatch.GetStart() && n < s.RangeMatch.GetEnd()
	default:
		// No specifier: the header only has to be there.
		matched = true
	}
	return matched != h.GetInvertMatch()
}

// stringMatches evaluates a StringMatcher.
func stringMatches(m *matcherv3.StringMatcher, v string) bool {
	val := v
	fold := func(s string) string { return s }
	if m.GetIgnoreCase() {
		fold = strings.ToLower
		val = strings.ToLower(v)
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return val == fold(p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(val, fold(p.Prefix))
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(val, fold(p.Suffix))
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(val, fold(p.Contains))
	case *matcherv3.StringMatcher_SafeRegex:
		return regexFull(p.SafeRegex.GetRegex(), v)
	}
	return false
}

// regexFull reports whether RE2 pattern re matches all of v, as Envoy's
// safe_regex does; an invalid pattern matches nothing.
func regexFull(re, v string) bool {
	c, err := regexp.Compile(`^(?:` + re + `)$`)
	return err == nil && c.MatchString(v)
}
