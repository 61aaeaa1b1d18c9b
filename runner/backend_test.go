package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// noBackendEnv is a fakeEnv that cannot provide any function backend.
type noBackendEnv struct{ *fakeEnv }

func (n noBackendEnv) Setup(ctx context.Context, s *scenario.Scenario) error {
	if s.Backend != scenario.BackendNone {
		n.record("setup " + string(s.Backend))
		return env.BackendUnavailable(n.Name(), s.Backend, "OpenFaaS is not installed and --install-openfaas is off")
	}
	return n.fakeEnv.Setup(ctx, s)
}

func TestBackendUnavailableSentinel(t *testing.T) {
	err := fmt.Errorf("setup: %w", env.BackendUnavailable("kind", scenario.BackendOpenFaaS, "why"))
	if !errors.Is(err, env.ErrBackendUnavailable) || !errors.Is(err, env.ErrUnsupported) || !errors.Is(env.ErrBackendUnavailable, env.ErrUnsupported) {
		t.Fatalf("%v: want ErrBackendUnavailable and ErrUnsupported", err)
	}
	if errors.Is(env.ErrUnsupported, env.ErrBackendUnavailable) {
		t.Fatal("every unsupported error counts as a missing backend")
	}
	if got := err.Error(); got != "setup: backend openfaas is not available in environment kind: why" {
		t.Fatalf("message %q", got)
	}
}

// A scenario whose backend the environment cannot provide is skipped, with
// the reason on Notices and in the report, even without SkipUnsupported;
// the other scenarios run.
func TestRunSkipsUnavailableBackend(t *testing.T) {
	f := noBackendEnv{&fakeEnv{url: split75(t).URL, via: forwardProxy(t)}}
	needs := loadScenario(t)
	needs.Backend = scenario.BackendOpenFaaS
	needs.Metadata.Name = "needs-openfaas"
	var out, notices bytes.Buffer
	run, err := Run(context.Background(), f, []*scenario.Scenario{needs, loadScenario(t)},
		Options{Output: report.FormatText, Out: &out, Notices: &notices, Rate: testRate(), MaxRequests: 400})
	if err != nil {
		t.Fatal(err)
	}
	want := "scenario needs-openfaas skipped, it needs backend openfaas: backend openfaas is not available in environment fake: OpenFaaS is not installed"
	if !strings.Contains(notices.String(), want) {
		t.Errorf("notices %q, want %q", notices.String(), want)
	}
	if len(run.Probes) == 0 || !strings.HasPrefix(f.calls[0], "setup openfaas") || !strings.Contains(strings.Join(f.calls, ","), "apply 0") {
		t.Errorf("probes %d, calls %q: want the second scenario run", len(run.Probes), f.calls)
	}
	if s := run.Scenarios[0].Skipped; !strings.Contains(s, "backend openfaas is not available") || run.Scenarios[1].Skipped != "" {
		t.Errorf("report scenarios %+v", run.Scenarios)
	}
	if !strings.Contains(out.String(), "skipped      scenario needs-openfaas: it needs backend openfaas") {
		t.Errorf("text report lacks the skipped scenario:\n%s", out.String())
	}
	// Another unsupported error still ends the run without SkipUnsupported.
	plain := &fakeEnv{url: split75(t).URL, failSetup: fmt.Errorf("%w: image nginx", env.ErrUnsupported)}
	if _, err := Run(context.Background(), plain, []*scenario.Scenario{loadScenario(t)}, Options{Out: &out, Rate: testRate()}); err == nil {
		t.Fatal("an unsupported image was skipped without SkipUnsupported")
	}
}
