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
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	ksapi "github.com/meshcheck/meshcheck/backend/knative"
	fnapi "github.com/meshcheck/meshcheck/backend/openfaas"
	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/knative"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/openfaas"
	"github.com/meshcheck/meshcheck/image"
	"github.com/meshcheck/meshcheck/mesh"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// Where Istio lives in a cluster.
const (
	// istioNamespace is the namespace of istiod and the ingress gateway.
	istioNamespace = "istio-system"
	// ingressGatewayService is the ingress gateway's Service.
	ingressGatewayService = "istio-ingressgateway"
	// defaultCheckTimeout bounds Open's checks of the cluster.
	defaultCheckTimeout = 30 * time.Second
)

// ErrNoIstio marks the error of a cluster without a working Istio control
// plane: the CLI exits 4 with it.
var ErrNoIstio = errors.New("the cluster has no working Istio")

// Option configures the existing environment.
type Option func(*config)

// config is what the options set; New validates it once.
type config struct {
	kubeconfig   string
	context      string
	ingressURL   string
	agentImage   string
	registry     string
	forwarder    kube.Forwarder
	propagation  kube.Propagator
	readyTimeout time.Duration
	// programmedTimeout bounds each programmed wait; 0 means
	// DefaultProgrammedTimeout.
	programmedTimeout time.Duration
	pollInterval      time.Duration
	// relistInterval is how often a programmed wait lists its proxies
	// again; 0 means relistInterval.
	relistInterval time.Duration
	// functionImages replaces the images of OpenFaaS Functions only.
	functionImages map[string]string
	log            *slog.Logger
	errs           []error
}

// WithKubeconfig reads the cluster from the kubeconfig file path, which
// meshcheck never writes; by default $KUBECONFIG, else ~/.kube/config.
func WithKubeconfig(path string) Option { return func(c *config) { c.kubeconfig = path } }

// WithContext uses the kubeconfig context name; by default its current
// context.
func WithContext(name string) Option { return func(c *config) { c.context = name } }

// WithIngressURL is where this host reaches the ingress gateway's HTTP port
// (http(s)://host[:port], e.g. http://203.0.113.7); by default the gateway
// Service's load-balancer address, else a port-forward to a gateway pod.
func WithIngressURL(u string) Option { return func(c *config) { c.ingressURL = u } }

// WithAgentImage is the image of the in-mesh agent, which the cluster must
// be able to pull; by default kube.AgentImage.
func WithAgentImage(ref string) Option { return func(c *config) { c.agentImage = ref } }

// WithImageRegistry deploys meshcheck's own images (the in-mesh agent and
// the fixture workloads the manifests name as meshcheck.local/<name>:<tag>)
// from registry, where `meshcheck images push --registry` put them: Connect
// resolves each tag to its digest and deploys <registry>/<name>@sha256:...
func WithImageRegistry(registry string) Option { return func(c *config) { c.registry = registry } }

// WithFunctionImages deploys OpenFaaS Functions whose spec.image is a key of
// replace with the value's image instead (after WithImageRegistry's
// replacement); containers keep theirs. --env kind uses it for the
// in-cluster registry its Functions are pulled from.
func WithFunctionImages(replace map[string]string) Option {
	return func(c *config) { c.functionImages = replace }
}

// WithReadyTimeout bounds each wait for workloads (--readiness-timeout); by
// default kube.DefaultReadyTimeout.
func WithReadyTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("--readiness-timeout %s: want a positive duration such as 5m", d))
		}
		c.readyTimeout = d
	}
}

// WithPropagator waits for configuration to reach the proxies with p
// after each apply phase, instead of waiting after the route phase until
// the step's vantage proxies are programmed.
func WithPropagator(p kube.Propagator) Option { return func(c *config) { c.propagation = p } }

// WithForwarder opens port-forwards with f; by default kube.SPDYForwarder.
func WithForwarder(f kube.Forwarder) Option { return func(c *config) { c.forwarder = f } }

// WithPollInterval is how often waits read the API; by default
// kube.DefaultPollInterval.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.pollInterval = d } }

