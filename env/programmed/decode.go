package programmed

import (
	"fmt"

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

// FromConfigDump decodes the route configurations (static and dynamic) of
// an Envoy admin /config_dump JSON document, the output of `istioctl
// proxy-config all -o json` and of istiod's /debug/config_dump. Fields and
// extension types this package does not know (filter configs, newer
// fields) are skipped: only routing is read.
func FromConfigDump(data []byte) ([]*routev3.RouteConfiguration, error) {
	dump := &adminv3.ConfigDump{}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true, Resolver: lenientResolver{}}
	if err := opts.Unmarshal(data, dump); err != nil {
		return nil, fmt.Errorf("read Envoy config_dump: %w", err)
	}
	var out []*routev3.RouteConfiguration
	routesURL := "type.googleapis.com/" + string(proto.MessageName(&adminv3.RoutesConfigDump{}))
	for i, c := range dump.GetConfigs() {
		if c.GetTypeUrl() != routesURL {
			continue
		}
		rd := &adminv3.RoutesConfigDump{}
		if err := c.UnmarshalTo(rd); err != nil {
			return nil, fmt.Errorf("read Envoy config_dump configs[%d]: %w", i, err)
		}
		var anys []*anypb.Any
		for _, s := range rd.GetStaticRouteConfigs() {
			anys = append(anys, s.GetRouteConfig())
		}
		for _, d := range rd.GetDynamicRouteConfigs() {
			anys = append(anys, d.GetRouteConfig())
		}
		rcs, err := FromResources(anys)
		if err != nil {
			return nil, fmt.Errorf("read Envoy config_dump configs[%d]: %w", i, err)
		}
		out = append(out, rcs...)
	}
	return out, nil
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
