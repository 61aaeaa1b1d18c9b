package programmed

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshcheck/meshcheck/mesh"
)

func weighted(cs ...*routev3.WeightedCluster_ClusterWeight) *routev3.Route_Route {
	return &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{
		WeightedClusters: &routev3.WeightedCluster{Clusters: cs}}}}
}

func cw(name string, w uint32) *routev3.WeightedCluster_ClusterWeight {
	return &routev3.WeightedCluster_ClusterWeight{Name: name, Weight: wrapperspb.UInt32(w)}
}

func single(name string) *routev3.Route_Route {
	return &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name}}}
}

func prefix(p string) *routev3.RouteMatch {
	return &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: p}}
}

var testConfig = &routev3.RouteConfiguration{
	Name:                     "80",
	IgnorePortInHostMatching: true,
	VirtualHosts: []*routev3.VirtualHost{
		{Name: "exact", Domains: []string{"echo.local"}, Routes: []*routev3.Route{
			{Name: "beta", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
				Headers: []*routev3.HeaderMatcher{{Name: "x-beta", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "1"}}}}}},
				Action: single("outbound|80|v2|echo")},
			{Name: "split", Match: prefix("/echo"), Action: weighted(cw("outbound|80|v1|echo", 75), cw("outbound|80|v2|echo", 25), cw("outbound|80|v3|echo", 0))},
			{Name: "exact-path", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/Exact"}, CaseSensitive: wrapperspb.Bool(false)},
				Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 418}}},
		}},
		{Name: "suffix-long", Domains: []string{"*.b.example"}, Routes: []*routev3.Route{{Match: prefix("/"), Action: single("long")}}},
		{Name: "suffix-short", Domains: []string{"*.example"}, Routes: []*routev3.Route{{Match: prefix("/"), Action: single("short")}}},
		{Name: "any", Domains: []string{"*"}, Routes: []*routev3.Route{{Match: prefix("/"), Action: single("any")}}},
	},
}

func TestMatchFollowsEnvoyVirtualHostAndRouteOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     Request
		vhost   string
		route   string
		status  int
		cluster string
	}{
		{"exact host, port ignored, case folded", Request{Host: "ECHO.local:8080", Path: "/echo/x"}, "exact", "split", 0, "outbound|80|v1|echo"},
		{"header route first", Request{Host: "echo.local", Path: "/echo", Headers: map[string]string{"X-Beta": "1"}}, "exact", "beta", 0, "outbound|80|v2|echo"},
		{"exact path without query, case-insensitive", Request{Host: "echo.local", Path: "/exact?q=1"}, "exact", "exact-path", 418, ""},
		{"no route", Request{Host: "echo.local", Path: "/other"}, "exact", "", 404, ""},
		{"longest suffix wildcard", Request{Host: "a.b.example", Path: "/"}, "suffix-long", "#0", 0, "long"},
		{"wildcard needs a character", Request{Host: ".b.example", Path: "/"}, "suffix-short", "#0", 0, "short"},
		{"star last", Request{Host: "elsewhere", Path: "/"}, "any", "#0", 0, "any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Match(testConfig, tc.req)
			if r.VirtualHost != tc.vhost || r.Status != tc.status || (tc.route != "" && r.Name != tc.route) {
				t.Fatalf("Match = %+v, want virtual host %q route %q status %d", r, tc.vhost, tc.route, tc.status)
			}
			if tc.cluster != "" && (len(r.Clusters) == 0 || r.Clusters[0].Name != tc.cluster) {
				t.Fatalf("clusters %v, want first %s", r.Clusters, tc.cluster)
			}
		})
	}
	if r := Match(testConfig, Request{Host: "echo.local", Path: "/echo"}); len(r.Clusters) != 2 {
		t.Errorf("weight-0 cluster kept: %v", r.Clusters)
	}
}

func TestMatchKeepsPortWithoutIgnorePort(t *testing.T) {
	rc := &routev3.RouteConfiguration{Name: "old", VirtualHosts: []*routev3.VirtualHost{
		{Name: "plain", Domains: []string{"echo.local"}, Routes: []*routev3.Route{{Match: prefix("/"), Action: single("c")}}}}}
	if r := Match(rc, Request{Host: "echo.local:80", Path: "/"}); r.Status != 404 {
		t.Errorf("Host with port matched a domain without it: %+v", r)
	}
}

