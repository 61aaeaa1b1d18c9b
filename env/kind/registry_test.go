package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kind/pkg/exec"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/image"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestCEReadsTheRegistryOverHTTP: faas-netes CE parses a function's image
// with name.ParseReference and no options (pkg/handlers/validate.go
// isAnonymous); go-containerregistry then talks plain HTTP to the
// registry's ClusterIP, an RFC 1918 address, as it must to reach our
// registry, which serves no TLS.
func TestCEReadsTheRegistryOverHTTP(t *testing.T) {
	refs := functionImages(DefaultRegistryIP, image.Defaults())
	want := map[string]string{
		"meshcheck.local/fixture:v0.1.0":   "10.96.0.200:5000/fixture:v0.1.0",
		"meshcheck.local/meshcheck:v0.1.0": "10.96.0.200:5000/meshcheck:v0.1.0",
	}
	if fmt.Sprint(refs) != fmt.Sprint(want) {
		t.Errorf("functionImages = %v, want %v", refs, want)
	}
	for _, r := range refs {
		ref, err := name.ParseReference(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.Context().Registry.Scheme(); got != "http" {
			t.Errorf("%s: scheme %s, want http", r, got)
		}
	}
	if err := validateRegistryIP(DefaultRegistryIP); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "registry", "10.97.0.1", "192.168.1.10", "fd00:10:96::200"} {
		if err := validateRegistryIP(bad); err == nil || !strings.Contains(err.Error(), "10.96.0.0/16") {
			t.Errorf("validateRegistryIP(%q) = %v, want an error naming kind's service subnet", bad, err)
		}
	}
}

// TestRegistryObjects: the registry runs `fixture registry` on port 5000
// from the loaded fixture image, locked down like meshcheck's other pods,
// behind a Service at the fixed ClusterIP, in a namespace without sidecar
// injection.
func TestRegistryObjects(t *testing.T) {
	objs, err := registryObjects("10.96.0.77", "meshcheck.local/fixture:v0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	var ns corev1.Namespace
	var svc corev1.Service
	var dep appsv1.Deployment
	for i, into := range []any{&ns, &svc, &dep} {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[i].Object, into); err != nil {
			t.Fatal(err)
		}
	}
	if ns.Name != RegistryNamespace || ns.Labels[kube.LabelInjection] != "disabled" {
		t.Errorf("namespace %s labels %v, want %s with injection disabled", ns.Name, ns.Labels, RegistryNamespace)
	}
	if svc.Namespace != RegistryNamespace || svc.Spec.ClusterIP != "10.96.0.77" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 5000 || svc.Spec.Ports[0].TargetPort.IntValue() != 5000 || svc.Spec.Selector["app"] != "registry" {
		t.Errorf("service %+v", svc.Spec)
	}
	pod := dep.Spec.Template.Spec
	if dep.Namespace != RegistryNamespace || len(pod.Containers) != 1 || dep.Spec.Template.Labels["app"] != "registry" {
		t.Fatalf("deployment %+v", dep)
	}
	c := pod.Containers[0]
	if c.Image != "meshcheck.local/fixture:v0.1.0" || c.ImagePullPolicy != corev1.PullIfNotPresent || !slices.Equal(c.Args, []string{"registry", "--listen", ":5000"}) {
		t.Errorf("container image %s pull %s args %q", c.Image, c.ImagePullPolicy, c.Args)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/v2/" || p.HTTPGet.Port.IntValue() != 5000 {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || *sc.Privileged || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v", sc)
	}
	if psc := pod.SecurityContext; psc == nil || !*psc.RunAsNonRoot || *psc.RunAsUser != 65532 || *pod.AutomountServiceAccountToken {
		t.Errorf("pod security context %+v, token %v", psc, pod.AutomountServiceAccountToken)
	}
	if _, err := registryObjects(DefaultRegistryIP, ""); err == nil || !strings.Contains(err.Error(), `no "fixture" image`) {
		t.Errorf("registryObjects without the fixture image = %v", err)
	}
}

// TestHostsTOML: containerd on the nodes pulls from the registry over
// plain HTTP (containerd docs/hosts.md), configured at the path its
// config_path names.
func TestHostsTOML(t *testing.T) {
	want := `# meshcheck's in-cluster registry (--env kind): plain HTTP
server = "http://10.96.0.200:5000"

[host."http://10.96.0.200:5000"]
  capabilities = ["pull", "resolve"]
`
	if got := string(hostsTOML(DefaultRegistryIP)); got != want {
		t.Errorf("hosts.toml:\n%s\nwant:\n%s", got, want)
	}
	if got := hostsTOMLPath(DefaultRegistryIP); got != "/etc/containerd/certs.d/10.96.0.200:5000/hosts.toml" {
		t.Errorf("hosts.toml path %s", got)
	}
}

// recordingNode is a node whose commands are recorded with their exact
// arguments and standard input; the command whose argv starts with failOn
// fails.
type recordingNode struct {
	name   string
	runs   *[]string
	failOn string
}

func (n recordingNode) String() string              { return n.name }
func (n recordingNode) Role() (string, error)       { return "control-plane", nil }
func (n recordingNode) IP() (string, string, error) { return "", "", nil }
func (n recordingNode) SerialLogs(io.Writer) error  { return nil }
func (n recordingNode) Command(c string, args ...string) exec.Cmd {
	return &recordingCmd{n: n, argv: append([]string{c}, args...)}
}
func (n recordingNode) CommandContext(_ context.Context, c string, args ...string) exec.Cmd {
	return n.Command(c, args...)
}

type recordingCmd struct {
	n      recordingNode
	argv   []string
	stdin  io.Reader
	stderr io.Writer
}

