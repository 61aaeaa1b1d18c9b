package scenario

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

// The built-in defaults let a correct 75/25 probe decide well within its
// time budget (defaultRate's comment). Seeded simulation: 200 runs of a
// probe whose true split is exactly 75/25, observed one response at a time
// with the scenario defaults, each stopped at the first decision or at
// Rate × MaxDuration requests. Every run must PASS (a wrong verdict has
// probability at most alpha = 0.001 per run), no run may reach the budget,
// and the median run must decide within the first 20 s of load.
func TestScenarioDefaultsDecideACorrectSplit(t *testing.T) {
	const runs = 200
	d := builtinSettings()
	p := Probe{Expect: Expect{Weights: []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}}, Settings: d}
	budget := int64(d.Rate) * int64(d.MaxDuration/time.Second)
	rnd := rand.New(rand.NewPCG(20250101, 4))
	var needed []int64
	for run := 0; run < runs; run++ {
		eng, err := verify.New(p.Expectation(nil))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		verdict := verify.Inconclusive
		for n < budget && !eng.Decided() {
			version := "v2"
			if rnd.Float64() < 0.75 {
				version = "v1"
			}
			verdict = eng.Observe(verify.Observation{Status: 200, Version: version})
			n++
		}
		if verdict != verify.Pass {
			t.Fatalf("run %d: %v after %d requests, want PASS", run, verdict, n)
		}
		needed = append(needed, n)
	}
	slices.Sort(needed)
	median, worst := needed[runs/2], needed[runs-1]
	t.Logf("%d runs: median %d requests (%.1f s at %d/s), slowest %d (%.1f s); budget %d", runs,
		median, float64(median)/float64(d.Rate), d.Rate, worst, float64(worst)/float64(d.Rate), budget)
	if limit := int64(d.Rate) * 20; median > limit {
		t.Errorf("median run needs %d requests, more than 20 s at %d/s (%d)", median, d.Rate, limit)
	}
}
