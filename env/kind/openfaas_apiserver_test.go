//go:build apiserver

package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/openfaas"
	"github.com/meshcheck/meshcheck/fixtures"
	"github.com/meshcheck/meshcheck/image"
	"github.com/meshcheck/meshcheck/internal/charttest"
	"github.com/meshcheck/meshcheck/scenario"
)

// openfaasJournal records, in order, the chart download, the port-forwards
// to the gateway and the gateway API calls.
type openfaasJournal struct {
	mu     sync.Mutex
	events []string
}

func (j *openfaasJournal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *openfaasJournal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.events
	j.events = nil
	return out
}

// chartTransport serves the chart archive at its repository URL and sends
// every other request (istioctl's release) to next.
type chartTransport struct {
	j    *openfaasJournal
	url  string
	data []byte
	next http.RoundTripper
}

func (c chartTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.String(), "https://charts.example/") {
		return c.next.RoundTrip(r)
	}
	c.j.add("download " + r.URL.String())
	if r.URL.String() != c.url {
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(c.data)), Request: r}, nil
}

// forwardTo sends each port-forward to the address of its namespace,
// recording it.
type forwardTo struct {
	j     *openfaasJournal
	addrs map[string]string
}

func (f forwardTo) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	f.j.add(fmt.Sprintf("forward %s:%s:%d", ns, strings.Split(pod, "-")[0], port))
	addr, ok := f.addrs[ns]
	if !ok {
		return nil, fmt.Errorf("no port-forward to namespace %s here", ns)
	}
	return kube.NewTunnel(addr, ns+"/"+pod, func() {}), nil
}

