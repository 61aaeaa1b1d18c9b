// Package local is the embedded default environment (--env local): it runs
// a scenario's workloads in-process and emulates the mesh around them, so a
// scenario runs on a laptop with no container engine and no cluster.
//
// # What runs
//
// Every pod of the scenario's current state (a Deployment's replicas, named
// like pods with mesh.PodName, with the pod template's labels; bare Pods as
// written) runs as one HTTP server on 127.0.0.1, serving the stand-in of its
// first container's image (package fixtures: mendhak/http-https-echo, our
// meshcheck.local/fixture). An image with no stand-in is an error, found in
// Setup before anything runs.
//
// # How requests are routed
//
// The routing model (package mesh) of the current state decides every
// request, exactly as it derives expectations:
//
//   - the ingress listener (a free 127.0.0.1 port) plays the ingress
//     gateway: each request becomes a mesh.Request from the Ingress vantage
//     with its Host, path, method and headers;
//   - the mesh vantage is an HTTP forward proxy per workload identity
//     (namespace and ServiceAccount): every pod's own calls go through the
//     outbound sidecar of its identity, and mesh probes through the one of
//     their SourceIdentity (the agent's ServiceAccount meshcheck-agent in
//     the source namespace, or the probe's serviceAccount); absolute-URI
//     requests become mesh.Requests from the Mesh vantage in that namespace.
//
// A routed request picks a destination and a pod at random per request (as
// Envoy does); otherwise the listener answers what Envoy would (404 for no
// route, 503 for an unusable destination). Then the destination pod's
// inbound sidecar decides (mesh Model.Access, the pod's AuthorizationPolicies
// and PeerAuthentication): a denied request gets Envoy's 403 "RBAC: access
// denied", a plaintext one that STRICT mTLS refuses a 503; an allowed one is
// proxied to that pod's server. Every hop is taken as mTLS (every pod, the
// agent and the ingress gateway have a sidecar; Istio's auto mTLS), unless
// the destination's PeerAuthentication disables it. Requests reaching a pod
// carry the headers Envoy adds (x-request-id, x-b3-traceid/spanid/sampled,
// x-envoy-attempt-count, x-forwarded-proto, at the ingress x-forwarded-for
// and x-envoy-internal, and over mTLS x-forwarded-client-cert naming the
// destination's and the caller's SPIFFE identities); answers carry server
// (istio-envoy at the ingress, envoy from a sidecar) and
// x-envoy-upstream-service-time. No traceparent: Istio 1.31's default
// tracer (Zipkin, trace context option USE_B3) propagates B3 only.
//
// # What it does not prove
//
// The emulation shares the routing model with the expectations, so a probe
// here checks the scenario's intent against Istio's documented semantics as
// the model implements them, not a real Envoy: every report from this
// environment is marked emulated. There is no TLS: the identities are the
// ServiceAccounts the manifests name, and the x-forwarded-client-cert Hash
// is the SHA-256 of the caller's SPIFFE ID, not of a certificate. Retries,
// timeouts and fault injection are not emulated.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

// Env is the local environment. Create it with New; it can run several
// scenarios one after the other (Setup, Apply..., Teardown each).
type Env struct {
	log *slog.Logger

	mu       sync.Mutex // serialises Setup, Apply and Teardown
	active   bool       // between Setup and Teardown
	sourceNS string     // the namespace mesh probes run from
	ingress  *server
	pods     map[string]*pod // by namespace/name

	pmu      sync.Mutex                // guards proxies and outbound
	proxies  map[mesh.Identity]*server // the outbound sidecar emulation, by source identity
	outbound []*http.Transport         // the pods' own clients, closed at Teardown

	routes   atomic.Pointer[routing]
	upstream *http.Transport // from the listeners to the pods
	proxy    http.Handler    // the reverse proxy to pods
	rands    sync.Pool       // *rand.Rand, one per concurrent request
}

// routing is what one request needs; Apply swaps it whole.
type routing struct {
	model *mesh.Model
	pods  map[string]*pod // by namespace/name
}

// Option configures the local environment.
type Option func(*config)

type config struct{ log *slog.Logger }

// WithLogger sends the environment's progress and diagnostics to log (by
// default they are discarded).
func WithLogger(log *slog.Logger) Option { return func(c *config) { c.log = log } }

// Opener opens local environments; it implements env.Opener.
type Opener struct{ opts []Option }

// NewOpener returns the opener of local environments made with opts. The
// local environment has no options that can be wrong.
func NewOpener(opts ...Option) *Opener { return &Opener{opts: opts} }

