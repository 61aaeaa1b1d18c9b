package verify

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meshcheck/meshcheck/internal/versionname"
)

// Defaults used by the command line and by scenarios that do not override them.
const (
	// DefaultTolerance is the absolute half-width of every version's band.
	DefaultTolerance = 0.05
	// DefaultAlpha bounds the family-wise probability of a wrong verdict.
	DefaultAlpha = 0.001
	// DefaultErrorBudget is the share of requests that may be errors.
	DefaultErrorBudget = 0.01
	// DefaultMaxRequests is the request budget of a probe when none is given.
	DefaultMaxRequests = 50000
)

// Weight is one version's configured share, in percent.
type Weight struct {
	Version string `json:"version"`
	Percent int    `json:"percent"`
}

// Expectation says what a probe should observe and how strictly to judge it.
// Exactly one of Weights and Status is set.
type Expectation struct {
	// Weights are the configured per-version shares; they sum to 100.
	Weights []Weight `json:"weights,omitempty"`
	// Status, when non-zero, expects this HTTP status on at least 1 - Tolerance
	// of the responses instead of a version split.
	Status int `json:"status,omitempty"`
	// Condition, with Status, names a further test every response must
	// pass (such as "headers x-b3-traceid present (in response)"): the
	// status line then counts the responses with the status that pass it
	// (Observation.Unmet false), judged by the same sequential test.
	Condition string `json:"condition,omitempty"`
	// Tolerance is the band's half-width: absolute (0.05 = ±5 points), or a
	// fraction of each weight when Relative is set. It lies in (0, 1).
	Tolerance float64 `json:"tolerance"`
	// Relative makes Tolerance a fraction of each weight.
	Relative bool `json:"relative,omitempty"`
	// Alpha bounds the probability of a wrong verdict; it lies in (0, 0.5).
	// A wrong configuration PASSes with probability at most Alpha; a correct
	// one FAILs with probability at most FailAlpha (Alpha when unset).
	Alpha float64 `json:"alpha"`
	// FailAlpha, when set, is the α that FAIL decisions spend, in
	// (0, Alpha]: a run of k probes with --family-alpha gives each
	// Alpha/k, so that the run as a whole FAILs a correct mesh with
	// probability at most Alpha. Zero means Alpha.
	FailAlpha float64 `json:"failAlpha,omitempty"`
	// ErrorBudget is the share of all requests that may be errors, in [0, 1).
	ErrorBudget float64 `json:"errorBudget"`
	// UnexpectedBudget is how many responses from versions not in Weights are
	// tolerated before the run fails.
	UnexpectedBudget int `json:"unexpectedBudget"`
}

// Defaults returns an Expectation with the default tolerance, alpha and
// budgets and no weights or status: the caller sets those.
func Defaults() Expectation {
	return Expectation{Tolerance: DefaultTolerance, Alpha: DefaultAlpha, ErrorBudget: DefaultErrorBudget}
}

// ValidVersionName reports whether s may name a version (a Kubernetes label
// value: up to 63 characters of letters, digits, '-', '_' and '.', starting
// and ending with a letter or digit).
func ValidVersionName(s string) bool { return versionname.Valid(s) }

// ParseWeights parses "v1=75,v2=25" into weights, keeping their order. It
// rejects empty input, other separators ("v1:75"), bad names, non-integer or
// negative percents, duplicates, and sums other than 100.
func ParseWeights(s string) ([]Weight, error) {
	pairs, err := parsePairs(s, "weight")
	if err != nil {
		return nil, err
	}
	weights := make([]Weight, 0, len(pairs))
	for _, p := range pairs {
		if p.n > 100 {
			return nil, fmt.Errorf("weight %s=%d: a weight is a percent from 0 to 100", p.name, p.n)
		}
		weights = append(weights, Weight{Version: p.name, Percent: int(p.n)})
	}
	if err := checkWeights(weights); err != nil {
		return nil, err
	}
	return weights, nil
}

// Count is an observed number of responses from one version.
type Count struct {
	Version string `json:"version"`
	N       int64  `json:"n"`
}

// ParseCounts parses "v1=740,v2=260" into counts, keeping their order. Counts
// are non-negative integers; names may not repeat.
func ParseCounts(s string) ([]Count, error) {
	pairs, err := parsePairs(s, "count")
	if err != nil {
		return nil, err
	}
	counts := make([]Count, 0, len(pairs))
	for _, p := range pairs {
		counts = append(counts, Count{Version: p.name, N: p.n})
	}
	return counts, nil
}

// FormatWeights writes weights the way ParseWeights reads them: "v1=75,v2=25".
func FormatWeights(ws []Weight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Version + "=" + strconv.Itoa(w.Percent)
	}
	return strings.Join(parts, ",")
}

// FormatCounts writes counts the way ParseCounts reads them: "v1=740,v2=260".
func FormatCounts(cs []Count) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Version + "=" + strconv.FormatInt(c.N, 10)
	}
	return strings.Join(parts, ",")
}

