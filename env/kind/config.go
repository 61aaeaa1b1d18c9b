// Package kind provisions meshcheck's kind environment with the kind Go
// library (sigs.k8s.io/kind v0.30.0 pkg/cluster; no kind binary): a
// one-node cluster whose node image is pinned by digest, the ingress
// gateway's nodePorts mapped to 127.0.0.1, a kubeconfig of meshcheck's own
// (never ~/.kube/config), Istio installed with istioctl, and meshcheck's
// images loaded into the nodes. The container engine and kind's provider sit
// behind small interfaces (Prober, Provider) so tests can assert the exact
// calls.
package kind

import (
	"fmt"
	"regexp"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env/istio"
)

// DefaultName is the cluster name when --name is not given.
const DefaultName = "meshcheck"

// DefaultNodeImage is kind v0.30.0's default node image (Kubernetes 1.34.0),
// pinned by digest (sigs.k8s.io/kind v0.30.0 pkg/apis/config/defaults
// image.go).
const DefaultNodeImage = "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"

// listenAddress is the only host address the port mappings bind: the
// gateway is reachable from this machine only.
const listenAddress = "127.0.0.1"

// Preferred host ports; when busy and not asked for explicitly, a free port
// is chosen instead.
const (
	DefaultHTTPPort  = 8080
	DefaultHTTPSPort = 8443
)

// Ports maps the ingress gateway's nodePorts to host ports.
type Ports struct {
	HTTPHost  int   // host port for http (127.0.0.1)
	HTTPSHost int   // host port for https (127.0.0.1)
	HTTPNode  int32 // gateway http2 nodePort = node containerPort
	HTTPSNode int32 // gateway https nodePort = node containerPort
}

// Gateway is the IstioOperator side of the same mapping.
func (p Ports) Gateway() istio.GatewayPorts {
	return istio.GatewayPorts{HTTP: p.HTTPNode, HTTPS: p.HTTPSNode}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// validateName applies kind's cluster name rule (v0.30.0
// pkg/internal/apis/config/validate.go: ^[a-z0-9.-]+$), starting with a
// letter or digit (container names must, and "." or ".." would escape
// meshcheck's state directory), and kind's length warning threshold (50,
// pkg/cluster/internal/create) as an error.
func validateName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 50 {
		return fmt.Errorf("--name %q: a kind cluster name is 1-50 characters of a-z, 0-9, '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// clusterConfig is the v1alpha4 config meshcheck creates: one control-plane
// node with the pinned image and extraPortMappings whose containerPorts are
// the gateway nodePorts (kind docs, configuration: "NodePort with Port
// Mappings": the node containerPort and the Service nodePort must be equal),
// bound to 127.0.0.1 on the host; and containerd's registry config_path
// set (containerdConfigPatch).
func clusterConfig(name, nodeImage string, p Ports) *v1alpha4.Cluster {
	return &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     name,
		// containerd reads hosts.toml files, such as the in-cluster
		// registry's (registry.go).
		ContainerdConfigPatches: []string{containerdConfigPatch},
		Nodes: []v1alpha4.Node{{
			Role:  v1alpha4.ControlPlaneRole,
			Image: nodeImage,
			ExtraPortMappings: []v1alpha4.PortMapping{
				{ContainerPort: p.HTTPNode, HostPort: int32(p.HTTPHost), ListenAddress: listenAddress, Protocol: v1alpha4.PortMappingProtocolTCP},
				{ContainerPort: p.HTTPSNode, HostPort: int32(p.HTTPSHost), ListenAddress: listenAddress, Protocol: v1alpha4.PortMappingProtocolTCP},
			},
		}},
	}
}

// ConfigYAML renders cfg; these exact bytes are what --dry-run prints and
// what Create hands to kind (cluster.CreateWithRawConfig).
func ConfigYAML(cfg *v1alpha4.Cluster) ([]byte, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render kind config: %w", err)
	}
	return b, nil
}
