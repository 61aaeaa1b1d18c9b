package verify

import "math"

// priorScale multiplies the pseudo-sample size of the mixing distribution.
// 1 gives a Beta prior whose standard deviation equals the band's half-width.
const priorScale = 1.0

// betaCS is the beta-binomial mixture confidence sequence for one Bernoulli
// share at level 1-alpha (see the package doc).
type betaCS struct {
	a, b      float64 // Beta mixing distribution
	lbetaAB   float64 // log B(a, b)
	threshold float64 // log(1/alpha)
}

// newBetaCS centres the mixing distribution on center with a standard
// deviation of about spread.
func newBetaCS(center, spread, alpha float64) betaCS {
	m := math.Min(math.Max(center, 0.005), 0.995)
	spread = math.Max(spread, 1e-4)
	c := math.Max(priorScale*(m*(1-m)/(spread*spread)-1), 2)
	a, b := c*m, c*(1-m)
	return betaCS{a: a, b: b, lbetaAB: lbeta(a, b), threshold: math.Log(1 / alpha)}
}

// mirror returns the sequence for the complementary share 1-p.
func (c betaCS) mirror() betaCS {
	return betaCS{a: c.b, b: c.a, lbetaAB: c.lbetaAB, threshold: c.threshold}
}

func lbeta(x, y float64) float64 {
	lx, _ := math.Lgamma(x)
	ly, _ := math.Lgamma(y)
	lxy, _ := math.Lgamma(x + y)
	return lx + ly - lxy
}

// logMixture returns the log of the mixture's marginal likelihood of s
// successes in n trials; it does not depend on p.
func (c betaCS) logMixture(s, n int64) float64 {
	return lbeta(c.a+float64(s), c.b+float64(n-s)) - c.lbetaAB
}

// logM is log M_n(p): the mixture martingale evaluated at share p.
func (c betaCS) logM(mix float64, s, n int64, p float64) float64 {
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
func (c betaCS) excludes(mix float64, s, n int64, p float64) bool {
	return c.logM(mix, s, n, p) >= c.threshold
}

// interval returns the confidence interval after s successes in n trials:
// the set of p with M_n(p) < 1/alpha, which is an interval around s/n
// because log M_n is convex in p.
func (c betaCS) interval(s, n int64) (lo, hi float64) {
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
func (c betaCS) edge(mix float64, s, n int64, out, in float64) float64 {
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