// TestOpenFaaSScenarioOnKind: on kind, the first scenario with backend
// openfaas, whose Functions run meshcheck's fixture image, starts the
// in-cluster registry (its objects applied, its fixed ClusterIP honoured,
// hosts.toml written on the node) and pushes the image to it through a
// port-forward, then installs OpenFaaS (chart downloaded, digest-checked,
// rendered and applied; its gateway ready) before its namespaces are set
// up; its Functions then go to the gateway API in order with the
// registry's reference, which a stand-in for faas-netes CE checks as
// isAnonymous does (an anonymous HEAD, 400 otherwise). A second scenario
// neither pushes nor installs again; both phases are timed.
func TestOpenFaaSScenarioOnKind(t *testing.T) {
	w, srv := apiserverWorld(t)
	ctx := t.Context()
	j := &openfaasJournal{}
	data, digest := charttest.Archive(t)
	pin := openfaas.Pin{Name: "openfaas", Repository: "https://charts.example/", Version: charttest.Version, Digest: digest}
	const ip = "10.96.0.123" // not DefaultRegistryIP: the field is honoured

	// The registry pod: `fixture registry`, recording manifest pushes.
	registryHandler := fixtures.Registry()
	reg := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			j.add("registry PUT " + r.URL.Path)
		}
		registryHandler.ServeHTTP(rw, r)
	}))
	defer reg.Close()
	regAddr := reg.Listener.Addr().String()

	// The stand-in accepts the password the chart's hook generated, as the
	// real gateway reads it from the Secret, and refuses an image whose
	// manifest an anonymous HEAD cannot read, as faas-netes CE does
	// (pkg/handlers/validate.go isAnonymous); the registry's ClusterIP is
	// the test registry's address here.
	gw := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sec, err := srv.Kube.CoreV1().Secrets(openfaas.Namespace).Get(r.Context(), openfaas.BasicAuthSecret, metav1.GetOptions{})
		if _, p, ok := r.BasicAuth(); err != nil || !ok || p != string(sec.Data["basic-auth-password"]) {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req struct {
			Service string `json:"service"`
			Image   string `json:"image"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Image != "" {
			j.add("gateway " + r.Method + " " + r.URL.Path + " " + req.Service + " " + req.Image)
			ref, err := name.ParseReference(strings.Replace(req.Image, registryHost(ip), regAddr, 1))
			if err == nil {
				_, err = remote.Head(ref, remote.WithAuth(authn.Anonymous), remote.WithContext(r.Context()))
			}
			if err != nil {
				http.Error(rw, "the Community Edition license agreement only allows public images", http.StatusBadRequest)
				return
			}
		} else {
			j.add("gateway " + r.Method + " " + r.URL.Path + " " + req.Service)
		}
		switch r.Method {
		case http.MethodGet:
			_ = json.NewEncoder(rw).Encode(map[string]any{"availableReplicas": 1})
		default:
			rw.WriteHeader(http.StatusAccepted)
		}
	}))
	defer gw.Close()

	d := w.realDeps()
	d.HTTPClient = &http.Client{Transport: chartTransport{j: j, url: pin.URL(), data: data, next: d.HTTPClient.Transport}}
	// Real image tarballs, for the push.
	d.BuildImage = func(_ context.Context, s image.Spec, p image.Platform, _, out string) (image.Built, error) {
		img, err := random.Image(512, 1)
		if err != nil {
			return image.Built{}, err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return image.Built{}, err
		}
		tarball := filepath.Join(out, s.Name+".tar")
		return image.Built{Spec: s, Platform: p, Tarball: tarball}, image.WriteTarball(tarball, s, img)
	}
	d.WriteNodeFile = func(n nodes.Node, path string, data []byte) error {
		if string(data) != string(hostsTOML(ip)) {
			t.Errorf("node %s: %s written with\n%s\nwant\n%s", n, path, data, hostsTOML(ip))
		}
		j.add("node " + n.String() + " write " + path)
		return nil
	}
	cache := t.TempDir()
	testOpts := func(c *config) {
		c.openfaas.Pin, c.openfaas.CacheDir = pin, cache
		c.registryIP = ip
		c.existing = append(c.existing,
			existing.WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })),
			existing.WithForwarder(forwardTo{j: j, addrs: map[string]string{openfaas.Namespace: gw.Listener.Addr().String(), RegistryNamespace: regAddr}}),
			existing.WithPollInterval(20*time.Millisecond))
	}
	e, err := open(t, d, WithStateDir(t.TempDir()), WithReadyTimeout(30*time.Second), WithKeep(true), WithLogger(discard()), testOpts)
	if err != nil {
		t.Fatalf("Open: %v\nlogs:\n%s", err, w.logs)
	}
	s, _, err := scenario.Load("../kube/testdata/openfaas")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Setup(ctx, s); err != nil {
		t.Fatalf("Setup = %v", err)
	}
	if err := e.Apply(ctx, s, 0); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	fn := registryHost(ip) + "/fixture:v0.1.0"
	want := []string{
		"node meshcheck-control-plane write /etc/containerd/certs.d/" + registryHost(ip) + "/hosts.toml",
		"forward meshcheck-registry:registry:5000",
		"registry PUT /v2/fixture/manifests/v0.1.0",
		"download " + pin.URL(),
		"forward openfaas:gateway:8080",
		"gateway GET /system/function/hello-v1 ", "gateway PUT /system/functions hello-v1 " + fn,
		"gateway GET /system/function/hello-v2 ", "gateway PUT /system/functions hello-v2 " + fn,
		"gateway GET /system/function/hello-v1 ", "gateway GET /system/function/hello-v2 ",
	}
	if got := j.take(); !slices.Equal(got, want) {
		t.Errorf("boundaries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The registry's objects, as the API server has them.
	svc, err := srv.Kube.CoreV1().Services(RegistryNamespace).Get(ctx, "registry", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != ip || svc.Spec.Ports[0].Port != RegistryPort || svc.Labels[kube.LabelScenario] != registryLabel {
		t.Errorf("registry Service: %v, %+v", err, svc)
	}
	regNS, err := srv.Kube.CoreV1().Namespaces().Get(ctx, RegistryNamespace, metav1.GetOptions{})
	if err != nil || regNS.Labels[kube.LabelInjection] != "disabled" || regNS.Labels[kube.LabelManagedBy] != kube.ManagedBy {
		t.Errorf("registry namespace: %v, labels %v", err, regNS.Labels)
	}
	if dep, err := srv.Kube.AppsV1().Deployments(RegistryNamespace).Get(ctx, "registry", metav1.GetOptions{}); err != nil || dep.Spec.Template.Spec.Containers[0].Image != "meshcheck.local/fixture:v0.1.0" || dep.Status.ReadyReplicas != 1 {
		t.Errorf("registry Deployment: %v, %+v", err, dep)
	}
	for _, ns := range []string{openfaas.Namespace, openfaas.FunctionNamespace} {
		got, err := srv.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil || got.Labels[kube.LabelInjection] != "enabled" || got.Labels[kube.LabelScenario] != openfaas.InstallLabel {
			t.Errorf("namespace %s: %v, labels %v", ns, err, got.Labels)
		}
	}
	if _, err := srv.Kube.AppsV1().Deployments(openfaas.Namespace).Get(ctx, openfaas.GatewayDeployment, metav1.GetOptions{}); err != nil {
		t.Errorf("gateway Deployment: %v", err)
	}
	var phases []string
	for _, tm := range e.Timings() {
		phases = append(phases, tm.Phase)
	}
	if i := slices.Index(phases, phaseRegistry); i < 0 || !slices.Contains(phases[i+1:], phaseOpenFaaS) {
		t.Errorf("phases %v lack %s, then %s", phases, phaseRegistry, phaseOpenFaaS)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := j.take(), []string{"gateway DELETE /system/functions ", "gateway DELETE /system/functions "}; !slices.Equal(got, want) {
		t.Errorf("teardown boundaries %q, want %q", got, want)
	}

	// The next scenario with the backend installs nothing again.
	s2 := *s
	s2.Metadata.Name = "fnsplit-again"
	if err := e.Setup(ctx, &s2); err != nil {
		t.Fatal(err)
	}
	if got := j.take(); !slices.Equal(got, []string{"forward openfaas:gateway:8080"}) {
		t.Errorf("second Setup boundaries %q, want only the port-forward to the gateway", got)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
}
