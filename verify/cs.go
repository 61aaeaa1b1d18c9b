package verify

import "math"

// Each line is judged by two mixture martingales, each with a mixing
// distribution fixed before the data (package doc): a PASS mixture, whose
// mass lies where a correct configuration puts the share, and a FAIL
// mixture, whose mass lies outside the band. Any fixed mixture keeps the
// guarantee; these constants, chosen by simulation (docs/benchmarks/verify.md,
// bench/verify), only trade speed between outcomes. h is the band's
// half-width on the side concerned.
const (
	// passCentreWeight and passCentreSpread: the PASS mixture of a version
	// line puts this weight on a Beta centred on the configured share with
	// standard deviation passCentreSpread·h, and the rest on the uniform
	// distribution.
	passCentreWeight = 0.9
	passCentreSpread = 0.2

	// failSideWeight, failSideOffset and failSideSpread: the FAIL mixture
	// of a version line puts this weight on each side, on a Beta centred
	// failSideOffset·h outside the band edge with standard deviation
	// failSideSpread·h, and the rest on the uniform distribution, which
	// rejects grossly wrong shares in a few requests.
	failSideWeight = 0.3
	failSideOffset = 1.0
	failSideSpread = 0.5

	// The PASS mixture of a budget line (errors, the misses of a status)
	// with band [0, b]: budgetNearZeroWeight on a Beta with mean and
	// standard deviation b/20 (runs with almost no bad outcomes), the rest
	// on a Beta with mean b/2 and standard deviation b/5 (a healthy mesh
	// that still fails a few requests). Its FAIL mixture: failSideWeight on
	// a Beta centred at 2b with standard deviation b/2, the rest uniform.
	budgetNearZeroWeight = 0.4

	// errorsFailShare is the errors line's share of FAIL's α relative to
	// one version line's: FAIL's α is split over lines in proportion to
	// these shares.
	errorsFailShare = 0.25

	// resyncEvery bounds the drift of the running log-mixture: every that
	// many observations it is recomputed exactly.
	resyncEvery = 4096
	// confirmMargin: a decision whose statistic lies this close to the
	// threshold is confirmed with the exact mixture before it is taken.
	confirmMargin = 1e-6
)

// component is one Beta(a, b) part of a mixing distribution.
type component struct {
	logWeight float64 // log of its (normalised) weight
	a, b      float64
	ab        float64 // a + b
	lbetaAB   float64 // log B(a, b)
}

// mixtureCS is the beta-binomial mixture confidence sequence for one
// Bernoulli share at level 1-alpha (see the package doc): a mixing
// distribution and the threshold log(1/alpha).
type mixtureCS struct {
	comps     []component
	threshold float64
}

// part is an unnormalised mixture component: weight, mean, standard deviation.
type part struct{ weight, mean, sd float64 }

// newMixtureCS builds the sequence from parts, dropping those whose mean lies
// outside (0, 1) and renormalising the weights of the others. A part with
// sd < 0 is the uniform distribution.
func newMixtureCS(alpha float64, parts ...part) mixtureCS {
	var kept []part
	total := 0.0
	for _, p := range parts {
		if p.weight <= 0 || (p.sd >= 0 && !(p.mean > 0 && p.mean < 1)) {
			continue
		}
		kept = append(kept, p)
		total += p.weight
	}
	cs := mixtureCS{threshold: math.Log(1 / alpha)}
	for _, p := range kept {
		a, b := 1.0, 1.0
		if p.sd >= 0 {
			a, b = betaParams(p.mean, p.sd)
		}
		cs.comps = append(cs.comps, component{logWeight: math.Log(p.weight / total), a: a, b: b, ab: a + b, lbetaAB: lbeta(a, b)})
	}
	return cs
}

// betaParams returns the Beta distribution with mean m and standard deviation
// about sd (the mean kept in [0.0001, 0.9999] and the pseudo-sample size at
// least 2, so that the parameters stay positive and finite).
func betaParams(m, sd float64) (a, b float64) {
	m = math.Min(math.Max(m, 0.0001), 0.9999)
	sd = math.Max(sd, 1e-4)
	c := math.Max(m*(1-m)/(sd*sd)-1, 2)
	return c * m, c * (1 - m)
}

// versionPassCS is the PASS sequence of a share expected at w with band
// [lo, hi]: mass on w.
func versionPassCS(w, lo, hi, alpha float64) mixtureCS {
	h := (hi - lo) / 2
	return newMixtureCS(alpha,
		part{passCentreWeight, w, passCentreSpread * h},
		part{1 - passCentreWeight, 0, -1})
}

// versionFailCS is the FAIL sequence of a share with band [lo, hi]: mass
// outside the band on both sides.
func versionFailCS(w, lo, hi, alpha float64) mixtureCS {
	hl, hh := w-lo, hi-w
	return newMixtureCS(alpha,
		part{failSideWeight, lo - failSideOffset*hl, failSideSpread * hl},
		part{failSideWeight, hi + failSideOffset*hh, failSideSpread * hh},
		part{1 - 2*failSideWeight, 0, -1})
}

// budgetPassCS is the PASS sequence of a share of bad outcomes whose band is
// [0, budget]: mass near 0 and at half the budget.
func budgetPassCS(budget, alpha float64) mixtureCS {
	return newMixtureCS(alpha,
		part{budgetNearZeroWeight, budget / 20, budget / 20},
		part{1 - budgetNearZeroWeight, budget / 2, budget / 5})
}