// WithLogger sends progress to log; by default it is discarded.
func WithLogger(log *slog.Logger) Option { return func(c *config) { c.log = log } }

// Opener opens the existing environment; it implements env.Opener and
// env.DryRunner.
type Opener struct{ cfg config }

// New validates the options (errors are env.ErrInvalidOptions, naming the
// flag) and returns the environment's Opener. It contacts nothing and reads
// no file: Open does.
func New(opts ...Option) (*Opener, error) {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.ingressURL != "" {
		u, err := url.Parse(c.ingressURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			c.errs = append(c.errs, fmt.Errorf("--ingress-url %q: want http(s)://host[:port] with no path", c.ingressURL))
		}
	}
	if c.registry != "" {
		if err := image.ValidateRegistry(c.registry); err != nil {
			c.errs = append(c.errs, fmt.Errorf("--image-registry: %w", err))
		}
		if c.agentImage != "" {
			c.errs = append(c.errs, errors.New("--agent-image and --image-registry both name the agent's image: give one"))
		}
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, env.InvalidOptions(err)
	}
	return &Opener{cfg: c}, nil
}

// Name returns "existing".
func (*Opener) Name() string { return env.Existing }

// Emulated is false: the mesh is real.
func (*Opener) Emulated() bool { return false }

// Open implements env.Opener with Connect.
func (o *Opener) Open(ctx context.Context) (env.Environment, error) {
	e, err := o.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Connect reads the kubeconfig, connects and checks, within
// defaultCheckTimeout, that Istio runs: istiod ready in istio-system and
// Istio's networking API served. A cluster without them is an error
// wrapping ErrNoIstio; no kubeconfig, one that cannot be read or one that
// lacks the context is env.ErrInvalidOptions.
func (o *Opener) Connect(ctx context.Context) (*Env, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultCheckTimeout)
	defer cancel()
	cfg, where, err := restConfig(o.cfg.kubeconfig, o.cfg.context)
	if err != nil {
		return nil, env.InvalidOptions(err)
	}
	client, err := kube.NewClient(cfg, o.cfg.log)
	if err != nil {
		return nil, err
	}
	e := &Env{opts: o.cfg, client: client, log: o.cfg.log.With("env", env.Existing), agents: map[string]*forward{}}
	if err := e.checkIstio(ctx, where); err != nil {
		return nil, err
	}
	if e.images, err = o.images(ctx); err != nil {
		return nil, err
	}
	e.images.Functions = o.cfg.functionImages
	return e, nil
}

// DryRun implements env.DryRunner: it names the cluster that would be used
// (not contacted) and prints, for each scenario, the objects a run would
// apply.
func (o *Opener) DryRun(w io.Writer, scenarios []*scenario.Scenario) error {
	where := "$KUBECONFIG or ~/.kube/config"
	if o.cfg.kubeconfig != "" {
		where = o.cfg.kubeconfig
	}
	context := "its current context"
	if o.cfg.context != "" {
		context = "context " + o.cfg.context
	}
	if _, err := fmt.Fprintf(w, "# meshcheck run --env existing: the cluster of %s, %s (not contacted by --dry-run; Istio is required)\n", where, context); err != nil {
		return err
	}
	images := kube.Images{Agent: o.cfg.agentImage, Functions: o.cfg.functionImages}
	if o.cfg.registry != "" {
		r := image.Remote{Registry: o.cfg.registry}
		images.Replace = map[string]string{}
		for _, s := range image.Defaults() {
			images.Replace[s.Ref()] = r.Ref(s)
		}
		images.Agent = images.Replace[kube.AgentImage]
		if _, err := fmt.Fprintf(w, "# images from %s (not contacted by --dry-run; a run pins each tag to its digest)\n", o.cfg.registry); err != nil {
			return err
		}
	}
	for _, s := range scenarios {
		if s.Backend == scenario.BackendOpenFaaS {
			if _, err := fmt.Fprintf(w, "# scenario %s needs OpenFaaS installed (Service %s in namespace %s); a run skips it otherwise\n", s.Metadata.Name, openfaas.GatewayDeployment, openfaas.Namespace); err != nil {
				return err
			}
		}
		if s.Backend == scenario.BackendKnative {
			if _, err := fmt.Fprintf(w, "# scenario %s needs Knative Serving with net-istio installed (CRD %s); a run skips it otherwise\n", s.Metadata.Name, ksapi.CRDName); err != nil {
				return err
			}
		}
	}
	return kube.WriteDryRuns(w, scenarios, images)
}

