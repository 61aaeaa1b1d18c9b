package kind

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/image"
)

func sourceDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func testOptions(t *testing.T) Options {
	return Options{
		StateDir:         t.TempDir(),
		HTTPPort:         0,
		HTTPSPort:        0,
		ReadinessTimeout: time.Minute,
		SourceDir:        sourceDir(t),
	}
}

// pinnedIstioctl is where the pinned release's istioctl is cached for o.
func pinnedIstioctl(o Options) string {
	return filepath.Join(o.StateDir, "istioctl", istio.DefaultVersion, runtime.GOOS+"-"+runtime.GOARCH, "istioctl")
}

// pathWithIstioctl puts an executable istioctl first on PATH, which
// meshcheck must not use.
func pathWithIstioctl(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "istioctl"), []byte("#!/bin/sh\necho stale istioctl on PATH\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// givenIstioctl is an executable file to pass as --istioctl (the fake
// runner plays it).
func givenIstioctl(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "istioctl-1.31")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestPlanDryRunShowsConsistentPortsAndPins(t *testing.T) {
	o := testOptions(t)
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.WriteDryRun(&out); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(out.String(), "---\n")
	if len(docs) != 4 {
		t.Fatalf("%d sections, want 4 (kind config, IstioOperator, istioctl, images):\n%s", len(docs), out.String())
	}
	var kc v1alpha4.Cluster
	if err := yaml.Unmarshal([]byte(docs[0]), &kc); err != nil {
		t.Fatal(err)
	}
	var op struct {
		Spec struct {
			Profile    string
			Components struct {
				IngressGateways []struct {
					K8s struct {
						Service struct {
							Type  string
							Ports []struct {
								Name     string
								NodePort int32 `json:"nodePort"`
							}
						}
					} `json:"k8s"`
				} `json:"ingressGateways"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(docs[1]), &op); err != nil {
		t.Fatal(err)
	}
	nodePorts := map[string]int32{}
	for _, port := range op.Spec.Components.IngressGateways[0].K8s.Service.Ports {
		nodePorts[port.Name] = port.NodePort
	}
	m := kc.Nodes[0].ExtraPortMappings
	if m[0].ContainerPort != nodePorts["http2"] || m[1].ContainerPort != nodePorts["https"] || m[0].ContainerPort == 0 {
		t.Errorf("kind containerPorts %d/%d, IstioOperator nodePorts %v", m[0].ContainerPort, m[1].ContainerPort, nodePorts)
	}
	if kc.Nodes[0].Image != DefaultNodeImage || !strings.Contains(kc.Nodes[0].Image, "@sha256:") {
		t.Errorf("node image %s", kc.Nodes[0].Image)
	}
	kubeconfig := filepath.Join(o.StateDir, "clusters", "meshcheck", "kubeconfig")
	operatorFile := filepath.Join(o.StateDir, "clusters", "meshcheck", "istio-operator.yaml")
	wantCmd := pinnedIstioctl(o) + " install -y -f " + operatorFile + " --kubeconfig " + kubeconfig + " --readiness-timeout 1m0s"
	for _, want := range []string{wantCmd, "# istioctl: " + pinnedIstioctl(o) + " (downloaded from https://github.com/istio/istio/releases/download/1.31.0/istioctl-1.31.0-", "the pinned release, Istio 1.31.0 (istioctl on PATH is not used"} {
		if !strings.Contains(docs[2], want) {
			t.Errorf("istioctl section lacks %q:\n%s", want, docs[2])
		}
	}
	if strings.Contains(docs[2], "version --remote=false") {
		t.Errorf("the pinned release is version-checked:\n%s", docs[2])
	}
	if !strings.Contains(docs[0], "# kubeconfig: "+kubeconfig) {
		t.Errorf("kind section does not name meshcheck's kubeconfig:\n%s", docs[0])
	}
	for _, ref := range []string{"meshcheck.local/fixture:v0.1.0 <- ./fixtures/cmd/fixture", "meshcheck.local/meshcheck:v0.1.0 <- ./cmd/meshcheck"} {
		if !strings.Contains(docs[3], ref) {
			t.Errorf("images section lacks %q:\n%s", ref, docs[3])
		}
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, "clusters")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("planning created files: %v", err)
	}
}

func TestPlanRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Name = "Bad_Name" }, "--name"},
		{func(o *Options) { o.IstioVersion = "latest" }, "--istio-version"},
		{func(o *Options) { o.ReadinessTimeout = 0 }, "--readiness-timeout"},
		{func(o *Options) { o.NodeImage = "kindest/node:v1.34.0" }, "pin it by digest"},
		{func(o *Options) { o.SourceDir = "" }, "--source"},
		{func(o *Options) { o.SourceDir = "/" }, "no go.mod"},
		{func(o *Options) { o.Images = []image.Spec{{Name: "x", Package: "./x", Tag: "latest"}} }, "never :latest"},
		{func(o *Options) { o.HTTPPort, o.HTTPSPort = 18081, 18081 }, "must differ"},
		{func(o *Options) { o.Istioctl = "/does/not/exist" }, "--istioctl"},
		{func(o *Options) { o.AnyIstioctl = true }, "--istioctl-any-version applies to --istioctl"},
	} {
		o := testOptions(t)
		tc.mod(&o)
		if _, err := NewPlan(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

func TestProvisionCallsEveryBoundaryExactly(t *testing.T) {
	pathWithIstioctl(t)
	w := newWorld()
	p, err := NewPlan(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Provision(context.Background(), p, w.deps())
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, w.logs)
	}
	kc := p.Layout.Kubeconfig()
	want := []string{
		"List",
		"Create meshcheck image=" + DefaultNodeImage + " kubeconfig=" + kc + " retain=false",
		"ListInternalNodes meshcheck",
	}
	if !reflect.DeepEqual(w.provider.callList(), want) {
		t.Errorf("kind calls %q, want %q", w.provider.callList(), want)
	}
	if !bytes.Equal(w.provider.created[0].ConfigYAML, p.ConfigYAML) {
		t.Error("kind got a config other than the planned (dry-run) one")
	}
	if !reflect.DeepEqual(w.clientFor, []string{kc}) {
		t.Errorf("clients for %q, want only meshcheck's kubeconfig", w.clientFor)
	}
	imgDir := p.Layout.Images()
	wantBuilt := []string{
		"meshcheck.local/fixture:v0.1.0 linux/arm64 src=" + sourceDir(t) + " out=" + imgDir,
		"meshcheck.local/meshcheck:v0.1.0 linux/arm64 src=" + sourceDir(t) + " out=" + imgDir,
	}
	if !reflect.DeepEqual(w.built, wantBuilt) {
		t.Errorf("built %q, want %q (for the node's platform)", w.built, wantBuilt)
	}
	wantLoaded := []string{imgDir + "/fixture.tar -> meshcheck-control-plane", imgDir + "/meshcheck.tar -> meshcheck-control-plane"}
	if !reflect.DeepEqual(w.loaded, wantLoaded) {
		t.Errorf("loaded %q, want %q", w.loaded, wantLoaded)
	}
	if len(w.istioctl.calls) != 1 {
		t.Fatalf("%d istioctl runs", len(w.istioctl.calls))
	}
	// The pinned release, downloaded and checked, not istioctl on PATH.
	c := w.istioctl.calls[0]
	wantArgs := []string{"install", "-y", "-f", p.Layout.Operator(), "--kubeconfig", kc, "--readiness-timeout", "1m0s"}
	if c.Path != pinnedIstioctl(p.Options) || !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("istioctl %s %q, want %s %q", c.Path, c.Args, pinnedIstioctl(p.Options), wantArgs)
	}
	url := p.Istioctl.URL
	if got := w.release.requestList(); !reflect.DeepEqual(got, []string{url + ".sha256", url}) {
		t.Errorf("release requests %q, want the checksum, then the archive %s", got, url)
	}
	if bin, err := os.ReadFile(pinnedIstioctl(p.Options)); err != nil || !strings.Contains(string(bin), "the pinned istioctl") {
		t.Errorf("cached istioctl %q, %v", bin, err)
	}
	op, err := os.ReadFile(p.Layout.Operator())
	if err != nil || !bytes.Equal(op, p.OperatorYAML) {
		t.Errorf("IstioOperator file %q, %v", op, err)
	}
	if s.HTTPAddr() != "127.0.0.1:"+strconv.Itoa(p.Ports.HTTPHost) || s.Kubeconfig() != kc || !s.Cluster.Created {
		t.Errorf("session %+v http %s", s.Cluster, s.HTTPAddr())
	}
	// run --env kind ends the session: deleted unless kept.
	if err := s.Close(false); err != nil {
		t.Fatal(err)
	}
	if calls := w.provider.callList(); calls[len(calls)-1] != "Delete meshcheck kubeconfig="+kc {
		t.Errorf("Close did not delete: %q", calls)
	}
}

func TestProvisionWithoutEngineTouchesNothing(t *testing.T) {
	w := newWorld()
	w.prober = &fakeProber{err: &NoEngineError{Tried: []string{"docker: the client is installed but `docker info` fails: Cannot connect"}}}
	p, err := NewPlan(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Provision(context.Background(), p, w.deps())
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("error %v", err)
	}
	if len(w.provider.callList()) != 0 || len(w.istioctl.calls) != 0 || len(w.built) != 0 {
		t.Errorf("boundaries used without an engine: kind %q, istioctl %d, built %q", w.provider.callList(), len(w.istioctl.calls), w.built)
	}
}

func TestProvisionCreateFailure(t *testing.T) {
	w := newWorld()
	w.provider.createErr = errors.New("failed to create cluster: command \"docker run\" failed")
	p, err := NewPlan(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Provision(context.Background(), p, w.deps())
	if err == nil || !strings.Contains(err.Error(), `create kind cluster "meshcheck"`) {
		t.Fatalf("error %v", err)
	}
	// kind removed the failed nodes itself (retain=false); meshcheck checks
	// and finds nothing to delete.
	want := []string{"List", "Create meshcheck image=" + DefaultNodeImage + " kubeconfig=" + p.Layout.Kubeconfig() + " retain=false", "List"}
	if !reflect.DeepEqual(w.provider.callList(), want) {
		t.Errorf("calls %q, want %q", w.provider.callList(), want)
	}
}

func TestProvisionIstioctlFailureDeletesCluster(t *testing.T) {
	w := newWorld()
	w.istioctl.err = &istio.ExitError{Code: 1}
	p, err := NewPlan(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Provision(context.Background(), p, w.deps())
	var ee *istio.ExitError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "Istio core installed") {
		t.Fatalf("error %v, want istioctl's exit status and last lines", err)
	}
	calls := w.provider.callList()
	if calls[len(calls)-1] != "Delete meshcheck kubeconfig="+p.Layout.Kubeconfig() {
		t.Errorf("cluster not deleted after failure: %q", calls)
	}
	if _, err := os.Stat(p.Layout.Kubeconfig()); !errors.Is(err, os.ErrNotExist) {
		t.Error("kubeconfig left behind")
	}
}

func TestProvisionKeepOnFailure(t *testing.T) {
	w := newWorld()
	w.istioctl.err = &istio.ExitError{Code: 1}
	o := testOptions(t)
	o.KeepOnFailure = true
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(context.Background(), p, w.deps()); err == nil {
		t.Fatal("no error")
	}
	for _, c := range w.provider.callList() {
		if strings.HasPrefix(c, "Delete") {
			t.Errorf("deleted despite --keep-on-failure: %q", w.provider.callList())
		}
	}
	if !w.provider.created[0].Retain {
		t.Error("kind not told to retain nodes on failure")
	}
	if !strings.Contains(w.logs.String(), "meshcheck down --name meshcheck") {
		t.Errorf("log does not say how to delete the kept cluster:\n%s", w.logs)
	}
}

func TestProvisionInterruptDeletesCluster(t *testing.T) {
	w := newWorld()
	w.istioctl.block = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := w.deps()
	// SIGINT arrives while the images are prepared: Provision's context ends.
	d.NodePlatform = func(nodes.Node) (image.Platform, error) {
		cancel()
		return image.Platform{OS: "linux", Arch: "amd64"}, nil
	}
	p, err := NewPlan(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Provision(ctx, p, d)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	calls := w.provider.callList()
	if calls[len(calls)-1] != "Delete meshcheck kubeconfig="+p.Layout.Kubeconfig() {
		t.Errorf("cluster not deleted after interrupt: %q", calls)
	}
}

func TestSessionKeepAndReuseAreNotDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keep   bool
		reused bool
		failed bool
		keepOF bool
	}{
		{name: "keep", keep: true},
		{name: "keep on failure, failed", keepOF: true, failed: true},
		{name: "reused", reused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeProvider{clusters: []string{"meshcheck"}}
			l := Layout{StateDir: t.TempDir(), Name: "meshcheck"}
			s := &Session{Cluster: &Cluster{Name: "meshcheck", Layout: l, Created: !tc.reused}, provider: f,
				opts: Options{Keep: tc.keep, KeepOnFailure: tc.keepOF}, log: discard()}
			if err := s.Close(tc.failed); err != nil {
				t.Fatal(err)
			}
			if len(f.callList()) != 0 {
				t.Errorf("calls %q, want none", f.callList())
			}
		})
	}
}

// versionArgs is the exact argv of the --istioctl version check.
var versionArgs = []string{"version", "--remote=false", "-o", "json"}

func TestProvisionChecksGivenIstioctlVersion(t *testing.T) {
	pathWithIstioctl(t)
	w := newWorld()
	w.istioctl.versionOut = versionJSON("1.31.4")
	o := testOptions(t)
	o.Istioctl = givenIstioctl(t)
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(context.Background(), p, w.deps()); err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, w.logs)
	}
	calls := w.istioctl.calls
	if len(calls) != 2 || calls[0].Path != o.Istioctl || !reflect.DeepEqual(calls[0].Args, versionArgs) || calls[1].Path != o.Istioctl || calls[1].Args[0] != "install" {
		t.Fatalf("istioctl runs %v, want %s %q, then its install", calls, o.Istioctl, versionArgs)
	}
	if got := w.release.requestList(); len(got) != 0 {
		t.Errorf("the pinned release was downloaded although --istioctl was given: %q", got)
	}
	if !strings.Contains(w.logs.String(), "istioctl version checked") || !strings.Contains(w.logs.String(), "version=1.31.4") {
		t.Errorf("log does not record the version found:\n%s", w.logs)
	}
}

func TestProvisionRefusesIstioctlOfAnotherMinor(t *testing.T) {
	w := newWorld()
	w.istioctl.versionOut = versionJSON("1.30.2")
	o := testOptions(t)
	o.Istioctl = givenIstioctl(t)
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Provision(context.Background(), p, w.deps())
	var ve *istio.VersionError
	if !errors.Is(err, env.ErrInvalidOptions) || !errors.As(err, &ve) {
		t.Fatalf("error %v, want an invalid-options version mismatch", err)
	}
	for _, want := range []string{"--istioctl " + o.Istioctl, "istioctl 1.30.2", "pinned release 1.31.0", "--istioctl-any-version", "drop --istioctl"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Checked first: no engine probed, no cluster, no install.
	if w.prober.calls != 0 || len(w.provider.callList()) != 0 || len(w.istioctl.calls) != 1 || len(w.built) != 0 {
		t.Errorf("went on after the mismatch: probes %d, kind %q, istioctl %v, built %q", w.prober.calls, w.provider.callList(), w.istioctl.calls, w.built)
	}
}

func TestProvisionAnyIstioctlVersionWarns(t *testing.T) {
	w := newWorld()
	w.istioctl.versionOut = versionJSON("1.30.2")
	o := testOptions(t)
	o.Istioctl = givenIstioctl(t)
	o.AnyIstioctl = true
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(context.Background(), p, w.deps()); err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, w.logs)
	}
	if len(w.istioctl.calls) != 2 || w.istioctl.calls[1].Path != o.Istioctl || w.istioctl.calls[1].Args[0] != "install" {
		t.Errorf("istioctl runs %v, want the version check, then the install with %s", w.istioctl.calls, o.Istioctl)
	}
	var warning string
	for _, l := range strings.Split(w.logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			warning = l
		}
	}
	for _, want := range []string{"--istioctl-any-version", "version=1.30.2", "pinned=1.31.0"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q lacks %q; logs:\n%s", warning, want, w.logs)
		}
	}
}

func TestProvisionUnreadableIstioctlVersion(t *testing.T) {
	w := newWorld()
	w.istioctl.versionOut = "client version: 1.31.0\n"
	o := testOptions(t)
	o.Istioctl = givenIstioctl(t)
	o.AnyIstioctl = true // accepts another version, not an unreadable one
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Provision(context.Background(), p, w.deps())
	if !errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), "--istioctl "+o.Istioctl) || !strings.Contains(err.Error(), "printed no JSON") {
		t.Fatalf("error %v, want an invalid-options error naming --istioctl and the output", err)
	}
	if w.prober.calls != 0 || len(w.istioctl.calls) != 1 {
		t.Errorf("went on: probes %d, istioctl %v", w.prober.calls, w.istioctl.calls)
	}
}

func TestPlanDryRunShowsTheVersionCheck(t *testing.T) {
	for _, anyVersion := range []bool{false, true} {
		o := testOptions(t)
		o.Istioctl = givenIstioctl(t)
		o.AnyIstioctl = anyVersion
		p, err := NewPlan(o)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := p.WriteDryRun(&out); err != nil {
			t.Fatal(err)
		}
		want := []string{"# istioctl: " + o.Istioctl + " (from --istioctl)", "# first, its version: " + o.Istioctl + " version --remote=false -o json", "Istio 1.31.x", "# " + o.Istioctl + " install -y -f "}
		if anyVersion {
			want = append(want, "only warned about (--istioctl-any-version)")
		} else {
			want = append(want, "else meshcheck stops (--istioctl-any-version: warn instead)")
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("any-version %v: dry run lacks %q:\n%s", anyVersion, w, out.String())
			}
		}
	}
}
