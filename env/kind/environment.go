package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/knative"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/openfaas"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// agentImageName is the image (of image.Defaults) the in-mesh agent runs:
// meshcheck itself.
const agentImageName = "meshcheck"

// Option configures the kind environment of `run --env kind`.
type Option func(*config)

// config is what the options set; New validates it once.
type config struct {
	name, stateDir, sourceDir, istioctl string
	keep, keepOnFailure, anyIstioctl    bool
	readyTimeout                        time.Duration
	registryIP                          string // the in-cluster registry's ClusterIP; DefaultRegistryIP when empty
	existing                            []existing.Option
	openfaas                            openfaas.Fetcher
	knativeDir                          string // --knative-manifests
	deps                                *Deps
	log                                 *slog.Logger
	errs                                []error
}

// WithName is the cluster's name (--name): the one `meshcheck up` created
// is reused; by default DefaultName.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithStateDir is the folder of meshcheck's kind files (--kubeconfig-dir:
// kubeconfig, state, images), made absolute; by default DefaultStateDir.
func WithStateDir(dir string) Option {
	return func(c *config) {
		abs, err := ResolveStateDir(dir)
		if err != nil {
			c.errs = append(c.errs, err)
		}
		c.stateDir = abs
	}
}

// WithSourceDir is the meshcheck source tree the images are built from
// (--source), made absolute; by default the checkout around the working
// folder.
func WithSourceDir(dir string) Option {
	return func(c *config) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("--source %s: %w", dir, err))
		}
		c.sourceDir = abs
	}
}

// WithIstioctl is the istioctl to install Istio with (--istioctl),
// version-checked before use; by default the pinned release.
func WithIstioctl(path string) Option { return func(c *config) { c.istioctl = path } }

// WithIstioctlAnyVersion lets WithIstioctl's istioctl be of another Istio
// minor version than the pinned release, with a warning
// (--istioctl-any-version).
func WithIstioctlAnyVersion(allow bool) Option { return func(c *config) { c.anyIstioctl = allow } }

// WithKeep keeps a cluster the run creates (--keep).
func WithKeep(keep bool) Option { return func(c *config) { c.keep = keep } }

// WithKeepOnFailure keeps a cluster the run creates when the run fails
// (--keep-on-failure).
func WithKeepOnFailure(keep bool) Option { return func(c *config) { c.keepOnFailure = keep } }

// WithReadyTimeout bounds each wait for the nodes, Istio and the workloads
// (--readiness-timeout); by default istio.DefaultReadinessTimeout.
func WithReadyTimeout(d time.Duration) Option {
	return func(c *config) {
		c.readyTimeout = d
		c.existing = append(c.existing, existing.WithReadyTimeout(d))
	}
}

// WithProgrammedTimeout bounds each wait for a probe's proxies to be
// programmed with the step's routes (--programmed-timeout); by default
// existing.DefaultProgrammedTimeout.
func WithProgrammedTimeout(d time.Duration) Option {
	return func(c *config) { c.existing = append(c.existing, existing.WithProgrammedTimeout(d)) }
}

// WithOpenFaaSChart installs OpenFaaS, for scenarios with spec.backend
// openfaas, from the local chart archive path (--openfaas-chart) instead of
// downloading it; its sha256 must be the pinned chart's.
func WithOpenFaaSChart(path string) Option { return func(c *config) { c.openfaas.Local = path } }

// WithKnativeManifests installs Knative Serving and net-istio, for
// scenarios with spec.backend knative, from the release files in dir
// (--knative-manifests), each checked against dir's SHA256SUMS
// (knative.LoadDir). Without it such scenarios are skipped.
func WithKnativeManifests(dir string) Option { return func(c *config) { c.knativeDir = dir } }

// WithDeps replaces the process boundaries (container engine, kind,
// clients, istioctl, image builds) by d; by default DefaultDeps.
func WithDeps(d Deps) Option { return func(c *config) { c.deps = &d } }

// WithLogger sends progress to log; by default it is discarded.
func WithLogger(log *slog.Logger) Option { return func(c *config) { c.log = log } }

