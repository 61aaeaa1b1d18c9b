package istio

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestOperatorYAMLHasDefaultProfileAndNodePortGateway(t *testing.T) {
	b, err := OperatorYAML(GatewayPorts{HTTP: 30080, HTTPS: 30443})
	if err != nil {
		t.Fatal(err)
	}
	var op operator
	if err := yaml.UnmarshalStrict(b, &op); err != nil {
		t.Fatalf("rendered IstioOperator does not read back: %v\n%s", err, b)
	}
	if op.APIVersion != "install.istio.io/v1alpha1" || op.Kind != "IstioOperator" {
		t.Errorf("apiVersion/kind %s/%s", op.APIVersion, op.Kind)
	}
	if op.Spec.Profile != "default" {
		t.Errorf("profile %q, want default (minimal has no ingress gateway)", op.Spec.Profile)
	}
	gws := op.Spec.Components.IngressGateways
	if len(gws) != 1 || gws[0].Name != "istio-ingressgateway" || !gws[0].Enabled {
		t.Fatalf("ingress gateways %+v", gws)
	}
	svc := gws[0].K8s.Service
	if svc.Type != corev1.ServiceTypeNodePort {
		t.Errorf("service type %s, want NodePort", svc.Type)
	}
	type port struct {
		name             string
		port, target, np int32
	}
	want := []port{{"status-port", 15021, 15021, 0}, {"http2", 80, 8080, 30080}, {"https", 443, 8443, 30443}}
	if len(svc.Ports) != len(want) {
		t.Fatalf("%d ports, want all three listed (the list replaces the default): %+v", len(svc.Ports), svc.Ports)
	}
	for i, w := range want {
		p := svc.Ports[i]
		got := port{p.Name, p.Port, p.TargetPort.IntVal, p.NodePort}
		if got != w || p.Protocol != corev1.ProtocolTCP {
			t.Errorf("port %d = %+v %s, want %+v TCP", i, got, p.Protocol, w)
		}
	}
	if !strings.Contains(string(b), "nodePort: 30080") {
		t.Errorf("YAML lacks nodePort: 30080:\n%s", b)
	}
}

func TestGatewayPortsValidate(t *testing.T) {
	for _, tc := range []struct {
		p    GatewayPorts
		want string
	}{
		{GatewayPorts{HTTP: 8080, HTTPS: 30443}, "http nodePort 8080: must be in the NodePort range 30000-32767"},
		{GatewayPorts{HTTP: 30080, HTTPS: 40000}, "https nodePort 40000"},
		{GatewayPorts{HTTP: 30080, HTTPS: 30080}, "must differ"},
	} {
		_, err := OperatorYAML(tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.p, err, tc.want)
		}
	}
}
