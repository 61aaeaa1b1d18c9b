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

// Options are given to every environment's constructor.
type Options struct {
	// Log receives progress and diagnostics; nil discards them.
	Log *slog.Logger
}

// Logger returns o.Log, or a logger that discards everything.
func (o Options) Logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Factory creates an environment.
type Factory func(Options) (Environment, error)

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
// error listing the registered ones.
func New(name string, opts Options) (Environment, error) {
	mu.RLock()
	f, ok := factories[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown environment %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	e, err := f(opts)
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", name, err)
	}
	return e, nil
}
