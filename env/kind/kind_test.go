package kind

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/meshcheck/meshcheck/env/istio"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

var testPorts = Ports{HTTPHost: 8080, HTTPSHost: 8443, HTTPNode: 30080, HTTPSNode: 30443}

func TestDefaultNodeImageIsKindsPinnedDefault(t *testing.T) {
	if DefaultNodeImage != defaults.Image {
		t.Errorf("DefaultNodeImage %s, kind v0.30.0 default %s", DefaultNodeImage, defaults.Image)
	}
	if !strings.Contains(DefaultNodeImage, "@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a") {
		t.Errorf("node image not pinned by the expected digest: %s", DefaultNodeImage)
	}
}

func TestConfigYAMLMapsGatewayNodePorts(t *testing.T) {
	b, err := ConfigYAML(clusterConfig("meshcheck", DefaultNodeImage, testPorts))
	if err != nil {
		t.Fatal(err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("config does not read back as v1alpha4: %v\n%s", err, b)
	}
	// kind's own parser (pkg/internal/apis/config/encoding.Parse, used by
	// CreateWithRawConfig) decodes with go.yaml.in/yaml/v3, known fields only.
	var strict v1alpha4.Cluster
	dec := yamlv3.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&strict); err != nil {
		t.Fatalf("kind's strict decoding rejects the config: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(strict, c) {
		t.Errorf("kind would read %+v, want %+v", strict, c)
	}
	if c.APIVersion != "kind.x-k8s.io/v1alpha4" || c.Kind != "Cluster" || c.Name != "meshcheck" {
		t.Errorf("header %s %s %s", c.APIVersion, c.Kind, c.Name)
	}
	if len(c.Nodes) != 1 || c.Nodes[0].Role != v1alpha4.ControlPlaneRole || c.Nodes[0].Image != DefaultNodeImage {
		t.Fatalf("nodes %+v", c.Nodes)
	}
	want := []v1alpha4.PortMapping{
		{ContainerPort: 30080, HostPort: 8080, ListenAddress: "127.0.0.1", Protocol: "TCP"},
		{ContainerPort: 30443, HostPort: 8443, ListenAddress: "127.0.0.1", Protocol: "TCP"},
	}
	if !reflect.DeepEqual(c.Nodes[0].ExtraPortMappings, want) {
		t.Errorf("port mappings %+v, want %+v", c.Nodes[0].ExtraPortMappings, want)
	}
	// kind's local registry guide's patch: containerd reads hosts.toml.
	patch := "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\""
	if !slices.Equal(c.ContainerdConfigPatches, []string{patch}) {
		t.Errorf("containerd config patches %q, want %q", c.ContainerdConfigPatches, patch)
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"meshcheck", "ci-1.2"} {
		if err := validateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Mesh", "a_b", strings.Repeat("a", 51), "..", ".", "-x", "a/b"} {
		if err := validateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzValidateName checks that every accepted --name keeps meshcheck's files
// inside <state>/clusters/<name>.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"meshcheck", "..", "a..b", "ci-1.2", "x/../..", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if validateName(name) != nil {
			return
		}
		l := Layout{StateDir: "/state", Name: name}
		if l.Validate() != nil {
			t.Fatalf("%q: validateName accepts, Layout.Validate rejects", name)
		}
		if filepath.Dir(l.Kubeconfig()) != filepath.Join("/state", "clusters", name) || filepath.Dir(filepath.Dir(l.Kubeconfig())) != "/state/clusters" {
			t.Fatalf("%q: kubeconfig %s escapes /state/clusters", name, l.Kubeconfig())
		}
	})
}

func TestPickPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	if _, err := pickPort("--http-port", busyPort, DefaultHTTPPort); err == nil || !strings.Contains(err.Error(), "--http-port "+strconv.Itoa(busyPort)+": 127.0.0.1:"+strconv.Itoa(busyPort)+" is in use") {
		t.Errorf("busy explicit port: %v", err)
	}
	got, err := pickPort("--http-port", 0, busyPort)
	if err != nil || got == busyPort || got == 0 {
		t.Errorf("preferred port busy: got %d, %v; want another free port", got, err)
	}
	if _, err := pickPort("--http-port", 70000, DefaultHTTPPort); err == nil {
		t.Error("port 70000 accepted")
	}
}