func (c *recordingCmd) Run() error {
	line := c.n.name + ": " + strings.Join(c.argv, " ")
	if c.stdin != nil {
		b, _ := io.ReadAll(c.stdin)
		line += " <<" + string(b)
	}
	*c.n.runs = append(*c.n.runs, line)
	if c.n.failOn != "" && strings.HasPrefix(strings.Join(c.argv, " "), c.n.failOn) {
		if c.stderr != nil {
			io.WriteString(c.stderr, "cp: read-only file system\n")
		}
		return errors.New("exit status 1")
	}
	return nil
}
func (c *recordingCmd) SetEnv(...string) exec.Cmd      { return c }
func (c *recordingCmd) SetStdin(r io.Reader) exec.Cmd  { c.stdin = r; return c }
func (c *recordingCmd) SetStdout(io.Writer) exec.Cmd   { return c }
func (c *recordingCmd) SetStderr(w io.Writer) exec.Cmd { c.stderr = w; return c }

// TestWriteNodeFile: the file is written with the node's own commands, as
// kind's local registry guide writes hosts.toml: mkdir -p, then cp
// /dev/stdin with the content on standard input; a failing command is an
// error naming the node, the file and what the node said.
func TestWriteNodeFile(t *testing.T) {
	var runs []string
	n := recordingNode{name: "meshcheck-control-plane", runs: &runs}
	p := hostsTOMLPath(DefaultRegistryIP)
	if err := writeNodeFile(n, p, []byte("server = \"x\"\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"meshcheck-control-plane: mkdir -p /etc/containerd/certs.d/10.96.0.200:5000",
		"meshcheck-control-plane: cp /dev/stdin /etc/containerd/certs.d/10.96.0.200:5000/hosts.toml <<server = \"x\"\n",
	}
	if !slices.Equal(runs, want) {
		t.Errorf("node commands:\n%q\nwant:\n%q", runs, want)
	}
	runs = nil
	n.failOn = "cp"
	err := writeNodeFile(n, p, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "node meshcheck-control-plane: write "+p) || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("failing cp: %v", err)
	}
}

// TestDryRunShowsTheRegistry: a scenario whose Functions run meshcheck's
// fixture image shows the registry (namespace, Service address, the
// fixture command), the hosts.toml on the node, the push and the Functions
// with the registry's reference, while containers keep the loaded image.
func TestDryRunShowsTheRegistry(t *testing.T) {
	k, err := New(WithName("ci-3"), WithStateDir(t.TempDir()), WithSourceDir(sourceDir(t)), WithDeps(Deps{}))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := k.DryRun(&out, []*scenario.Scenario{loadOpenFaaS(t)}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"# namespace meshcheck-registry (no sidecar injection), Service meshcheck-registry/registry at 10.96.0.200:5000, pod running `fixture registry --listen :5000` (image meshcheck.local/fixture:v0.1.0)\n",
		"  clusterIP: 10.96.0.200\n",
		`# then, on every node (ci-3-control-plane), containerd pulls 10.96.0.200:5000 over plain HTTP: /etc/containerd/certs.d/10.96.0.200:5000/hosts.toml
#   (node commands: mkdir -p /etc/containerd/certs.d/10.96.0.200:5000; cp /dev/stdin /etc/containerd/certs.d/10.96.0.200:5000/hosts.toml)
#   # meshcheck's in-cluster registry (--env kind): plain HTTP
#   server = "http://10.96.0.200:5000"
#
#   [host."http://10.96.0.200:5000"]
#     capabilities = ["pull", "resolve"]
# then, through a port-forward to the registry pod, the images the Functions name are pushed (each once per cluster):
#   meshcheck.local/fixture:v0.1.0 -> 10.96.0.200:5000/fixture:v0.1.0
# and the Functions are deployed with those references`,
		"function hello-v1 in namespace openfaas-fn: image 10.96.0.200:5000/fixture:v0.1.0, labels app=hello,version=v1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks\n%s\nin:\n%s", want, got)
		}
	}
	if strings.Contains(got, "meshcheck.local/meshcheck:v0.1.0 -> ") {
		t.Errorf("dry run pushes the agent image no Function names:\n%s", got)
	}
	// Functions with public images need no registry.
	out.Reset()
	if err := k.DryRun(&out, []*scenario.Scenario{withFunctionImage(t, loadOpenFaaS(t), "ghcr.io/example/fixture")}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "in-cluster registry") || strings.Contains(out.String(), "10.96.0.200") {
		t.Errorf("dry run of Functions with public images shows the registry:\n%s", out.String())
	}
}

// loadOpenFaaS is env/kube's OpenFaaS scenario: Functions hello-v1 and
// hello-v2 running meshcheck.local/fixture:v0.1.0.
func loadOpenFaaS(t testing.TB) *scenario.Scenario {
	t.Helper()
	s, _, err := scenario.Load("../kube/testdata/openfaas")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withFunctionImage returns s with meshcheck's fixture image, as its
// manifests name it, moved to the repository repo.
func withFunctionImage(t testing.TB, s *scenario.Scenario, repo string) *scenario.Scenario {
	t.Helper()
	out := *s
	out.Steps = slices.Clone(s.Steps)
	for i := range out.Steps {
		out.Steps[i].Apply = slices.Clone(out.Steps[i].Apply)
		for j := range out.Steps[i].Apply {
			m := &out.Steps[i].Apply[j]
			m.Objects = slices.Clone(m.Objects)
			for k := range m.Objects {
				m.Objects[k].Raw = bytes.ReplaceAll(m.Objects[k].Raw, []byte("meshcheck.local/fixture"), []byte(repo))
			}
		}
	}
	return &out
}
