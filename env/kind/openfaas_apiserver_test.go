//go:build apiserver

package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/openfaas"
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

// forwardTo sends every port-forward to addr, recording it.
type forwardTo struct {
	j    *openfaasJournal
	addr string
}

func (f forwardTo) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	f.j.add("forward " + ns + ":" + strings.Split(pod, "-")[0])
	return kube.NewTunnel(f.addr, ns+"/"+pod, func() {}), nil
}

// TestOpenFaaSScenarioOnKind: on kind, the first scenario with backend
// openfaas installs OpenFaaS (chart downloaded, digest-checked, rendered
// and applied; its gateway ready) before its namespaces are set up, its
// Functions then go to the gateway API in order, a second scenario does
// not install again, and the install is timed.
func TestOpenFaaSScenarioOnKind(t *testing.T) {
	w, srv := apiserverWorld(t)
	ctx := t.Context()
	j := &openfaasJournal{}
	data, digest := charttest.Archive(t)
	pin := openfaas.Pin{Name: "openfaas", Repository: "https://charts.example/", Version: charttest.Version, Digest: digest}

	// The stand-in accepts the password the chart's hook generated, as the
	// real gateway reads it from the Secret.
	gw := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sec, err := srv.Kube.CoreV1().Secrets(openfaas.Namespace).Get(r.Context(), openfaas.BasicAuthSecret, metav1.GetOptions{})
		if _, p, ok := r.BasicAuth(); err != nil || !ok || p != string(sec.Data["basic-auth-password"]) {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req struct {
			Service string `json:"service"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		j.add("gateway " + r.Method + " " + r.URL.Path + " " + req.Service)
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
	cache := t.TempDir()
	testOpts := func(c *config) {
		c.openfaas.Pin, c.openfaas.CacheDir = pin, cache
		c.existing = append(c.existing,
			existing.WithPropagator(kube.PropagatorFunc(func(context.Context, kube.Phase, []kube.Ref) error { return nil })),
			existing.WithForwarder(forwardTo{j: j, addr: gw.Listener.Addr().String()}),
			existing.WithPollInterval(20*time.Millisecond))
	}
	e, err := open(t, d, WithStateDir(t.TempDir()), WithReadyTimeout(30*time.Second), WithKeep(true), WithLogger(discard()), testOpts)
	if err != nil {
		t.Fatalf("Open: %v\nlogs:\n%s", err, w.logs)
	}
	local, _, err := scenario.Load("../kube/testdata/openfaas")
	if err != nil {
		t.Fatal(err)
	}
	// meshcheck's local images: CE would refuse them, so the scenario is
	// skipped before anything is downloaded or installed.
	err = e.Setup(ctx, local)
	if !errors.Is(err, env.ErrBackendUnavailable) || !strings.Contains(err.Error(), "backend openfaas is not available in environment kind: OpenFaaS CE deploys only public images") || !strings.Contains(err.Error(), "function hello-v1's image meshcheck.local/fixture:v0.1.0") {
		t.Fatalf("Setup with local images = %v, want env.ErrBackendUnavailable naming the function and its image", err)
	}
	if got := j.take(); len(got) != 0 {
		t.Errorf("a skipped scenario reached %q", got)
	}
	if _, err := srv.Kube.CoreV1().Namespaces().Get(ctx, openfaas.Namespace, metav1.GetOptions{}); err == nil {
		t.Error("a skipped scenario installed OpenFaaS")
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	s := publicImages(local)
	if err := e.Setup(ctx, s); err != nil {
		t.Fatalf("Setup = %v", err)
	}
	if err := e.Apply(ctx, s, 0); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	want := []string{
		"download " + pin.URL(),
		"forward openfaas:gateway",
		"gateway GET /system/function/hello-v1 ", "gateway PUT /system/functions hello-v1",
		"gateway GET /system/function/hello-v2 ", "gateway PUT /system/functions hello-v2",
		"gateway GET /system/function/hello-v1 ", "gateway GET /system/function/hello-v2 ",
	}
	if got := j.take(); !slices.Equal(got, want) {
		t.Errorf("boundaries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
	if !slices.Contains(phases, phaseOpenFaaS) {
		t.Errorf("phases %v lack %s", phases, phaseOpenFaaS)
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
	if got := j.take(); !slices.Equal(got, []string{"forward openfaas:gateway"}) {
		t.Errorf("second Setup boundaries %q, want only the port-forward", got)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx, false); err != nil {
		t.Fatal(err)
	}
}

// publicImages returns s with its Functions' images moved out of
// meshcheck's local registry, which OpenFaaS CE refuses.
func publicImages(s *scenario.Scenario) *scenario.Scenario {
	out := *s
	out.Steps = slices.Clone(s.Steps)
	for i := range out.Steps {
		out.Steps[i].Apply = slices.Clone(out.Steps[i].Apply)
		for j := range out.Steps[i].Apply {
			m := &out.Steps[i].Apply[j]
			m.Objects = slices.Clone(m.Objects)
			for k := range m.Objects {
				m.Objects[k].Raw = bytes.ReplaceAll(m.Objects[k].Raw, []byte("meshcheck.local/fixture"), []byte("ghcr.io/example/fixture"))
			}
		}
	}
	return &out
}
