package istiodtest

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"

	"github.com/meshcheck/meshcheck/mesh"
)

// SidecarOf is the sidecar of a workload an Apply created: its namespace,
// pod name, labels and the pod IP Apply gave it, so that istiod serves it
// the inbound listener of the Services the pod backs and the
// AuthorizationPolicies that select it.
func (c *ControlPlane) SidecarOf(w mesh.Workload) Proxy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Proxy{Namespace: w.Namespace, Pod: w.Name, Labels: w.Labels, IP: c.podIP(w.Namespace, w.Name)}
}

// VirtualInbound is the name of the sidecar's inbound listener (port 15006),
// where iptables redirects every connection to the pod.
const VirtualInbound = "virtualInbound"

// RBACFilterName is the HTTP filter name of Envoy's RBAC filter.
const RBACFilterName = "envoy.filters.http.rbac"

// InboundRBAC returns, in filter order, the RBAC filter configs of the HTTP
// connection manager that the virtualInbound listener uses for a
// connection to pod port port: over mTLS (transport protocol "tls") or
// plaintext ("raw_buffer"). ok is false when the listener has no filter
// chain for that port and transport: Envoy does not serve such a
// connection (STRICT mTLS has no plaintext chain).
func (s *Snapshot) InboundRBAC(port int, mtls bool) (filters []*rbachttpv3.RBAC, ok bool, err error) {
	l := s.Listeners[VirtualInbound]
	if l == nil {
		return nil, false, fmt.Errorf("%s has no %s listener", s.Proxy, VirtualInbound)
	}
	transport := "raw_buffer"
	if mtls {
		transport = "tls"
	}
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		if int(m.GetDestinationPort().GetValue()) != port {
			continue
		}
		if tp := m.GetTransportProtocol(); tp != "" && tp != transport {
			continue
		}
		hcm, err := httpConnectionManager(fc)
		if err != nil {
			return nil, false, fmt.Errorf("%s filter chain %s: %w", VirtualInbound, fc.GetName(), err)
		}
		if hcm == nil {
			continue
		}
		for _, hf := range hcm.GetHttpFilters() {
			if hf.GetName() != RBACFilterName {
				continue
			}
			r := &rbachttpv3.RBAC{}
			if err := hf.GetTypedConfig().UnmarshalTo(r); err != nil {
				return nil, false, fmt.Errorf("%s filter chain %s: decode RBAC: %w", VirtualInbound, fc.GetName(), err)
			}
			filters = append(filters, r)
		}
		return filters, true, nil
	}
	return nil, false, nil
}

// httpConnectionManager decodes a filter chain's HTTP connection manager,
// nil when it has none.
func httpConnectionManager(fc *listenerv3.FilterChain) (*hcmv3.HttpConnectionManager, error) {
	want := "type.googleapis.com/" + string(proto.MessageName(&hcmv3.HttpConnectionManager{}))
	for _, f := range fc.GetFilters() {
		tc := f.GetTypedConfig()
		if tc == nil || tc.GetTypeUrl() != want {
			continue
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := tc.UnmarshalTo(hcm); err != nil {
			return nil, fmt.Errorf("decode HTTP connection manager: %w", err)
		}
		return hcm, nil
	}
	return nil, nil
}