// Name returns "local".
func (*Opener) Name() string { return env.Local }

// Emulated is true: the mesh is emulated by the routing model.
func (*Opener) Emulated() bool { return true }

// Open returns a new local environment; it contacts nothing.
func (o *Opener) Open(context.Context) (env.Environment, error) { return New(o.opts...), nil }

// New returns a local environment.
func New(opts ...Option) *Env {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	log := c.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Env{
		log:     log,
		pods:    map[string]*pod{},
		proxies: map[mesh.Identity]*server{},
		upstream: &http.Transport{
			Proxy:               nil, // pods are reached directly
			MaxIdleConns:        4096,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	e.rands.New = func() any { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }
	e.proxy = e.newReverseProxy()
	return e
}

// Name returns "local".
func (e *Env) Name() string { return env.Local }

// Emulated is true: the mesh is emulated by the routing model.
func (e *Env) Emulated() bool { return true }

// Setup checks that every workload of every step has a stand-in (so a bad
// image fails before any load runs), chooses the namespace mesh probes run
// from (scenario.Scenario.SourceNamespace) and starts the ingress listener.
func (e *Env) Setup(ctx context.Context, s *scenario.Scenario) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active {
		return errors.New("local environment: Setup called again before Teardown")
	}
	for i := range s.Steps {
		state, err := clusterState(s, i)
		if err != nil {
			return err
		}
		if err := validate(state); err != nil {
			return fmt.Errorf("step %s: %w", s.Steps[i].Name, err)
		}
	}
	logBackend(e.log, s)
	e.sourceNS = s.SourceNamespace()
	ing, err := startServer(http.HandlerFunc(e.serveIngress), e.log)
	if err != nil {
		return fmt.Errorf("local environment: starting the ingress listener: %w", err)
	}
	e.ingress = ing
	e.active = true
	e.log.Info("local environment ready", "scenario", s.Metadata.Name, "ingress", ing.url.String(), "meshProbesFrom", e.sourceNS)
	return nil
}

// Apply makes the state after step current: it starts the pods that are new
// or changed, swaps the routing model and the pod table at once (requests
// in flight finish on the old ones), then stops the pods that are gone. A
// failure leaves the previous state running.
func (e *Env) Apply(ctx context.Context, s *scenario.Scenario, step int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.active {
		return errors.New("local environment: Apply before Setup")
	}
	if step < 0 || step >= len(s.Steps) {
		return fmt.Errorf("local environment: step %d: the scenario has steps 0 to %d", step, len(s.Steps)-1)
	}
	objs, err := clusterState(s, step)
	if err != nil {
		return err
	}
	cfg, err := s.Config(step)
	if err != nil {
		return fmt.Errorf("%w: %w", env.ErrUnsupported, err)
	}
	tpls := templates(objs)

	next := make(map[string]*pod, len(cfg.Workloads))
	var started []*pod
	fail := func(err error) error {
		for _, p := range started {
			_ = p.stop(ctx) // never served a request
		}
		return fmt.Errorf("step %s: %w", s.Steps[step].Name, err)
	}
	for _, w := range cfg.Workloads {
		k := w.Namespace + "/" + w.Name
		t, ok := templateFor(tpls, w)
		if !ok {
			return fail(fmt.Errorf("pod %s of the routing model has no pod template among the scenario's objects", k))
		}
		ps, err := t.podFor(w)
		if err != nil {
			return fail(err)
		}
		if old := e.pods[k]; old != nil && old.fingerprint == ps.fingerprint {
			next[k] = old
			continue
		}
		p, err := e.startPod(ps)
		if err != nil {
			return fail(err)
		}
		started = append(started, p)
		next[k] = p
	}
	e.routes.Store(&routing{model: mesh.New(cfg), pods: next})
	var errs []error
	for k, old := range e.pods {
		if next[k] != old {
			errs = append(errs, old.stop(ctx))
		}
	}
	e.pods = next
	e.log.Info("step applied", "scenario", s.Metadata.Name, "step", s.Steps[step].Name, "pods", len(next), "started", len(started))
	return errors.Join(errs...)
}

// Endpoint returns how a probe reaches its target: the ingress listener
// with the probe's Host for the ingress vantage; the probe's own URL through
// the outbound sidecar emulation of the probe's SourceIdentity (in the
// mesh probes' namespace) for the mesh vantage.
func (e *Env) Endpoint(ctx context.Context, p scenario.Probe) (env.Endpoint, error) {
	e.mu.Lock()
	active, ingress, ns := e.active, e.ingress, e.sourceNS
	e.mu.Unlock()
	if !active {
		return env.Endpoint{}, errors.New("local environment: Endpoint before Setup")
	}
	switch p.From {
	case mesh.Ingress:
		host, path := p.Request.Host, p.Request.Path
		if p.Request.URL != "" {
			u, err := url.Parse(p.Request.URL)
			if err != nil {
				return env.Endpoint{}, fmt.Errorf("probe %s: request url %q: %w", p.Name, p.Request.URL, err)
			}
			path = u.RequestURI()
			if host == "" {
				host = u.Host
			}
		}
		if path == "" {
			path = "/"
		}
		if !strings.HasPrefix(path, "/") {
			return env.Endpoint{}, fmt.Errorf("probe %s: request path %q: it must start with /", p.Name, path)
		}
		return env.Endpoint{URL: strings.TrimSuffix(ingress.url.String(), "/") + path, Host: host}, nil
	case mesh.Mesh:
		target := p.Request.URL
		if target == "" {
			path := p.Request.Path
			if path == "" {
				path = "/"
			}
			target = "http://" + p.Request.Host + path
		}
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return env.Endpoint{}, fmt.Errorf("probe %s: request url %q: want http://host[:port]/path", p.Name, target)
		}
		via, err := e.proxyFor(p.SourceIdentity(ns))
		if err != nil {
			return env.Endpoint{}, err
		}
		return env.Endpoint{URL: target, Host: p.Request.Host, Via: via}, nil
	}
	return env.Endpoint{}, fmt.Errorf("probe %s: from %q: want ingress or mesh", p.Name, p.From)
}

