package kind

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/exec"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/image"
)

// fakeProvider is a kind provider over an imaginary container engine. It
// records every call with its exact arguments.
type fakeProvider struct {
	mu       sync.Mutex
	clusters []string
	calls    []string
	created  []CreateOptions

	listErr      error
	createErr    error             // Create fails (kind deletes the nodes unless Retain)
	deleteErr    error             // Delete fails
	vanishOnFail bool              // ... but the cluster is gone anyway ("unknown cluster")
	kubeconfigs  map[string][]byte // what Create and ExportKubeConfig write per cluster; a bare Config when absent
}

func (f *fakeProvider) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeProvider) List() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("List")
	if f.listErr != nil {
		return nil, f.listErr
	}
	return slices.Clone(f.clusters), nil
}

func (f *fakeProvider) Create(name string, o CreateOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Create %s image=%s kubeconfig=%s retain=%t", name, o.NodeImage, o.KubeconfigPath, o.Retain)
	f.created = append(f.created, o)
	if f.createErr != nil {
		if o.Retain {
			f.clusters = append(f.clusters, name)
		}
		return f.createErr
	}
	f.clusters = append(f.clusters, name)
	// kind writes the kubeconfig; 0644 here proves meshcheck tightens it.
	return os.WriteFile(o.KubeconfigPath, f.kubeconfig(name), 0o644)
}

func (f *fakeProvider) Delete(name, kubeconfigPath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Delete %s kubeconfig=%s", name, kubeconfigPath)
	if f.deleteErr != nil {
		if f.vanishOnFail {
			f.clusters = slices.DeleteFunc(f.clusters, func(c string) bool { return c == name })
		}
		return f.deleteErr
	}
	f.clusters = slices.DeleteFunc(f.clusters, func(c string) bool { return c == name })
	return nil
}

func (f *fakeProvider) ExportKubeConfig(name, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ExportKubeConfig %s %s", name, path)
	return os.WriteFile(path, f.kubeconfig(name), 0o644)
}

func (f *fakeProvider) kubeconfig(name string) []byte {
	if b, ok := f.kubeconfigs[name]; ok {
		return b
	}
	return []byte("apiVersion: v1\nkind: Config\n")
}

func (f *fakeProvider) ListInternalNodes(name string) ([]nodes.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ListInternalNodes %s", name)
	return []nodes.Node{fakeNode(name + "-control-plane")}, nil
}

func (f *fakeProvider) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeNode is a node name; its commands are never run by these tests
// (image loading is faked at the Deps level and tested in package image).
type fakeNode string

func (n fakeNode) String() string                     { return string(n) }
func (n fakeNode) Role() (string, error)              { return "control-plane", nil }
func (n fakeNode) IP() (string, string, error)        { return "", "", nil }
func (n fakeNode) SerialLogs(io.Writer) error         { return nil }
func (n fakeNode) Command(string, ...string) exec.Cmd { panic("fakeNode runs no commands") }
func (n fakeNode) CommandContext(context.Context, string, ...string) exec.Cmd {
	panic("fakeNode runs no commands")
}

// fakeProber answers with a fixed engine or error.
type fakeProber struct {
	engine Engine
	err    error
	calls  int
}

func (p *fakeProber) Probe(context.Context) (Engine, error) {
	p.calls++
	return p.engine, p.err
}

// fakeIstioctl records istioctl runs and plays istioctl: `version` prints
// versionOut, any other command (install) prints a progress line and
// returns err.
type fakeIstioctl struct {
	mu         sync.Mutex
	calls      []istio.Cmd
	versionOut string // stdout of `istioctl version`; versionJSON(istio.DefaultVersion) when empty
	err        error
	block      bool
}

// versionJSON is the shape of `istioctl version --remote=false -o json`
// (istio/istio pkg/version/cobra.go) for a client of version v.
func versionJSON(v string) string {
	return `{
  "clientVersion": {
    "version": "` + v + `",
    "revision": "eed52ebb66ad",
    "golang_version": "go1.26.0",
    "status": "Clean",
    "tag": "` + v + `"
  }
}
`
}

func (r *fakeIstioctl) Run(ctx context.Context, c istio.Cmd) error {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if len(c.Args) > 0 && c.Args[0] == "version" {
		out := r.versionOut
		if out == "" {
			out = versionJSON(istio.DefaultVersion)
		}
		fmt.Fprint(c.Stdout, out)
		return nil
	}
	fmt.Fprintln(c.Stdout, "✔ Istio core installed")
	if r.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return r.err
}