func TestHeaderMatcherMissingAndInverted(t *testing.T) {
	present := func(p, invert bool) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: "x", InvertMatch: invert, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: p}}
	}
	exact := &routev3.HeaderMatcher{Name: "x", InvertMatch: true, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "a"}}}}
	missing, withA := newRequest(Request{}), newRequest(Request{Headers: map[string]string{"X": "a"}})
	for _, tc := range []struct {
		name string
		h    *routev3.HeaderMatcher
		r    *request
		want bool
	}{
		{"present, missing", present(true, false), missing, false},
		{"absent wanted, missing", present(false, false), missing, true},
		{"present inverted, missing", present(true, true), missing, true},
		{"present, there", present(true, false), withA, true},
		{"inverted exact, missing", exact, missing, false},
		{"inverted exact, equal", exact, withA, false},
	} {
		if got := headerMatches(tc.h, tc.r); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// split is the model's resolution of a request to host echo with v1 and
// v2 weighted as given.
func split(v1, v2 int) mesh.Resolution {
	return mesh.Resolution{Destinations: []mesh.Destination{{Host: "echo", Subset: "v1", Weight: v1}, {Host: "echo", Subset: "v2", Weight: v2}}}
}

func TestCheckSaysWhatIsProgrammed(t *testing.T) {
	rcs := []*routev3.RouteConfiguration{testConfig}
	req := Request{Host: "echo.local", Path: "/echo"}
	if ok, s := Check(rcs, Expect(split(75, 25), "80", req)); !ok {
		t.Errorf("75/25 not found: %s", s)
	}
	ok, s := Check(rcs, Expect(split(50, 50), "80", req))
	for _, want := range []string{`virtual host "exact" of route configuration "80", route "split"`, "outbound|80|v1|echo weight 75, outbound|80|v2|echo weight 25",
		"expected v1|echo 50%, v2|echo 50%"} {
		if ok || !strings.Contains(s, want) {
			t.Errorf("50/50 accepted or the sentence lacks %q: %v %s", want, ok, s)
		}
	}
	if ok, s := Check(rcs, Expect(split(75, 25), "http.8080", req)); ok || !strings.Contains(s, `no route configuration "http.8080" is programmed (programmed: "80")`) {
		t.Errorf("missing route configuration: %v %s", ok, s)
	}
	if ok, s := Check(rcs, Expect(mesh.Resolution{Status: 404}, "http.8080", req)); !ok {
		t.Errorf("a missing route configuration is not Envoy's 404: %s", s)
	}
	if ok, s := Check(rcs, Expect(mesh.Resolution{Status: 418}, "80", Request{Host: "echo.local", Path: "/exact"})); !ok || !strings.Contains(s, "answers 418") {
		t.Errorf("direct response: %v %s", ok, s)
	}
	if ok, s := Check(rcs, Expect(split(75, 25), "80", Request{Host: "echo.local", Path: "/exact"})); ok || !strings.Contains(s, "expected v1|echo 75%, v2|echo 25%") {
		t.Errorf("direct response accepted for a split: %v %s", ok, s)
	}
}

func TestFromConfigDumpReadsTheResourceShape(t *testing.T) {
	// /config_dump?resource=dynamic_route_configs: each config is one
	// DynamicRouteConfig; one that Envoy rejected has no route_config.
	dump := `{"configs": [
	  {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig", "version_info": "3",
	   "route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "80",
	     "virtual_hosts": [{"name": "a", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "a"}}]}]}},
	  {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig", "version_info": "3",
	   "error_state": {"details": "rejected"}},
	  {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig", "version_info": "4",
	   "route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "http.8080"}}]}`
	rcs, err := FromConfigDump([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 2 || rcs[0].GetName() != "80" || rcs[1].GetName() != "http.8080" || Match(rcs[0], Request{Host: "x", Path: "/"}).Clusters[0].Name != "a" {
		t.Fatalf("decoded %v", rcs)
	}
}

func TestFromConfigDumpSkipsUnknownExtensions(t *testing.T) {
	dump := `{"configs": [
	  {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "version_info": "1"},
	  {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [{
	    "version_info": "7", "future_field": true,
	    "route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
	      "name": "80", "ignore_port_in_host_matching": true,
	      "virtual_hosts": [{"name": "echo", "domains": ["echo.local"],
	        "typed_per_filter_config": {"x": {"@type": "type.googleapis.com/example.Unknown", "a": 1}},
	        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "c"}}]}]}}]}]}`
	rcs, err := FromConfigDump([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || Match(rcs[0], Request{Host: "echo.local", Path: "/"}).Clusters[0].Name != "c" {
		t.Fatalf("decoded %v", rcs)
	}
	if _, err := FromConfigDump([]byte(`{"configs": 1}`)); err == nil {
		t.Error("a malformed dump decoded")
	}
}
