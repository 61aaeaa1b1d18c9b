package existing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/programmed"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// routeDump is the answer of Envoy's admin to
// /config_dump?resource=dynamic_route_configs (one DynamicRouteConfig per
// config, as source/server/admin/config_dump_handler.cc packs them) for
// one route configuration named rc that sends every request to the given
// clusters and weights; no clusters gives no route configuration at all.
func routeDump(t *testing.T, rc string, clusters map[string]uint32) []byte {
	t.Helper()
	dump := &adminv3.ConfigDump{}
	if len(clusters) > 0 {
		var cws []*routev3.WeightedCluster_ClusterWeight
		for name, w := range clusters {
			cws = append(cws, &routev3.WeightedCluster_ClusterWeight{Name: name, Weight: wrapperspb.UInt32(w)})
		}
		cfg := &routev3.RouteConfiguration{Name: rc, VirtualHosts: []*routev3.VirtualHost{{Name: "all", Domains: []string{"*"},
			Routes: []*routev3.Route{{Name: "default", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{
					WeightedClusters: &routev3.WeightedCluster{Clusters: cws}}}}}}}}}
		packed, err := anypb.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d, err := anypb.New(&adminv3.RoutesConfigDump_DynamicRouteConfig{VersionInfo: "1", RouteConfig: packed})
		if err != nil {
			t.Fatal(err)
		}
		dump.Configs = append(dump.Configs, d)
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(dump)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// echoSplit is the echo scenario's clusters weighted v1, v2.
func echoSplit(v1, v2 uint32) map[string]uint32 {
	return map[string]uint32{
		programmed.ClusterName(80, "v1", "echo-service.echo.svc.cluster.local"): v1,
		programmed.ClusterName(80, "v2", "echo-service.echo.svc.cluster.local"): v2,
	}
}

// admin is a fake Envoy admin of one proxy: it answers the first lagging
// polls with before and every later one with after.
type admin struct {
	t             *testing.T
	before, after []byte
	lagging       int

	mu    sync.Mutex
	polls int
}

func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.RequestURI() != kube.RouteConfigDumpPath {
		a.t.Errorf("admin asked for %s, want %s", r.URL.RequestURI(), kube.RouteConfigDumpPath)
	}
	a.mu.Lock()
	a.polls++
	n := a.polls
	a.mu.Unlock()
	if n <= a.lagging {
		_, _ = w.Write(a.before)
		return
	}
	_, _ = w.Write(a.after)
}

func (a *admin) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.polls
}

// adminForwarder forwards "ns/pod" to loopback servers standing in for
// the pods' Envoy admin ports, and counts the tunnels still open.
type adminForwarder struct {
	t      *testing.T
	admins map[string]*httptest.Server

	mu   sync.Mutex
	open int
}

func (f *adminForwarder) Forward(_ context.Context, ns, pod string, port int) (*kube.Tunnel, error) {
	if port != kube.ProxyAdminPort {
		f.t.Errorf("port-forward to %s/%s:%d, want the admin port %d", ns, pod, port, kube.ProxyAdminPort)
	}
	srv, ok := f.admins[ns+"/"+pod]
	if !ok {
		return nil, fmt.Errorf("no pod %s/%s", ns, pod)
	}
	f.mu.Lock()
	f.open++
	f.mu.Unlock()
	return kube.NewTunnel(srv.Listener.Addr().String(), ns+"/"+pod, func() {
		f.mu.Lock()
		f.open--
		f.mu.Unlock()
	}), nil
}

