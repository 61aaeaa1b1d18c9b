package verify_test

import (
	"testing"

	"github.com/meshcheck/meshcheck/verify"
	"github.com/meshcheck/meshcheck/verify/sim"
)

// TestSmoke1000Runs is the simulation that always runs, under -short and
// -race too (the full evidence, tens of thousands of runs, is in
// stats_test.go behind longSimulation). For the tutorial's 75/25 split at
// alpha 0.05 (where a broken engine shows quickly), 1,000 seeded runs each:
//   - of an exactly configured mesh: FAILs below alpha·N + 3 sigma, and every
//     run decides within verify.DefaultMaxRequests;
//   - of a mesh on the band's edge (70/30), at most 3,000 requests each:
//     PASSes below the same limit;
//   - of a 50/50 misroute: every run FAILs.
func TestSmoke1000Runs(t *testing.T) {
	const runs, alpha = 1000, 0.05
	exp := expectation(t, "v1=75,v2=25", alpha)
	design := sim.Sequential{Expectation: exp, MaxRequests: verify.DefaultMaxRequests}
	limit := binomialLimit(runs, alpha)

	exact := simulate(t, design, sim.Exact(exp.Weights), runs, 900)
	t.Logf("exact 75/25: %d FAIL, %d PASS, %d INCONCLUSIVE of %d; requests median %d",
		exact.Fail, exact.Pass, exact.Inconclusive, runs, exact.Median)
	if float64(exact.Fail) > limit {
		t.Errorf("exact 75/25: %d false failures in %d runs, above %.1f", exact.Fail, runs, limit)
	}
	if exact.Inconclusive > 0 {
		t.Errorf("exact 75/25: %d runs undecided after %d requests", exact.Inconclusive, verify.DefaultMaxRequests)
	}

	edge := simulate(t, sim.Sequential{Expectation: exp, MaxRequests: 3000}, edgeTruth(exp), runs, 901)
	t.Logf("edge 70/30: %d PASS, %d FAIL, %d INCONCLUSIVE of %d", edge.Pass, edge.Fail, edge.Inconclusive, runs)
	if float64(edge.Pass) > limit {
		t.Errorf("edge 70/30: %d false passes in %d runs, above %.1f", edge.Pass, runs, limit)
	}

	misroute := simulate(t, design, sim.Truth{Versions: []sim.Share{{Version: "v1", P: 0.5}, {Version: "v2", P: 0.5}}}, runs, 902)
	t.Logf("misroute 50/50: %d FAIL of %d; requests median %d", misroute.Fail, runs, misroute.Median)
	if misroute.Fail != runs {
		t.Errorf("misroute 50/50: %d of %d runs failed, want all", misroute.Fail, runs)
	}
}
