package sim

import (
	"testing"

	"github.com/meshcheck/meshcheck/verify"
)

// BenchmarkRequestsToVerdict simulates 2,000 probes per iteration (seed 1)
// of each design against a correct 75/25 and a 65/35 judged as 75/25, and
// reports the median and 95th percentile of requests to the verdict and the
// share of wrong verdicts (false failures on the correct split, false passes
// on the wrong one) as custom metrics. bench/verify/run.sh prints the same
// comparison as a table with 10,000 probes per cell.
func BenchmarkRequestsToVerdict(b *testing.B) {
	exp := verify.Defaults()
	exp.Weights = split7525
	designs := map[string]Design{
		"meshcheck":  Sequential{Expectation: exp, MaxRequests: verify.DefaultMaxRequests},
		"istio":      FixedSample{Label: "istio", Weights: split7525, Batch: 100, Points: 0.10, Attempts: 1},
		"gatewayapi": FixedSample{Label: "gateway", Weights: split7525, Batch: 500, Points: 0.05, Attempts: 10},
	}
	truths := []struct {
		name  string
		truth Truth
		wrong verify.Verdict
	}{
		{"correct-75-25", Exact(split7525), verify.Fail},
		{"wrong-65-35", Truth{Versions: []Share{{"v1", 0.65}, {"v2", 0.35}}}, verify.Pass},
	}
	for _, name := range []string{"meshcheck", "istio", "gatewayapi"} {
		for _, tr := range truths {
			b.Run(name+"/"+tr.name, func(b *testing.B) {
				var s Summary
				for b.Loop() {
					var err error
					if s, err = Simulate(designs[name], tr.truth, 2000, 1); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(s.Median), "median-requests")
				b.ReportMetric(float64(s.P95), "p95-requests")
				b.ReportMetric(100*s.Rate(tr.wrong), "wrong-verdict-%")
			})
		}
	}
}
