package existing

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/kube"
)

// kubeconfig writes a kubeconfig with one context "dev" and returns its
// path.
func kubeconfig(t *testing.T, current string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	data := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: secret}
contexts:
- name: dev
  context: {cluster: c, user: u}
current-context: "` + current + `"
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRestConfig checks the kubeconfig errors and that the chosen context
// is used.
func TestRestConfig(t *testing.T) {
	path := kubeconfig(t, "dev")
	cfg, where, err := restConfig(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:1" || cfg.BearerToken != "secret" || !strings.Contains(where, `"dev"`) {
		t.Errorf("config host %q token %q where %q", cfg.Host, cfg.BearerToken, where)
	}
	for _, c := range []struct {
		path, context, want string
	}{
		{path, "prod", `no context "prod"`},
		{kubeconfig(t, ""), "", "no current context: give --context"},
		{filepath.Join(t.TempDir(), "absent"), "", "--kubeconfig "},
	} {
		if _, _, err := restConfig(c.path, c.context); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("restConfig(%s, %q) error = %v, want %q", filepath.Base(c.path), c.context, err, c.want)
		}
	}
}

// TestNewRejectsBadIngressURL checks the ingress URL before any connection.
func TestNewRejectsBadIngressURL(t *testing.T) {
	for _, u := range []string{"203.0.113.7", "ftp://x", "http://", "http://x/path"} {
		_, err := New(t.Context(), Options{Kubeconfig: kubeconfig(t, "dev"), IngressURL: u})
		if err == nil || !strings.Contains(err.Error(), "--ingress-url") || !errors.Is(err, env.ErrInvalidOptions) {
			t.Errorf("New with ingress URL %q: err = %v, want an invalid-options error", u, err)
		}
	}
	for _, c := range []struct{ path, context string }{{kubeconfig(t, "dev"), "prod"}, {filepath.Join(t.TempDir(), "absent"), ""}} {
		if _, err := New(t.Context(), Options{Kubeconfig: c.path, Context: c.context}); !errors.Is(err, env.ErrInvalidOptions) {
			t.Errorf("New with kubeconfig %s, context %q: err = %v, want an invalid-options error", filepath.Base(c.path), c.context, err)
		}
	}
}

// TestFromEnv maps the environment options, and the propagation delay only
// when one is given.
func TestFromEnv(t *testing.T) {
	o := FromEnv(env.Options{Kubeconfig: "/k", Context: "c", IngressURL: "http://gw", AgentImage: "img:v1", ReadyTimeout: time.Minute, Name: "ignored"})
	if o.Kubeconfig != "/k" || o.Context != "c" || o.IngressURL != "http://gw" || o.AgentImage != "img:v1" || o.ReadyTimeout != time.Minute || o.Propagation != nil {
		t.Errorf("FromEnv = %+v", o)
	}
	o = FromEnv(env.Options{PropagationDelay: time.Millisecond})
	if o.Propagation == nil {
		t.Fatal("FromEnv with a propagation delay: no Propagator")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := o.Propagation.Propagate(ctx, kube.PhaseMake, nil); err != nil {
		t.Errorf("Propagate: %v", err)
	}
}

// TestHostForURL brackets IPv6 addresses only.
func TestHostForURL(t *testing.T) {
	for in, want := range map[string]string{"203.0.113.7": "203.0.113.7", "2001:db8::1": "[2001:db8::1]", "lb.example": "lb.example"} {
		if got := hostForURL(in); got != want {
			t.Errorf("hostForURL(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestTargetPort resolves numeric, named and empty target ports.
func TestTargetPort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy",
		Ports: []corev1.ContainerPort{{Name: "http2", ContainerPort: 8080}}}}}}
	for _, c := range []struct {
		target intstr.IntOrString
		want   int
	}{{intstr.FromInt32(8080), 8080}, {intstr.FromString("http2"), 8080}, {intstr.IntOrString{}, 80}} {
		got, err := targetPort(pod, corev1.ServicePort{Port: 80, TargetPort: c.target})
		if err != nil || got != c.want {
			t.Errorf("targetPort(%v) = %d, %v; want %d", c.target, got, err, c.want)
		}
	}
	if _, err := targetPort(pod, corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("web")}); err == nil || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("unknown named port: err = %v", err)
	}
}
