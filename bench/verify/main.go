// Command verify-bench simulates meshcheck's sequential verdict and the
// fixed-sample designs of Istio's and the Gateway API's split tests against
// the same random traffic, and prints a Markdown table of each design's
// requests-to-verdict and error rates (docs/benchmarks/verify.md).
//
//	go run ./bench/verify [-runs 10000] [-seed 1]
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/meshcheck/meshcheck/verify"
	"github.com/meshcheck/meshcheck/verify/sim"
)

func main() {
	runs := flag.Int("runs", 10000, "simulated probes per design and truth")
	seed := flag.Uint64("seed", 1, "seed of the simulation (run i uses PCG(seed, i))")
	flag.Parse()
	if *runs < 20 {
		fmt.Fprintln(os.Stderr, "verify-bench: -runs must be at least 20, for a 95th percentile")
		os.Exit(2)
	}
	if err := run(os.Stdout, *runs, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "verify-bench:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, runs int, seed uint64) error {
	weights := []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}
	exp := verify.Defaults()
	exp.Weights = weights
	designs := []sim.Design{
		sim.Sequential{Expectation: exp, MaxRequests: verify.DefaultMaxRequests},
		sim.FixedSample{Label: "Istio shifting tests", Weights: weights, Batch: 100, Points: 0.10, Attempts: 1},
		sim.FixedSample{Label: "Gateway API HTTPRouteWeight", Weights: weights, Batch: 500, Points: 0.05, Attempts: 10},
	}
	correct := sim.Exact(weights)
	wrong := sim.Truth{Versions: []sim.Share{{Version: "v1", P: 0.65}, {Version: "v2", P: 0.35}}}

	fmt.Fprintf(w, "Configured split 75/25. %s simulated probes per cell, seed %d.\n\n", verify.Thousands(int64(runs)), seed)
	fmt.Fprintln(w, "| design | correct 75/25: false failures | median requests | p95 requests | wrong 65/35: false passes | median requests | p95 requests |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, d := range designs {
		ok, err := sim.Simulate(d, correct, runs, seed)
		if err != nil {
			return err
		}
		bad, err := sim.Simulate(d, wrong, runs, seed+1)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", d.Name(),
			rate(ok.Fail, runs), verify.Thousands(ok.Median), verify.Thousands(ok.P95),
			rate(bad.Pass, runs), verify.Thousands(bad.Median), verify.Thousands(bad.P95))
		if ok.Inconclusive+bad.Inconclusive > 0 {
			fmt.Fprintf(w, "|   (inconclusive: correct %s, wrong %s) | | | | | | |\n", rate(ok.Inconclusive, runs), rate(bad.Inconclusive, runs))
		}
	}
	fmt.Fprintf(w, "\nOne-shot reference: a fixed-sample interval at alpha %g fits inside ±%g points around 25%% after %s requests (normal approximation, observed share exactly 25%%).\n",
		exp.Alpha, exp.Tolerance*100, verify.Thousands(oneShot(0.25, exp.Tolerance, exp.Alpha)))
	return splits(w, max(runs/5, 20), seed)
}

// splits prints meshcheck's requests-to-verdict across splits: each exactly
// configured, and each with its first version 8 points (tolerance + 3) off.
func splits(w io.Writer, runs int, seed uint64) error {
	fmt.Fprintf(w, "\nmeshcheck across splits (alpha %g, ±5 points but ±0.5 for 99/1, error budget 1%%, no errors), %s probes per cell, seed %d.\n\n",
		verify.DefaultAlpha, verify.Thousands(int64(runs)), seed)
	fmt.Fprintln(w, "| split | correct: PASS | median | p95 | first version 8 points off: FAIL | median | p95 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, spec := range []string{"v1=50,v2=50", "v1=75,v2=25", "v1=90,v2=10", "v1=99,v2=1", "v1=60,v2=30,v3=10", "v1=25,v2=25,v3=25,v4=25"} {
		ws, err := verify.ParseWeights(spec)
		if err != nil {
			return err
		}
		exp := verify.Defaults()
		exp.Weights = ws
		if spec == "v1=99,v2=1" {
			exp.Tolerance = 0.005 // ±5 points could not tell 1% from a missing version
		}
		d := sim.Sequential{Expectation: exp, MaxRequests: verify.DefaultMaxRequests}
		ok, err := sim.Simulate(d, sim.Exact(ws), runs, seed)
		if err != nil {
			return err
		}
		off := sim.Exact(ws)
		d8 := 0.08
		if off.Versions[0].P+d8 > 1 {
			d8 = -d8
		}
		off.Versions[0].P += d8
		off.Versions[1].P -= d8
		bad, err := sim.Simulate(d, off, runs, seed+1)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s (v1 %+.0f) | %s | %s | %s | %s | %s | %s |\n", spec, d8*100,
			rate(ok.Pass, runs), verify.Thousands(ok.Median), verify.Thousands(ok.P95),
			rate(bad.Fail, runs), verify.Thousands(bad.Median), verify.Thousands(bad.P95))
	}
	return nil
}

// rate formats k of n as a percentage, with the 95% upper bound when k is 0.
func rate(k, n int) string {
	if k == 0 {
		return fmt.Sprintf("0 (< %.2g%%)", 100*(1-math.Pow(0.05, 1/float64(n))))
	}
	return fmt.Sprintf("%.2f%%", 100*float64(k)/float64(n))
}

// oneShot returns the smallest n at which a two-sided normal interval at
// level 1-alpha around share p has half-width at most tol.
func oneShot(p, tol, alpha float64) int64 {
	z := normalQuantile(1 - alpha/2)
	return int64(math.Ceil(z * z * p * (1 - p) / (tol * tol)))
}

// normalQuantile inverts the standard normal distribution function.
func normalQuantile(q float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*q-1)
}
