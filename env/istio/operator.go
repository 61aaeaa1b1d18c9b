// Package istio installs Istio into a cluster with istioctl: it renders the
// IstioOperator meshcheck installs, finds istioctl (--istioctl, PATH, or the
// pinned release downloaded and checksum-verified into the user cache), runs
// `istioctl install` through a Runner, and checks that istiod and the ingress
// gateway are available afterwards.
package istio

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Namespace is where the default profile installs istiod and the gateway.
const Namespace = "istio-system"

// Names of the Deployments (and of the gateway Service) of the default
// profile (istio/istio manifests/profiles/default.yaml: pilot and the
// ingress gateway "istio-ingressgateway" enabled).
const (
	IstiodDeployment  = "istiod"
	GatewayDeployment = "istio-ingressgateway"
)

// Default node ports of the ingress gateway Service. The kind config maps
// the same numbers as containerPorts (kind docs, "NodePort with Port
// Mappings": the node containerPort and the Service nodePort must be equal).
const (
	DefaultHTTPNodePort  int32 = 30080
	DefaultHTTPSNodePort int32 = 30443
)

// GatewayPorts are the fixed nodePorts of the ingress gateway Service.
type GatewayPorts struct {
	HTTP  int32 // nodePort of the http2 port (80 -> 8080)
	HTTPS int32 // nodePort of the https port (443 -> 8443)
}

// Validate checks the ports lie in Kubernetes' default NodePort range
// (30000-32767) and differ.
func (p GatewayPorts) Validate() error {
	for _, c := range []struct {
		name string
		port int32
	}{{"http", p.HTTP}, {"https", p.HTTPS}} {
		if c.port < 30000 || c.port > 32767 {
			return fmt.Errorf("%s nodePort %d: must be in the NodePort range 30000-32767", c.name, c.port)
		}
	}
	if p.HTTP == p.HTTPS {
		return fmt.Errorf("http and https nodePorts are both %d: they must differ", p.HTTP)
	}
	return nil
}

// The subset of install.istio.io/v1alpha1 IstioOperator meshcheck writes
// (istio/istio operator/pkg/apis/types.go; istio.io/istio is not importable
// here, so the fields are declared with the same JSON names).
type operator struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   operatorMeta `json:"metadata"`
	Spec       operatorSpec `json:"spec"`
}

type operatorMeta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type operatorSpec struct {
	Profile    string             `json:"profile"`
	Components operatorComponents `json:"components"`
	Values     map[string]any     `json:"values"`
}

type operatorComponents struct {
	IngressGateways []gatewayComponent `json:"ingressGateways"`
}

type gatewayComponent struct {
	Name    string     `json:"name"`
	Enabled bool       `json:"enabled"`
	K8s     gatewayK8s `json:"k8s"`
}

type gatewayK8s struct {
	Service gatewayService `json:"service"`
}

type gatewayService struct {
	Type  corev1.ServiceType   `json:"type"`
	Ports []corev1.ServicePort `json:"ports"`
}

// GatewayServicePorts is the ingress gateway's port list with fixed
// nodePorts. It repeats all three default ports (manifests/charts/gateways/
// istio-ingress/values.yaml: status-port 15021, http2 80->8080, https
// 443->8443) because k8s.service.ports replaces the chart's list whole
// (operator/pkg/render/manifest.go sets values.gateways.<gw>.ports to it).
func GatewayServicePorts(p GatewayPorts) []corev1.ServicePort {
	return []corev1.ServicePort{
		{Name: "status-port", Protocol: corev1.ProtocolTCP, Port: 15021, TargetPort: intstr.FromInt32(15021)},
		{Name: "http2", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: p.HTTP},
		{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(8443), NodePort: p.HTTPS},
	}
}

// OperatorYAML renders the IstioOperator meshcheck installs: profile
// "default" (it has the ingress gateway; "minimal" has none) with the
// gateway Service of type NodePort on the given nodePorts.
func OperatorYAML(p GatewayPorts) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	op := operator{
		APIVersion: "install.istio.io/v1alpha1",
		Kind:       "IstioOperator",
		Metadata:   operatorMeta{Name: "meshcheck", Namespace: Namespace},
		Spec: operatorSpec{
			Profile: "default",
			Components: operatorComponents{IngressGateways: []gatewayComponent{{
				Name:    GatewayDeployment,
				Enabled: true,
				K8s: gatewayK8s{Service: gatewayService{
					Type:  corev1.ServiceTypeNodePort,
					Ports: GatewayServicePorts(p),
				}},
			}}},
			// The chart renders `type: {{ $gateway.type }}` from this value
			// (manifests/charts/gateways/istio-ingress/templates/service.yaml);
			// k8s.service.type above patches the same field.
			Values: map[string]any{"gateways": map[string]any{
				GatewayDeployment: map[string]any{"type": string(corev1.ServiceTypeNodePort)},
			}},
		},
	}
	b, err := yaml.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("render IstioOperator: %w", err)
	}
	return b, nil
}
