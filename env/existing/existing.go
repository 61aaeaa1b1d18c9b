// Package existing is the `--env existing` environment: scenarios run on a
// cluster the user already has, with Istio installed, reached through a
// kubeconfig that meshcheck only reads.
//
// meshcheck creates only objects labelled app.kubernetes.io/managed-by=
// meshcheck (and meshcheck.dev/scenario=<name>), refuses to change an
// object that exists without those labels, and deletes on teardown only
// what carries them (package env/kube does the deploying).
package existing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/scenario"
)

func init() {
	env.Register(env.Existing, func(ctx context.Context, o env.Options) (env.Environment, error) {
		ctx, cancel := context.WithTimeout(ctx, DefaultCheckTimeout)
		defer cancel()
		return New(ctx, FromEnv(o))
	})
}

// FromEnv returns the options of the existing environment that o sets:
// the kubeconfig and context, the ingress URL, the agent image and the
// waits (a positive PropagationDelay replaces kube's default delay).
func FromEnv(o env.Options) Options {
	opts := Options{
		Kubeconfig:   o.Kubeconfig,
		Context:      o.Context,
		IngressURL:   o.IngressURL,
		AgentImage:   o.AgentImage,
		ReadyTimeout: o.ReadyTimeout,
		Log:          o.Log,
	}
	if o.PropagationDelay > 0 {
		opts.Propagation = kube.Delay(o.PropagationDelay)
	}
	return opts
}

// Where Istio lives in a cluster.
const (
	// IstioNamespace is the namespace of istiod and the ingress gateway.
	IstioNamespace = "istio-system"
	// IngressGatewayService is the ingress gateway's Service.
	IngressGatewayService = "istio-ingressgateway"
	// DefaultCheckTimeout bounds New's checks of the cluster.
	DefaultCheckTimeout = 30 * time.Second
)

// ErrNoIstio marks the error of a cluster without a working Istio control
// plane: the CLI exits 4 with it.
var ErrNoIstio = errors.New("the cluster has no working Istio")

// Options configure the existing environment.
type Options struct {
	// Kubeconfig is the kubeconfig file to read; empty means $KUBECONFIG,
	// else ~/.kube/config. meshcheck never writes it.
	Kubeconfig string
	// Context is the kubeconfig context to use; empty means its current
	// context.
	Context string
	// IngressURL is where this host reaches the ingress gateway's HTTP
	// port, e.g. http://203.0.113.7; empty means the gateway Service's
	// load-balancer address, else a port-forward to a gateway pod.
	IngressURL string
	// AgentImage is the image of the in-mesh agent; empty means
	// kube.AgentImage, which the cluster must be able to pull.
	AgentImage string
	// Forwarder opens port-forwards; nil means kube.SPDYForwarder.
	Forwarder kube.Forwarder
	// Propagation waits for configuration to reach the proxies; nil means
	// kube.Delay(kube.DefaultPropagationDelay).
	Propagation kube.Propagator
	// ReadyTimeout bounds each wait for workloads; 0 means
	// kube.DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// PollInterval is how often waits read the API; 0 means
	// kube.DefaultPollInterval.
	PollInterval time.Duration
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// Env is the existing environment.
type Env struct {
	opts   Options
	client *kube.Client
	log    *slog.Logger

	mu       sync.Mutex
	scenario *scenario.Scenario
	step     int
	deployer *kube.Deployer
	kinds    []schema.GroupVersionKind
	ingress  string
	agents   map[string]string // namespace -> agent URL
	stops    []func()
}

// New reads the kubeconfig, connects and checks that Istio runs: istiod
// available in istio-system and Istio's networking API served. A cluster
// without them is an error wrapping ErrNoIstio; a bad ingress URL or a
// kubeconfig that cannot be read or lacks the context is
// env.ErrInvalidOptions.
func New(ctx context.Context, opts Options) (*Env, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.IngressURL != "" {
		u, err := url.Parse(opts.IngressURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, env.InvalidOptions(fmt.Errorf("--ingress-url %q: want http(s)://host[:port] with no path", opts.IngressURL))
		}
	}
	cfg, where, err := restConfig(opts.Kubeconfig, opts.Context)
	if err != nil {
		return nil, env.InvalidOptions(err)
	}
	client, err := kube.NewClient(cfg, log)
	if err != nil {
		return nil, err
	}
	e := &Env{opts: opts, client: client, log: log.With("env", env.Existing), agents: map[string]string{}}
	if err := e.checkIstio(ctx, where); err != nil {
		return nil, err
	}
	return e, nil
}

// restConfig reads the kubeconfig without ever writing it: no migration of
// old kubeconfig files, and no persisting of refreshed credentials. It
// returns the config and a phrase naming the cluster for messages.
func restConfig(path, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.MigrationRules = nil // migration copies files into ~/.kube
	if path != "" {
		rules.ExplicitPath = path
	}
	raw, err := rules.Load()
	if err != nil {
		if path != "" {
			return nil, "", fmt.Errorf("--kubeconfig %s: %w", path, err)
		}
		return nil, "", fmt.Errorf("read kubeconfig %s: %w", describe(rules), err)
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return nil, "", fmt.Errorf("kubeconfig %s has no current context: give --context", describe(rules))
	}
	if _, ok := raw.Contexts[name]; !ok {
		return nil, "", fmt.Errorf("kubeconfig %s has no context %q", describe(rules), name)
	}
	// A nil config access means nothing is ever written back.
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s, context %q: %w", describe(rules), name, err)
	}
	return cfg, fmt.Sprintf("cluster of context %q", name), nil
}

