package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	kindconfig "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/image"
)

// upExec runs meshcheck in-process with the given kind boundaries and
// returns the exit code, stdout, the one-line error main would print, and
// the log (stderr).
func upExec(t *testing.T, deps func(*slog.Logger) kind.Deps, args ...string) (code int, stdout, errLine, logs string) {
	t.Helper()
	saved := upKindDeps
	upKindDeps = deps
	defer func() { upKindDeps = saved }()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		errLine = err.Error()
	}
	return exitCode(err), out.String(), errLine, errOut.String()
}

// upFakeProber stands for the container engine probe.
type upFakeProber struct {
	err   error
	calls int
}

func (p *upFakeProber) Probe(context.Context) (kind.Engine, error) {
	p.calls++
	if p.err != nil {
		return kind.Engine{}, p.err
	}
	return kind.Engine{Name: "docker", Binary: "docker"}, nil
}

// upFakeProvider stands for kind over a container engine.
type upFakeProvider struct {
	clusters  []string
	calls     []string
	createErr error
}

func (f *upFakeProvider) List() ([]string, error) {
	f.calls = append(f.calls, "List")
	return slices.Clone(f.clusters), nil
}

func (f *upFakeProvider) Create(name string, o kind.CreateOptions) error {
	f.calls = append(f.calls, fmt.Sprintf("Create %s image=%s kubeconfig=%s retain=%t", name, o.NodeImage, o.KubeconfigPath, o.Retain))
	if f.createErr != nil {
		return f.createErr
	}
	f.clusters = append(f.clusters, name)
	return os.WriteFile(o.KubeconfigPath, []byte("apiVersion: v1\nkind: Config\n"), 0o600)
}

func (f *upFakeProvider) Delete(name, kubeconfig string) error {
	f.calls = append(f.calls, "Delete "+name+" kubeconfig="+kubeconfig)
	f.clusters = slices.DeleteFunc(f.clusters, func(c string) bool { return c == name })
	return nil
}

func (f *upFakeProvider) ExportKubeConfig(name, path string) error {
	f.calls = append(f.calls, "ExportKubeConfig "+name+" "+path)
	return os.WriteFile(path, []byte("apiVersion: v1\nkind: Config\n"), 0o600)
}

func (f *upFakeProvider) ListInternalNodes(name string) ([]nodes.Node, error) {
	f.calls = append(f.calls, "ListInternalNodes "+name)
	return []nodes.Node{upFakeNode(name + "-control-plane")}, nil
}

type upFakeNode string

func (n upFakeNode) String() string                         { return string(n) }
func (n upFakeNode) Role() (string, error)                  { return "control-plane", nil }
func (n upFakeNode) IP() (string, string, error)            { return "", "", nil }
func (n upFakeNode) SerialLogs(io.Writer) error             { return nil }
func (n upFakeNode) Command(string, ...string) kindexec.Cmd { panic("no node commands in these tests") }
func (n upFakeNode) CommandContext(context.Context, string, ...string) kindexec.Cmd {
	panic("no node commands in these tests")
}

// upFakeIstioctl plays istioctl: `version` reports version (in the JSON
// of `istioctl version --remote=false -o json`), install prints its last
// line and returns err.
type upFakeIstioctl struct {
	calls   []istio.Cmd
	version string
	err     error
}

func (r *upFakeIstioctl) Run(_ context.Context, c istio.Cmd) error {
	r.calls = append(r.calls, c)
	if len(c.Args) > 0 && c.Args[0] == "version" {
		fmt.Fprintf(c.Stdout, "{\n  \"clientVersion\": {\n    \"version\": %q,\n    \"revision\": \"eed52ebb66ad\",\n    \"status\": \"Clean\"\n  }\n}\n", r.version)
		return nil
	}
	fmt.Fprintln(c.Stdout, "✔ Installation complete")
	return r.err
}

// noDownloads fails every HTTP request: these tests never fetch istioctl.
type noDownloads struct{}

func (noDownloads) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("test: no download of %s", r.URL)
}

