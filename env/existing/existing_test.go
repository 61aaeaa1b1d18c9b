package existing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/scenario"
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

// TestNoKubeconfigAnywhere: with no --kubeconfig, no $KUBECONFIG file and
// no ~/.kube/config, the error says so, where it looked and to give
// --kubeconfig (not "give --context").
func TestNoKubeconfigAnywhere(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KUBECONFIG", "")
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.Precedence = []string{filepath.Join(home, ".kube", "config")} // the default rules' ~/.kube/config
	_, _, err := restConfigFrom(rules, "", "")
	if err == nil {
		t.Fatal("restConfig without any kubeconfig: no error")
	}
	for _, want := range []string{"no kubeconfig found", "$KUBECONFIG (not set)", "~/.kube/config (" + filepath.Join(home, ".kube", "config") + ")", "give --kubeconfig"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "--context") {
		t.Errorf("error %q asks for --context", err)
	}
	absent := filepath.Join(home, "absent")
	t.Setenv("KUBECONFIG", absent)
	if _, _, err := restConfig("", ""); err == nil || !strings.Contains(err.Error(), "$KUBECONFIG ("+absent+")") {
		t.Errorf("restConfig with $KUBECONFIG naming no file = %v, want it named", err)
	}
	o, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Connect(t.Context()); !errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), "no kubeconfig found") {
		t.Errorf("Connect without a kubeconfig = %v, want an invalid-options error (exit 2)", err)
	}
}

// TestNewRejectsBadOptions checks the options before any connection, and
// the kubeconfig when connecting.
func TestNewRejectsBadOptions(t *testing.T) {
	for _, c := range []struct {
		o    Option
		want string
	}{
		{WithIngressURL("203.0.113.7"), "--ingress-url"},
		{WithIngressURL("ftp://x"), "--ingress-url"},
		{WithIngressURL("http://"), "--ingress-url"},
		{WithIngressURL("http://x/path"), "--ingress-url"},
		{WithReadyTimeout(0), "--readiness-timeout 0s"},
		{WithProgrammedTimeout(0), "--programmed-timeout 0s"},
		{WithProgrammedTimeout(31 * time.Minute), "--programmed-timeout 31m0s"},
	} {
		_, err := New(WithKubeconfig(kubeconfig(t, "dev")), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, env.ErrInvalidOptions) {
			t.Errorf("New with %s: err = %v, want an invalid-options error", c.want, err)
		}
	}
	for _, c := range []struct{ path, context string }{{kubeconfig(t, "dev"), "prod"}, {filepath.Join(t.TempDir(), "absent"), ""}} {
		o, err := New(WithKubeconfig(c.path), WithContext(c.context))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Connect(t.Context()); !errors.Is(err, env.ErrInvalidOptions) {
			t.Errorf("Connect with kubeconfig %s, context %q: err = %v, want an invalid-options error", filepath.Base(c.path), c.context, err)
		}
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

// TestImageRegistryOptions: the registry is checked once, conflicts with
// --agent-image, and the dry run names the registry's images (tags: a
// dry run contacts nothing).
func TestImageRegistryOptions(t *testing.T) {
	for _, c := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithImageRegistry("https://reg.example")}, "--image-registry"},
		{[]Option{WithImageRegistry("reg.example"), WithAgentImage("x/agent:v1")}, "--agent-image and --image-registry"},
	} {
		if _, err := New(c.opts...); !errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New: %v, want an invalid-options error naming %s", err, c.want)
		}
	}
	o, err := New(WithImageRegistry("reg.example:5000/mc"))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := scenario.Load("../../scenarios/hello")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := o.DryRun(&out, []*scenario.Scenario{s}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"# images from reg.example:5000/mc", "image: reg.example:5000/mc/fixture:v0.1.0", "image: reg.example:5000/mc/meshcheck:v0.1.0"} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	if strings.Contains(got, "meshcheck.local/") {
		t.Errorf("dry run still names meshcheck.local images:\n%s", got)
	}
}
