package sim

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/verify"
)

var split7525 = []verify.Weight{{Version: "v1", Percent: 75}, {Version: "v2", Percent: 25}}

func TestFixedSampleAccepts(t *testing.T) {
	d := FixedSample{Label: "t", Weights: split7525, Batch: 100, Points: 0.10, Attempts: 1}
	cases := []struct {
		counts map[string]int
		want   bool
	}{
		{map[string]int{"v1": 75, "v2": 25}, true},
		{map[string]int{"v1": 85, "v2": 15}, true}, // on the band edge
		{map[string]int{"v1": 86, "v2": 14}, false},
		{map[string]int{"v1": 64, "v2": 36}, false},
		{map[string]int{"v1": 75, "v2": 15, "v9": 10}, true},
		{map[string]int{"v1": 70, "v2": 19, "v9": 11}, false}, // 11% on an unnamed version
	}
	for _, c := range cases {
		if got := d.accepts(c.counts); got != c.want {
			t.Errorf("accepts(%v) = %v, want %v", c.counts, got, c.want)
		}
	}
}

func TestSimulateIsReproducible(t *testing.T) {
	exp := verify.Defaults()
	exp.Weights = split7525
	d := Sequential{Expectation: exp, MaxRequests: 5000}
	a, err := Simulate(d, Exact(split7525), 50, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Simulate(d, Exact(split7525), 50, 9)
	c, _ := Simulate(d, Exact(split7525), 50, 10)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two simulations with seed 9 differ")
	}
	if reflect.DeepEqual(a.Requests, c.Requests) {
		t.Errorf("seeds 9 and 10 gave the same runs")
	}
	if a.Pass+a.Fail+a.Inconclusive != 50 || a.Median != a.Quantile(0.5) || a.P95 < a.Median {
		t.Errorf("summary %+v", a)
	}
}

func TestSequentialBudget(t *testing.T) {
	exp := verify.Defaults()
	exp.Weights = split7525
	s, err := Simulate(Sequential{Expectation: exp, MaxRequests: 20}, Exact(split7525), 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Inconclusive != 100 || s.Median != 20 || s.Rate(verify.Inconclusive) != 1 {
		t.Errorf("20-request budget: %+v, want 100 inconclusive runs of 20 requests", s)
	}
}

// binomOutside returns P(X < lo or X > hi) for X ~ Binomial(n, p).
func binomOutside(n int, p float64, lo, hi int) float64 {
	in := 0.0
	for k := lo; k <= hi; k++ {
		lc, _ := math.Lgamma(float64(n + 1))
		lk, _ := math.Lgamma(float64(k + 1))
		lnk, _ := math.Lgamma(float64(n - k + 1))
		in += math.Exp(lc - lk - lnk + float64(k)*math.Log(p) + float64(n-k)*math.Log(1-p))
	}
	return 1 - in
}

// TestFixedSampleMatchesBinomial checks the simulator against exact binomial
// probabilities: 20,000 runs of Istio's design on a correct 75/25 (false
// failure = P(|X - 75| > 10), X ~ Bin(100, 0.75)) and 4,000 runs of the
// Gateway API design on a 65/35 truth (false pass = 1 - (1 - P(350 <= X <=
// 400))^10, X ~ Bin(500, 0.65)), each within 4 standard errors.
func TestFixedSampleMatchesBinomial(t *testing.T) {
	cases := []struct {
		name  string
		d     FixedSample
		truth Truth
		runs  int
		v     verify.Verdict
		want  float64
	}{
		{"istio false failures", FixedSample{Label: "istio", Weights: split7525, Batch: 100, Points: 0.10, Attempts: 1},
			Exact(split7525), 20000, verify.Fail, binomOutside(100, 0.75, 65, 85)},
		{"gateway false passes", FixedSample{Label: "gw", Weights: split7525, Batch: 500, Points: 0.05, Attempts: 10},
			Truth{Versions: []Share{{"v1", 0.65}, {"v2", 0.35}}}, 4000, verify.Pass,
			1 - math.Pow(binomOutside(500, 0.65, 350, 400), 10)},
	}
	for _, c := range cases {
		s, err := Simulate(c.d, c.truth, c.runs, 5)
		if err != nil {
			t.Fatal(err)
		}
		got := s.Rate(c.v)
		se := math.Sqrt(c.want * (1 - c.want) / float64(c.runs))
		t.Logf("%s: simulated %.4f, exact %.4f (se %.4f)", c.name, got, c.want, se)
		if math.Abs(got-c.want) > 4*se {
			t.Errorf("%s: simulated rate %.4f, exact %.4f: more than 4 standard errors apart", c.name, got, c.want)
		}
	}
}

func TestSimulateRejectsBadInput(t *testing.T) {
	exp := verify.Defaults()
	exp.Weights = split7525
	good := Sequential{Expectation: exp, MaxRequests: 100}
	bad := []struct {
		d     Design
		truth Truth
		runs  int
		want  string
	}{
		{good, Truth{Versions: []Share{{"v1", 0.5}}}, 10, "sum to 0.5"},
		{good, Truth{Versions: []Share{{"v1", 1.5}, {"v2", -0.5}}}, 10, "outside [0, 1]"},
		{good, Truth{Versions: []Share{{"v1", 1}}, Errors: -0.1}, 10, "error share"},
		{good, Exact(split7525), 0, "want at least 1"},
		{Sequential{Expectation: exp}, Exact(split7525), 10, "MaxRequests 0"},
		{Sequential{Expectation: verify.Defaults(), MaxRequests: 10}, Exact(split7525), 10, "give weights"},
		{FixedSample{Label: "x", Weights: split7525, Batch: 0, Points: 0.1, Attempts: 1}, Exact(split7525), 10, "must be positive"},
	}
	for _, c := range bad {
		_, err := Simulate(c.d, c.truth, c.runs, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Simulate(%s) error = %v, want %q", c.d.Name(), err, c.want)
		}
	}
}

func TestErrorsInTruth(t *testing.T) {
	exp := verify.Defaults()
	exp.Weights = split7525
	truth := Truth{Versions: []Share{{"v1", 0.375}, {"v2", 0.125}}, Errors: 0.5}
	s, err := Simulate(Sequential{Expectation: exp, MaxRequests: 10000}, truth, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fail != 200 || s.P95 > 100 {
		t.Errorf("half the requests failing: %+v, want every run to FAIL fast", s)
	}
	fixed, _ := Simulate(FixedSample{Label: "f", Weights: split7525, Batch: 100, Points: 0.1, Attempts: 3}, truth, 200, 3)
	if fixed.Fail != 200 {
		t.Errorf("fixed design with errors: %+v, want every run to fail", fixed)
	}
}