func TestFindSourceDir(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FindSourceDir(".")
	if err != nil || got != root {
		t.Errorf("FindSourceDir(.) = %s, %v; want %s", got, err, root)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindSourceDir(other); err == nil || !strings.Contains(err.Error(), "--source") {
		t.Errorf("another module accepted: %v", err)
	}
}

func TestLayoutKeepsFilesOutOfKubeDir(t *testing.T) {
	l := Layout{StateDir: "/home/u/.cache/meshcheck", Name: "meshcheck"}
	if l.Kubeconfig() != "/home/u/.cache/meshcheck/clusters/meshcheck/kubeconfig" {
		t.Errorf("kubeconfig %s", l.Kubeconfig())
	}
	if err := (Layout{StateDir: "relative", Name: "meshcheck"}).Validate(); err == nil {
		t.Error("relative state dir accepted")
	}
}

func TestProbeNoEngineWithFakes(t *testing.T) {
	var ran []string
	p := &CommandProber{
		Getenv: func(string) string { return "" },
		LookPath: func(f string) (string, error) {
			if f == "docker" {
				return "/usr/bin/docker", nil
			}
			return "", errors.New("not found")
		},
		Run: func(_ context.Context, name string, args ...string) (string, error) {
			ran = append(ran, name+" "+strings.Join(args, " "))
			return "Client: Docker Engine\nCannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n", errors.New("exit status 1")
		},
	}
	_, err := p.Probe(context.Background())
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("error %v, want ErrNoEngine", err)
	}
	if !reflect.DeepEqual(ran, []string{"docker info"}) {
		t.Errorf("ran %q, want [docker info]", ran)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	for _, want := range []string{"docker: the client is installed but `docker info` fails: Cannot connect to the Docker daemon", "nerdctl: not on PATH", "podman: not on PATH", "--env local", "--env existing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
}

func TestProbeFindsEngineAndHonoursKindProvider(t *testing.T) {
	var ran []string
	p := &CommandProber{
		Getenv:   func(string) string { return "" },
		LookPath: func(f string) (string, error) { return "/usr/bin/" + f, nil },
		Run: func(_ context.Context, name string, args ...string) (string, error) {
			ran = append(ran, name+" "+strings.Join(args, " "))
			return "", nil
		},
	}
	e, err := p.Probe(context.Background())
	if err != nil || e != (Engine{Name: "docker", Binary: "docker"}) || len(ran) != 1 {
		t.Fatalf("engine %+v, %v, ran %q", e, err, ran)
	}
	p.Getenv = func(k string) string {
		if k == "KIND_EXPERIMENTAL_PROVIDER" {
			return "finch"
		}
		return ""
	}
	ran = nil
	e, err = p.Probe(context.Background())
	if err != nil || e != (Engine{Name: "nerdctl", Binary: "finch"}) || !reflect.DeepEqual(ran, []string{"finch info"}) {
		t.Fatalf("engine %+v, %v, ran %q", e, err, ran)
	}
	p.Getenv = func(string) string { return "lxc" }
	if _, err := p.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "KIND_EXPERIMENTAL_PROVIDER") {
		t.Errorf("unknown provider: %v", err)
	}
}

// TestProbeForReal runs the real probe. On machines without a container
// engine (like the ones meshcheck is developed on: the docker client exists,
// no engine) it must report ErrNoEngine in one line.
func TestProbeForReal(t *testing.T) {
	e, err := (&CommandProber{Timeout: 20 * time.Second}).Probe(context.Background())
	if err == nil {
		t.Skipf("a container engine answers here (%s); the no-engine path is covered by TestProbeNoEngineWithFakes", e.Name)
	}
	if !errors.Is(err, ErrNoEngine) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q, want one line wrapping ErrNoEngine", err)
	}
}

