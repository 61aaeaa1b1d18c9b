// Package sim simulates probes against a mesh whose per-request behaviour is
// known, to measure verification designs: how often each reaches each
// verdict and how many requests it needs. It judges meshcheck's sequential
// engine (package verify) and the fixed-sample designs other test suites use
// with the same random traffic, so their error rates are comparable.
//
// Runs are reproducible: run i of a simulation draws from a PCG generator
// seeded with (seed, i), whatever the number of workers.
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/meshcheck/meshcheck/verify"
)

// Share is the true probability that a request reaches one version.
type Share struct {
	Version string
	P       float64
}

// Truth is what the simulated mesh does: each request independently reaches
// version i with probability Versions[i].P, or fails (a transport error) with
// probability Errors. The probabilities sum to 1.
type Truth struct {
	Versions []Share
	Errors   float64
}

// Exact returns the truth of a mesh that routes exactly by weights, without
// errors.
func Exact(weights []verify.Weight) Truth {
	var t Truth
	for _, w := range weights {
		t.Versions = append(t.Versions, Share{Version: w.Version, P: float64(w.Percent) / 100})
	}
	return t
}

// Validate reports whether the probabilities are valid and sum to 1.
func (t Truth) Validate() error {
	sum := t.Errors
	if t.Errors < 0 || t.Errors > 1 {
		return fmt.Errorf("truth: error share %v outside [0, 1]", t.Errors)
	}
	for _, s := range t.Versions {
		if !(s.P >= 0 && s.P <= 1) {
			return fmt.Errorf("truth: share of %s is %v, outside [0, 1]", s.Version, s.P)
		}
		sum += s.P
	}
	if math.Abs(sum-1) > 1e-9 {
		return fmt.Errorf("truth: shares sum to %v, not 1", sum)
	}
	return nil
}

// sampler draws observations from a truth.
type sampler struct {
	cum []float64 // cumulative probabilities of obs
	obs []verify.Observation
}

func newSampler(t Truth) sampler {
	var s sampler
	acc := 0.0
	for _, v := range t.Versions {
		acc += v.P
		s.cum = append(s.cum, acc)
		s.obs = append(s.obs, verify.Observation{Status: 200, Version: v.Version})
	}
	if t.Errors > 0 {
		s.cum = append(s.cum, 1)
		s.obs = append(s.obs, verify.Observation{Status: 0})
	}
	s.cum[len(s.cum)-1] = math.Inf(1) // absorbs rounding in the sum
	return s
}

// draw returns the index of one observation.
func (s sampler) draw(rng *rand.Rand) int {
	u := rng.Float64()
	i := 0
	for u >= s.cum[i] {
		i++
	}
	return i
}

// Outcome is one simulated run: its verdict and the requests it sent.
type Outcome struct {
	Verdict  verify.Verdict
	Requests int64
}

// Design is a way of deciding a probe from traffic.
type Design interface {
	// Name describes the design in a table row.
	Name() string
	// validate reports a design that cannot run.
	validate() error
	// run simulates one probe against a mesh drawing from s.
	run(rng *rand.Rand, s sampler) (Outcome, error)
}

// Sequential is meshcheck's design: the verify engine consulted after every
// response, stopping at its first decision or after MaxRequests.
type Sequential struct {
	Expectation verify.Expectation
	MaxRequests int64
}

// Name describes the design.
func (d Sequential) Name() string {
	return fmt.Sprintf("meshcheck sequential (alpha %g, ±%g points, at most %s)",
		d.Expectation.Alpha, d.Expectation.Tolerance*100, verify.Thousands(d.MaxRequests))
}