// VersionMap maps the current pods' names to their value of the probe's
// version label; pods without the label are left out.
func (e *Env) VersionMap(ctx context.Context, p scenario.Probe) (map[string]string, error) {
	rt := e.routes.Load()
	if rt == nil {
		return nil, errors.New("local environment: VersionMap before Apply")
	}
	label := p.VersionLabel()
	out := make(map[string]string, len(rt.pods))
	for _, pd := range rt.pods {
		if v, ok := pd.workload.Labels[label]; ok {
			out[pd.workload.Name] = v
		}
	}
	return out, nil
}

// Teardown stops the listeners, the sidecar emulation and every pod, and
// waits until all their goroutines have ended (or ctx ends, when it closes
// what is left). Calling it again, or without Setup, does nothing.
func (e *Env) Teardown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	if e.ingress != nil {
		errs = append(errs, e.ingress.stop(ctx))
		e.ingress = nil
	}
	e.pmu.Lock()
	for id, p := range e.proxies {
		errs = append(errs, p.stop(ctx))
		delete(e.proxies, id)
	}
	outbound := e.outbound
	e.outbound = nil
	e.pmu.Unlock()
	e.routes.Store(nil)
	for k, p := range e.pods {
		errs = append(errs, p.stop(ctx))
		delete(e.pods, k)
	}
	for _, t := range outbound {
		t.CloseIdleConnections()
	}
	e.upstream.CloseIdleConnections()
	if e.active {
		e.log.Info("local environment torn down")
	}
	e.active = false
	return errors.Join(errs...)
}

// proxyFor returns the URL of the outbound sidecar emulation for clients
// with identity id, starting it on first use.
func (e *Env) proxyFor(id mesh.Identity) (*url.URL, error) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if p := e.proxies[id]; p != nil {
		return p.url, nil
	}
	p, err := startServer(e.meshHandler(id), e.log)
	if err != nil {
		return nil, fmt.Errorf("local environment: starting the sidecar emulation for %s: %w", id.Principal(), err)
	}
	e.proxies[id] = p
	return p.url, nil
}

// clientFor returns the HTTP client a pod with identity id makes its own
// calls with: through the outbound sidecar emulation of that identity.
func (e *Env) clientFor(id mesh.Identity) (*http.Client, error) {
	via, err := e.proxyFor(id)
	if err != nil {
		return nil, err
	}
	// As many idle connections as the listeners keep to the pods: a pod
	// calling at the probe's rate keeps its connections instead of dialing
	// anew once more than a few calls are in flight.
	t := &http.Transport{Proxy: http.ProxyURL(via), MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	e.pmu.Lock()
	e.outbound = append(e.outbound, t)
	e.pmu.Unlock()
	return &http.Client{Transport: t, Timeout: 10 * time.Second}, nil
}