// budgetFailCS is the FAIL sequence of a share of bad outcomes whose band is
// [0, budget]: mass above the budget.
func budgetFailCS(budget, alpha float64) mixtureCS {
	return newMixtureCS(alpha,
		part{failSideWeight, 2 * budget, budget / 2},
		part{1 - failSideWeight, 0, -1})
}

// mirror returns the sequence for the complementary share 1-p.
func (c mixtureCS) mirror() mixtureCS {
	out := mixtureCS{threshold: c.threshold, comps: make([]component, len(c.comps))}
	for i, k := range c.comps {
		out.comps[i] = component{logWeight: k.logWeight, a: k.b, b: k.a, ab: k.ab, lbetaAB: k.lbetaAB}
	}
	return out
}

func lbeta(x, y float64) float64 {
	lx, _ := math.Lgamma(x)
	ly, _ := math.Lgamma(y)
	lxy, _ := math.Lgamma(x + y)
	return lx + ly - lxy
}

// logMixture returns the log of the mixture's marginal likelihood of s
// successes in n trials (in a given order); it does not depend on p.
func (c mixtureCS) logMixture(s, n int64) float64 {
	if len(c.comps) == 1 {
		k := c.comps[0]
		return k.logWeight + lbeta(k.a+float64(s), k.b+float64(n-s)) - k.lbetaAB
	}
	var terms [8]float64
	t := terms[:0]
	top := math.Inf(-1)
	for _, k := range c.comps {
		x := k.logWeight + lbeta(k.a+float64(s), k.b+float64(n-s)) - k.lbetaAB
		t = append(t, x)
		top = math.Max(top, x)
	}
	sum := 0.0
	for _, x := range t {
		sum += math.Exp(x - top)
	}
	return top + math.Log(sum)
}

// logM is log M_n(p): the mixture martingale evaluated at share p.
func (c mixtureCS) logM(mix float64, s, n int64, p float64) float64 {
	return mix - xlogy(float64(s), p) - xlogy(float64(n-s), 1-p)
}

// xlogy is x·log(y) with 0·log(0) = 0.
func xlogy(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(y)
}

// excludes reports whether share p lies outside the sequence after s
// successes in n trials, given mix = logMixture(s, n).
func (c mixtureCS) excludes(mix float64, s, n int64, p float64) bool {
	return c.logM(mix, s, n, p) >= c.threshold
}

// interval returns the confidence interval after s successes in n trials:
// the set of p with M_n(p) < 1/alpha, which is an interval around s/n
// because log M_n is convex in p.
func (c mixtureCS) interval(s, n int64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	mix := c.logMixture(s, n)
	phat := float64(s) / float64(n)
	lo, hi = 0, 1
	if c.excludes(mix, s, n, 0) {
		lo = c.edge(mix, s, n, 0, phat)
	}
	if c.excludes(mix, s, n, 1) {
		hi = c.edge(mix, s, n, 1, phat)
	}
	return lo, hi
}

// edge bisects between out (excluded) and in (inside, s/n) for the boundary.
func (c mixtureCS) edge(mix float64, s, n int64, out, in float64) float64 {
	for range 60 {
		mid := (out + in) / 2
		if c.excludes(mix, s, n, mid) {
			out = mid
		} else {
			in = mid
		}
	}
	return in
}

// tracker follows one share's mixture as observations arrive, one at a time,
// in O(components) per observation: it keeps the log marginal likelihood and
// the components' posterior weights, and updates both by the posterior
// predictive probability of each outcome. Batches and drift are handled by
// exact recomputation (sync).
type tracker struct {
	cs    *mixtureCS
	s, n  int64     // the counts mix describes
	mix   float64   // log marginal likelihood of (s, n)
	post  []float64 // posterior weights of the components
	steps int       // single steps since the last exact sync
}

func newTracker(cs *mixtureCS) tracker {
	t := tracker{cs: cs, post: make([]float64, len(cs.comps))}
	t.sync(0, 0)
	return t
}

// sync recomputes the state exactly for s successes in n trials.
func (t *tracker) sync(s, n int64) {
	t.s, t.n, t.steps = s, n, 0
	t.mix = t.cs.logMixture(s, n)
	for i, k := range t.cs.comps {
		t.post[i] = math.Exp(k.logWeight + lbeta(k.a+float64(s), k.b+float64(n-s)) - k.lbetaAB - t.mix)
	}
}

// step adds one trial, a success or not.
func (t *tracker) step(success bool) {
	s, f, n := float64(t.s), float64(t.n-t.s), float64(t.n)
	pred := 0.0
	post := t.post[:len(t.cs.comps)]
	for i, k := range t.cs.comps {
		var r float64
		if success {
			r = (k.a + s) / (k.ab + n)
		} else {
			r = (k.b + f) / (k.ab + n)
		}
		post[i] *= r
		pred += post[i]
	}
	inv := 1 / pred
	for i := range post {
		post[i] *= inv
	}
	t.mix += math.Log(pred)
	t.n++
	if success {
		t.s++
	}
	t.steps++
	if t.steps >= resyncEvery {
		t.sync(t.s, t.n)
	}
}

// follow brings the tracker to s successes in n trials: by one step when
// that is all that changed, else by exact recomputation.
func (t *tracker) follow(s, n int64) {
	switch {
	case s == t.s && n == t.n:
	case n == t.n+1 && (s == t.s || s == t.s+1):
		t.step(s == t.s+1)
	default:
		t.sync(s, n)
	}
}
