package programmed

import (
	"fmt"
	"slices"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
)

// FromResources decodes the resources of an RDS response (or any list of
// Any-wrapped RouteConfigurations).
func FromResources(res []*anypb.Any) ([]*routev3.RouteConfiguration, error) {
	out := make([]*routev3.RouteConfiguration, 0, len(res))
	for i, a := range res {
		rc := &routev3.RouteConfiguration{}
		if err := a.UnmarshalTo(rc); err != nil {
			return nil, fmt.Errorf("RDS resource %d (%s): %w", i, a.GetTypeUrl(), err)
		}
		out = append(out, rc)
	}
	return out, nil
}

// FromConfigDump decodes the route configurations of an Envoy admin
// /config_dump JSON document in either of its shapes: the whole dump
// (istiod's /debug/config_dump, `istioctl proxy-config all -o json`),
// whose configs hold one RoutesConfigDump with static and dynamic route
// configurations, and the dump of one resource
// (/config_dump?resource=dynamic_route_configs, kube.RouteConfigDumpPath),
// whose configs are the elements of that repeated field, each a
// RoutesConfigDump.DynamicRouteConfig (Envoy's
// source/server/admin/config_dump_handler.cc addResourceToDump packs
// every element into configs). Fields and extension types this package
// does not know (filter configs, newer fields) are skipped: only routing
// is read.
func FromConfigDump(data []byte) ([]*routev3.RouteConfiguration, error) {
	dump := &adminv3.ConfigDump{}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true, Resolver: lenientResolver{}}
	if err := opts.Unmarshal(data, dump); err != nil {
		return nil, fmt.Errorf("read Envoy config_dump: %w", err)
	}
	var out []*routev3.RouteConfiguration
	for i, c := range dump.GetConfigs() {
		var anys []*anypb.Any
		switch c.GetTypeUrl() {
		case typeURL(&adminv3.RoutesConfigDump{}):
			rd := &adminv3.RoutesConfigDump{}
			if err := c.UnmarshalTo(rd); err != nil {
				return nil, fmt.Errorf("read Envoy config_dump configs[%d]: %w", i, err)
			}
			for _, s := range rd.GetStaticRouteConfigs() {
				anys = append(anys, s.GetRouteConfig())
			}
			for _, d := range rd.GetDynamicRouteConfigs() {
				anys = append(anys, d.GetRouteConfig())
			}
		case typeURL(&adminv3.RoutesConfigDump_DynamicRouteConfig{}):
			d := &adminv3.RoutesConfigDump_DynamicRouteConfig{}
			if err := c.UnmarshalTo(d); err != nil {
				return nil, fmt.Errorf("read Envoy config_dump configs[%d]: %w", i, err)
			}
			anys = append(anys, d.GetRouteConfig())
		case typeURL(&adminv3.RoutesConfigDump_StaticRouteConfig{}):
			s := &adminv3.RoutesConfigDump_StaticRouteConfig{}
			if err := c.UnmarshalTo(s); err != nil {
				return nil, fmt.Errorf("read Envoy config_dump configs[%d]: %w", i, err)
			}
			anys = append(anys, s.GetRouteConfig())
		default:
			continue
		}
		// A route configuration Envoy could not accept has error_state and no
		// route_config.
		anys = slices.DeleteFunc(anys, func(a *anypb.Any) bool { return a == nil })
		rcs, err := FromResources(anys)
		if err != nil {
			return nil, fmt.Errorf("read Envoy config_dump configs[%d]: %w", i, err)
		}
		out = append(out, rcs...)
	}
	return out, nil
}

// typeURL is the Any type URL of m's message type.
func typeURL(m proto.Message) string {
	return "type.googleapis.com/" + string(proto.MessageName(m))
}

// lenientResolver resolves the types this program links in and decodes
// every other Any as an opaque message, so that a dump with filter
// configurations of extensions unknown here still reads.
type lenientResolver struct{}

func (lenientResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := protoregistry.GlobalTypes.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return opaqueType, nil
}

func (lenientResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (lenientResolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (lenientResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// opaqueType is a message without fields: with DiscardUnknown, any JSON
// object decodes into it.
var opaqueType = func() protoreflect.MessageType {
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:        proto.String("meshcheck/programmed/opaque.proto"),
		Package:     proto.String("meshcheck.programmed"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Opaque")}},
	}, nil)
	if err != nil {
		panic(fmt.Sprintf("programmed: opaque descriptor: %v", err))
	}
	return dynamicpb.NewMessageType(fd.Messages().Get(0))
}()
