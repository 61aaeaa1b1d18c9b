// Package env defines where scenarios run: an Environment provisions what a
// scenario needs, applies its steps, tells probes how to reach their targets
// and which pod is which version, and tears everything down.
//
// Environments register a constructor under their name ("local", "kind",
// "existing") with Register; commands create one with New.
package env

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshcheck/meshcheck/scenario"
)

// Environment is a place where scenarios run.
type Environment interface {
	// Name is the environment's registered name: "local", "kind",
	// "existing".
	Name() string
	// Emulated reports whether the mesh is emulated (every report from the
	// environment then says so).
	Emulated() bool
	// Setup prepares what the scenario needs before its first step:
	// namespaces and the like.
	Setup(ctx context.Context, s *scenario.Scenario) error
	// Apply makes the state after step (0-based) of s current,
	// make-before-break, and returns once it is ready to be probed.
	Apply(ctx context.Context, s *scenario.Scenario, step int) error
	// Endpoint says how to reach a probe's target from the probe's vantage.
	Endpoint(ctx context.Context, p scenario.Probe) (Endpoint, error)
	// VersionMap maps pod names to their value of the probe's version
	// label (p.VersionLabel()), for the pods of the current state.
	VersionMap(ctx context.Context, p scenario.Probe) (map[string]string, error)
	// Teardown removes everything Setup and Apply created. It is safe to
	// call more than once and after a failed Setup.
	Teardown(ctx context.Context) error
}

// ProgrammedWaiter is implemented by environments that can tell when the
// proxy serving a probe's vantage (the ingress gateway, or the in-mesh
// agent's sidecar) has been programmed with the routes of the scenario's
// step. The runner calls it before each probe, ahead of the probe's settle
// phase: settling only waits for good responses, which a proxy still on the
// previous step's routes also gives.
type ProgrammedWaiter interface {
	WaitProgrammed(ctx context.Context, s *scenario.Scenario, step int, p scenario.Probe) error
}

// Endpoint is how a probe reaches its target.
type Endpoint struct {
	// URL is where requests go (for the mesh vantage through Via: the
	// target's own URL).
	URL string
	// Host is the Host header to send, "" for the URL's host.
	Host string
	// Via, when set, is the HTTP forward proxy requests go through (the
	// local environment's sidecar emulation).
	Via *url.URL
	// Agent, when set, is the URL of an in-mesh agent that runs the probe
	// from inside the cluster (real clusters).
	Agent string
}

// ErrUnsupported marks an error about a scenario the environment cannot run
// as written (for example an image the local environment has no stand-in
// for): the scenario, not the environment, has to change, or another
// environment be used.
var ErrUnsupported = errors.New("not supported by this environment")

// ErrInvalidOptions marks an error about the Options given to New (a bad
// flag value, a kubeconfig context that does not exist): the caller's input
// is wrong (the CLI's usage error), not the environment.
var ErrInvalidOptions = errors.New("invalid environment options")

// InvalidOptions marks err as ErrInvalidOptions, keeping its message; nil
// stays nil.
func InvalidOptions(err error) error {
	if err == nil {
		return nil
	}
	return &optionsError{err: err}
}

type optionsError struct{ err error }

func (e *optionsError) Error() string   { return e.err.Error() }
func (e *optionsError) Unwrap() []error { return []error{e.err, ErrInvalidOptions} }

// Closer is implemented by environments that hold something across the
// scenarios of a run, such as a kind cluster the run created. Whoever
// created the environment calls Close once, after the last Teardown.
type Closer interface {
	// Close releases what the environment holds. failed says whether the
	// run failed (an error, or a verdict other than PASS), for choices like
	// keeping a cluster for inspection.
	Close(ctx context.Context, failed bool) error
}

// Options are given to every environment's constructor. Each environment
// reads the fields that concern it; the rest stay zero.
type Options struct {
	// Log receives progress and diagnostics; nil discards them.
	Log *slog.Logger

	// Kubeconfig is the kubeconfig file of an existing cluster; "" means
	// $KUBECONFIG, else ~/.kube/config. It is only ever read.
	Kubeconfig string
	// Context is the kubeconfig context to use; "" means its current one.
	Context string
	// IngressURL is where this host reaches the ingress gateway's HTTP
	// port (http(s)://host[:port]); "" lets the environment find it.
	IngressURL string
	// AgentImage is the image of the in-mesh agent; "" means meshcheck's
	// own versioned image.
	AgentImage string
	// ReadyTimeout bounds each wait for workloads (and, for kind, for the
	// nodes and Istio); 0 means the environment's default.
	ReadyTimeout time.Duration
	// PropagationDelay is the pause after a change to routing
	// configuration, for it to reach the proxies; 0 means the
	// environment's default.
	PropagationDelay time.Duration

	// Name is the kind cluster's name; "" means meshcheck's default.
	Name string
	// StateDir is the absolute folder of meshcheck's kind files
	// (kubeconfig, state, images); "" means the user cache folder.
	StateDir string
	// SourceDir is the meshcheck source tree kind images are built from.
	SourceDir string
	// Istioctl is the istioctl to install Istio with on kind; "" means the
	// one on PATH, else the pinned release.
	Istioctl string
	// Keep keeps a kind cluster the run created.
	Keep bool
	// KeepOnFailure keeps a kind cluster the run created when the run
	// failed.
	KeepOnFailure bool
}

// Logger returns o.Log, or a logger that discards everything.
func (o Options) Logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Factory creates an environment; ctx bounds the work of creating it
// (connecting to a cluster, provisioning one).
type Factory func(ctx context.Context, o Options) (Environment, error)

// Names of the environments meshcheck knows, registered or not.
const (
	Local    = "local"
	Kind     = "kind"
	Existing = "existing"
)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes an environment available under name. It is meant for init
// functions; registering a name twice is a programming error and panics.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[name]; dup {
		panic(fmt.Sprintf("env: environment %q registered twice", name))
	}
	factories[name] = f
}

// Registered reports whether an environment is registered under name.
func Registered(name string) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := factories[name]
	return ok
}

// Names lists the registered environments, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New creates the environment registered under name; an unknown name is an
// error listing the registered ones (and ErrInvalidOptions). The
// constructor's own errors are returned as they are: they are written to be
// shown on their own (the kind environment's "no container engine" line is
// the one `meshcheck up` prints).
func New(ctx context.Context, name string, opts Options) (Environment, error) {
	mu.RLock()
	f, ok := factories[name]
	mu.RUnlock()
	if !ok {
		return nil, InvalidOptions(fmt.Errorf("unknown environment %q: want one of %s", name, strings.Join(Names(), ", ")))
	}
	return f(ctx, opts)
}
