package apiservertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv is the environment variable naming the folder with kube-apiserver
// and etcd; it overrides the repository's cache folder.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// CacheDir is where `make apiserver-bins` puts the binaries, relative to the
// repository root.
const CacheDir = ".cache/apiserver/bin"

// ServiceCIDR is the range the server allocates Service cluster IPs from.
const ServiceCIDR = "10.96.0.0/16"

// istioCRDFile is the path of Istio's CRDs inside the istio.io/api module.
const istioCRDFile = "kubernetes/customresourcedefinitions.gen.yaml"

// Server is a running kube-apiserver with Istio's CRDs installed.
type Server struct {
	// Config reaches the server as a cluster admin.
	Config *rest.Config
	// Kube is a typed client on Config.
	Kube kubernetes.Interface
	// Dynamic is a dynamic client on Config.
	Dynamic dynamic.Interface
	// Kubeconfig is a kubeconfig file (mode 0600, in a temporary folder
	// removed with the server) whose current context "envtest" reaches the
	// server as a cluster admin.
	Kubeconfig string

	env *envtest.Environment
	dir string
}

// Start starts a fresh kube-apiserver and etcd, installs Istio's CRDs and
// registers their shutdown with t.Cleanup. It fails the test when the
// binaries or the CRDs cannot be found or the server does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return s
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	err error
}

// Shared returns the test binary's shared server, starting it on first use;
// tests that share it keep apart by using their own namespaces and scenario
// names. A package that calls Shared stops the server from TestMain with
// StopShared. It fails the test like Start.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start()
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// StopShared stops the shared server if Shared started it; call it from
// TestMain after m.Run.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		return nil
	}
	err := shared.srv.stop()
	shared.srv = nil
	return err
}

// start starts kube-apiserver and etcd with Istio's CRDs.
func start() (*Server, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	crds, err := IstioCRDs()
	if err != nil {
		return nil, err
	}
	noExisting := false
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{crds},
		ErrorIfCRDPathMissing: true,
		// Never point the tests at a real cluster, whatever
		// USE_EXISTING_CLUSTER says.
		UseExistingCluster: &noExisting,
	}
	// envtest's default Service range, 10.0.0.0/24, holds 254 Services; the
	// control-plane tier's batched corpus needs thousands.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", ServiceCIDR)
	cfg, err := env.Start()
	if err != nil {
		// Start may have launched etcd before failing.
		_ = env.Stop()
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", assets, err)
	}
	s := &Server{Config: cfg, env: env}
	fail := func(err error) (*Server, error) {
		return nil, errors.Join(err, s.stop())
	}
	if s.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fail(fmt.Errorf("typed client: %w", err))
	}
	if s.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return fail(fmt.Errorf("dynamic client: %w", err))
	}
	if s.dir, err = os.MkdirTemp("", "apiservertest-"); err != nil {
		return fail(fmt.Errorf("kubeconfig folder: %w", err))
	}
	s.Kubeconfig = filepath.Join(s.dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, env.KubeConfig, 0o600); err != nil {
		return fail(fmt.Errorf("write kubeconfig: %w", err))
	}
	return s, nil
}

// stop stops the server and removes its kubeconfig.
func (s *Server) stop() error {
	var errs []error
	if err := s.env.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stop kube-apiserver and etcd: %w", err))
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove kubeconfig: %w", err))
		}
	}
	return errors.Join(errs...)
}

// AssetsDir returns the folder holding kube-apiserver and etcd:
// $KUBEBUILDER_ASSETS when set, else the repository's .cache/apiserver/bin.
// The error says how to build them when either is missing.
func AssetsDir() (string, error) {
	dir := os.Getenv(AssetsEnv)
	source := "$" + AssetsEnv
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, CacheDir)
		source = "the repository cache"
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		info, err := os.Stat(filepath.Join(dir, bin))
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("no executable %s in %s (%s): run `make apiserver-bins` to build kube-apiserver and etcd for the API-server test tier", bin, dir, source)
		}
	}
	return dir, nil
}

var (
	crdOnce sync.Once
	crdPath string
	crdErr  error
)

// IstioCRDs returns the path of Istio's CRD file in the istio.io/api module
// that go.mod pins, downloading the module into the module cache if needed.
func IstioCRDs() (string, error) {
	crdOnce.Do(func() { crdPath, crdErr = findIstioCRDs() })
	return crdPath, crdErr
}

func findIstioCRDs() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find Istio CRDs: the go command is not on PATH: %w", err)
	}
	// `go mod download -json <module>` resolves the version from go.mod and
	// prints the module's folder in the cache.
	cmd := exec.Command(goBin, "mod", "download", "-json", "istio.io/api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("find Istio CRDs: go mod download istio.io/api: %w: %s", err, strings.TrimSpace(string(exit.Stderr)))
		}
		return "", fmt.Errorf("find Istio CRDs: go mod download istio.io/api: %w", err)
	}
	var mod struct {
		Version string
		Dir     string
		Error   string
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("find Istio CRDs: read go mod download output: %w", err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("find Istio CRDs: go mod download istio.io/api: %s", mod.Error)
	}
	path := filepath.Join(mod.Dir, filepath.FromSlash(istioCRDFile))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("find Istio CRDs: istio.io/api %s has no %s: %w", mod.Version, istioCRDFile, err)
	}
	return path, nil
}

// RepoRoot walks up from the working directory (a test's package folder) to
// the folder whose go.mod declares the meshcheck module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && moduleLine(data) == "module github.com/meshcheck/meshcheck" {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find the repository root: no go.mod of module github.com/meshcheck/meshcheck above %s", dir)
		}
	}
}

// moduleLine returns the go.mod line that declares the module.
func moduleLine(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "module ") {
			return line
		}
	}
	return ""
}
