package scenario

import (
	"net/url"
	"strconv"

	"github.com/meshcheck/meshcheck/mesh"
)

// SourceNamespace is the namespace in-mesh probes of s run from: the first
// namespace with sidecar injection, else the first namespace, else
// "default". The loader's cross-checks, the routing model's predictions and
// every environment (the local sidecar emulation, the in-mesh agent on a
// cluster) use this one rule.
func (s *Scenario) SourceNamespace() string {
	for _, ns := range s.Namespaces {
		if ns.Injection {
			return ns.Name
		}
	}
	if len(s.Namespaces) > 0 {
		return s.Namespaces[0].Name
	}
	return "default"
}

// AgentServiceAccount is the ServiceAccount in-mesh probes run as unless a
// probe names another: the in-mesh agent's on a cluster (env/kube deploys
// it under this name), the sidecar emulation's identity in the local
// environment.
const AgentServiceAccount = "meshcheck-agent"

// SourceIdentity is the mTLS identity the probe's requests carry to the
// destination's sidecar: for a probe from mesh, its ServiceAccount
// (AgentServiceAccount when it names none) in sourceNamespace (normally the
// scenario's SourceNamespace); at the ingress, the ingress gateway's
// (mesh.IngressGateway), which originates the mTLS connection to the pod.
func (p Probe) SourceIdentity(sourceNamespace string) mesh.Identity {
	if p.From != mesh.Mesh {
		return mesh.IngressGateway.Identity()
	}
	sa := p.ServiceAccount
	if sa == "" {
		sa = AgentServiceAccount
	}
	return mesh.Identity{Namespace: sourceNamespace, ServiceAccount: sa}
}

// ModelRequest is the probe's request as the routing model sees it: at the
// ingress, the probe's Host and path on the gateway's port 80; in the mesh,
// the host, port and path of the probe's URL, sent from sourceNamespace
// (normally the scenario's SourceNamespace). A URL on an ingress probe gives
// the path, and the Host when the probe has none; an empty path is "/".
func (p Probe) ModelRequest(sourceNamespace string) mesh.Request {
	req := mesh.Request{Vantage: p.From, Method: p.Request.Method, Headers: p.Request.Headers, Port: 80,
		Host: p.Request.Host, Path: p.Request.Path}
	if p.Request.URL != "" {
		if u, err := url.Parse(p.Request.URL); err == nil {
			req.Path = u.RequestURI()
			if p.From == mesh.Mesh || req.Host == "" {
				req.Host = u.Host
			}
			if port, err := strconv.Atoi(u.Port()); err == nil && p.From == mesh.Mesh {
				req.Port = port
			}
		}
	}
	if p.From == mesh.Mesh {
		req.SourceNamespace = sourceNamespace
	}
	if req.Path == "" {
		req.Path = "/"
	}
	return req
}
