//go:build controlplane

package istio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/internal/istiodtest"
)

// TestControlPlaneManifestGenerate renders meshcheck's
// IstioOperator with the real istioctl (no cluster, no network): the
// ingress gateway Service is a NodePort with the nodePorts the kind config
// maps, and keeps status-port 15021.
func TestControlPlaneManifestGenerate(t *testing.T) {
	istioctl, err := istiodtest.Binary("istioctl")
	if err != nil {
		t.Fatal(err)
	}
	op, err := istio.OperatorYAML(istio.GatewayPorts{HTTP: istio.DefaultHTTPNodePort, HTTPS: istio.DefaultHTTPSNodePort})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "operator.yaml")
	if err := os.WriteFile(file, op, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := (istio.ExecRunner{}).Run(context.Background(), istio.Cmd{Path: istioctl, Args: []string{"manifest", "generate", "-f", file},
		Env: os.Environ(), Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatalf("istioctl manifest generate: %v: %s", err, errOut.String())
	}
	var svc *corev1.Service
	for _, doc := range strings.Split(out.String(), "\n---\n") {
		var s corev1.Service
		if err := yaml.Unmarshal([]byte(doc), &s); err != nil || s.Kind != "Service" || s.Name != istio.GatewayDeployment {
			continue
		}
		svc = &s
	}
	if svc == nil {
		t.Fatalf("istioctl rendered no Service %s", istio.GatewayDeployment)
	}
	if svc.Namespace != istio.Namespace || svc.Spec.Type != corev1.ServiceTypeNodePort {
		t.Errorf("Service %s/%s has type %s, want NodePort in %s", svc.Namespace, svc.Name, svc.Spec.Type, istio.Namespace)
	}
	want := map[string][3]int32{"status-port": {15021, 15021, 0}, "http2": {80, 8080, istio.DefaultHTTPNodePort}, "https": {443, 8443, istio.DefaultHTTPSNodePort}}
	for _, p := range svc.Spec.Ports {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected port %s", p.Name)
			continue
		}
		delete(want, p.Name)
		if p.Port != w[0] || p.TargetPort.IntVal != w[1] || (w[2] != 0 && p.NodePort != w[2]) {
			t.Errorf("port %s = %d -> %s nodePort %d, want %d -> %d nodePort %d", p.Name, p.Port, p.TargetPort.String(), p.NodePort, w[0], w[1], w[2])
		}
	}
	if len(want) > 0 {
		t.Errorf("ports missing: %v", want)
	}
	if !strings.Contains(out.String(), "docker.io/istio/proxyv2:"+istio.DefaultVersion) {
		t.Errorf("the rendered gateway does not run docker.io/istio/proxyv2:%s: is istioctl's version stamped?", istio.DefaultVersion)
	}
}

// TestControlPlaneIstioctlVersion asks the real istioctl of the pinned
// release for its version the way `--istioctl` is checked: it reports the
// pinned release in the JSON CheckVersion reads, and a pin of another minor
// version refuses it.
func TestControlPlaneIstioctlVersion(t *testing.T) {
	istioctl, err := istiodtest.Binary("istioctl")
	if err != nil {
		t.Fatal(err)
	}
	found, err := istio.CheckVersion(context.Background(), istio.ExecRunner{}, istioctl, istio.DefaultVersion)
	if err != nil || found != istio.DefaultVersion {
		t.Fatalf("CheckVersion = %q, %v; want %s", found, err, istio.DefaultVersion)
	}
	found, err = istio.CheckVersion(context.Background(), istio.ExecRunner{}, istioctl, "1.30.0")
	var ve *istio.VersionError
	if !errors.As(err, &ve) || found != istio.DefaultVersion || !strings.Contains(err.Error(), "--istioctl-any-version") {
		t.Fatalf("against a 1.30 pin: %q, %v; want a version mismatch", found, err)
	}
}
