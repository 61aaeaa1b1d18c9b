package mesh

import (
	apisecurity "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// The rules in this file follow the Istio PeerAuthentication reference,
// https://istio.io/latest/docs/reference/config/security/peer_authentication/
// (istio.io/api security/v1beta1 peer_authentication.proto), cited as "PA ref".

// peerAuth is one indexed PeerAuthentication.
type peerAuth struct {
	key      string
	ns       string
	selector map[string]string // nil: namespace-wide (or mesh-wide in the root namespace)
	mode     apisecurity.PeerAuthentication_MutualTLS_Mode
	ports    map[uint32]apisecurity.PeerAuthentication_MutualTLS_Mode
}

func indexPeerAuth(p *securityv1.PeerAuthentication) *peerAuth {
	pa := &peerAuth{key: p.Namespace + "/" + p.Name, ns: p.Namespace, mode: p.Spec.GetMtls().GetMode()}
	if s := p.Spec.Selector; s != nil && len(s.MatchLabels) > 0 {
		pa.selector = s.MatchLabels
	}
	// PA ref, port_level_mtls: "Port specific mutual TLS settings. These only
	// apply when a workload selector is specified." istiod ignores them on a
	// namespace- or mesh-wide policy.
	if pa.selector != nil && len(p.Spec.PortLevelMtls) > 0 {
		pa.ports = map[uint32]apisecurity.PeerAuthentication_MutualTLS_Mode{}
		for port, m := range p.Spec.PortLevelMtls {
			pa.ports[port] = m.GetMode()
		}
	}
	return pa
}

func (p *peerAuth) selects(w Workload) bool {
	if p.selector == nil {
		return false
	}
	for k, v := range p.selector {
		if got, ok := w.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// PeerAuthenticationMode returns STRICT, PERMISSIVE or DISABLE for the
// workload's port, with the policy "ns/name" that decided ("" for the mesh
// default PERMISSIVE).
//
// Precedence follows istiod (pilot/pkg/security/authn
// ComposePeerAuthentication): a policy with a selector in the workload's
// namespace overrides the namespace-wide policy (no selector), which
// overrides the mesh-wide one (no selector, root namespace); of several
// policies at one level the oldest wins (Config is sorted by creation time).
// PA ref: "PeerAuthentication policies with workload selectors are ignored
// when deployed in the root namespace"; mode UNSET: "Inherit from parent, if
// has one. Otherwise treated as PERMISSIVE"; port_level_mtls: "These only
// apply when a workload selector is specified. The port refers to the port of
// the workload", and a port-level UNSET inherits the workload's mode.
func (m *Model) PeerAuthenticationMode(w Workload, port int) (mode string, policy string) {
	var workload, namespace, mesh *peerAuth
	for _, p := range m.peerAuths {
		switch {
		case p.ns == w.Namespace && p.ns != rootNamespace && p.selects(w):
			if workload == nil {
				workload = p
			}
		case p.ns == w.Namespace && p.selector == nil:
			if namespace == nil {
				namespace = p
			}
		}
		if p.ns == rootNamespace && p.selector == nil && mesh == nil {
			mesh = p
		}
	}
	mode, policy = "PERMISSIVE", ""
	for _, p := range []*peerAuth{mesh, namespace, workload} {
		if p == nil {
			continue
		}
		if p.mode != apisecurity.PeerAuthentication_MutualTLS_UNSET {
			mode, policy = p.mode.String(), p.key
		}
		if p.ports != nil && port > 0 {
			if pm, ok := p.ports[uint32(port)]; ok && pm != apisecurity.PeerAuthentication_MutualTLS_UNSET {
				mode, policy = pm.String(), p.key
			}
		}
	}
	return mode, policy
}

// AutoMTLS reports whether a client's connection to workload w's port
// arrives over Istio mTLS, for AccessRequest.MTLS. With auto mTLS (Istio's
// default, meshConfig.enableAutoMtls; https://istio.io/latest/docs/concepts/security/#auto-mutual-tls)
// a client sidecar sends mTLS to a workload with a sidecar unless the
// workload's PeerAuthentication mode for that port is DISABLE; a client
// without a sidecar sends plaintext. Destinations are modelled as having a
// sidecar.
func (m *Model) AutoMTLS(clientHasSidecar bool, w Workload, port int) bool {
	if !clientHasSidecar {
		return false
	}
	mode, _ := m.PeerAuthenticationMode(w, port)
	return mode != "DISABLE"
}
