package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/internal/cliflag"
	"github.com/meshcheck/meshcheck/judge"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

func init() { register(newJudgeCommand) }

// judgeFlags are the flags of `meshcheck judge`; each value is checked as it
// is parsed (package cliflag).
type judgeFlags struct {
	expect *cliflag.Expect
	counts []verify.Count
	errors int64
	report reportFlags
}

func newJudgeCommand() *cobra.Command {
	var f judgeFlags
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
The file's first line records where the run happened (environment, whether
the mesh was emulated, scenario, step, probe, target), and the report says
so again; files of older versions, without that line, are still read.
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
	f.expect = cliflag.AddExpect(fl)
	fl.Var(cliflag.Counts{P: &f.counts}, "counts", "observed responses: version=count pairs, e.g. v1=740,v2=260 (status=count with --expect-status)")
	fl.Var(cliflag.Count{P: &f.errors}, "errors", "failed requests (no response, 5xx, unreadable) besides the counts")
	f.report.add(fl)
	return cmd
}

// runJudge judges the flags' counts and writes the verdict; its error carries
// the exit code.
func runJudge(cmd *cobra.Command, f judgeFlags) error {
	if err := f.report.check(); err != nil {
		return usageError(err)
	}
	exp, err := f.expect.Expectation()
	if err != nil {
		return usageError(err)
	}
	if len(f.counts) == 0 {
		return usageError(errors.New("--counts is required: the responses per version, e.g. --counts v1=740,v2=260"))
	}
	res, err := verify.JudgeCounts(exp, f.counts, f.errors)
	if err != nil {
		return usageError(fmt.Errorf("--counts and --errors: %w", err))
	}
	run := report.Single(report.CommandJudge, report.Probe{Result: res})
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
	exp, err := f.expect.Expectation()
	if err != nil {
		return usageError(err)
	}
	run, err := judge.ReplayFile(path, exp)
	if err != nil {
		return usageError(err)
	}
	if err := f.report.write(cmd.OutOrStdout(), run); err != nil {
		return envError(err)
	}
	return verdictError(run.Verdict)
}