func describe(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	return "($KUBECONFIG or ~/.kube/config)"
}

// checkIstio requires an available istiod (any revision: label app=istiod)
// in istio-system and the networking.istio.io API.
func (e *Env) checkIstio(ctx context.Context, where string) error {
	deps, err := e.client.Kube.AppsV1().Deployments(IstioNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		return fmt.Errorf("%s: look for istiod in %s: %w", where, IstioNamespace, err)
	}
	if len(deps.Items) == 0 {
		return fmt.Errorf("%s: %w: no istiod Deployment (label app=istiod) in namespace %s: install Istio (istioctl install) or use --env kind or --env local",
			where, ErrNoIstio, IstioNamespace)
	}
	available := false
	for _, d := range deps.Items {
		if d.Status.AvailableReplicas > 0 {
			available = true
		}
	}
	if !available {
		return fmt.Errorf("%s: %w: istiod in namespace %s has no available replica", where, ErrNoIstio, IstioNamespace)
	}
	if _, err := e.client.Kube.Discovery().ServerResourcesForGroupVersion("networking.istio.io/v1"); err != nil {
		return fmt.Errorf("%s: %w: the API networking.istio.io/v1 is not served (Istio's CRDs are missing or older than 1.22): %v", where, ErrNoIstio, err)
	}
	return nil
}

// Name implements env.Environment.
func (e *Env) Name() string { return env.Existing }

// Emulated implements env.Environment: the mesh is real.
func (e *Env) Emulated() bool { return false }

// Setup creates the scenario's namespaces (labelled for injection where it
// asks), or uses ones that exist.
func (e *Env) Setup(ctx context.Context, s *scenario.Scenario) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scenario != nil {
		return fmt.Errorf("existing environment: Setup of %s while %s is set up: tear it down first", s.Metadata.Name, e.scenario.Metadata.Name)
	}
	d, err := kube.NewDeployer(e.client, kube.Options{
		Scenario:     s.Metadata.Name,
		Propagation:  e.opts.Propagation,
		ReadyTimeout: e.opts.ReadyTimeout,
		PollInterval: e.opts.PollInterval,
	})
	if err != nil {
		return err
	}
	kinds, err := kube.Kinds(s)
	if err != nil {
		return err
	}
	e.scenario, e.deployer, e.kinds, e.step = s, d, kinds, -1
	if err := d.Apply(ctx, kube.SetupChange(s)); err != nil {
		return fmt.Errorf("set up %s: %w", s.Metadata.Name, err)
	}
	return nil
}

