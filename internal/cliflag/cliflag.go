// Package cliflag holds the command line's flag value types: each checks its
// value once, as pflag parses it, so that a bad value is reported as
// `invalid argument "x" for "--flag" flag: <what is allowed>` and the
// commands receive only values that hold. Expect registers the flags of an
// expectation shared by `meshcheck judge` and `meshcheck probe`.
package cliflag

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/meshcheck/meshcheck/verify"
)

// Weights is a split such as v1=75,v2=25 (verify.ParseWeights).
type Weights struct{ P *[]verify.Weight }

// String writes the split as it is parsed.
func (v Weights) String() string {
	if v.P == nil {
		return ""
	}
	return verify.FormatWeights(*v.P)
}

// Type names the value in help.
func (v Weights) Type() string { return "split" }

// Set parses a split.
func (v Weights) Set(s string) error {
	ws, err := verify.ParseWeights(s)
	if err != nil {
		return err
	}
	*v.P = ws
	return nil
}

// Counts is a list of counts such as v1=740,v2=260 (verify.ParseCounts).
type Counts struct{ P *[]verify.Count }

// String writes the counts as they are parsed.
func (v Counts) String() string {
	if v.P == nil {
		return ""
	}
	return verify.FormatCounts(*v.P)
}

// Type names the value in help.
func (v Counts) Type() string { return "counts" }

// Set parses counts.
func (v Counts) Set(s string) error {
	cs, err := verify.ParseCounts(s)
	if err != nil {
		return err
	}
	*v.P = cs
	return nil
}

// Int is a whole number from Lo to Hi; Allowed says so in words.
type Int struct {
	P       *int
	Lo, Hi  int
	Allowed string
}

// String writes the number.
func (v Int) String() string {
	if v.P == nil {
		return "0"
	}
	return strconv.Itoa(*v.P)
}

// Type names the value in help.
func (v Int) Type() string { return "int" }

// Set parses a whole number within the bounds.
func (v Int) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.Lo || n > v.Hi {
		return errors.New(v.Allowed)
	}
	*v.P = n
	return nil
}

// Count is a whole number of at least 0.
type Count struct{ P *int64 }

// String writes the number.
func (v Count) String() string {
	if v.P == nil {
		return "0"
	}
	return strconv.FormatInt(*v.P, 10)
}

// Type names the value in help.
func (v Count) Type() string { return "count" }

// Set parses a whole number of at least 0.
func (v Count) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return errors.New("a whole number of at least 0")
	}
	*v.P = n
	return nil
}

// Float is a number in (Lo, Hi), or [Lo, Hi) when ClosedLow; Allowed says
// so in words.
type Float struct {
	P         *float64
	Lo, Hi    float64
	ClosedLow bool
	Allowed   string
}

// String writes the number.
func (v Float) String() string {
	if v.P == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.P, 'g', -1, 64)
}

// Type names the value in help.
func (v Float) Type() string { return "float" }

// Set parses a number within the bounds (NaN never is).
func (v Float) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	low := x > v.Lo || (v.ClosedLow && x == v.Lo)
	if err != nil || !low || !(x < v.Hi) {
		return errors.New(v.Allowed)
	}
	*v.P = x
	return nil
}

// Choice is one of a fixed set of words (at least two).
type Choice struct {
	P       *string
	Choices []string
}

// String writes the word.
func (v Choice) String() string {
	if v.P == nil {
		return ""
	}
	return *v.P
}

// Type names the value in help.
func (v Choice) Type() string { return "format" }

// Set accepts one of the words.
func (v Choice) Set(s string) error {
	for _, c := range v.Choices {
		if s == c {
			*v.P = s
			return nil
		}
	}
	return errors.New("want " + strings.Join(v.Choices[:len(v.Choices)-1], ", ") + " or " + v.Choices[len(v.Choices)-1])
}

// Expect holds the flags of an expectation: --expect or --expect-status,
// --tolerance, --relative, --alpha, --error-budget and --unexpected-budget.
type Expect struct {
	weights          []verify.Weight
	status           int
	tolerance        float64
	relative         bool
	alpha            float64
	errorBudget      float64
	unexpectedBudget int
}

// AddExpect registers the expectation flags on fs, with verify's defaults.
func AddExpect(fs *pflag.FlagSet) *Expect {
	e := &Expect{tolerance: verify.DefaultTolerance, alpha: verify.DefaultAlpha, errorBudget: verify.DefaultErrorBudget}
	fs.Var(Weights{&e.weights}, "expect", "configured split: version=percent pairs summing to 100, e.g. v1=75,v2=25")
	fs.Var(Int{&e.status, 100, 599, "an HTTP status from 100 to 599"}, "expect-status",
		"expect this HTTP status (e.g. 403) on at least 1 - tolerance of the responses, instead of a split")
	fs.Var(Float{&e.tolerance, 0, 1, false, "a number in (0, 1): 0.05 = ±5 points"}, "tolerance",
		"band half-width, in (0, 1): 0.05 = ±5 points (a fraction of each weight with --relative)")
	fs.BoolVar(&e.relative, "relative", false, "make the tolerance a fraction of each weight (0.1 = 25% ± 2.5 points)")
	fs.Var(Float{&e.alpha, 0, 0.5, false, "a number in (0, 0.5)"}, "alpha",
		"bound on the probability of a wrong verdict, in (0, 0.5)")
	fs.Var(Float{&e.errorBudget, 0, 1, true, "a number in [0, 1): 0.01 = 1% of requests"}, "error-budget",
		"share of requests that may be errors, in [0, 1); 0 fails on the first error")
	fs.Var(Int{&e.unexpectedBudget, 0, 1<<31 - 1, "a whole number from 0 to 2147483647"}, "unexpected-budget",
		"responses from versions not in --expect that are tolerated, in all")
	return e
}

// Expectation returns the expectation the flags describe, validated: one of
// --expect and --expect-status is required.
func (e *Expect) Expectation() (verify.Expectation, error) {
	exp := verify.Expectation{Weights: e.weights, Status: e.status, Tolerance: e.tolerance, Relative: e.relative,
		Alpha: e.alpha, ErrorBudget: e.errorBudget, UnexpectedBudget: e.unexpectedBudget}
	switch {
	case len(e.weights) > 0 && e.status != 0:
		return exp, errors.New("--expect and --expect-status: give one of them, not both")
	case len(e.weights) == 0 && e.status == 0:
		return exp, errors.New("--expect is required: the configured split, e.g. --expect v1=75,v2=25 (or --expect-status 403)")
	}
	if err := exp.Validate(); err != nil {
		return exp, fmt.Errorf("expectation: %w", err)
	}
	return exp, nil
}