// images is what the environment deploys: as written, with the agent image
// given, or meshcheck's own images from the registry pinned by digest.
func (o *Opener) images(ctx context.Context) (kube.Images, error) {
	images := kube.Images{Agent: o.cfg.agentImage}
	if o.cfg.registry == "" {
		return images, nil
	}
	r := image.Remote{Registry: o.cfg.registry}
	images.Replace = map[string]string{}
	for _, s := range image.Defaults() {
		p, err := r.Resolve(ctx, s)
		if err != nil {
			return kube.Images{}, fmt.Errorf("--image-registry: %w", err)
		}
		images.Replace[s.Ref()] = p.Pinned()
		o.cfg.log.Info("deploying image from the registry", "image", s.Ref(), "as", p.Pinned())
	}
	images.Agent = images.Replace[kube.AgentImage]
	return images, nil
}

// Env is the existing environment.
type Env struct {
	opts   config
	images kube.Images
	client *kube.Client
	log    *slog.Logger

	mu       sync.Mutex
	scenario *scenario.Scenario
	step     int
	applying int // the step Apply is making current, -1 when none
	deployer *kube.Deployer
	kinds    []schema.GroupVersionKind
	// functions deploys the scenario's OpenFaaS Functions through the
	// gateway; nil unless its backend is openfaas.
	functions *openfaas.Functions
	ingress   *forward            // the port-forward to a gateway pod, when that is how it is reached
	agents    map[string]*forward // agentKey -> the port-forward to that agent
}

// forward is a port-forward the environment holds open across probes.
type forward struct {
	pod    string
	tunnel *kube.Tunnel
}

// url is the forward's base URL.
func (f *forward) url() string { return "http://" + f.tunnel.Addr }

// restConfig reads the kubeconfig without ever writing it: no migration of
// old kubeconfig files, and no persisting of refreshed credentials. It
// returns the config and a phrase naming the cluster for messages.
func restConfig(path, context string) (*rest.Config, string, error) {
	return restConfigFrom(clientcmd.NewDefaultClientConfigLoadingRules(), path, context)
}

