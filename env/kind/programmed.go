package kind

import (
	"context"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/scenario"
)

var _ env.ProgrammedWaiter = (*Env)(nil)

// WaitProgrammed implements env.ProgrammedWaiter: it waits until the
// probe's proxies on the cluster (the ingress gateway pods, the in-mesh
// agent's sidecar) route as the step says (see existing.Env.WaitProgrammed).
func (e *Env) WaitProgrammed(ctx context.Context, s *scenario.Scenario, step int, p scenario.Probe) error {
	return e.cluster.WaitProgrammed(ctx, s, step, p)
}
