//go:build apiserver

package existing

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/apiservertest"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// podAdmins forwards the Envoy admin port of any pod to a loopback admin
// made for it on first use by serve (keyed "ns/pod"); other ports get a
// tunnel to nowhere (nothing here sends requests through them).
type podAdmins struct {
	t     *testing.T
	serve func(ns, pod string) *admin

	mu     sync.Mutex
	admins map[string]*admin
	srvs   map[string]*httptest.Server
}

func (f *podAdmins) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	target := fmt.Sprintf("%s/%s:%d", ns, pod, port)
	if port != kube.ProxyAdminPort {
		return kube.NewTunnel("127.0.0.1:1", target, nil), nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := ns + "/" + pod
	srv, ok := f.srvs[key]
	if !ok {
		a := f.serve(ns, pod)
		a.t = f.t
		srv = httptest.NewServer(a)
		f.t.Cleanup(srv.Close)
		f.admins[key], f.srvs[key] = a, srv
	}
	return kube.NewTunnel(srv.Listener.Addr().String(), target, nil), nil
}

// polled returns the proxies asked and how often, by namespace prefix.
func (f *podAdmins) polled(ns string) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, a := range f.admins {
		if strings.HasPrefix(k, ns+"/") {
			out[k] = a.count()
		}
	}
	return out
}

// TestApplyWaitsUntilProgrammed runs the echo scenario's step on a real API
// server with two ingress gateway replicas made ready by the simulated
// controllers: Apply waits, after the route phase, until both replicas and
// the agent's sidecar (deployed for the wait) route as the step says, one
// replica lagging; the runner's WaitProgrammed then finds them programmed
// at once. With a replica that keeps the old split, Apply fails after
// --programmed-timeout naming that pod, what it has and what is expected.
func TestApplyWaitsUntilProgrammed(t *testing.T) {
	ctx := t.Context()
	s, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	good, sidecar := routeDump(t, "http.8080", echoSplit(75, 25)), routeDump(t, "80", echoSplit(75, 25))
	old := routeDump(t, "http.8080", echoSplit(100, 0))

	for _, c := range []struct {
		name  string
		serve func(ns, pod string) *admin
		err   []string
	}{
		{name: "one replica lags", serve: func() func(ns, pod string) *admin {
			first := true
			return func(ns, pod string) *admin {
				if ns != istioNamespace {
					return &admin{after: sidecar}
				}
				if first {
					first = false
					return &admin{before: old, after: good, lagging: 3}
				}
				return &admin{after: good}
			}
		}()},
		{name: "one replica never", serve: func() func(ns, pod string) *admin {
			first := true
			return func(ns, pod string) *admin {
				if ns != istioNamespace {
					return &admin{after: sidecar}
				}
				if first {
					first = false
					return &admin{after: old}
				}
				return &admin{after: good}
			}
		}(), err: []string{"step split-75-25: after the route phase: probe ingress: the data plane is not programmed after 2s",
			"proxy istio-system/istio-ingressgateway-", "weight 100", "expected v1|echo-service.echo.svc.cluster.local 75%"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Its own API server: no namespace controller finishes the
			// deletion of namespace echo between the cases.
			srv := twoGateways(t)
			fw := &podAdmins{t: t, serve: c.serve, admins: map[string]*admin{}, srvs: map[string]*httptest.Server{}}
			var logs bytes.Buffer
			e, err := connect(ctx, WithKubeconfig(srv.Kubeconfig), WithForwarder(fw), WithReadyTimeout(30*time.Second),
				WithPollInterval(5*time.Millisecond), WithProgrammedTimeout(2*time.Second), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := e.Teardown(context.WithoutCancel(ctx)); err != nil {
					t.Error(err)
				}
			})
			if err := e.Setup(ctx, s); err != nil {
				t.Fatal(err)
			}
			err = e.Apply(ctx, s, 0)
			gateways := fw.polled(istioNamespace)
			if c.err != nil {
				if err == nil {
					t.Fatalf("Apply: no error; proxies polled %v", gateways)
				}
				for _, w := range c.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Apply: error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v\nlog:\n%s", err, logs.String())
			}
			polls := []int{}
			for _, n := range gateways {
				polls = append(polls, n)
			}
			if len(gateways) != 2 || !(polls[0] == 1 && polls[1] == 4 || polls[0] == 4 && polls[1] == 1) {
				t.Errorf("gateway replicas polled %v: want both, the lagging one 4 times", gateways)
			}
			if side := fw.polled("echo"); len(side) != 1 {
				t.Errorf("sidecars polled %v: want the agent's", side)
			}
			if n := strings.Count(logs.String(), `msg="data plane programmed"`); n != 2 {
				t.Errorf("%d waits logged, want one per probe:\n%s", n, logs.String())
			}
			for _, p := range s.Steps[0].Probes {
				if err := e.WaitProgrammed(ctx, s, 0, p); err != nil {
					t.Errorf("WaitProgrammed %s after Apply: %v", p.Name, err)
				}
			}
			if n := strings.Count(logs.String(), "polls=1"); n < 3 {
				t.Errorf("the runner's waits after Apply did not find the proxies programmed at once:\n%s", logs.String())
			}
			ep, err := e.Endpoint(ctx, probeFrom(s, mesh.Mesh))
			if err != nil || ep.Agent == "" {
				t.Errorf("the agent the wait deployed is not the mesh probe's endpoint: %+v, %v", ep, err)
			}
		})
	}
}

// twoGateways is an API server with Istio installed and two ready
// ingress gateway replicas.
func twoGateways(t *testing.T) *apiservertest.Server {
	t.Helper()
	srv := apiservertest.Start(t)
	installIstio(t, srv)
	ctx := t.Context()
	gw, err := srv.Kube.AppsV1().Deployments(istioNamespace).Get(ctx, ingressGatewayService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	gw.Spec.Replicas = &two
	if _, err := srv.Kube.AppsV1().Deployments(istioNamespace).Update(ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.RunWorkloads(t)
	waitAvailable(t, srv, "istiod")
	waitReadyGateways(t, srv, 2)
	return srv
}

// probeFrom is the echo scenario's first probe from v.
func probeFrom(s *scenario.Scenario, v mesh.Vantage) scenario.Probe {
	for _, p := range s.Steps[0].Probes {
		if p.From == v {
			return p
		}
	}
	return scenario.Probe{}
}

// waitReadyGateways waits until n ingress gateway pods are ready.
func waitReadyGateways(t *testing.T, srv *apiservertest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := srv.Kube.CoreV1().Pods(istioNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: "istio=ingressgateway"})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for i := range pods.Items {
			if kube.PodReady(&pods.Items[i]) {
				ready++
			}
		}
		if ready == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ready ingress gateway pods after 30s, want %d", ready, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
