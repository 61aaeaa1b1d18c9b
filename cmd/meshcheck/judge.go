package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

func init() { register(newJudgeCommand) }

// judgeFlags are the flags of `meshcheck judge`. Every value is checked as
// the flag is parsed (see the flag types below), so a bad one is reported
// with the flag's name and what it allows.
type judgeFlags struct {
	expect           []verify.Weight
	expectStatus     int
	counts           []verify.Count
	errors           int64
	tolerance        float64
	relative         bool
	alpha            float64
	errorBudget      float64
	unexpectedBudget int64
	report           reportFlags
}

func newJudgeCommand() *cobra.Command {
	f := judgeFlags{tolerance: verify.DefaultTolerance, alpha: verify.DefaultAlpha,
		errorBudget: verify.DefaultErrorBudget}
	cmd := &cobra.Command{
		Use:   "judge [results.ndjson] --expect v1=75,v2=25 [--counts v1=740,v2=260]",
		Short: "Judge per-version counts against the configured weights",
		Long: `Judge counts you already have (from access logs, another load tool, a test)
as one sample: does the split they show match the configured weights within
the tolerance, with confidence 1 - alpha?

--expect gives the weights (percents summing to 100); --counts the responses
per version. A name in --counts that --expect does not list is an unexpected
version: the run fails once such responses exceed --unexpected-budget.
--errors counts failed requests (no response, 5xx, unreadable); they are never
a version and are judged against --error-budget, a share of all requests.

Status probes: --expect-status 403 instead expects that status on at least
1 - tolerance of the responses; the keys of --counts are then HTTP statuses
(--counts 403=950,200=50) and any status other than the expected one counts
against it.

The method is anytime-valid (confidence sequences), so the same verdict
rules apply whether the counts come from a fixed batch or a run that stopped
early: a correct configuration FAILs, and a wrong one PASSes, with
probability at most alpha.

Results files: a run saved with --save (meshcheck probe or run) is re-judged
by naming the file instead of giving --counts; its judged records are
replayed in send order through the same sequential engine, from where the
run's settle phase ended, up to the first request the run did not judge.
That guarantee holds only for an expectation chosen before looking at the
traffic: trying other --expect, --tolerance or --alpha values on the same
file until one passes voids alpha (each try is another chance of a wrong
verdict). Re-judge to check a saved run, or to judge it against a
configuration fixed in advance.

Output: the verdict table (for a results file, with its traffic).
` + reportHelp + `

Exit codes: 0 pass, 1 fail, 2 usage or input error, 3 inconclusive (the
counts are too few to decide either way).`,
		Example: `  meshcheck judge --expect v1=75,v2=25 --counts v1=15000,v2=5000
  meshcheck judge --expect v1=90,v2=10 --counts v1=1750,v2=240,v3=10 --errors 4 -o json
  meshcheck judge --expect-status 403 --counts 403=950,200=50
  meshcheck judge results.ndjson --expect v1=75,v2=25`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return runJudgeFile(cmd, f, args[0])
			}
			return runJudge(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.Var(weightsValue{&f.expect}, "expect", "configured split: version=percent pairs summing to 100, e.g. v1=75,v2=25")
	fl.Var(intRange{&f.expectStatus, 100, 599, "an HTTP status from 100 to 599"}, "expect-status",
		"expect this HTTP status (e.g. 403) on at least 1 - tolerance of the responses, instead of a split")
	fl.Var(countsValue{&f.counts}, "counts", "observed responses: version=count pairs, e.g. v1=740,v2=260 (status=count with --expect-status)")
	fl.Var(nonNegative{&f.errors}, "errors", "failed requests (no response, 5xx, unreadable) besides the counts")
	fl.Var(floatRange{&f.tolerance, 0, 1, false, "a number in (0, 1): 0.05 = ±5 points"}, "tolerance",
		"band half-width, in (0, 1): 0.05 = ±5 points (a fraction of each weight with --relative)")
	fl.BoolVar(&f.relative, "relative", false, "make the tolerance a fraction of each weight (0.1 = 25% ± 2.5 points)")
	fl.Var(floatRange{&f.alpha, 0, 0.5, false, "a number in (0, 0.5)"}, "alpha",
		"bound on the probability of a wrong verdict, in (0, 0.5)")
	fl.Var(floatRange{&f.errorBudget, 0, 1, true, "a number in [0, 1): 0.01 = 1% of requests"}, "error-budget",
		"share of requests that may be errors, in [0, 1); 0 fails on the first error")
	fl.Var(nonNegative{&f.unexpectedBudget}, "unexpected-budget", "responses from versions not in --expect that are tolerated, in all")
	f.report.add(fl)
	return cmd
}

// runJudge judges the flags' counts and writes the verdict; its error carries
// the exit code.
func runJudge(cmd *cobra.Command, f judgeFlags) error {
	if err := f.report.check(); err != nil {
		return usageError(err)
	}
	exp, err := f.expectation()
	if err != nil {
		return usageError(err)
	}
	eng, err := verify.New(exp)
	if err != nil {
		return usageError(err)
	}
	if len(f.counts) == 0 {
		return usageError(errors.New("--counts is required: the responses per version, e.g. --counts v1=740,v2=260"))
	}
	obs, err := f.observations(exp)
	if err != nil {
		return usageError(err)
	}
	for _, o := range obs {
		eng.Record(o.obs, o.n)
	}
	eng.Evaluate()
	run := report.Single(report.CommandJudge, report.Probe{Result: eng.Result()})
	if err := f.report.write(cmd.OutOrStdout(), run); err != nil {
		return envError(err)
	}
	return verdictError(run.Verdict)
}

// runJudgeFile replays a results file written by --save through the engine
// and writes the probe report; its error carries the exit code.
func runJudgeFile(cmd *cobra.Command, f judgeFlags, path string) error {
	if len(f.counts) > 0 || f.errors != 0 {
		return usageError(errors.New("--counts and --errors: give a results file or counts, not both"))
	}
	if err := f.report.check(); err != nil {
		return usageError(err)
	}
	exp, err := f.expectation()
	if err != nil {
		return usageError(err)
	}
	eng, err := verify.New(exp)
	if err != nil {
		return usageError(err)
	}
	stats, err := loadgen.ReplayFile(path, eng)
	if err != nil {
		return usageError(err)
	}
	run := report.Single(report.CommandJudge, report.Probe{Result: eng.Result(), Stats: stats})
	if err := f.report.write(cmd.OutOrStdout(), run); err != nil {
		return envError(err)
	}
	return verdictError(run.Verdict)
}

// expectation builds the Expectation the flags describe.
func (f judgeFlags) expectation() (verify.Expectation, error) {
	exp := verify.Expectation{Weights: f.expect, Status: f.expectStatus, Tolerance: f.tolerance,
		Relative: f.relative, Alpha: f.alpha, ErrorBudget: f.errorBudget}
	switch {
	case len(f.expect) > 0 && f.expectStatus != 0:
		return exp, errors.New("--expect and --expect-status: give one of them, not both")
	case len(f.expect) == 0 && f.expectStatus == 0:
		return exp, errors.New("--expect is required: the configured split, e.g. --expect v1=75,v2=25 (or --expect-status 403)")
	case f.unexpectedBudget > math.MaxInt32:
		return exp, fmt.Errorf("--unexpected-budget %d: at most %d", f.unexpectedBudget, math.MaxInt32)
	}
	exp.UnexpectedBudget = int(f.unexpectedBudget)
	if err := exp.Validate(); err != nil {
		return exp, fmt.Errorf("expectation: %w", err)
	}
	return exp, nil
}

// judgeBatch is n identical observations.
type judgeBatch struct {
	obs verify.Observation
	n   int64
}

// maxJudgeRequests bounds the total of --counts and --errors, far above any
// probe, so that sums stay exact.
const maxJudgeRequests = 1_000_000_000_000_000

// observations turns --counts and --errors into batches for the engine: with
// weights, a count per version (named or not); with a status, a count per
// status.
func (f judgeFlags) observations(exp verify.Expectation) ([]judgeBatch, error) {
	var out []judgeBatch
	total := f.errors
	for _, c := range f.counts {
		if total += c.N; c.N > maxJudgeRequests || total > maxJudgeRequests {
			return nil, fmt.Errorf("--counts and --errors: %s requests in all is too many: at most 10^15", verify.Thousands(total))
		}
		o := verify.Observation{Status: 200, Version: c.Version}
		if exp.Status != 0 {
			code, err := strconv.Atoi(c.Version)
			if err != nil || code < 100 || code > 599 {
				return nil, fmt.Errorf("--counts %s=%d: with --expect-status the keys are HTTP statuses from 100 to 599", c.Version, c.N)
			}
			o = verify.Observation{Status: code}
		}
		out = append(out, judgeBatch{o, c.N})
	}
	out = append(out, judgeBatch{verify.Observation{Status: 0}, f.errors})
	return out, nil
}

// Flag types that check their value as it is parsed; pflag reports a failed
// Set as `invalid argument "x" for "--flag" flag: <what is allowed>`.

// weightsValue is a --expect split.
type weightsValue struct{ p *[]verify.Weight }

func (v weightsValue) String() string {
	if v.p == nil {
		return ""
	}
	return verify.FormatWeights(*v.p)
}
func (v weightsValue) Type() string { return "split" }
func (v weightsValue) Set(s string) error {
	ws, err := verify.ParseWeights(s)
	if err != nil {
		return err
	}
	*v.p = ws
	return nil
}

// countsValue is a --counts list.
type countsValue struct{ p *[]verify.Count }

func (v countsValue) String() string {
	if v.p == nil {
		return ""
	}
	return verify.FormatCounts(*v.p)
}
func (v countsValue) Type() string { return "counts" }
func (v countsValue) Set(s string) error {
	cs, err := verify.ParseCounts(s)
	if err != nil {
		return err
	}
	*v.p = cs
	return nil
}

// nonNegative is a whole number of at least 0.
type nonNegative struct{ p *int64 }

func (v nonNegative) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}
func (v nonNegative) Type() string { return "count" }
func (v nonNegative) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return errors.New("a whole number of at least 0")
	}
	*v.p = n
	return nil
}

// intRange is a whole number in [lo, hi].
type intRange struct {
	p       *int
	lo, hi  int
	allowed string
}

func (v intRange) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}
func (v intRange) Type() string { return "int" }
func (v intRange) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.lo || n > v.hi {
		return errors.New(v.allowed)
	}
	*v.p = n
	return nil
}

// floatRange is a number in (lo, hi), or [lo, hi) when closedLow.
type floatRange struct {
	p         *float64
	lo, hi    float64
	closedLow bool
	allowed   string
}

func (v floatRange) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}
func (v floatRange) Type() string { return "float" }
func (v floatRange) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	low := x > v.lo || (v.closedLow && x == v.lo)
	if err != nil || !low || !(x < v.hi) {
		return errors.New(v.allowed)
	}
	*v.p = x
	return nil
}

// choice is one of a fixed set of words.
type choice struct {
	p       *string
	choices []string
}

func (v choice) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v choice) Type() string { return "format" }
func (v choice) Set(s string) error {
	for _, c := range v.choices {
		if s == c {
			*v.p = s
			return nil
		}
	}
	return errors.New("want " + strings.Join(v.choices[:len(v.choices)-1], ", ") + " or " + v.choices[len(v.choices)-1])
}