type pair struct {
	name string
	n    int64
}

// parsePairs reads comma-separated name=integer pairs; what names the kind of
// value in its messages ("weight", "count").
func parsePairs(s, what string) ([]pair, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no %ss given: want version=%s pairs such as v1=75,v2=25", what, what)
	}
	var out []pair
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not version=%s: write pairs like v1=75 separated by commas", item, what)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ValidVersionName(name) {
			return nil, fmt.Errorf("%q is not a version name: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("version %s is given twice: name each version once", name)
		}
		seen[name] = true
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s %s=%s: a %s is a whole number of at least 0", what, name, value, what)
		}
		out = append(out, pair{name: name, n: n})
	}
	return out, nil
}

func checkWeights(weights []Weight) error {
	if len(weights) == 0 {
		return fmt.Errorf("no weights: name at least one version")
	}
	sum := 0
	seen := map[string]bool{}
	for _, w := range weights {
		if !ValidVersionName(w.Version) {
			return fmt.Errorf("%q is not a version name: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", w.Version)
		}
		if seen[w.Version] {
			return fmt.Errorf("version %s is given twice: name each version once", w.Version)
		}
		seen[w.Version] = true
		if w.Percent < 0 || w.Percent > 100 {
			return fmt.Errorf("weight %s=%d: a weight is a percent from 0 to 100", w.Version, w.Percent)
		}
		sum += w.Percent
	}
	if sum != 100 {
		return fmt.Errorf("weights sum to %d: they must sum to 100", sum)
	}
	return nil
}

// Validate reports the first thing wrong with e, naming the field and what is
// allowed.
func (e Expectation) Validate() error {
	switch {
	case e.Condition != "" && e.Status == 0:
		return fmt.Errorf("expectation: the condition %q is judged with a status: give the status its responses have", e.Condition)
	case len(e.Weights) > 0 && e.Status != 0:
		return fmt.Errorf("expectation: give weights or a status, not both")
	case len(e.Weights) == 0 && e.Status == 0:
		return fmt.Errorf("expectation: give weights (v1=75,v2=25) or a status")
	case e.Status != 0 && (e.Status < 100 || e.Status > 599):
		return fmt.Errorf("status %d: an HTTP status lies from 100 to 599", e.Status)
	}
	if len(e.Weights) > 0 {
		if err := checkWeights(e.Weights); err != nil {
			return err
		}
	}
	if !(e.Tolerance > 0 && e.Tolerance < 1) {
		return fmt.Errorf("tolerance %v: it must lie in (0, 1)", e.Tolerance)
	}
	if !(e.Alpha > 0 && e.Alpha < 0.5) {
		return fmt.Errorf("alpha %v: it must lie in (0, 0.5)", e.Alpha)
	}
	if err := e.checkDetectable(); err != nil {
		return err
	}
	if e.FailAlpha != 0 && !(e.FailAlpha > 0 && e.FailAlpha <= e.Alpha) {
		return fmt.Errorf("fail alpha %v: it must lie in (0, alpha %v], or be 0 for alpha", e.FailAlpha, e.Alpha)
	}
	if !(e.ErrorBudget >= 0 && e.ErrorBudget < 1) {
		return fmt.Errorf("error budget %v: it must lie in [0, 1)", e.ErrorBudget)
	}
	if e.UnexpectedBudget < 0 {
		return fmt.Errorf("unexpected-version budget %d: it must be at least 0", e.UnexpectedBudget)
	}
	return nil
}

// checkDetectable rejects an absolute tolerance of at least the smallest
// non-zero weight: that version's band would reach 0, so a mesh that never
// routes to it would still PASS.
func (e Expectation) checkDetectable() error {
	if e.Relative || len(e.Weights) < 2 {
		return nil
	}
	smallest := Weight{Percent: 101}
	for _, w := range e.Weights {
		if w.Percent > 0 && w.Percent < smallest.Percent {
			smallest = w
		}
	}
	if smallest.Percent <= 100 && e.Tolerance*100 >= float64(smallest.Percent)-1e-9 {
		return fmt.Errorf("tolerance %v (±%g points) is not below the smallest non-zero weight %s=%d: a mesh that never routes to %s would still pass; use a tolerance below %v, or a relative one",
			e.Tolerance, e.Tolerance*100, smallest.Version, smallest.Percent, smallest.Version, float64(smallest.Percent)/100)
	}
	return nil
}

// FailAlphaOrDefault returns the α that FAIL decisions spend: FailAlpha, or
// Alpha when it is unset.
func (e Expectation) FailAlphaOrDefault() float64 {
	if e.FailAlpha > 0 {
		return e.FailAlpha
	}
	return e.Alpha
}

// band returns the interval a share with configured weight w (a fraction)
// must lie in.
func (e Expectation) band(w float64) (lo, hi float64) {
	h := e.Tolerance
	if e.Relative {
		h = e.Tolerance * w
	}
	return clamp01(w - h), clamp01(w + h)
}

func clamp01(x float64) float64 {
	switch {
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}