// gatewayCluster is the ingress gateway Service (80 -> 8080) and a ready
// pod behind it for each name.
func gatewayCluster(pods ...string) []runtime.Object {
	objs := []runtime.Object{&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ingressGatewayService, Namespace: istioNamespace},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"istio": "ingressgateway"},
			Ports: []corev1.ServicePort{{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}}
	for _, name := range pods {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istioNamespace, Labels: map[string]string{"istio": "ingressgateway"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	return objs
}

// waitEnv is an environment set up for the echo scenario on a fake API
// holding objs, whose port-forwards reach the given admins.
func waitEnv(t *testing.T, admins map[string]*admin, ingressURL string, objs ...runtime.Object) (*Env, *adminForwarder, *bytes.Buffer, *scenario.Scenario) {
	t.Helper()
	s, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	fw := &adminForwarder{t: t, admins: map[string]*httptest.Server{}}
	for name, a := range admins {
		a.t = t
		srv := httptest.NewServer(a)
		t.Cleanup(srv.Close)
		fw.admins[name] = srv
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	e := &Env{
		opts:     config{forwarder: fw, pollInterval: time.Millisecond, programmedTimeout: time.Second, ingressURL: ingressURL, log: log},
		client:   &kube.Client{Kube: fake.NewClientset(objs...)},
		log:      log,
		scenario: s,
		agents:   map[string]*forward{},
	}
	return e, fw, &logs, s
}

// probe returns the echo scenario's first probe from v.
func probe(t *testing.T, s *scenario.Scenario, v mesh.Vantage) scenario.Probe {
	t.Helper()
	for _, p := range s.Steps[0].Probes {
		if p.From == v {
			return p
		}
	}
	t.Fatalf("echo has no probe from %s", v)
	return scenario.Probe{}
}

func TestWaitProgrammedIngress(t *testing.T) {
	good := func(t *testing.T) []byte { return routeDump(t, "http.8080", echoSplit(75, 25)) }
	for _, c := range []struct {
		name    string
		admins  func(t *testing.T) map[string]*admin
		polls   map[string]int // per proxy, when the wait succeeds
		errHas  []string       // when it times out
		errNot  string         // a proxy the error must not name
		logPoll string
	}{
		{name: "already programmed",
			admins: func(t *testing.T) map[string]*admin {
				return map[string]*admin{"istio-system/gw-a": {after: good(t)}}
			},
			polls: map[string]int{"istio-system/gw-a": 1}, logPoll: "polls=1"},
		{name: "programmed after 3 polls",
			admins: func(t *testing.T) map[string]*admin {
				return map[string]*admin{"istio-system/gw-a": {before: routeDump(t, "http.8080", nil), after: good(t), lagging: 3}}
			},
			polls: map[string]int{"istio-system/gw-a": 4}, logPoll: "polls=4"},
		{name: "two replicas, one lags",
			admins: func(t *testing.T) map[string]*admin {
				return map[string]*admin{
					"istio-system/gw-a": {after: good(t)},
					"istio-system/gw-b": {before: routeDump(t, "http.8080", echoSplit(100, 0)), after: good(t), lagging: 5},
				}
			},
			polls: map[string]int{"istio-system/gw-a": 1, "istio-system/gw-b": 6}, logPoll: "polls=6"},
		{name: "never",
			admins: func(t *testing.T) map[string]*admin {
				return map[string]*admin{"istio-system/gw-a": {after: routeDump(t, "http.8080", nil)}}
			},
			errHas: []string{"probe ingress", "not programmed after 1s", "--programmed-timeout", "proxy istio-system/gw-a has", `no route configuration "http.8080"`,
				"expected v1|echo-service.echo.svc.cluster.local 75%, v2|echo-service.echo.svc.cluster.local 25%"}},
		{name: "other weights",
			admins: func(t *testing.T) map[string]*admin {
				return map[string]*admin{"istio-system/gw-a": {after: routeDump(t, "http.8080", echoSplit(50, 50))}}
			},
			errHas: []string{"proxy istio-system/gw-a has", `virtual host "all" of route configuration "http.8080", route "default"`,
				"outbound|80|v1|echo-service.echo.svc.cluster.local weight 50", "outbound|80|v2|echo-service.echo.svc.cluster.local weight 50",
				"expected v1|echo-service.echo.svc.cluster.local 75%, v2|echo-service.echo.svc.cluster.local 25%"}},
		{name: "one replica of two never",
			admins: func(t *testing.T) map[string]*admin {
				return map[string]*admin{"istio-system/gw-a": {after: good(t)}, "istio-system/gw-b": {after: routeDump(t, "http.8080", echoSplit(100, 0))}}
			},
			errHas: []string{"proxy istio-system/gw-b has", "weight 100"}, errNot: "gw-a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			admins := c.admins(t)
			var pods []string
			for name := range admins {
				pods = append(pods, strings.TrimPrefix(name, istioNamespace+"/"))
			}
			e, fw, logs, s := waitEnv(t, admins, "", gatewayCluster(pods...)...)
			err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Ingress))
			if c.errHas == nil {
				if err != nil {
					t.Fatal(err)
				}
				for name, want := range c.polls {
					if got := admins[name].count(); got != want {
						t.Errorf("%s polled %d times, want %d", name, got, want)
					}
				}
				if !strings.Contains(logs.String(), `msg="data plane programmed" probe=ingress`) || !strings.Contains(logs.String(), c.logPoll) {
					t.Errorf("log %q: want the wait with %s", logs, c.logPoll)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				for _, want := range c.errHas {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				if c.errNot != "" && strings.Contains(err.Error(), c.errNot) {
					t.Errorf("error %q names %q", err, c.errNot)
				}
			}
			if fw.open != 0 {
				t.Errorf("%d admin tunnels left open", fw.open)
			}
		})
	}
}

// TestWaitProgrammedMesh: a probe from the mesh waits for the agent's
// sidecar, on the route configuration of the URL's Service port.
func TestWaitProgrammedMesh(t *testing.T) {
	a := &admin{before: routeDump(t, "80", echoSplit(100, 0)), after: routeDump(t, "80", echoSplit(75, 25)), lagging: 2}
	e, _, logs, s := waitEnv(t, map[string]*admin{"echo/meshcheck-agent-1": a}, "")
	e.agents[agentKey("echo", "")] = &forward{pod: "meshcheck-agent-1", tunnel: kube.NewTunnel("127.0.0.1:1", "echo/meshcheck-agent-1:8080", nil)}
	if err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Mesh)); err != nil {
		t.Fatal(err)
	}
	if a.count() != 3 || !strings.Contains(logs.String(), "proxies=echo/meshcheck-agent-1") {
		t.Errorf("sidecar polled %d times, log %q: want 3 and the agent named", a.count(), logs)
	}
}

