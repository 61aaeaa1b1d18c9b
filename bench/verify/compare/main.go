// Command compare simulates meshcheck's sequential verdict on a fixed set of
// cells and prints one tab-separated line per cell: its name, the median and
// 95th percentile of requests to the verdict, and how many runs ended PASS,
// FAIL and INCONCLUSIVE. It uses only verify's and verify/sim's public API,
// so bench/verify/compare.sh can run the same file against an earlier
// commit's engine and print both side by side, with the same seeds.
//
//	go run ./bench/verify/compare [-runs 10000] [-seed 1]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/meshcheck/meshcheck/verify"
	"github.com/meshcheck/meshcheck/verify/sim"
)

// cell is one simulated situation: an expectation (weights at the defaults:
// alpha 0.001, ±5 points, error budget 1%) and the mesh's true behaviour.
type cell struct {
	name    string
	expect  string
	truth   []float64 // per configured version
	errors  float64   // share of transport errors
	outcome string    // the verdict a good engine reaches
}

var cells = []cell{
	{name: "correct 75/25", expect: "v1=75,v2=25", truth: []float64{0.75, 0.25}, outcome: "PASS"},
	{name: "50/50 misroute of 75/25", expect: "v1=75,v2=25", truth: []float64{0.5, 0.5}, outcome: "FAIL"},
	{name: "65/35 judged as 75/25", expect: "v1=75,v2=25", truth: []float64{0.65, 0.35}, outcome: "FAIL"},
	{name: "correct 50/50", expect: "v1=50,v2=50", truth: []float64{0.5, 0.5}, outcome: "PASS"},
	{name: "correct 90/10", expect: "v1=90,v2=10", truth: []float64{0.9, 0.1}, outcome: "PASS"},
	{name: "correct 60/30/10", expect: "v1=60,v2=30,v3=10", truth: []float64{0.6, 0.3, 0.1}, outcome: "PASS"},
	{name: "correct 25/25/25/25", expect: "v1=25,v2=25,v3=25,v4=25", truth: []float64{0.25, 0.25, 0.25, 0.25}, outcome: "PASS"},
	{name: "correct 100/0", expect: "v1=100,v2=0", truth: []float64{1, 0}, outcome: "PASS"},
	{name: "correct 75/25, 0.5% errors", expect: "v1=75,v2=25", truth: []float64{0.75, 0.25}, errors: 0.005, outcome: "PASS"},
}

func main() {
	runs := flag.Int("runs", 10000, "simulated probes per cell")
	seed := flag.Uint64("seed", 1, "seed of the simulation (cell k, run i uses PCG(seed+k, i))")
	flag.Parse()
	if *runs < 20 {
		fmt.Fprintln(os.Stderr, "compare: -runs must be at least 20, for a 95th percentile")
		os.Exit(2)
	}
	fmt.Println("cell\texpected\tmedian\tp95\tpass\tfail\tinconclusive")
	for k, c := range cells {
		ws, err := verify.ParseWeights(c.expect)
		if err != nil {
			fail(err)
		}
		exp := verify.Defaults()
		exp.Weights = ws
		truth := sim.Truth{Errors: c.errors}
		for i, w := range ws {
			p := c.truth[i]
			if i == 0 {
				p -= c.errors
			}
			truth.Versions = append(truth.Versions, sim.Share{Version: w.Version, P: p})
		}
		s, err := sim.Simulate(sim.Sequential{Expectation: exp, MaxRequests: verify.DefaultMaxRequests}, truth, *runs, *seed+uint64(k))
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.name, c.outcome, s.Median, s.P95, s.Pass, s.Fail, s.Inconclusive)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compare:", err)
	os.Exit(1)
}