func readyNode(name string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	reason := "KubeletNotReady"
	if ready {
		status, reason = corev1.ConditionTrue, "KubeletReady"
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason}}},
	}
}

// availableDeployment is the Deployment name in istio-system, rolled out
// and available, with one ready pod: ready by kube.WaitDeployments.
func availableDeployment(name string) []runtime.Object {
	one := int32(1)
	sel := map[string]string{"app": name}
	return []runtime.Object{
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istio.Namespace, Generation: 1},
			Spec:       appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: istio.Namespace, Labels: sel},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		},
	}
}

// istioCluster is a ready node, istio-system and available istiod and
// ingress gateway Deployments.
func istioCluster() []runtime.Object {
	objs := []runtime.Object{readyNode("meshcheck-control-plane", true), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: istio.Namespace}}}
	objs = append(objs, availableDeployment(istio.IstiodDeployment)...)
	return append(objs, availableDeployment(istio.GatewayDeployment)...)
}

// fakeRelease serves the pinned istioctl release, an archive and its
// .sha256 at the addresses Istio publishes them (istio.Downloader.URL), from
// memory, and records the URLs asked for.
type fakeRelease struct {
	mu       sync.Mutex
	files    map[string][]byte
	requests []string
}

func newFakeRelease() *fakeRelease {
	platform := istio.Platform{OS: goruntime.GOOS, Arch: goruntime.GOARCH}
	url, err := (&istio.Downloader{}).URL(istio.DefaultVersion, platform)
	if err != nil {
		panic(err) // the tests run on a platform Istio releases istioctl for
	}
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	bin := []byte("#!/bin/sh\necho the pinned istioctl\n")
	if err := tw.WriteHeader(&tar.Header{Name: "istioctl", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		panic(err)
	}
	tw.Write(bin)
	tw.Close()
	zw.Close()
	sum := fmt.Sprintf("%x  %s\n", sha256.Sum256(archive.Bytes()), path.Base(url))
	return &fakeRelease{files: map[string][]byte{url: archive.Bytes(), url + ".sha256": []byte(sum)}}
}

// RoundTrip implements http.RoundTripper.
func (f *fakeRelease) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.String())
	f.mu.Unlock()
	b, ok := f.files[r.URL.String()]
	if !ok {
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
}

func (f *fakeRelease) requestList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// world is a full set of fakes for Provision.
type world struct {
	prober    *fakeProber
	provider  *fakeProvider
	istioctl  *fakeIstioctl
	release   *fakeRelease
	client    kubernetes.Interface
	built     []string
	loaded    []string
	logs      *bytes.Buffer
	clientFor []string
}

func newWorld() *world {
	return &world{
		prober:   &fakeProber{engine: Engine{Name: "docker", Binary: "docker"}},
		provider: &fakeProvider{},
		istioctl: &fakeIstioctl{},
		release:  newFakeRelease(),
		client:   fake.NewClientset(istioCluster()...),
		logs:     &bytes.Buffer{},
	}
}

func (w *world) deps() Deps {
	return Deps{
		Prober: w.prober,
		NewProvider: func(e Engine, _ *slog.Logger) (Provider, error) {
			if e.Name != "docker" {
				return nil, errors.New("unexpected engine " + e.Name)
			}
			return w.provider, nil
		},
		NewClient: func(kubeconfig string) (kubernetes.Interface, error) {
			w.clientFor = append(w.clientFor, kubeconfig)
			return w.client, nil
		},
		Runner:     w.istioctl,
		HTTPClient: &http.Client{Transport: w.release},
		BuildImage: func(_ context.Context, s image.Spec, p image.Platform, src, out string) (image.Built, error) {
			w.built = append(w.built, fmt.Sprintf("%s %s src=%s out=%s", s.Ref(), p, src, out))
			return image.Built{Spec: s, Platform: p, Tarball: out + "/" + s.Name + ".tar"}, nil
		},
		LoadImage: func(ns []nodes.Node, tarball string) error {
			var names []string
			for _, n := range ns {
				names = append(names, n.String())
			}
			w.loaded = append(w.loaded, tarball+" -> "+strings.Join(names, ","))
			return nil
		},
		NodePlatform: func(nodes.Node) (image.Platform, error) { return image.Platform{OS: "linux", Arch: "arm64"}, nil },
		Log:          slog.New(slog.NewTextHandler(w.logs, nil)),
	}
}