// restConfigFrom is restConfig with client-go's loading rules given.
func restConfigFrom(rules *clientcmd.ClientConfigLoadingRules, path, context string) (*rest.Config, string, error) {
	rules.MigrationRules = nil // migration copies files into ~/.kube
	if path != "" {
		rules.ExplicitPath = path
	} else if !anyExists(rules.GetLoadingPrecedence()) {
		return nil, "", fmt.Errorf("no kubeconfig found: looked at %s: give --kubeconfig FILE (only read, never written), or run with --env kind or --env local", lookedAt(rules))
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

// anyExists reports whether any of the files exists.
func anyExists(files []string) bool {
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// lookedAt says where client-go's default rules look for a kubeconfig:
// each file of $KUBECONFIG, else ~/.kube/config.
func lookedAt(rules *clientcmd.ClientConfigLoadingRules) string {
	files := strings.Join(rules.GetLoadingPrecedence(), ", ")
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return "$KUBECONFIG (" + files + ")"
	}
	return "$KUBECONFIG (not set) and ~/.kube/config (" + files + ")"
}

func describe(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	return "($KUBECONFIG or ~/.kube/config)"
}

// checkIstio requires an istiod ready by kube's one readiness rule (any revision: label app=istiod)
// in istio-system and the networking.istio.io API.
func (e *Env) checkIstio(ctx context.Context, where string) error {
	deps, err := e.client.Kube.AppsV1().Deployments(istioNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		return fmt.Errorf("%s: look for istiod in %s: %w", where, istioNamespace, err)
	}
	if len(deps.Items) == 0 {
		return fmt.Errorf("%s: %w: no istiod Deployment (label app=istiod) in namespace %s: install Istio (istioctl install) or use --env kind or --env local",
			where, ErrNoIstio, istioNamespace)
	}
	var why []string
	for _, d := range deps.Items {
		ref := kube.Ref{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Namespace: d.Namespace, Name: d.Name}
		w, err := kube.DeploymentReady(ctx, e.client.Kube, ref)
		if err != nil {
			return fmt.Errorf("%s: %w: %w", where, ErrNoIstio, err)
		}
		if w == "" {
			why = nil
			break
		}
		why = append(why, ref.String()+": "+w)
	}
	if len(why) > 0 {
		return fmt.Errorf("%s: %w: istiod in namespace %s is not ready: %s", where, ErrNoIstio, istioNamespace, strings.Join(why, "; "))
	}
	if _, err := e.client.Kube.Discovery().ServerResourcesForGroupVersion("networking.istio.io/v1"); err != nil {
		return fmt.Errorf("%s: %w: the API networking.istio.io/v1 is not served (Istio's CRDs are missing or older than 1.22): %v", where, ErrNoIstio, err)
	}
	return nil
}

// Client is the environment's client of the cluster.
func (e *Env) Client() *kube.Client { return e.client }

// Forwarder is how the environment opens port-forwards (WithForwarder, by
// default kube.SPDYForwarder on its client).
func (e *Env) Forwarder() kube.Forwarder { return e.forwarder() }

// Name implements env.Environment.
func (e *Env) Name() string { return env.Existing }

// MeshCost implements env.CostReader with kube.MeshCost: it needs the
// permission to get nodes/proxy, which cluster-admin has and narrower
// roles may not (the run then warns and reports no cost).
func (e *Env) MeshCost(ctx context.Context, after string) (report.MeshCost, error) {
	return kube.MeshCost(ctx, e.client.Kube, after)
}

// Emulated implements env.Environment: the mesh is real.
func (e *Env) Emulated() bool { return false }

// Setup creates the scenario's namespaces (labelled for injection where it
// asks), or uses ones that exist. A scenario whose backend is openfaas needs
// OpenFaaS installed (the gateway Service in namespace openfaas): without
// it, or with Functions whose images are meshcheck's local ones (which CE
// refuses: openfaas.CheckPublicImages), Setup fails with
// env.BackendUnavailable, saying why, and the run skips the scenario;
// otherwise Setup reaches the gateway through a port-forward. A scenario
// whose backend is knative needs the API to serve Knative's Service kind
// (CRD services.serving.knative.dev): without it Setup fails with
// env.BackendUnavailable, naming the CRD.
func (e *Env) Setup(ctx context.Context, s *scenario.Scenario) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scenario != nil {
		return fmt.Errorf("existing environment: Setup of %s while %s is set up: tear it down first", s.Metadata.Name, e.scenario.Metadata.Name)
	}
	if s.Backend == scenario.BackendOpenFaaS {
		if err := openfaas.CheckInstalled(ctx, e.client.Kube); err != nil {
			if errors.Is(err, openfaas.ErrNotInstalled) {
				return env.BackendUnavailable(env.Existing, s.Backend, err.Error())
			}
			return err
		}
		fns, err := kube.Functions(s, e.images)
		if err != nil {
			return err
		}
		if err := openfaas.CheckPublicImages(fns); err != nil {
			return env.BackendUnavailable(env.Existing, s.Backend, err.Error())
		}
	}
	if s.Backend == scenario.BackendKnative {
		if err := knative.CheckInstalled(e.client.Kube.Discovery()); err != nil {
			if errors.Is(err, knative.ErrNotInstalled) {
				return env.BackendUnavailable(env.Existing, s.Backend, err.Error())
			}
			return err
		}
	}
	propagation := e.opts.propagation
	if propagation == nil {
		propagation = kube.PropagatorFunc(e.propagate)
	}
	d, err := kube.NewDeployer(e.client, kube.Options{
		Scenario:     s.Metadata.Name,
		Propagation:  propagation,
		ReadyTimeout: e.opts.readyTimeout,
		PollInterval: e.opts.pollInterval,
	})
	if err != nil {
		return err
	}
	kinds, err := kube.Kinds(s)
	if err != nil {
		return err
	}
	// Functions are the gateway's to delete (Teardown), not swept.
	kinds = slices.DeleteFunc(kinds, func(k schema.GroupVersionKind) bool { return k.Group == fnapi.Group && k.Kind == fnapi.Kind })
	e.scenario, e.deployer, e.kinds, e.step, e.applying = s, d, kinds, -1, -1
	setup, err := e.images.Rewrite(kube.SetupChange(s))
	if err != nil {
		return err
	}
	if err := d.Apply(ctx, setup); err != nil {
		return fmt.Errorf("set up %s: %w", s.Metadata.Name, err)
	}
	if s.Backend == scenario.BackendOpenFaaS {
		f, err := openfaas.Connect(ctx, e.client, e.forwarder(), e.opts.readyTimeout, e.log)
		if err != nil {
			return fmt.Errorf("set up %s: %w", s.Metadata.Name, err)
		}
		e.functions = f
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
	if err == nil {
		ch, err = e.images.Rewrite(ch)
	}
	if err != nil {
		return err
	}
	rest, fc, err := kube.SplitFunctions(ch)
	if err != nil {
		return err
	}
	if (len(fc.Deploy) > 0 || len(fc.Delete) > 0) && e.functions == nil {
		return fmt.Errorf("step %s: the scenario has OpenFaaS Functions but its spec.backend is not %s", s.Steps[step].Name, scenario.BackendOpenFaaS)
	}
	e.applying = step
	rest, err = e.applyKnative(ctx, rest)
	if err == nil {
		err = e.applyStep(ctx, rest, fc)
	}
	e.applying = -1
	if err != nil {
		return fmt.Errorf("step %s: %w", s.Steps[step].Name, err)
	}
	e.step = step
	return nil
}

// applyKnative applies the Knative Services among ch's objects first, as
// Functions are deployed first (applyStep): a route may point at a proxy
// that calls one only once it serves. It waits until each is Ready
// (knative.ServiceReady), within the ready timeout, and returns the rest
// of ch.
func (e *Env) applyKnative(ctx context.Context, ch kube.Change) (kube.Change, error) {
	var kss, rest []*unstructured.Unstructured
	for _, o := range ch.Apply {
		if gvk := o.GroupVersionKind(); gvk.Group == ksapi.Group && gvk.Kind == ksapi.Kind {
			kss = append(kss, o)
		} else {
			rest = append(rest, o)
		}
	}
	if len(kss) == 0 {
		return ch, nil
	}
	if err := e.deployer.Apply(ctx, kube.Change{Apply: kss}); err != nil {
		return ch, err
	}
	for _, o := range kss {
		if err := e.waitKnativeReady(ctx, o.GetNamespace(), o.GetName()); err != nil {
			return ch, err
		}
	}
	out := ch
	out.Apply = rest
	return out, nil
}

// waitKnativeReady polls the Knative Service ns/name until it is Ready,
// within the ready timeout; the error names it and why it is not.
func (e *Env) waitKnativeReady(ctx context.Context, ns, name string) error {
	timeout, poll := e.opts.readyTimeout, e.opts.pollInterval
	if timeout == 0 {
		timeout = kube.DefaultReadyTimeout
	}
	if poll == 0 {
		poll = kube.DefaultPollInterval
	}
	why := "not read yet"
	err := wait.PollUntilContextTimeout(ctx, poll, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := e.client.Dynamic.Resource(ksapi.GroupVersionResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() == nil { // an error of the deadline itself keeps the last reason
				why = err.Error()
			}
			return false, nil
		}
		var ready bool
		ready, why = knative.ServiceReady(u)
		return ready, nil
	})
	if err != nil {
		return fmt.Errorf("Knative Service %s/%s not ready after %s: %s", ns, name, timeout, why)
	}
	e.log.Info("ready", "object", "Knative Service "+ns+"/"+name)
	return nil
}

// applyStep deploys the step's Functions through the gateway (ready before
// any route can point at them), applies the rest make-before-break, and
// then deletes the Functions the step removes (no route points at them any
// more).
func (e *Env) applyStep(ctx context.Context, rest kube.Change, fc kube.FunctionChange) error {
	if len(fc.Deploy) > 0 {
		if err := e.functions.Deploy(ctx, fc.Deploy); err != nil {
			return err
		}
	}
	if err := e.deployer.Apply(ctx, rest); err != nil {
		return err
	}
	if len(fc.Delete) > 0 {
		return e.functions.Delete(ctx, fc.Delete)
	}
	return nil
}

// Endpoint says how to reach a probe's target: the ingress gateway for
// ingress probes; for mesh probes the in-mesh agent running as the probe's
// ServiceAccount (its own when the probe names none), deployed on first use
// in the scenario's source namespace and reached through a port-forward.
// Errors say what could not be reached; the caller names the probe.
func (e *Env) Endpoint(ctx context.Context, p scenario.Probe) (env.Endpoint, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scenario == nil {
		return env.Endpoint{}, errors.New("existing environment: Endpoint before Setup")
	}
	if p.From == mesh.Mesh {
		agent, err := e.agent(ctx, p.ServiceAccount)
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
	e.closeForwards()
	if e.functions != nil {
		if err := e.functions.Teardown(ctx); err != nil {
			return fmt.Errorf("tear down %s: %w", e.scenario.Metadata.Name, err)
		}
		e.functions = nil
	}
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

// forwarder returns the configured Forwarder or the SPDY one, which logs
// its own messages to the environment's log.
func (e *Env) forwarder() kube.Forwarder {
	if e.opts.forwarder != nil {
		return e.opts.forwarder
	}
	return kube.SPDYForwarder{Client: e.client, Log: e.log}
}

// closeForwards closes every port-forward the environment holds.
func (e *Env) closeForwards() {
	if e.ingress != nil {
		e.ingress.tunnel.Close()
	}
	for _, f := range e.agents {
		f.tunnel.Close()
	}
	e.ingress, e.agents = nil, map[string]*forward{}
}

// agentKey names the agent running as ServiceAccount sa ("" for its own) in
// namespace ns.
func agentKey(ns, sa string) string { return ns + "/" + sa }

// agent returns the URL of the in-mesh agent of the scenario's source
// namespace running as ServiceAccount sa ("" for its own), deploying it and
// opening a port-forward on first use. A port-forward that has ended since
// (the agent pod restarted or was rescheduled, the kubelet connection
// broke) is dropped: the pod is looked up again and the forward reopened,
// once, before the next probe uses it.
func (e *Env) agent(ctx context.Context, sa string) (string, error) {
	ns := e.scenario.SourceNamespace()
	key := agentKey(ns, sa)
	f, ok := e.agents[key]
	if ok && f.tunnel.Alive() {
		return f.url(), nil
	}
	var pod string
	var err error
	if ok {
		e.log.Warn("the port-forward to the in-mesh agent ended: reopening it", "pod", ns+"/"+f.pod, "error", f.tunnel.Err())
		f.tunnel.Close()
		delete(e.agents, key)
		pod, err = e.client.AgentPod(ctx, ns, sa)
	} else {
		pod, err = e.deployer.DeployAgent(ctx, ns, e.images.Agent, sa)
	}
	if err != nil {
		return "", err
	}
	t, err := e.forwarder().Forward(context.WithoutCancel(ctx), ns, pod, kube.AgentPort)
	if err != nil {
		return "", fmt.Errorf("reach the in-mesh agent: %w", err)
	}
	f = &forward{pod: pod, tunnel: t}
	e.agents[key] = f
	return f.url(), nil
}