// Opener opens the kind environment; it implements env.Opener and
// env.DryRunner.
type Opener struct {
	plan       *Plan
	openfaas   openfaas.Fetcher
	knative    *knative.Manifests // nil without --knative-manifests
	agentImage string
	// registryIP is the in-cluster registry's ClusterIP; fixtureImage the
	// image its pod runs (registry.go).
	registryIP, fixtureImage string
	deps                     Deps
	existing                 []existing.Option
	log                      *slog.Logger
}

// New validates the options once and plans `run --env kind`: the cluster of
// the name (reused when it exists, as `meshcheck up` left it; created
// otherwise) under the state folder, images built from the source tree.
// Errors are env.ErrInvalidOptions, naming the flag. It changes nothing.
func New(opts ...Option) (*Opener, error) {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	d := DefaultDeps(c.log)
	if c.deps != nil {
		d = *c.deps
	}
	if d.Log == nil {
		d.Log = c.log
	}
	if d.WriteNodeFile == nil {
		d.WriteNodeFile = writeNodeFile
	}
	if c.registryIP == "" {
		c.registryIP = DefaultRegistryIP
	}
	if err := validateRegistryIP(c.registryIP); err != nil {
		c.errs = append(c.errs, err)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, env.InvalidOptions(err)
	}
	if c.sourceDir == "" {
		// A missing checkout is reported by NewPlan with the --source hint.
		c.sourceDir, _ = FindSourceDir(".")
	}
	if c.readyTimeout == 0 {
		c.readyTimeout = istio.DefaultReadinessTimeout
	}
	if c.openfaas.Pin.Name == "" {
		c.openfaas.Pin = openfaas.Pinned
	}
	c.openfaas.HTTP = d.HTTPClient
	if c.openfaas.Local != "" {
		// A wrong archive is the user's input: refused before anything runs.
		data, err := os.ReadFile(c.openfaas.Local)
		if err == nil {
			err = c.openfaas.Pin.Verify("--openfaas-chart "+c.openfaas.Local, data)
		} else {
			err = fmt.Errorf("--openfaas-chart: %w", err)
		}
		if err != nil {
			return nil, env.InvalidOptions(err)
		}
	}
	var kn *knative.Manifests
	if c.knativeDir != "" {
		// Like --openfaas-chart: wrong files are the user's input.
		m, err := knative.LoadDir(c.knativeDir)
		if err != nil {
			return nil, env.InvalidOptions(err)
		}
		kn = m
	}
	p, err := NewPlan(Options{
		Name:             c.name,
		StateDir:         c.stateDir,
		Istioctl:         c.istioctl,
		AnyIstioctl:      c.anyIstioctl,
		Reuse:            true,
		Keep:             c.keep,
		KeepOnFailure:    c.keepOnFailure,
		ReadinessTimeout: c.readyTimeout,
		SourceDir:        c.sourceDir,
	})
	if err != nil {
		return nil, env.InvalidOptions(err)
	}
	agent, err := p.AgentImage()
	if err != nil {
		return nil, env.InvalidOptions(err)
	}
	// The existing environment's own options are checked once here too.
	ex := slices.Concat(c.existing, []existing.Option{existing.WithLogger(c.log)})
	if _, err := existing.New(ex...); err != nil {
		return nil, err
	}
	// A plan without the fixture image cannot start the registry: the
	// scenarios that need it fail then, naming it (registryObjects).
	fixture, _ := p.imageRef(fixtureImageName)
	return &Opener{plan: p, openfaas: c.openfaas, knative: kn, agentImage: agent, registryIP: c.registryIP, fixtureImage: fixture, deps: d, existing: ex, log: c.log}, nil
}

// Plan is what Open will provision.
func (o *Opener) Plan() *Plan { return o.plan }

// Name returns "kind".
func (*Opener) Name() string { return env.Kind }

// Emulated is false: the mesh is real.
func (*Opener) Emulated() bool { return false }

