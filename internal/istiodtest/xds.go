package istiodtest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/meshcheck/meshcheck/env/programmed"
)

// Proxy is the Envoy whose configuration Read asks istiod for.
type Proxy struct {
	// Router makes it a gateway (node type router) instead of a sidecar.
	Router bool
	// Namespace and Pod name the workload; IP is its pod IP.
	Namespace, Pod, IP string
	// Labels are the workload's labels (Gateways select on them).
	Labels map[string]string
}

// String names the proxy for messages.
func (p Proxy) String() string {
	if p.Router {
		return "gateway " + p.Namespace + "/" + p.Pod
	}
	return "sidecar " + p.Namespace + "/" + p.Pod
}

// Sidecar is the sidecar of a client pod without labels in namespace ns,
// like meshcheck's in-mesh agent.
func Sidecar(ns string) Proxy {
	return Proxy{Namespace: ns, Pod: "istiodtest-client", IP: clientIP}
}

// clientIP is the address of the sidecar proxies Read impersonates; no pod
// has it.
const clientIP = "10.255.255.1"

// nodeID is the Envoy node id istiod parses: type~ip~pod.ns~ns.svc.cluster.local
// (pilot/pkg/model/context.go ParseServiceNodeWithMetadata).
func (p Proxy) nodeID() string {
	kind := "sidecar"
	if p.Router {
		kind = "router"
	}
	return kind + "~" + p.IP + "~" + p.Pod + "." + p.Namespace + "~" + p.Namespace + ".svc.cluster.local"
}

