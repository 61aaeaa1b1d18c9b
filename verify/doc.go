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
// guarantee; its choice only decides which outcomes come quickly. meshcheck's
// is a fixed mixture of Beta distributions, tuned by simulation
// (docs/benchmarks/verify.md, package verify/sim). For a version expected at
// w with band [lo, hi]: weight 0.6 on a narrow Beta at w (standard deviation
// 0.3 of the band's half-width), which proves a correct share quickly; 0.15
// on each side, centred a half-width outside the band edge, which rejects a
// share just outside the band; and 0.1 on the uniform distribution, which
// rejects a grossly wrong share within a few requests. For a budget line
// (errors, or the misses of a status) with band [0, b]: 0.45 on a Beta with
// mean b/10, 0.3 at b/2, 0.15 at 2b and 0.1 uniform. Components whose centre
// falls outside (0, 1) are dropped and the rest renormalised. A mixture of
// mixture martingales is one, so this is still a single confidence sequence
// per line.
//
// The engine keeps each line's log-mixture as a running sum, updated by the
// posterior predictive probability of each outcome (O(components) per
// observation), recomputes it exactly from log-Beta functions after a batch,
// every 4,096 observations and whenever a decision statistic lies within
// 1e-6 of the threshold, so every decision is taken on the exact martingale.
//
// Because the guarantee holds uniformly over n, the engine may be consulted
// after every response and stop at the first decision ("anytime-valid"):
//
//   - PASS when every tested share's CS lies inside its band;
//   - FAIL when some tested share's CS lies wholly outside its band, or an
//     exact rule is broken (below);
//   - INCONCLUSIVE while neither holds (and so when the request budget,
//     enforced by the caller, runs out first).
//
// # Error rates
//
// α is split over the tested lines (weighted Bonferroni): each version
// sequence (or the status line) gets one share and the errors line a quarter
// share, so with two versions and an error budget the version sequence runs at
// 0.8α and the errors line at 0.2α. The shares are fixed before the data and
// sum to α, so the family-wise probability that a correctly configured run
// ever FAILs, at whatever stopping time, is at most α. A PASS needs every CS
// inside its band; a wrong configuration (some true share outside its band)
// can only PASS if that share's CS misses it, which has probability at most α
// as well. With exactly
// two weighted versions and no allowance for unexpected versions the two
// shares are complementary, so one CS serves both lines and uses one share of
// α (each line still applies its own band, which matters with a relative
// tolerance).
//
// # Honesty
//
// A PASS needs M_n(edge) ≥ 1/α > 2 at every band edge, and M_n(p) never
// exceeds the likelihood ratio sup_q L(q)/L(p). With the default error budget
// of 1%, the errors line alone needs at least 69 requests before that ratio
// can reach 2; and for the version lines of 50/50, 75/25, 90/10 and 60/30/10
// no count vector of 20 responses reaches it at ±5 points. So 20 requests
// never PASS, at any α in (0, 0.5) (the tests check every count vector). The
// one exception is a very skewed split judged without an error budget at a
// large α: 20 of 20 responses on the 99% version of 99/1 (19 of 19 at α
// close to 0.5) do prove a share of at least 94% at α ≥ 0.475, which is all
// such an α asks for.
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