// TestWaitProgrammedSkipsAnUnseenGateway: with --ingress-url and no
// gateway in istio-system the wait is skipped and says so; without
// --ingress-url that is an error.
func TestWaitProgrammedSkipsAnUnseenGateway(t *testing.T) {
	e, fw, logs, s := waitEnv(t, nil, "http://gw.example")
	if err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Ingress)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the programmed wait is skipped") || fw.open != 0 {
		t.Errorf("log %q: want the skip logged", logs)
	}
	e, _, _, s = waitEnv(t, nil, "")
	if err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Ingress)); err == nil || !strings.Contains(err.Error(), "istio-system/istio-ingressgateway") {
		t.Errorf("no gateway and no --ingress-url: %v, want an error naming the Service", err)
	}
}

// TestPropagateWaitsAfterTheRoutePhaseOnly: the Deployer's wait runs the
// programmed wait for the step's probes after the route phase, and not
// after make or break, nor for Setup.
func TestPropagateWaitsAfterTheRoutePhaseOnly(t *testing.T) {
	a := &admin{after: routeDump(t, "http.8080", echoSplit(75, 25))}
	side := &admin{after: routeDump(t, "80", echoSplit(75, 25))}
	e, _, _, _ := waitEnv(t, map[string]*admin{"istio-system/gw-a": a, "echo/meshcheck-agent-1": side}, "", gatewayCluster("gw-a")...)
	e.agents[agentKey("echo", "")] = &forward{pod: "meshcheck-agent-1", tunnel: kube.NewTunnel("127.0.0.1:1", "echo/meshcheck-agent-1:8080", nil)}
	ctx := t.Context()
	e.applying = -1
	if err := e.propagate(ctx, kube.PhaseRoute, nil); err != nil || a.count() != 0 {
		t.Fatalf("Setup's route phase: %v, %d polls; want none", err, a.count())
	}
	e.applying = 0
	for _, ph := range []kube.Phase{kube.PhaseMake, kube.PhaseBreak} {
		if err := e.propagate(ctx, ph, nil); err != nil || a.count() != 0 {
			t.Fatalf("phase %s: %v, %d polls; want none", ph, err, a.count())
		}
	}
	if err := e.propagate(ctx, kube.PhaseRoute, nil); err != nil || a.count() != 1 || side.count() != 1 {
		t.Fatalf("route phase: %v, gateway polled %d, sidecar %d; want each once", err, a.count(), side.count())
	}
}

