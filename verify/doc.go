// Package verify decides, from per-version response counts, whether the
// traffic a mesh delivered matches the weights it was configured with.
//
// # Model
//
// Each request independently reaches version i with an unknown share p_i
// (Envoy draws the weighted cluster per request). An Expectation gives the
// configured weights w_i (integer percents summing to 100) and a tolerance;
// version i's band is [w_i - tol, w_i + tol] (or w_i·(1 ± tol) with a
// relative tolerance), clipped to [0, 1].
//
// # Method: beta-binomial mixture confidence sequences
//
// For every tested share the engine keeps a confidence sequence (CS): a
// sequence of intervals that contains the true share at every sample size
// simultaneously with probability at least 1 - α. It is the conjugate-mixture
// CS for a Bernoulli parameter: with s successes in n trials and a
// Beta(a, b) mixing distribution,
//
//	M_n(p) = B(a+s, b+n-s) / B(a, b) / (p^s (1-p)^(n-s))
//
// is a non-negative martingale with M_0 = 1 when p is the true share, so by
// Ville's inequality P(∃n: M_n(p) ≥ 1/α) ≤ α and {p : M_n(p) < 1/α} is a
// (1-α) confidence sequence (Robbins 1970, "Statistical methods related to
// the law of the iterated logarithm", Ann. Math. Statist. 41(5); Howard,
// Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric,
// nonasymptotic confidence sequences", Ann. Statist. 49(2), §3 on conjugate
// mixtures). Any mixing distribution fixed before the data keeps the
// guarantee; its choice only decides which outcomes come quickly.
//
// # Decisions: two one-sided tests per edge, intersection-union for PASS
//
// Each tested line has a band [lo, hi] and two mixtures, fixed in advance and
// tuned by simulation (docs/benchmarks/verify.md, bench/verify):
//
//   - its PASS mixture puts its mass where a correct configuration puts the
//     share: for a version expected at w with half-width h, 0.9 on a Beta
//     centred on w with standard deviation 0.2h and 0.1 on the uniform; for
//     a budget line (errors, the misses of a status) with band [0, b], 0.4
//     on a Beta with mean and standard deviation b/20 and 0.6 on a Beta with
//     mean b/2 and standard deviation b/5;
//   - its FAIL mixture puts its mass outside the band: for a version, 0.3 on
//     each side on a Beta centred h outside the edge (standard deviation
//     h/2) and 0.4 uniform; for a budget line, 0.3 on a Beta at 2b
//     (standard deviation b/2) and 0.7 uniform.
//
// Let M_n(p) be a mixture's martingale at p. When the observed share s/n
// lies above lo, M_n(p) ≥ M_n(lo) for every p ≤ lo (the likelihood falls
// away from s/n), so M_n(lo) ≥ 1/α rejects the whole one-sided hypothesis
// "share ≤ lo" at level α: under it the true share's martingale would have
// crossed 1/α, which Ville's inequality allows with probability α. The same
// holds at hi for "share ≥ hi". These are the two one-sided e-processes
// (evidence processes) of a line. A line:
//
//   - PASSes when s/n lies in the band and its PASS mixture rejects both
//     "share ≤ lo" and "share ≥ hi" (an edge at 0 or 1 needs no test), each
//     at the full α;
//   - FAILs when s/n lies outside the band and its FAIL mixture rejects
//     "share inside the band" at the nearer edge, at the line's FAIL share.
//
// The probe PASSes when every line passes, FAILs when any line fails, and is
// INCONCLUSIVE while neither holds (and so when the request budget, enforced
// by the caller, runs out first). The engine may be consulted after every
// response and stop at the first decision: the guarantees hold uniformly
// over n ("anytime-valid").
//
// # Error rates
//
// A wrong configuration has some line whose true share lies outside its
// band, and the probe can PASS only if that line passes, which has
// probability at most α: so every line's PASS tests run at the full α and
// no split is needed (intersection-union; Berger 1982, "Multiparameter
// hypothesis testing and acceptance sampling", Technometrics 24(4)). A false
// FAIL can come from any line, so FAIL's α (Expectation.FailAlpha, α when
// unset) is split over the lines that can fail by statistics (weighted
// Bonferroni): one share per version sequence or status line, a quarter
// share for the errors line. With two weighted versions and no allowance for
// unexpected versions the shares are complementary, so one pair of
// sequences serves both lines (each line still applies its own band, which
// matters with a relative tolerance) and takes one share. A forced line (the
// only positive weight, with no allowance for unexpected versions) takes
// none: its share leaves the band only when another version answers, which
// fails at once by an exact rule. So with two versions and an error budget
// the version pair FAILs at 0.8α and the errors line at 0.2α, and a
// correctly configured probe FAILs with probability at most FailAlpha, at
// whatever stopping time.
//
// A scenario of k probes can FAIL a correct mesh with probability up to k
// times that. Setting FailAlpha to α/k for each (meshcheck run
// --family-alpha) bounds the run's false-FAIL rate by α; PASS stays at α
// per probe, since a wrong probe must itself pass to mislead.
//
// # What feeds the engine
//
// The guarantees assume the observations of a probe are independent draws
// from the mesh's split, judged in an order fixed before they are seen.
// meshcheck feeds them in send order (package loadgen's reorder buffer): in
// arrival order a slower version's responses would come last, and the
// first judged responses would all be from the fast one. A settle phase
// before the judged attack, unjudged, waits for a run of good responses; the
// judged data start at a point chosen only from the unjudged data, so they
// are as fresh as if the attack had started there. The engine is not told
// about retries: a response is what the client saw.
//
// # Displayed intervals
//
// A line's Lower and Upper are the confidence interval of the mixture behind
// its state, {p : M_n(p) < 1/α'} at that mixture's level α': the FAIL
// mixture's on a failing line (it lies outside the band), the PASS
// mixture's otherwise (inside the band on a passing line). A line's History
// holds the same share and interval at up to MaxHistory earlier looks,
// evenly spaced in requests, for a picture of the interval narrowing into
// (or out of) the band; the engine records only counts at a look and
// computes those intervals when a Result is built.
//
// The engine keeps each mixture's log marginal likelihood as a running sum,
// updated by the posterior predictive probability of each outcome
// (O(components) per observation), recomputes it exactly from log-Beta
// functions after a batch, every 4,096 observations and whenever a decision
// statistic lies within 1e-6 of the threshold, so every decision is taken on
// the exact martingale.
//
// # Honesty
//
// A PASS needs M_n(edge) ≥ 1/α > 2 at every band edge, and M_n(p) never
// exceeds the likelihood ratio sup_q L(q)/L(p). With the default error budget
// of 1%, the errors line alone needs at least 69 requests before that ratio
// can reach 2; and for the version lines of 50/50, 75/25, 90/10 and 60/30/10
// no count vector of 20 responses reaches it at ±5 points. So 20 requests
// never PASS, at any α in (0, 0.5) (the tests check every count vector). The
// exception is a forced 100/0 judged without an error budget at a large α:
// n responses all on the forced version prove its share above the band edge
// 95% once (1/0.95)^n reaches 1/α, within 20 responses at α ≥ 0.36, which is
// all such an α asks for.
//
// An absolute tolerance must lie below the smallest non-zero weight
// (Expectation.Validate): otherwise that version's band reaches 0 and a mesh
// that never routes to it would PASS. 99/1 is judged at ±0.5 points, or
// with a relative tolerance.
//
// # Exact rules
//
//   - A version with weight 0 that receives any response fails at once:
//     Envoy never routes to a zero-weight destination.
//   - A response from a version not named in the expectation is
//     "unexpected"; the run fails once their number exceeds
//     Expectation.UnexpectedBudget (default 0).
//
// # Errors
//
// Transport errors, statuses outside 100–399 and responses the classifier
// could not read are errors: never a version, counted apart, and judged on a
// line of their own. Its band is [0, ErrorBudget] of all requests; a budget
// of 0 is exact (the first error fails).
//
// # Status expectations
//
// An Expectation with Status set (for example 403 for an access-control
// check) tests instead that the share of responses carrying that status is at
// least 1 - tol, with the same guarantees. Transport errors go to the errors
// line; any other status counts against the share.
package verify
