package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/scenario"
)

// disposingEnv is a closingEnv that may delete everything on Close (the
// kind environment on a cluster the run created) and records whether its
// Teardown's context was bounded.
type disposingEnv struct {
	*closingEnv
	disposed    bool
	hadDeadline bool
}

func (d *disposingEnv) DisposedOnClose() bool { return d.disposed }

func (d *disposingEnv) Teardown(ctx context.Context) error {
	_, d.hadDeadline = ctx.Deadline()
	return d.fakeEnv.Teardown(ctx)
}

// TestInterruptedDisposableSkipsTeardown: an interrupted run in an
// environment whose Close deletes everything goes straight to Close, with
// no per-object Teardown; on a reused cluster (not disposed on Close), and
// in a run that was not interrupted, Teardown runs with a bounded context
// that has not ended.
func TestInterruptedDisposableSkipsTeardown(t *testing.T) {
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name     string
		ctx      context.Context
		disposed bool
		teardown bool
	}{
		{"interrupted, cluster created by the run", ended, true, false},
		{"interrupted, reused cluster", ended, false, true},
		{"failed, cluster created by the run", t.Context(), true, true},
	} {
		e := &disposingEnv{closingEnv: &closingEnv{fakeEnv: &fakeEnv{url: "http://127.0.0.1:1", failSetup: errors.New("setup stopped")}}, disposed: c.disposed}
		_, err := Execute(c.ctx, &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t)}, Options{TeardownTimeout: time.Minute})
		if err == nil {
			t.Errorf("%s: no error, want the setup's", c.name)
		}
		if got := slices.Contains(e.calls, "teardown"); got != c.teardown {
			t.Errorf("%s: calls %q, teardown %v, want %v", c.name, e.calls, got, c.teardown)
		}
		if c.teardown && (!e.hadDeadline || e.teardownC != nil) {
			t.Errorf("%s: Teardown's context had a deadline %v and ended with %v, want bounded and live", c.name, e.hadDeadline, e.teardownC)
		}
		if strings.Join(e.closed, ",") != "failed=true" {
			t.Errorf("%s: closes %q, want one Close(failed=true)", c.name, e.closed)
		}
	}
}
