//go:build e2e

package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/onsi/gomega"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/meshcheck/meshcheck/e2e/matchers"
	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/runner"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestScenarios runs every scenario, one feature each, one after the
// other (they share the environment): go test -run TestScenarios/echo, or
// e2e-framework's --labels scenario=echo, picks some.
func TestScenarios(t *testing.T) {
	fs := make([]types.Feature, 0, len(theSuite.scenarios))
	for _, sc := range theSuite.scenarios {
		fs = append(fs, theSuite.feature(sc))
	}
	theSuite.testenv.Test(t, fs...)
}

// feature is the scenario's feature: Setup sets the environment up, an
// assessment per step applies it and one per probe runs the probe, and
// Teardown, after reading the mesh's cost when no error stopped the
// scenario, tears it down whatever happened before. A failed
// Setup fails the feature and skips its assessments, a scenario the
// environment cannot run (env.ErrUnsupported) skips them; neither calls
// FailNow, which would skip the Teardown too.
func (s *suite) feature(sc *scenario.Scenario) types.Feature {
	name := sc.Metadata.Name
	b := features.New(name).WithLabel("scenario", name).WithLabel("tutorial", name)
	if sc.Metadata.Source != "" {
		b = b.WithLabel("source", sc.Metadata.Source)
	}
	var setupErr error
	broke := false // an error stopped the scenario: no mesh cost
	b = b.WithSetup("setup", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		if ctx.Err() != nil {
			// Interrupted: nothing set up, nothing to tear down.
			t.Skipf("interrupted before scenario %s: %v", name, context.Cause(ctx))
		}
		if setupErr = s.sess.Setup(ctx, sc); setupErr != nil {
			if errors.Is(setupErr, env.ErrUnsupported) {
				t.Logf("skipped: the %s environment cannot run scenario %s: %v", s.e.Name(), name, setupErr)
				return ctx
			}
			s.stopped(setupErr)
			broke = true
			t.Errorf("setup: %v", setupErr)
		}
		return ctx
	})
	ready := func(t *testing.T) {
		t.Helper()
		switch {
		case errors.Is(setupErr, env.ErrUnsupported):
			t.Skipf("the %s environment cannot run this scenario: %v", s.e.Name(), setupErr)
		case setupErr != nil:
			t.Skip("the scenario's setup failed (above)")
		}
	}
	for i, st := range sc.Steps {
		b = b.Assess(st.Name, func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ready(t)
			if err := s.sess.Apply(ctx, sc, i); err != nil {
				s.stopped(err)
				broke = true
				t.Fatalf("apply: %v", err)
			}
			return ctx
		})
		for _, p := range st.Probes {
			b = b.Assess(st.Name+"."+p.Name, func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				ready(t)
				s.probe(ctx, t, sc, i, p, &broke)
				return ctx
			})
		}
	}
	return b.WithTeardown("teardown", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		if !broke && setupErr == nil && ctx.Err() == nil {
			// After the last probe, as meshcheck run reads it.
			s.sess.MeshCost(ctx, sc)
		}
		if err := s.sess.Teardown(ctx); err != nil {
			s.stopped(err)
			t.Errorf("teardown: %v", err)
			return ctx
		}
		t.Logf("scenario %s torn down", name)
		return ctx
	}).Feature()
}

// probe runs probe p of step i: prepared, then Eventually the data plane
// programmed (each attempt one of the environment's bounded waits; an
// input error or the end of ctx stops trying), then run and expected to
// PASS. An error fails the assessment at once (FailNow: the feature goes
// to its Teardown) and sets broke, a verdict other than PASS fails it and
// goes on.
func (s *suite) probe(ctx context.Context, t *testing.T, sc *scenario.Scenario, i int, p scenario.Probe, broke *bool) {
	t.Helper()
	g := gomega.NewWithT(t)
	var last error // the session's error, recorded when the assessment fails
	defer func() {
		if last != nil && t.Failed() {
			s.stopped(last)
			*broke = true
		}
	}()
	pp, err := s.sess.Prepare(ctx, sc, i, p)
	last = err
	g.Expect(err).NotTo(gomega.HaveOccurred(), "preparing probe %s", p.Name)
	g.Eventually(ctx, func(ctx context.Context) error {
		last = s.sess.WaitProgrammed(ctx, pp)
		var re *runner.Error
		if errors.As(last, &re) && re.Kind != runner.EnvironmentError {
			return gomega.StopTrying("the data plane cannot be waited for").Wrap(last)
		}
		return last
	}).WithTimeout(*programmedFlag).WithPolling(programmedPolling).Should(gomega.Succeed(),
		"the proxies of probe %s route as step %s says", p.Name, sc.Steps[i].Name)
	rp, err := s.sess.Probe(ctx, pp)
	last = err
	g.Expect(err).NotTo(gomega.HaveOccurred(), "running probe %s", p.Name)
	// A verdict other than PASS fails the assessment but, as in meshcheck
	// run, the scenario's later probes and steps still run: only errors
	// stop it.
	verdict := gomega.NewGomega(func(message string, _ ...int) {
		t.Helper()
		t.Error(message)
	})
	verdict.Expect(rp).To(matchers.HavePassed())
}