// Open implements env.Opener with Provision.
func (o *Opener) Open(ctx context.Context) (env.Environment, error) {
	e, err := o.Provision(ctx)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DryRun implements env.DryRunner: the cluster plan (kind config,
// IstioOperator, istioctl command lines, images), then for each scenario
// the objects a run would apply.
func (o *Opener) DryRun(w io.Writer, scenarios []*scenario.Scenario) error {
	keep := " and deleted after the run\n"
	if o.plan.Options.Keep {
		keep = " and kept (--keep)\n"
	}
	if _, err := fmt.Fprintf(w, "# meshcheck run --env kind: the cluster %q is reused if it exists, else created as below%s", o.plan.Options.Name, keep); err != nil {
		return err
	}
	if err := o.plan.WriteDryRun(w); err != nil {
		return err
	}
	if slices.ContainsFunc(scenarios, func(s *scenario.Scenario) bool { return s.Backend == scenario.BackendOpenFaaS }) {
		if err := o.writeRegistryDryRun(w, scenarios); err != nil {
			return err
		}
		if err := o.writeOpenFaaSDryRun(w); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(scenarios, func(s *scenario.Scenario) bool { return s.Backend == scenario.BackendKnative }) {
		if err := o.writeKnativeDryRun(w, scenarios); err != nil {
			return err
		}
	}
	return kube.WriteDryRuns(w, scenarios, kube.Images{Agent: o.agentImage, Functions: functionImages(o.registryIP, o.plan.Images)})
}

// AgentImage is the reference of the agent's image among the images the
// plan builds and loads into the nodes.
func (p *Plan) AgentImage() (string, error) {
	ref, err := p.imageRef(agentImageName)
	if err != nil {
		return "", fmt.Errorf("%w for the in-mesh agent", err)
	}
	return ref, nil
}

// imageRef is the reference of the image called name among the images the
// plan builds.
func (p *Plan) imageRef(name string) (string, error) {
	for _, s := range p.Images {
		if s.Name == name {
			return s.Ref(), nil
		}
	}
	return "", fmt.Errorf("the kind plan builds no %q image", name)
}

// Env is the `--env kind` environment: a kind cluster with Istio and
// meshcheck's images, provisioned (or reused) by Opener.Provision, on which the
// existing-cluster environment deploys the scenarios through meshcheck's
// own kubeconfig and reaches the ingress gateway at the host port kind maps
// to its nodePort.
type Env struct {
	cluster      *existing.Env
	openfaas     openfaas.Fetcher
	knative      *knative.Manifests
	readyTimeout time.Duration
	log          *slog.Logger
	// The in-cluster registry (registry.go): its ClusterIP, the image its
	// pod runs and how files are written on the nodes.
	registryIP, fixtureImage string
	writeNodeFile            func(nodes.Node, string, []byte) error

	// registryMu serialises serveFunctionImages; registryUp is set once
	// the registry runs, pushed holds the images pushed to it.
	registryMu sync.Mutex
	registryUp bool
	pushed     map[string]bool

	mu      sync.Mutex
	session *Session
	// openfaasInstalled is set once OpenFaaS is installed on the cluster.
	openfaasInstalled bool
	// knativeInstalled is set once Knative is installed on the cluster.
	knativeInstalled bool
}

var (
	_ env.Environment = (*Env)(nil)
	_ env.Closer      = (*Env)(nil)
	_ env.CostReader  = (*Env)(nil)
)

// Provision provisions the environment with the package's Provision: it
// reuses the cluster of the name that `meshcheck up` created, or creates
// one (cluster, Istio, images) that Close deletes again unless kept.
// Without a container engine it fails with the one-line error `meshcheck
// up` gives (a *NoEngineError).
func (o *Opener) Provision(ctx context.Context) (*Env, error) {
	s, err := Provision(ctx, o.plan, o.deps)
	if err != nil {
		return nil, err
	}
	opener, err := existing.New(slices.Concat(o.existing, []existing.Option{
		existing.WithKubeconfig(s.Kubeconfig()),
		existing.WithIngressURL("http://" + s.HTTPAddr()),
		existing.WithAgentImage(o.agentImage),
		existing.WithFunctionImages(functionImages(o.registryIP, o.plan.Images))})...)
	var c *existing.Env
	if err == nil {
		c, err = opener.Connect(ctx)
	}
	if err != nil {
		if errors.Is(err, env.ErrInvalidOptions) {
			// meshcheck's own kubeconfig of the cluster is at fault, not
			// the user's input.
			err = fmt.Errorf("kind cluster %q: kubeconfig %s: %s", s.Cluster.Name, s.Kubeconfig(), err)
		} else {
			err = fmt.Errorf("kind cluster %q: %w", s.Cluster.Name, err)
		}
		if cerr := s.Close(true); cerr != nil {
			return nil, fmt.Errorf("%w (and deleting the cluster failed: %v)", err, cerr)
		}
		return nil, err
	}
	return &Env{cluster: c, openfaas: o.openfaas, knative: o.knative, readyTimeout: o.plan.Options.ReadinessTimeout, log: o.log, session: s,
		registryIP: o.registryIP, fixtureImage: o.fixtureImage, writeNodeFile: o.deps.WriteNodeFile, pushed: map[string]bool{}}, nil
}

// Session is the kind session the environment runs on; nil after Close.
func (e *Env) Session() *Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.session
}

// Name implements env.Environment: "kind".
func (e *Env) Name() string { return env.Kind }

// Emulated implements env.Environment: the mesh is real.
func (e *Env) Emulated() bool { return false }

// Setup creates the scenario's namespaces (see existing.Env.Setup). For a
// scenario whose spec.backend is openfaas it first serves the images its
// Functions name among meshcheck's own from the in-cluster registry
// (serveFunctionImages: OpenFaaS CE deploys only images it can read
// anonymously from a registry), then, before the first such scenario,
// installs OpenFaaS on the cluster (installOpenFaaS). Before the first
// scenario whose spec.backend is knative it installs Knative Serving and
// net-istio (installKnative), or, without --knative-manifests, fails with
// env.BackendUnavailable.
func (e *Env) Setup(ctx context.Context, s *scenario.Scenario) error {
	if s.Backend == scenario.BackendOpenFaaS {
		if err := e.serveFunctionImages(ctx, s); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Metadata.Name, err)
		}
		if err := e.installOpenFaaS(ctx); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Metadata.Name, err)
		}
	}
	if s.Backend == scenario.BackendKnative {
		if err := e.installKnative(ctx, s); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Metadata.Name, err)
		}
	}
	return e.cluster.Setup(ctx, s)
}

