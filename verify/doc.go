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
// mixtures). The mixing distribution is centred on the configured weight with
// a spread of about one tolerance, which makes the sequence tightest near the
// sample size at which the band can be resolved; any fixed choice keeps the
// guarantee.
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
// α is split evenly (Bonferroni) over the tested lines, so the family-wise
// probability that a correctly configured run ever FAILs, at whatever
// stopping time, is at most α. A PASS needs every CS inside its band; a wrong
// configuration (some true share outside its band) can only PASS if that
// share's CS misses it, which has probability at most α as well. With exactly
// two weighted versions and no allowance for unexpected versions the two
// shares are complementary, so one CS serves both lines and uses one share of
// α.
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