// seedPinnedIstioctl puts the pinned release's istioctl into the cache
// under the --kubeconfig-dir dir, so that `up` finds it there, and
// returns its path.
func seedPinnedIstioctl(t *testing.T, dir string) string {
	t.Helper()
	exe := filepath.Join(dir, "istioctl", istio.DefaultVersion, goruntime.GOOS+"-"+goruntime.GOARCH, "istioctl")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// fakeIstioctlFile is an executable to pass as --istioctl; the fake runner
// plays it.
func fakeIstioctlFile(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "istioctl")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// upFakes is every boundary of `up` and `down`, faked.
type upFakes struct {
	prober   *upFakeProber
	provider *upFakeProvider
	istioctl *upFakeIstioctl
	client   kubernetes.Interface
}

func newUpFakes() *upFakes {
	one := int32(1)
	objs := []runtime.Object{
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "meshcheck-control-plane"},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: istio.Namespace}},
	}
	// istiod and the gateway: rolled out, available, one ready pod each.
	for _, name := range []string{istio.IstiodDeployment, istio.GatewayDeployment} {
		sel := map[string]string{"app": name}
		objs = append(objs, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istio.Namespace, Generation: 1},
			Spec:       appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}},
		}, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: istio.Namespace, Labels: sel},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	return &upFakes{
		prober:   &upFakeProber{},
		provider: &upFakeProvider{},
		istioctl: &upFakeIstioctl{version: istio.DefaultVersion},
		client:   fake.NewClientset(objs...),
	}
}

func (f *upFakes) deps(log *slog.Logger) kind.Deps {
	return kind.Deps{
		Prober:      f.prober,
		NewProvider: func(kind.Engine, *slog.Logger) (kind.Provider, error) { return f.provider, nil },
		NewClient:   func(string) (kubernetes.Interface, error) { return f.client, nil },
		Runner:      f.istioctl,
		HTTPClient:  &http.Client{Transport: noDownloads{}},
		BuildImage: func(_ context.Context, s image.Spec, p image.Platform, _, out string) (image.Built, error) {
			return image.Built{Spec: s, Platform: p, Tarball: filepath.Join(out, s.Name+".tar"), Digest: "sha256:0123"}, nil
		},
		LoadImage:    func([]nodes.Node, string) error { return nil },
		NodePlatform: func(nodes.Node) (image.Platform, error) { return image.Platform{OS: "linux", Arch: "amd64"}, nil },
		Log:          log,
	}
}

