package kind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/scenario"
)

func init() {
	env.Register(env.Kind, func(ctx context.Context, o env.Options) (env.Environment, error) {
		return Open(ctx, o, DefaultDeps(o.Logger()))
	})
}

// AgentImageName is the image (of image.Defaults) the in-mesh agent runs:
// meshcheck itself.
const AgentImageName = "meshcheck"

// PlanFor is the plan of `run --env kind`: the cluster of o.Name (reused
// when it exists, as `meshcheck up` left it; created otherwise), under
// o.StateDir, images built from o.SourceDir (the checkout around the
// working folder when empty), waits bounded by o.ReadyTimeout
// (istio.DefaultReadinessTimeout when 0). Errors are env.ErrInvalidOptions.
func PlanFor(o env.Options, lookPath func(string) (string, error)) (*Plan, error) {
	if o.Kubeconfig != "" || o.Context != "" || o.IngressURL != "" || o.AgentImage != "" {
		return nil, env.InvalidOptions(errors.New("the kind environment uses its own kubeconfig, ingress address and images: a kubeconfig, context, ingress URL or agent image is for --env existing"))
	}
	source := o.SourceDir
	if source == "" {
		// A missing checkout is reported by NewPlan with the --source hint.
		source, _ = FindSourceDir(".")
	}
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = istio.DefaultReadinessTimeout
	}
	p, err := NewPlan(Options{
		Name:             o.Name,
		StateDir:         o.StateDir,
		Istioctl:         o.Istioctl,
		Reuse:            true,
		Keep:             o.Keep,
		KeepOnFailure:    o.KeepOnFailure,
		ReadinessTimeout: timeout,
		SourceDir:        source,
	}, lookPath)
	if err != nil {
		return nil, env.InvalidOptions(err)
	}
	return p, nil
}

// AgentImage is the reference of the agent's image among the images the
// plan builds and loads into the nodes.
func (p *Plan) AgentImage() (string, error) {
	for _, s := range p.Images {
		if s.Name == AgentImageName {
			return s.Ref(), nil
		}
	}
	return "", fmt.Errorf("the kind plan builds no %q image for the in-mesh agent", AgentImageName)
}

// Env is the `--env kind` environment: a kind cluster with Istio and
// meshcheck's images, provisioned (or reused) by Open, on which the
// existing-cluster environment deploys the scenarios through meshcheck's
// own kubeconfig and reaches the ingress gateway at the host port kind maps
// to its nodePort.
type Env struct {
	cluster *existing.Env
	log     *slog.Logger

	mu      sync.Mutex
	session *Session
}

var (
	_ env.Environment = (*Env)(nil)
	_ env.Closer      = (*Env)(nil)
)

// Open provisions the environment with Provision: it reuses the cluster of
// the name that `meshcheck up` created, or creates one (cluster, Istio,
// images) that Close deletes again unless o.Keep (or o.KeepOnFailure after
// a failed run). Without a container engine it fails with the one-line
// error `meshcheck up` gives (a *NoEngineError).
func Open(ctx context.Context, o env.Options, d Deps) (*Env, error) {
	plan, err := PlanFor(o, d.LookPath)
	if err != nil {
		return nil, err
	}
	agentImage, err := plan.AgentImage()
	if err != nil {
		return nil, env.InvalidOptions(err)
	}
	if d.Log == nil {
		d.Log = o.Logger()
	}
	s, err := Provision(ctx, plan, d)
	if err != nil {
		return nil, err
	}
	opts := existing.FromEnv(o)
	opts.Kubeconfig = s.Kubeconfig()
	opts.Context = ""
	opts.IngressURL = "http://" + s.HTTPAddr()
	opts.AgentImage = agentImage
	cctx, cancel := context.WithTimeout(ctx, existing.DefaultCheckTimeout)
	defer cancel()
	c, err := existing.New(cctx, opts)
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
	return &Env{cluster: c, log: o.Logger(), session: s}, nil
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

// Setup creates the scenario's namespaces (see existing.Env.Setup).
func (e *Env) Setup(ctx context.Context, s *scenario.Scenario) error {
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

// Teardown deletes what meshcheck applied for the scenario, and only that;
// the cluster stays for the next scenario (Close ends it).
func (e *Env) Teardown(ctx context.Context) error {
	return e.cluster.Teardown(ctx)
}

// Close implements env.Closer: it deletes the cluster if Open created it,
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