// Apply makes the state after step current, make-before-break, and waits
// until it is ready (see existing.Env.Apply).
func (e *Env) Apply(ctx context.Context, s *scenario.Scenario, step int) error {
	return e.cluster.Apply(ctx, s, step)
}

// Endpoint is the ingress gateway at the host port kind maps to its http2
// nodePort for ingress probes, and the in-mesh agent for probes from the
// mesh (see existing.Env.Endpoint).
func (e *Env) Endpoint(ctx context.Context, p scenario.Probe) (env.Endpoint, error) {
	return e.cluster.Endpoint(ctx, p)
}

// VersionMap maps the pods behind the probe's Services to their version
// (see existing.Env.VersionMap).
func (e *Env) VersionMap(ctx context.Context, p scenario.Probe) (map[string]string, error) {
	return e.cluster.VersionMap(ctx, p)
}

// MeshCost implements env.CostReader (see existing.Env.MeshCost).
func (e *Env) MeshCost(ctx context.Context, after string) (report.MeshCost, error) {
	return e.cluster.MeshCost(ctx, after)
}

// Teardown deletes what meshcheck applied for the scenario, and only that;
// the cluster stays for the next scenario (Close ends it).
func (e *Env) Teardown(ctx context.Context) error {
	return e.cluster.Teardown(ctx)
}

// Close implements env.Closer: it deletes the cluster if Provision created it,
// unless Keep, or KeepOnFailure when failed. A reused cluster stays. Calls
// after the first do nothing.
func (e *Env) Close(_ context.Context, failed bool) error {
	e.mu.Lock()
	s := e.session
	e.session = nil
	e.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close(failed)
}