func (p Proxy) node() (*corev3.Node, error) {
	labels := map[string]any{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	md, err := structpb.NewStruct(map[string]any{
		"NAMESPACE":     p.Namespace,
		"NAME":          p.Pod,
		"CLUSTER_ID":    "Kubernetes",
		"ISTIO_VERSION": Version,
		"INSTANCE_IPS":  p.IP,
		"LABELS":        labels,
	})
	if err != nil {
		return nil, fmt.Errorf("node metadata of %s: %w", p, err)
	}
	return &corev3.Node{Id: p.nodeID(), Metadata: md}, nil
}

// Snapshot is what istiod serves one proxy: its listeners, the route
// configurations they name, its clusters and the endpoints of its EDS
// clusters, by name.
type Snapshot struct {
	Proxy     Proxy
	Listeners map[string]*listenerv3.Listener
	Routes    map[string]*routev3.RouteConfiguration
	Clusters  map[string]*clusterv3.Cluster
	Endpoints map[string]*endpointv3.ClusterLoadAssignment
}

// RouteConfigs returns the route configurations in name order.
func (s *Snapshot) RouteConfigs() []*routev3.RouteConfiguration {
	out := make([]*routev3.RouteConfiguration, 0, len(s.Routes))
	for _, n := range slices.Sorted(maps.Keys(s.Routes)) {
		out = append(out, s.Routes[n])
	}
	return out
}

// EndpointCount is the number of endpoints istiod lists for a cluster, 0
// when it has none or is not an EDS cluster.
func (s *Snapshot) EndpointCount(cluster string) int {
	n := 0
	for _, l := range s.Endpoints[cluster].GetEndpoints() {
		n += len(l.GetLbEndpoints())
	}
	return n
}

// read asks istiod for a proxy's configuration over one plaintext ADS
// stream, in the order Envoy itself uses once it knows what to ask for:
// LDS, then RDS for the route names the listeners' HTTP connection managers
// use, CDS, and EDS for the EDS clusters.
func read(ctx context.Context, addr string, p Proxy) (*Snapshot, error) {
	return readThen(ctx, addr, p, nil)
}

// readThen is read, calling then (when not nil) before it closes the
// stream, while istiod still counts the proxy as connected.
func readThen(ctx context.Context, addr string, p Proxy, then func(context.Context) error) (*Snapshot, error) {
	node, err := p.node()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("xDS connection to istiod at %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("ADS stream to istiod at %s for %s: %w", addr, p, err)
	}
	s := &Snapshot{Proxy: p, Listeners: map[string]*listenerv3.Listener{}, Routes: map[string]*routev3.RouteConfiguration{},
		Clusters: map[string]*clusterv3.Cluster{}, Endpoints: map[string]*endpointv3.ClusterLoadAssignment{}}
	ask := func(typeURL string, names []string) ([]*anypb.Any, error) {
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL, ResourceNames: names}); err != nil {
			return nil, fmt.Errorf("ADS request %s for %s: %w", shortType(typeURL), p, err)
		}
		for {
			resp, err := stream.Recv()
			if err != nil {
				return nil, fmt.Errorf("ADS response %s for %s: %w", shortType(typeURL), p, err)
			}
			if resp.GetTypeUrl() == typeURL {
				return resp.GetResources(), nil
			}
		}
	}
	lds, err := ask(resourcev3.ListenerType, nil)
	if err != nil {
		return nil, err
	}
	routeNames := map[string]bool{}
	for _, a := range lds {
		l := &listenerv3.Listener{}
		if err := a.UnmarshalTo(l); err != nil {
			return nil, fmt.Errorf("decode listener for %s: %w", p, err)
		}
		s.Listeners[l.GetName()] = l
		names, err := rdsNames(l)
		if err != nil {
			return nil, fmt.Errorf("listener %s for %s: %w", l.GetName(), p, err)
		}
		for _, n := range names {
			routeNames[n] = true
		}
	}
	if len(routeNames) > 0 {
		rds, err := ask(resourcev3.RouteType, slices.Sorted(maps.Keys(routeNames)))
		if err != nil {
			return nil, err
		}
		rcs, err := programmed.FromResources(rds)
		if err != nil {
			return nil, fmt.Errorf("routes for %s: %w", p, err)
		}
		for _, rc := range rcs {
			s.Routes[rc.GetName()] = rc
		}
	}
	cds, err := ask(resourcev3.ClusterType, nil)
	if err != nil {
		return nil, err
	}
	var eds []string
	for _, a := range cds {
		c := &clusterv3.Cluster{}
		if err := a.UnmarshalTo(c); err != nil {
			return nil, fmt.Errorf("decode cluster for %s: %w", p, err)
		}
		s.Clusters[c.GetName()] = c
		if c.GetType() == clusterv3.Cluster_EDS {
			eds = append(eds, c.GetName())
		}
	}
	if len(eds) > 0 {
		slices.Sort(eds)
		res, err := ask(resourcev3.EndpointType, eds)
		if err != nil {
			return nil, err
		}
		for _, a := range res {
			cla := &endpointv3.ClusterLoadAssignment{}
			if err := a.UnmarshalTo(cla); err != nil {
				return nil, fmt.Errorf("decode endpoints for %s: %w", p, err)
			}
			s.Endpoints[cla.GetClusterName()] = cla
		}
	}
	if then != nil {
		if err := then(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// rdsNames lists the RDS route configuration names a listener's HTTP
// connection managers use.
func rdsNames(l *listenerv3.Listener) ([]string, error) {
	var out []string
	for _, fc := range append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain()) {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			if tc == nil || tc.GetTypeUrl() != "type.googleapis.com/"+string(proto.MessageName(&hcmv3.HttpConnectionManager{})) {
				continue
			}
			hcm := &hcmv3.HttpConnectionManager{}
			if err := tc.UnmarshalTo(hcm); err != nil {
				return nil, fmt.Errorf("decode HTTP connection manager: %w", err)
			}
			if n := hcm.GetRds().GetRouteConfigName(); n != "" {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

func shortType(typeURL string) string {
	return typeURL[strings.LastIndexByte(typeURL, '.')+1:]
}

// configDump returns istiod's Envoy-admin-format config_dump of proxy p
// (/debug/config_dump): what istiod sent p's connection, so it is taken
// while an ADS stream of p that asked for everything is open.
func configDump(ctx context.Context, grpcAddr, httpAddr string, p Proxy) ([]byte, error) {
	var body []byte
	_, err := readThen(ctx, grpcAddr, p, func(ctx context.Context) error {
		u := "http://" + httpAddr + "/debug/config_dump?proxyID=" + url.QueryEscape(p.Pod+"."+p.Namespace)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("config_dump of %s: %w", p, err)
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("config_dump of %s: %w", p, err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("config_dump of %s: HTTP %d: %s", p, resp.StatusCode, strings.TrimSpace(string(body)))
		}
		return nil
	})
	return body, err
}
