package local

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

func load(t *testing.T, dir string) *scenario.Scenario {
	t.Helper()
	s, _, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// started sets up e for s and applies step; Teardown runs at cleanup.
func started(t *testing.T, e *Env, s *scenario.Scenario, step int) {
	t.Helper()
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	if err := e.Apply(ctx, s, step); err != nil {
		t.Fatal(err)
	}
}

func probe(s *scenario.Scenario, step int, name string) scenario.Probe {
	for _, p := range s.Steps[step].Probes {
		if p.Name == name {
			return p
		}
	}
	panic("test scenario has no probe " + name)
}

// echoAnswer is what the echo stand-in says, as far as the tests read it.
type echoAnswer struct {
	Hostname string            `json:"hostname"`
	Headers  map[string]string `json:"headers"`
	OS       struct {
		Hostname string `json:"hostname"`
	} `json:"os"`
}

// client returns an HTTP client for an endpoint: through its proxy when it
// has one.
func client(ep env.Endpoint) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	if ep.Via != nil {
		tr.Proxy = http.ProxyURL(ep.Via)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func send(t *testing.T, c *http.Client, ep env.Endpoint) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ep.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Host != "" {
		req.Host = ep.Host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// split sends n requests (8 at a time) and counts the versions that
// answered (via the pod -> version map) and the statuses of the others.
func split(t *testing.T, c *http.Client, ep env.Endpoint, versions map[string]string, n int) (counts map[string]int, other map[int]int) {
	t.Helper()
	counts, other = map[string]int{}, map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	for range 8 {
		wg.Go(func() {
			for range work {
				a := send(t, c, ep)
				mu.Lock()
				if a.status != http.StatusOK {
					other[a.status]++
				} else {
					var e echoAnswer
					if err := json.Unmarshal(a.body, &e); err != nil {
						t.Errorf("answer is not the echo's JSON: %s", a.body)
					}
					counts[versions[e.OS.Hostname]]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts, other
}

// near checks an observed share against the configured one. With n = 2000
// requests the standard deviation of a 25% share is below 1 point, so a
// band of ±6 points is more than 6 standard deviations: a correct router
// fails it with probability below 1e-8 per check.
func near(t *testing.T, what string, got, n int, want float64) {
	t.Helper()
	share := float64(got) / float64(n)
	if math.Abs(share-want) > 0.06 {
		t.Errorf("%s: %d of %d (%.3f), want %.2f ± 0.06", what, got, n, share, want)
	}
}

func TestEchoTutorialEndToEnd(t *testing.T) {
	s := load(t, "testdata/echo")
	e := New()
	started(t, e, s, 0)
	ctx := context.Background()

	ing := probe(s, 0, "ingress")
	versions, err := e.VersionMap(ctx, ing)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 3 {
		t.Fatalf("VersionMap = %v, want 3 pods (1 v1, 2 v2)", versions)
	}
	for name, v := range versions {
		if !strings.HasPrefix(name, "echo-deployment-"+v+"-") {
			t.Errorf("pod %s has version %s: want a pod-like name of its Deployment", name, v)
		}
	}

	// From the ingress: Host echo.local, 75/25 by subsets.
	ep, err := e.Endpoint(ctx, ing)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Host != "echo.local" || !strings.HasPrefix(ep.URL, "http://127.0.0.1:") || !strings.HasSuffix(ep.URL, "/echo") || ep.Via != nil {
		t.Fatalf("ingress endpoint %+v", ep)
	}
	c := client(ep)
	a := send(t, c, ep)
	if a.status != 200 || a.header.Get("Server") != "istio-envoy" || a.header.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Errorf("ingress answer: status %d, headers %v", a.status, a.header)
	}
	var echo echoAnswer
	if err := json.Unmarshal(a.body, &echo); err != nil {
		t.Fatal(err)
	}
	if echo.Hostname != "echo.local" {
		t.Errorf("the echo saw Host %q, want echo.local (Envoy keeps the authority)", echo.Hostname)
	}
	for _, h := range []string{"x-request-id", "x-b3-traceid", "x-b3-spanid", "x-envoy-attempt-count", "x-forwarded-proto", "x-forwarded-for", "x-envoy-internal"} {
		if echo.Headers[h] == "" {
			t.Errorf("the echo did not see header %s that the ingress gateway adds: %v", h, echo.Headers)
		}
	}
	const n = 2000
	counts, other := split(t, c, ep, versions, n)
	if len(other) > 0 {
		t.Errorf("ingress: non-200 answers %v", other)
	}
	near(t, "ingress v1", counts["v1"], n, 0.75)
	near(t, "ingress v2", counts["v2"], n, 0.25)

	// From the mesh: the same VirtualService (it lists mesh), through the
	// sidecar emulation.
	meshProbe := probe(s, 1, "in-mesh")
	mep, err := e.Endpoint(ctx, meshProbe)
	if err != nil {
		t.Fatal(err)
	}
	if mep.Via == nil || mep.URL != "http://echo-service.echo.svc.cluster.local/echo" {
		t.Fatalf("mesh endpoint %+v", mep)
	}
	mc := client(mep)
	if a := send(t, mc, mep); a.header.Get("Server") != "envoy" {
		t.Errorf("sidecar answer: server %q, want envoy", a.header.Get("Server"))
	}
	counts, other = split(t, mc, mep, versions, n)
	if len(other) > 0 {
		t.Errorf("mesh: non-200 answers %v", other)
	}
	near(t, "mesh v1", counts["v1"], n, 0.75)

	// Envoy's own answers: an unknown Host at the ingress gets 404.
	bad := ep
	bad.Host = "unknown.local"
	if a := send(t, c, bad); a.status != 404 || string(a.body) != "route_not_found" || a.header.Get("Server") != "istio-envoy" {
		t.Errorf("unknown host: %d %q %v, want 404 route_not_found from istio-envoy", a.status, a.body, a.header)
	}
	// The sidecar emulation is a forward proxy: a direct request is told so.
	direct := env.Endpoint{URL: mep.Via.String() + "/echo"}
	if a := send(t, client(direct), direct); a.status != 400 || !strings.Contains(string(a.body), "forward proxy") {
		t.Errorf("direct request to the sidecar: %d %q", a.status, a.body)
	}
}

func TestStepsSwapRoutingKeepPods(t *testing.T) {
	s := load(t, "testdata/echo")
	e := New()
	started(t, e, s, 0)
	ctx := context.Background()
	before := map[string]string{}
	for k, p := range e.pods {
		before[k] = p.srv.url.Host
	}

	// Step no-mesh: the VirtualService no longer lists mesh, so in-mesh
	// requests are balanced over the Service's pods by count: 1 v1 pod and
	// 2 v2 pods give 1/3 and 2/3 (the tutorial's lesson).
	if err := e.Apply(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	for k, p := range e.pods {
		if before[k] != p.srv.url.Host {
			t.Errorf("pod %s restarted by a routing-only step", k)
		}
	}
	p := probe(s, 1, "in-mesh")
	versions, err := e.VersionMap(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := e.Endpoint(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	counts, other := split(t, client(ep), ep, versions, n)
	if len(other) > 0 {
		t.Errorf("mesh: non-200 answers %v", other)
	}
	near(t, "mesh without a VirtualService for it, v1", counts["v1"], n, 1.0/3)

	// Step undefined-subset: 25% of ingress requests name subset v3, which
	// no DestinationRule defines: Envoy answers 503 for them.
	if err := e.Apply(ctx, s, 2); err != nil {
		t.Fatal(err)
	}
	ing := probe(s, 2, "ingress")
	ep, err = e.Endpoint(ctx, ing)
	if err != nil {
		t.Fatal(err)
	}
	counts, other = split(t, client(ep), ep, versions, n)
	near(t, "undefined subset: 503s", other[503], n, 0.25)
	near(t, "undefined subset: v1", counts["v1"], n, 0.75)
	if counts["v2"] != 0 {
		t.Errorf("undefined subset: %d answers from v2, which no route names", counts["v2"])
	}
}

func TestPodsCallThroughTheirSidecar(t *testing.T) {
	s := load(t, "testdata/thermo")
	e := New()
	started(t, e, s, 0)
	ctx := context.Background()
	ep, err := e.Endpoint(ctx, probe(s, 0, "control"))
	if err != nil {
		t.Fatal(err)
	}
	c := client(ep)
	counts := map[string]int{}
	const n = 1000
	for range n {
		a := send(t, c, ep)
		var rep struct {
			TempVersion string `json:"tempVersion"`
			Message     string `json:"message"`
		}
		if a.status != 200 || json.Unmarshal(a.body, &rep) != nil {
			t.Fatalf("control answered %d %s", a.status, a.body)
		}
		counts[rep.TempVersion]++
	}
	// control reaches temp through the sidecar of namespace thermo, where
	// VirtualService temp splits 90/10 (v2 named via $(VERSION)).
	near(t, "temp v2 seen by control", counts["v2"], n, 0.10)
}

func TestImageWithoutStandIn(t *testing.T) {
	s := load(t, "testdata/noimage")
	e := New()
	err := e.Setup(context.Background(), s)
	if err == nil {
		_ = e.Teardown(context.Background())
		t.Fatal("Setup accepted a scenario whose image has no stand-in")
	}
	for _, want := range []string{"Deployment web/web", "manifests/web.yaml:", "container nginx", `"nginx:1.27" has no stand-in`, "mendhak/http-https-echo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !errors.Is(err, env.ErrUnsupported) {
		t.Errorf("error %v is not env.ErrUnsupported", err)
	}
	if err := e.Teardown(context.Background()); err != nil {
		t.Errorf("Teardown after a failed Setup: %v", err)
	}
}

func TestLifecycleErrors(t *testing.T) {
	s := load(t, "testdata/echo")
	e := New()
	ctx := context.Background()
	if err := e.Apply(ctx, s, 0); err == nil {
		t.Error("Apply before Setup: no error")
	}
	if _, err := e.Endpoint(ctx, probe(s, 0, "ingress")); err == nil {
		t.Error("Endpoint before Setup: no error")
	}
	if _, err := e.VersionMap(ctx, probe(s, 0, "ingress")); err == nil {
		t.Error("VersionMap before Apply: no error")
	}
	started(t, e, s, 0)
	if err := e.Setup(ctx, s); err == nil {
		t.Error("second Setup: no error")
	}
	if err := e.Apply(ctx, s, 7); err == nil {
		t.Error("Apply of step 7 of 3: no error")
	}
	p := probe(s, 0, "ingress")
	p.From = mesh.Vantage("sideways")
	if _, err := e.Endpoint(ctx, p); err == nil {
		t.Error("Endpoint from an unknown vantage: no error")
	}
	if e.Name() != "local" || !e.Emulated() {
		t.Errorf("Name %q, Emulated %v", e.Name(), e.Emulated())
	}
}

func TestOpener(t *testing.T) {
	var logs strings.Builder
	o := NewOpener(WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if o.Name() != env.Local || !o.Emulated() {
		t.Errorf("Opener: Name %q, Emulated %v", o.Name(), o.Emulated())
	}
	e, err := o.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	l, ok := e.(*Env)
	if !ok {
		t.Fatalf("Open = %T, want *local.Env", e)
	}
	l.log.Info("marker")
	if !strings.Contains(logs.String(), "marker") {
		t.Errorf("WithLogger: the environment logs elsewhere (got %q)", logs.String())
	}
}

// TestTeardownLeavesNoGoroutines runs a scenario through all its steps,
// tears down, and waits for the goroutine count to come back to where it
// was (servers, connections and transports all ended).
func TestTeardownLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	s := load(t, "testdata/echo")
	e := New()
	ctx := context.Background()
	if err := e.Setup(ctx, s); err != nil {
		t.Fatal(err)
	}
	var c *http.Client
	for step := range s.Steps {
		if err := e.Apply(ctx, s, step); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Steps[step].Probes {
			ep, err := e.Endpoint(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			c = client(ep)
			for range 20 {
				send(t, c, ep)
			}
			c.CloseIdleConnections()
		}
	}
	if err := e.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Teardown(ctx); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	// No event marks the end of the last connection goroutines: poll, with
	// a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Teardown, %d before Setup:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The environment can run another scenario.
	started(t, e, s, 0)
	ep, err := e.Endpoint(ctx, probe(s, 0, "ingress"))
	if err != nil {
		t.Fatal(err)
	}
	if a := send(t, client(ep), ep); a.status != 200 {
		t.Errorf("after a second Setup: status %d", a.status)
	}
}