func TestKindProviderRefusesEmptyKubeconfig(t *testing.T) {
	p, err := NewProvider(Engine{Name: "docker", Binary: "docker"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Create("x", CreateOptions{}); err == nil || !strings.Contains(err.Error(), "no kubeconfig path") {
		t.Errorf("Create without kubeconfig: %v", err)
	}
	if err := p.Delete("x", ""); err == nil {
		t.Error("Delete without kubeconfig accepted")
	}
	if err := p.ExportKubeConfig("x", ""); err == nil {
		t.Error("ExportKubeConfig without path accepted")
	}
	if _, err := NewProvider(Engine{Name: "lxc"}, discard()); err == nil {
		t.Error("unknown engine accepted")
	}
}

func spec(t *testing.T) clusterSpec {
	t.Helper()
	l := Layout{StateDir: t.TempDir(), Name: "meshcheck"}
	cfg, err := ConfigYAML(clusterConfig("meshcheck", DefaultNodeImage, testPorts))
	if err != nil {
		t.Fatal(err)
	}
	return clusterSpec{Name: "meshcheck", NodeImage: DefaultNodeImage, Layout: l, Ports: testPorts, ConfigYAML: cfg}
}

func TestCreateCallsKindExactly(t *testing.T) {
	s := spec(t)
	f := &fakeProvider{}
	c, err := createOrReuse(context.Background(), f, s, discard())
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(s.Layout.StateDir, "clusters", "meshcheck", "kubeconfig")
	want := []string{"List", "Create meshcheck image=" + DefaultNodeImage + " kubeconfig=" + kc + " retain=false"}
	if !reflect.DeepEqual(f.callList(), want) {
		t.Errorf("calls %q, want %q", f.callList(), want)
	}
	if !bytes.Equal(f.created[0].ConfigYAML, s.ConfigYAML) {
		t.Errorf("kind got config\n%s\nwant\n%s", f.created[0].ConfigYAML, s.ConfigYAML)
	}
	if !c.Created || c.Kubeconfig() != kc {
		t.Errorf("cluster %+v", c)
	}
	fi, err := os.Stat(kc)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	st, err := loadState(s.Layout)
	if err != nil || st.Ports != testPorts {
		t.Errorf("state %+v, %v", st, err)
	}
}

func TestCreateRefusesExistingWithoutReuse(t *testing.T) {
	s := spec(t)
	f := &fakeProvider{clusters: []string{"meshcheck"}}
	_, err := createOrReuse(context.Background(), f, s, discard())
	if !errors.Is(err, ErrClusterExists) || !strings.Contains(err.Error(), "--reuse") || !strings.Contains(err.Error(), "meshcheck down --name meshcheck") {
		t.Fatalf("error %v", err)
	}
	if !reflect.DeepEqual(f.callList(), []string{"List"}) {
		t.Errorf("calls %q, want only List", f.callList())
	}
}

func TestReuseExportsKubeconfigAndKeepsPorts(t *testing.T) {
	s := spec(t)
	if err := os.MkdirAll(s.Layout.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	old := Ports{HTTPHost: 9090, HTTPSHost: 9443, HTTPNode: 30080, HTTPSNode: 30443}
	if err := saveState(s.Layout, State{Name: "meshcheck", NodeImage: DefaultNodeImage, Ports: old}); err != nil {
		t.Fatal(err)
	}
	s.Reuse = true
	f := &fakeProvider{clusters: []string{"meshcheck"}}
	c, err := createOrReuse(context.Background(), f, s, discard())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"List", "ExportKubeConfig meshcheck " + s.Layout.Kubeconfig()}
	if !reflect.DeepEqual(f.callList(), want) {
		t.Errorf("calls %q, want %q", f.callList(), want)
	}
	if c.Created || c.Ports != old {
		t.Errorf("reused cluster %+v", c)
	}
	fi, _ := os.Stat(s.Layout.Kubeconfig())
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", fi.Mode().Perm())
	}
}

func TestReuseOfForeignClusterFails(t *testing.T) {
	s := spec(t)
	s.Reuse = true
	f := &fakeProvider{clusters: []string{"meshcheck"}}
	_, err := createOrReuse(context.Background(), f, s, discard())
	if err == nil || !strings.Contains(err.Error(), "port mappings are unknown") {
		t.Fatalf("error %v", err)
	}
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       *fakeProvider
		calls   []string
		existed bool
		wantErr bool
	}{
		{"exists", &fakeProvider{clusters: []string{"meshcheck"}}, []string{"List", "Delete meshcheck kubeconfig=KC"}, true, false},
		{"unknown cluster counts as deleted", &fakeProvider{}, []string{"List"}, false, false},
		{"vanished despite error", &fakeProvider{clusters: []string{"meshcheck"}, deleteErr: errors.New("unknown cluster"), vanishOnFail: true}, []string{"List", "Delete meshcheck kubeconfig=KC", "List"}, true, false},
		{"delete fails", &fakeProvider{clusters: []string{"meshcheck"}, deleteErr: errors.New("docker rm: permission denied")}, []string{"List", "Delete meshcheck kubeconfig=KC", "List"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Layout{StateDir: t.TempDir(), Name: "meshcheck"}
			if err := os.MkdirAll(l.Dir(), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{l.Kubeconfig(), l.State(), l.Operator()} {
				if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			existed, err := Delete(tc.f, l, discard())
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, wantErr %t", err, tc.wantErr)
			}
			if existed != tc.existed {
				t.Errorf("existed %t, want %t", existed, tc.existed)
			}
			var want []string
			for _, c := range tc.calls {
				want = append(want, strings.ReplaceAll(c, "KC", l.Kubeconfig()))
			}
			if !reflect.DeepEqual(tc.f.callList(), want) {
				t.Errorf("calls %q, want %q", tc.f.callList(), want)
			}
			_, statErr := os.Stat(l.Kubeconfig())
			if !tc.wantErr && !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("kubeconfig still there after delete")
			}
		})
	}
}

func TestOperatorAndKindConfigAgree(t *testing.T) {
	op, err := istio.OperatorYAML(testPorts.Gateway())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(op), "nodePort: 30080") || !strings.Contains(string(op), "nodePort: 30443") {
		t.Errorf("IstioOperator lacks the mapped nodePorts:\n%s", op)
	}
}
