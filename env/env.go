// Package env defines where scenarios run: an Environment provisions what a
// scenario needs, applies its steps, tells probes how to reach their targets
// and which pod is which version, and tears everything down.
//
// Each environment's package (env/local, env/kind, env/existing) has a
// constructor taking typed functional options, validated once, that
// returns an Opener; the runner opens it, runs and closes it.
package env

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/meshcheck/meshcheck/report"
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

// ErrBackendUnavailable marks the error of an environment that cannot
// provide the function backend a scenario needs (scenario.Backend, such as
// OpenFaaS on a cluster without it): the scenario is skipped, with the
// reason, and the run goes on. It matches ErrUnsupported too
// (errors.Is); make one with BackendUnavailable.
var ErrBackendUnavailable error = backendUnavailable{}

type backendUnavailable struct{}

func (backendUnavailable) Error() string {
	return "the scenario's function backend is not available in this environment"
}

// Is makes errors.Is(ErrBackendUnavailable, ErrUnsupported) true.
func (backendUnavailable) Is(target error) bool { return target == ErrUnsupported }

// BackendUnavailable returns the error an environment's Setup returns when
// it cannot provide backend b: "backend openfaas is not available in
// environment kind: <why>", matching ErrBackendUnavailable and
// ErrUnsupported.
func BackendUnavailable(environment string, b scenario.Backend, why string) error {
	return &backendError{msg: fmt.Sprintf("backend %s is not available in environment %s: %s", b, environment, why)}
}

type backendError struct{ msg string }

func (e *backendError) Error() string { return e.msg }
func (e *backendError) Unwrap() error { return ErrBackendUnavailable }

// ErrInvalidOptions marks an error about the options given to an
// environment (a bad flag value, a kubeconfig context that does not exist):
// the caller's input is wrong (the CLI's usage error), not the environment.
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

// Disposer is implemented by environments whose Close may delete
// everything Setup and Apply created at once (the kind environment, when
// the run created its cluster). When a run is interrupted and
// DisposedOnClose holds, the runner skips the per-object Teardown and
// closes the environment straight away: deleting the cluster is quicker
// than deleting its objects one by one, and a second signal may end the
// process before a slow teardown would finish.
type Disposer interface {
	// DisposedOnClose reports whether Close after a failed run (an
	// interrupted run is one) deletes everything the environment created.
	DisposedOnClose() bool
}

// Debugger is implemented by environments that can collect what is needed
// to debug a failed run (pods, events, logs, the proxies' routes) before
// Close removes it.
type Debugger interface {
	// CollectDebug writes the environment's debug bundle into dir.
	CollectDebug(ctx context.Context, dir string) error
}

// CostReader is implemented by environments whose mesh is real: they can
// read what istiod, the gateways and the sidecars use (the kubelet summary
// API). The runner reads it after each scenario's last step, before the
// teardown; a failure to read is a warning, never part of a verdict.
type CostReader interface {
	// MeshCost reads the mesh's usage now; after names the step it follows.
	MeshCost(ctx context.Context, after string) (report.MeshCost, error)
}

// Timer is implemented by environments that time how they were opened, for
// the phase times meshcheck verify prints.
type Timer interface {
	// Timings are the phases of opening the environment, in order.
	Timings() []Timing
}

// Timing is how long one phase of opening an environment took.
type Timing struct {
	// Phase names it: report.PhaseCluster, PhaseImages or PhaseIstio.
	Phase    string
	Duration time.Duration
}

// Opener makes one environment from options its package's constructor
// validated (local.NewOpener, kind.New, existing.New, in the style of
// kind's cluster.NewProvider): nothing is contacted until Open.
type Opener interface {
	// Name is the environment's name: Local, Kind or Existing.
	Name() string
	// Emulated reports whether the environment's mesh is emulated.
	Emulated() bool
	// Open creates the environment: it connects to a cluster or
	// provisions one. Errors about the user's input (a kubeconfig that
	// cannot be read, a context it lacks) are marked ErrInvalidOptions.
	Open(ctx context.Context) (Environment, error)
}

// DryRunner is implemented by Openers that can print what a run of the
// scenarios would apply, contacting nothing and changing nothing.
type DryRunner interface {
	DryRun(w io.Writer, scenarios []*scenario.Scenario) error
}

// Names of the environments meshcheck knows, in the order --env lists them.
const (
	Local    = "local"
	Kind     = "kind"
	Existing = "existing"
)

// Names lists the environments meshcheck knows.
func Names() []string { return []string{Local, Kind, Existing} }