func (d Sequential) validate() error {
	if err := d.Expectation.Validate(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if d.MaxRequests <= 0 {
		return fmt.Errorf("sim: MaxRequests %d: it must be positive", d.MaxRequests)
	}
	return nil
}

func (d Sequential) run(rng *rand.Rand, s sampler) (Outcome, error) {
	eng, err := verify.New(d.Expectation)
	if err != nil {
		return Outcome{}, fmt.Errorf("sim: %w", err)
	}
	for eng.Requests() < d.MaxRequests {
		if v := eng.Observe(s.obs[s.draw(rng)]); v != verify.Inconclusive {
			return Outcome{Verdict: v, Requests: eng.Requests()}, nil
		}
	}
	return Outcome{Verdict: verify.Inconclusive, Requests: eng.Requests()}, nil
}

// FixedSample is the design of the suites meshcheck is compared with: send
// Batch requests, accept when every version's observed share lies within
// Points of its weight (absolute, 0.10 = ±10 points) and no request failed;
// otherwise try again, up to Attempts batches in all. The probe passes when
// any batch passes and fails when all fail.
type FixedSample struct {
	Label    string
	Weights  []verify.Weight
	Batch    int
	Points   float64
	Attempts int
}

// Name describes the design.
func (d FixedSample) Name() string {
	retries := ""
	if d.Attempts > 1 {
		retries = fmt.Sprintf(", up to %d batches", d.Attempts)
	}
	return fmt.Sprintf("%s (%d requests, ±%g points%s)", d.Label, d.Batch, d.Points*100, retries)
}

func (d FixedSample) validate() error {
	if d.Batch <= 0 || d.Attempts <= 0 || !(d.Points > 0 && d.Points < 1) {
		return fmt.Errorf("sim: %s: batch %d and attempts %d must be positive, points %v in (0, 1)",
			d.Label, d.Batch, d.Attempts, d.Points)
	}
	return nil
}

func (d FixedSample) run(rng *rand.Rand, s sampler) (Outcome, error) {
	counts := make(map[string]int, len(d.Weights))
	var used int64
	for range d.Attempts {
		clear(counts)
		errs := 0
		for range d.Batch {
			o := s.obs[s.draw(rng)]
			if o.Status == 0 {
				errs++
			} else {
				counts[o.Version]++
			}
		}
		used += int64(d.Batch)
		if errs == 0 && d.accepts(counts) {
			return Outcome{Verdict: verify.Pass, Requests: used}, nil
		}
	}
	return Outcome{Verdict: verify.Fail, Requests: used}, nil
}

// accepts reports whether every configured version's share, and every
// unconfigured version's (expected 0), lies within Points of its weight.
func (d FixedSample) accepts(counts map[string]int) bool {
	const eps = 1e-9 // shares exactly on the band edge are accepted
	named := 0
	for _, w := range d.Weights {
		got := float64(counts[w.Version]) / float64(d.Batch)
		named += counts[w.Version]
		if math.Abs(got-float64(w.Percent)/100) > d.Points+eps {
			return false
		}
	}
	return float64(d.Batch-named)/float64(d.Batch) <= d.Points+eps
}

// Summary aggregates the runs of one simulation.
type Summary struct {
	Runs                     int
	Pass, Fail, Inconclusive int
	// Median and P95 are quantiles of the requests each run used, over all
	// runs (nearest rank).
	Median, P95 int64
	// Requests holds every run's request count, sorted.
	Requests []int64
}

// Rate returns the fraction of runs that ended with v.
func (s Summary) Rate(v verify.Verdict) float64 {
	if s.Runs == 0 {
		return 0
	}
	n := s.Inconclusive
	switch v {
	case verify.Pass:
		n = s.Pass
	case verify.Fail:
		n = s.Fail
	}
	return float64(n) / float64(s.Runs)
}

// Quantile returns the q-quantile (0 < q <= 1, nearest rank) of the requests
// the runs used.
func (s Summary) Quantile(q float64) int64 {
	if len(s.Requests) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s.Requests)))) - 1
	return s.Requests[min(max(i, 0), len(s.Requests)-1)]
}

// Simulate runs design d runs times against truth t, spreading the runs over
// the available processors; run i draws from rand.NewPCG(seed, i).
func Simulate(d Design, t Truth, runs int, seed uint64) (Summary, error) {
	if err := t.Validate(); err != nil {
		return Summary{}, err
	}
	if err := d.validate(); err != nil {
		return Summary{}, err
	}
	if runs <= 0 {
		return Summary{}, fmt.Errorf("sim: %d runs: want at least 1", runs)
	}
	s := newSampler(t)
	out := make([]Outcome, runs)
	errs := make([]error, runs)
	workers := min(runtime.GOMAXPROCS(0), runs)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < runs; i += workers {
				out[i], errs[i] = d.run(rand.New(rand.NewPCG(seed, uint64(i))), s)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Summary{}, err // every run fails alike: report one
		}
	}
	sum := Summary{Runs: runs, Requests: make([]int64, runs)}
	for i, o := range out {
		sum.Requests[i] = o.Requests
		switch o.Verdict {
		case verify.Pass:
			sum.Pass++
		case verify.Fail:
			sum.Fail++
		default:
			sum.Inconclusive++
		}
	}
	slices.Sort(sum.Requests)
	sum.Median, sum.P95 = sum.Quantile(0.5), sum.Quantile(0.95)
	return sum, nil
}
