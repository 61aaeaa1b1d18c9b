package istiodtest

import (
	"fmt"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	// The extension types istiod puts in route configurations, which JSON
	// renders by type (Any): the retry host predicate of every route.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
)

// RouteConfigDump is the snapshot's route configurations as the proxy's
// Envoy admin answers /config_dump?resource=dynamic_route_configs (what
// the programmed wait reads, kube.RouteConfigDumpPath): a ConfigDump
// whose configs are one RoutesConfigDump.DynamicRouteConfig each, since
// Envoy's source/server/admin/config_dump_handler.cc addResourceToDump
// packs every element of the named repeated field; JSON with proto field
// names, as Envoy's MessageUtil::getJsonStringFromMessage writes it.
// version is each configuration's version_info.
func (s *Snapshot) RouteConfigDump(version string) ([]byte, error) {
	dump := &adminv3.ConfigDump{}
	for _, rc := range s.RouteConfigs() {
		packed, err := anypb.New(rc)
		if err != nil {
			return nil, fmt.Errorf("route config dump of %s: %w", s.Proxy, err)
		}
		d, err := anypb.New(&adminv3.RoutesConfigDump_DynamicRouteConfig{VersionInfo: version, RouteConfig: packed})
		if err != nil {
			return nil, fmt.Errorf("route config dump of %s: %w", s.Proxy, err)
		}
		dump.Configs = append(dump.Configs, d)
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true, Multiline: true}.Marshal(dump)
	if err != nil {
		return nil, fmt.Errorf("route config dump of %s: %w", s.Proxy, err)
	}
	return out, nil
}