func TestUpDryRunShowsPlanWithoutEngine(t *testing.T) {
	f := newUpFakes()
	dir := t.TempDir()
	code, out, errLine, _ := upExec(t, f.deps, "up", "--dry-run", "--kubeconfig-dir", dir)
	if code != ExitPass {
		t.Fatalf("exit %d: %s", code, errLine)
	}
	if f.prober.calls != 0 || len(f.provider.calls) != 0 || len(f.istioctl.calls) != 0 {
		t.Errorf("--dry-run used a boundary: probe %d, kind %q, istioctl %d", f.prober.calls, f.provider.calls, len(f.istioctl.calls))
	}
	docs := strings.Split(out, "---\n")
	if len(docs) != 4 {
		t.Fatalf("%d sections, want kind config, IstioOperator, istioctl, images:\n%s", len(docs), out)
	}
	var kc kindconfig.Cluster
	if err := yaml.Unmarshal([]byte(docs[0]), &kc); err != nil {
		t.Fatal(err)
	}
	var op struct {
		Spec struct {
			Components struct {
				IngressGateways []struct {
					K8s struct {
						Service struct{ Ports []corev1.ServicePort }
					} `json:"k8s"`
				} `json:"ingressGateways"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(docs[1]), &op); err != nil {
		t.Fatal(err)
	}
	var http2 int32
	for _, p := range op.Spec.Components.IngressGateways[0].K8s.Service.Ports {
		if p.Name == "http2" {
			http2 = p.NodePort
		}
	}
	if got := kc.Nodes[0].ExtraPortMappings[0].ContainerPort; got == 0 || got != http2 {
		t.Errorf("kind containerPort %d, IstioOperator http2 nodePort %d: must be equal", got, http2)
	}
	if !strings.Contains(kc.Nodes[0].Image, "kindest/node:v1.34.0@sha256:") {
		t.Errorf("node image not pinned by digest: %s", kc.Nodes[0].Image)
	}
	kubeconfig := filepath.Join(dir, "clusters", "meshcheck", "kubeconfig")
	if !strings.Contains(docs[2], "istioctl install -y -f "+filepath.Join(dir, "clusters", "meshcheck", "istio-operator.yaml")) {
		t.Errorf("no istioctl install -y -f <file> line:\n%s", docs[2])
	}
	if !strings.Contains(docs[2], "--kubeconfig "+kubeconfig) || !strings.Contains(docs[0], "# kubeconfig: "+kubeconfig) {
		t.Errorf("meshcheck's kubeconfig %s not shown:\n%s", kubeconfig, out)
	}
	if home, err := os.UserHomeDir(); err == nil && strings.Contains(out, filepath.Join(home, ".kube", "config")+" ") {
		t.Errorf("plan uses ~/.kube/config:\n%s", out)
	}
	if !strings.Contains(docs[3], "meshcheck.local/fixture:v0.1.0") || !strings.Contains(docs[3], "meshcheck.local/meshcheck:v0.1.0") {
		t.Errorf("images not listed:\n%s", docs[3])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run created %d entries in %s", len(entries), dir)
	}
}

func TestUpWithoutEngineExitsFour(t *testing.T) {
	f := newUpFakes()
	f.prober.err = &kind.NoEngineError{Tried: []string{"docker: the client is installed but `docker info` fails: Cannot connect to the Docker daemon"}}
	code, _, errLine, _ := upExec(t, f.deps, "up", "--kubeconfig-dir", t.TempDir())
	if code != ExitEnvironment {
		t.Fatalf("exit %d, want 4: %s", code, errLine)
	}
	if strings.Contains(errLine, "\n") || !strings.Contains(errLine, "--env local") || !strings.Contains(errLine, "--env existing") || !strings.Contains(errLine, "docker") {
		t.Errorf("error is not one line naming the problem and the alternatives: %q", errLine)
	}
	if len(f.provider.calls) != 0 {
		t.Errorf("kind called without an engine: %q", f.provider.calls)
	}
}

// TestUpWithoutEngineForReal runs `meshcheck up` with the real boundaries.
// Where no container engine answers (meshcheck's development machines: the
// docker client is installed, no engine runs) it must exit 4 with one line.
func TestUpWithoutEngineForReal(t *testing.T) {
	if e, err := (&kind.CommandProber{}).Probe(context.Background()); err == nil {
		t.Skipf("a container engine answers here (%s): `up` would create a real cluster", e.Name)
	}
	dir := t.TempDir()
	code, out, errLine, _ := upExec(t, kind.DefaultDeps, "up", "--kubeconfig-dir", dir)
	if code != ExitEnvironment || out != "" {
		t.Fatalf("exit %d, stdout %q, error %q; want 4", code, out, errLine)
	}
	if !strings.HasPrefix(errLine, "no container engine answers") || strings.Contains(errLine, "\n") ||
		!strings.Contains(errLine, "--env local") || !strings.Contains(errLine, "--env existing") {
		t.Errorf("error %q", errLine)
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("files created without an engine: %v", err)
	}
	code, _, errLine, _ = upExec(t, kind.DefaultDeps, "down", "--kubeconfig-dir", dir)
	if code != ExitEnvironment || !strings.Contains(errLine, "--env local") {
		t.Errorf("down: exit %d, %q", code, errLine)
	}
}

func TestUpProvisionsAndPrintsHowToReachIt(t *testing.T) {
	f := newUpFakes()
	dir := t.TempDir()
	pinned := seedPinnedIstioctl(t, dir)
	code, out, errLine, logs := upExec(t, f.deps, "up", "--kubeconfig-dir", dir, "--readiness-timeout", "2m")
	if code != ExitPass {
		t.Fatalf("exit %d: %s\n%s", code, errLine, logs)
	}
	kubeconfig := filepath.Join(dir, "clusters", "meshcheck", "kubeconfig")
	for _, want := range []string{`kind cluster "meshcheck" is ready`, "kubeconfig     " + kubeconfig, "ingress http   http://127.0.0.1:", "image          meshcheck.local/fixture:v0.1.0 (linux/amd64, sha256:0123)", "meshcheck down --name meshcheck"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	wantArgs := []string{"install", "-y", "-f", filepath.Join(dir, "clusters", "meshcheck", "istio-operator.yaml"), "--kubeconfig", kubeconfig, "--readiness-timeout", "2m0s"}
	if len(f.istioctl.calls) != 1 || f.istioctl.calls[0].Path != pinned || !slices.Equal(f.istioctl.calls[0].Args, wantArgs) {
		t.Errorf("istioctl calls %v, want one of the pinned %s with %q", f.istioctl.calls, pinned, wantArgs)
	}
	if !strings.Contains(out, "istioctl       "+pinned+" (cached release)") {
		t.Errorf("stdout does not name the pinned istioctl %s:\n%s", pinned, out)
	}
	if !strings.Contains(logs, "Installation complete") {
		t.Errorf("istioctl output not in the log:\n%s", logs)
	}
	// A second up without --reuse refuses; with --reuse it adopts the cluster.
	code, _, errLine, _ = upExec(t, f.deps, "up", "--kubeconfig-dir", dir)
	if code != ExitEnvironment || !strings.Contains(errLine, "--reuse") {
		t.Errorf("second up: exit %d, %q", code, errLine)
	}
	code, _, errLine, _ = upExec(t, f.deps, "up", "--kubeconfig-dir", dir, "--reuse")
	if code != ExitPass {
		t.Errorf("up --reuse: exit %d, %q", code, errLine)
	}
	// down deletes with the same kubeconfig path; a second down finds nothing.
	code, out, errLine, _ = upExec(t, f.deps, "down", "--kubeconfig-dir", dir)
	if code != ExitPass || !strings.Contains(out, `kind cluster "meshcheck" deleted`) {
		t.Errorf("down: exit %d, %q, %q", code, out, errLine)
	}
	if last := f.provider.calls[len(f.provider.calls)-1]; last != "Delete meshcheck kubeconfig="+kubeconfig {
		t.Errorf("last kind call %q", last)
	}
	code, out, _, _ = upExec(t, f.deps, "down", "--kubeconfig-dir", dir)
	if code != ExitPass || !strings.Contains(out, "does not exist") {
		t.Errorf("second down: exit %d, %q", code, out)
	}
}

func TestUpFailureDeletesClusterAndExitsFour(t *testing.T) {
	f := newUpFakes()
	f.istioctl.err = &istio.ExitError{Code: 1}
	dir := t.TempDir()
	seedPinnedIstioctl(t, dir)
	code, _, errLine, _ := upExec(t, f.deps, "up", "--kubeconfig-dir", dir)
	if code != ExitEnvironment || !strings.Contains(errLine, "istioctl install failed: exit status 1") {
		t.Fatalf("exit %d, %q", code, errLine)
	}
	if last := f.provider.calls[len(f.provider.calls)-1]; !strings.HasPrefix(last, "Delete meshcheck") {
		t.Errorf("cluster not deleted after failure: %q", f.provider.calls)
	}
}

func TestUpUsageErrors(t *testing.T) {
	f := newUpFakes()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--name", "Bad_Name"}, "--name"},
		{[]string{"up", "--readiness-timeout", "0s"}, "--readiness-timeout"},
		{[]string{"up", "--istio-version", "latest"}, "--istio-version"},
		{[]string{"up", "--http-port", "70000"}, "--http-port"},
		{[]string{"up", "--istioctl", "/does/not/exist"}, "--istioctl"},
		{[]string{"up", "--istioctl-any-version"}, "--istioctl-any-version applies to --istioctl"},
		{[]string{"up", "--source", "/"}, "--source"},
		{[]string{"up", "extra-arg"}, "unknown command"},
		{[]string{"down", "--name", "Bad_Name"}, "--name"},
	} {
		args := append(tc.args, "--kubeconfig-dir", t.TempDir())
		code, _, errLine, _ := upExec(t, f.deps, args...)
		if code != ExitUsage || !strings.Contains(errLine, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", tc.args, code, errLine, tc.want)
		}
	}
	if f.prober.calls != 0 {
		t.Errorf("usage errors probed the engine %d times", f.prober.calls)
	}
}

func TestDownDryRun(t *testing.T) {
	f := newUpFakes()
	dir := t.TempDir()
	code, out, _, _ := upExec(t, f.deps, "down", "--dry-run", "--kubeconfig-dir", dir)
	if code != ExitPass || !strings.Contains(out, `would delete kind cluster "meshcheck"`) || f.prober.calls != 0 {
		t.Errorf("exit %d, %q, probes %d", code, out, f.prober.calls)
	}
}

// TestUpChecksIstioctlVersion: --istioctl is asked for its version first
// (the exact argv), another minor version than the pinned release is a
// usage error before any engine is probed, and --istioctl-any-version
// turns it into a warning.
func TestUpChecksIstioctlVersion(t *testing.T) {
	istioctl := fakeIstioctlFile(t)
	versionArgs := []string{"version", "--remote=false", "-o", "json"}

	f := newUpFakes()
	f.istioctl.version = "1.30.2"
	code, _, errLine, _ := upExec(t, f.deps, "up", "--kubeconfig-dir", t.TempDir(), "--istioctl", istioctl)
	if code != ExitUsage {
		t.Fatalf("another minor: exit %d, %q; want 2", code, errLine)
	}
	for _, want := range []string{"--istioctl " + istioctl + " is istioctl 1.30.2", "Istio 1.31.x", "pinned release 1.31.0", "drop --istioctl", "--istioctl-any-version"} {
		if !strings.Contains(errLine, want) {
			t.Errorf("error lacks %q: %s", want, errLine)
		}
	}
	if len(f.istioctl.calls) != 1 || f.istioctl.calls[0].Path != istioctl || !slices.Equal(f.istioctl.calls[0].Args, versionArgs) || f.prober.calls != 0 || len(f.provider.calls) != 0 {
		t.Errorf("istioctl %v, probes %d, kind %q; want only %s %q", f.istioctl.calls, f.prober.calls, f.provider.calls, istioctl, versionArgs)
	}

	f = newUpFakes()
	f.istioctl.version = "1.30.2"
	code, _, errLine, logs := upExec(t, f.deps, "up", "--kubeconfig-dir", t.TempDir(), "--istioctl", istioctl, "--istioctl-any-version")
	if code != ExitPass {
		t.Fatalf("--istioctl-any-version: exit %d, %q\n%s", code, errLine, logs)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "version=1.30.2") {
		t.Errorf("no warning naming the version:\n%s", logs)
	}
	if len(f.istioctl.calls) != 2 || f.istioctl.calls[1].Path != istioctl || f.istioctl.calls[1].Args[0] != "install" {
		t.Errorf("istioctl calls %v, want the check, then the install with %s", f.istioctl.calls, istioctl)
	}

	f = newUpFakes()
	f.istioctl.version = "1.31.2"
	code, out, errLine, _ := upExec(t, f.deps, "up", "--kubeconfig-dir", t.TempDir(), "--istioctl", istioctl)
	if code != ExitPass || !strings.Contains(out, "istioctl       "+istioctl+" (from --istioctl)") {
		t.Errorf("same minor: exit %d, %q\n%s", code, errLine, out)
	}
}

// TestKindDryRunShowsTheIstioctlCheck: up and run --env kind print which
// istioctl they would use and its version check, running nothing;
// --istioctl-any-version is a kind flag.
func TestKindDryRunShowsTheIstioctlCheck(t *testing.T) {
	istioctl := fakeIstioctlFile(t)
	f := newUpFakes()
	code, out, errLine, _ := upExec(t, f.deps, "up", "--dry-run", "--kubeconfig-dir", t.TempDir(), "--istioctl", istioctl)
	check := "# first, its version: " + istioctl + " version --remote=false -o json\n"
	if code != ExitPass || !strings.Contains(out, "# istioctl: "+istioctl+" (from --istioctl)\n") || !strings.Contains(out, check) || !strings.Contains(out, "else meshcheck stops") {
		t.Errorf("up --dry-run: exit %d, %q\n%s", code, errLine, out)
	}
	if len(f.istioctl.calls) != 0 {
		t.Errorf("--dry-run ran istioctl: %v", f.istioctl.calls)
	}
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--env", "kind", "--dry-run", "--kubeconfig-dir", t.TempDir(), "--istioctl", istioctl, "--istioctl-any-version")
	if code != ExitPass || !strings.Contains(out, check) || !strings.Contains(out, "only warned about (--istioctl-any-version)") {
		t.Errorf("run --env kind --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runExec(t, "run", "../../scenarios/echo", "--istioctl-any-version")
	if code != ExitUsage || !strings.Contains(errOut, "--istioctl-any-version is for --env kind") {
		t.Errorf("run --env local --istioctl-any-version: exit %d, %q", code, errOut)
	}
}