// Apply makes the state after step current, make-before-break, and waits
// until its workloads are ready.
func (e *Env) Apply(ctx context.Context, s *scenario.Scenario, step int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scenario != s || e.deployer == nil {
		return fmt.Errorf("existing environment: Apply of %s before its Setup", s.Metadata.Name)
	}
	ch, err := kube.StepChange(s, step)
	if err != nil {
		return err
	}
	if err := e.deployer.Apply(ctx, ch); err != nil {
		return fmt.Errorf("step %s: %w", s.Steps[step].Name, err)
	}
	e.step = step
	return nil
}

// Endpoint says how to reach a probe's target: the ingress gateway for
// ingress probes; for mesh probes the in-mesh agent, deployed on first use
// in the scenario's source namespace and reached through a port-forward.
// Errors say what could not be reached; the caller names the probe.
func (e *Env) Endpoint(ctx context.Context, p scenario.Probe) (env.Endpoint, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scenario == nil {
		return env.Endpoint{}, errors.New("existing environment: Endpoint before Setup")
	}
	if p.From == mesh.Mesh {
		agent, err := e.agent(ctx)
		if err != nil {
			return env.Endpoint{}, err
		}
		return env.Endpoint{URL: p.Request.URL, Agent: agent}, nil
	}
	base, err := e.ingressBase(ctx)
	if err != nil {
		return env.Endpoint{}, err
	}
	path := p.Request.Path
	if path == "" {
		path = "/"
	}
	return env.Endpoint{URL: base + path, Host: p.Request.Host}, nil
}

// VersionMap maps the pods behind the probe's Services to their value of
// the probe's version label.
func (e *Env) VersionMap(ctx context.Context, p scenario.Probe) (map[string]string, error) {
	e.mu.Lock()
	s, step := e.scenario, e.step
	e.mu.Unlock()
	if s == nil || step < 0 {
		return nil, errors.New("existing environment: VersionMap before Apply")
	}
	services, err := kube.ProbeServices(s, step, p)
	if err != nil {
		return nil, err
	}
	return e.client.VersionMap(ctx, services, p.VersionLabel())
}

// Teardown stops port-forwards and deletes what the scenario created (and
// only that). It is safe to call again and after a failed Setup.
func (e *Env) Teardown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, stop := range e.stops {
		stop()
	}
	e.stops, e.ingress, e.agents = nil, "", map[string]string{}
	if e.deployer == nil {
		e.scenario = nil
		return nil
	}
	if _, err := e.deployer.Cleanup(ctx, e.kinds); err != nil {
		return fmt.Errorf("tear down %s: %w", e.scenario.Metadata.Name, err)
	}
	e.scenario, e.deployer, e.kinds = nil, nil, nil
	return nil
}

// forwarder returns the configured Forwarder or the SPDY one.
func (e *Env) forwarder() kube.Forwarder {
	if e.opts.Forwarder != nil {
		return e.opts.Forwarder
	}
	return kube.SPDYForwarder{Client: e.client}
}

// agent returns the URL of the in-mesh agent of the scenario's source
// namespace, deploying it and opening a port-forward on first use.
func (e *Env) agent(ctx context.Context) (string, error) {
	ns := e.scenario.SourceNamespace()
	if u, ok := e.agents[ns]; ok {
		return u, nil
	}
	pod, err := e.deployer.DeployAgent(ctx, ns, e.opts.AgentImage)
	if err != nil {
		return "", err
	}
	addr, stop, err := e.forwarder().Forward(context.WithoutCancel(ctx), ns, pod, kube.AgentPort)
	if err != nil {
		return "", fmt.Errorf("reach the in-mesh agent: %w", err)
	}
	e.stops = append(e.stops, stop)
	u := "http://" + addr
	e.agents[ns] = u
	return u, nil
}