// TestWaitProgrammedRetriesListing: a transient API error while listing
// the gateway pods (the API server restarting) is retried until the
// programmed timeout; a gateway replica that becomes ready during the
// wait is checked too; an error that no retry mends ends the wait at once.
func TestWaitProgrammedRetriesListing(t *testing.T) {
	good := routeDump(t, "http.8080", echoSplit(75, 25))
	t.Run("transient errors then programmed", func(t *testing.T) {
		admins := map[string]*admin{"istio-system/gw-a": {before: routeDump(t, "http.8080", nil), after: good, lagging: 1},
			"istio-system/gw-b": {after: good}}
		objs := gatewayCluster("gw-a", "gw-b")
		unready := objs[2].(*corev1.Pod)
		unready.Status.Conditions[0].Status = corev1.ConditionFalse
		e, _, logs, s := waitEnv(t, admins, "", objs...)
		e.opts.relistInterval = time.Nanosecond // every poll
		cs := e.client.Kube.(*fake.Clientset)
		lists := 0
		cs.PrependReactor("list", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
			lists++
			switch lists {
			case 1, 2:
				return true, nil, apierrors.NewServiceUnavailable("etcd leader changed")
			case 4:
				// gw-b becomes ready after the third poll, where gw-a
				// still lagged.
				ready := unready.DeepCopy()
				ready.Status.Conditions[0].Status = corev1.ConditionTrue
				if err := cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), ready, istioNamespace); err != nil {
					t.Error(err)
				}
			}
			return false, nil, nil
		})
		if err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Ingress)); err != nil {
			t.Fatal(err)
		}
		if admins["istio-system/gw-a"].count() != 2 || admins["istio-system/gw-b"].count() != 1 {
			t.Errorf("gw-a polled %d times, gw-b %d: want 2 and 1, gw-b once it became ready",
				admins["istio-system/gw-a"].count(), admins["istio-system/gw-b"].count())
		}
		if !strings.Contains(logs.String(), "retrying until the programmed timeout") || !strings.Contains(logs.String(), "polls=4") {
			t.Errorf("log %q: want the retries and the wait over 4 polls", logs)
		}
	})
	t.Run("transient errors until the timeout", func(t *testing.T) {
		e, _, _, s := waitEnv(t, map[string]*admin{"istio-system/gw-a": {after: good}}, "", gatewayCluster("gw-a")...)
		e.client.Kube.(*fake.Clientset).PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewTooManyRequests("slow down", 1)
		})
		err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Ingress))
		if err == nil || !strings.Contains(err.Error(), "not programmed after 1s") ||
			!strings.Contains(err.Error(), "the last poll could not list the proxies: list ingress gateway pods: slow down") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a lasting error ends the wait at once", func(t *testing.T) {
		e, _, _, s := waitEnv(t, nil, "", gatewayCluster()...)
		lists := 0
		e.client.Kube.(*fake.Clientset).PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			lists++
			return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("no RBAC"))
		})
		err := e.waitProgrammed(t.Context(), s, 0, probe(t, s, mesh.Ingress))
		if err == nil || !strings.Contains(err.Error(), "probe ingress: wait for the data plane: list ingress gateway pods") || lists != 1 {
			t.Errorf("err = %v after %d listings, want the forbidden error after one", err, lists)
		}
	})
}
