package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/verify"
)

// judgeExec runs meshcheck in-process and returns the exit code main would
// use, stdout, and the one-line error main would print ("" if none).
func judgeExec(t *testing.T, args ...string) (code int, stdout, errLine string) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case errors.As(err, &ee) && ee.err == nil: // a verdict: main prints nothing
	case err != nil:
		errLine = err.Error()
	}
	if errOut.Len() > 0 {
		t.Errorf("meshcheck %s wrote to stderr itself: %q", strings.Join(args, " "), errOut.String())
	}
	return exitCode(err), out.String(), errLine
}

func TestJudgeAcceptance(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string // a line the output must contain
	}{
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=15000,v2=5000"}, ExitPass, "verdict      PASS after 20,000 requests"},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=1000,v2=1000"}, ExitFail, "  - v2: 50% ["},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=15,v2=5"}, ExitInconclusive, "verdict      INCONCLUSIVE after 20 requests"},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=15000,v2=5000", "--errors", "400"}, ExitFail, "  - errors: 2% ["},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=15000,v2=5000,v3=1"}, ExitFail, "  - v3: 1 response from a version the expectation does not name"},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=15000,v2=5000,v3=1", "--unexpected-budget", "1"}, ExitPass, "≤ 1 in all"},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=15000,v2=5000", "--errors", "1", "--error-budget", "0"}, ExitFail, "expected none (error budget 0)"},
		{[]string{"--expect", "v1=90,v2=10", "--counts", "v1=87000,v2=13000", "--relative", "--tolerance", "0.2"}, ExitFail, "expected 10% ± 2% (band 8% to 12%)"},
		{[]string{"--expect", "v1=90,v2=10", "--counts", "v1=8700,v2=1300"}, ExitPass, "PASS after 10,000 requests"},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=740,v2=260"}, ExitInconclusive, "alpha 0.001"},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=740,v2=260", "--alpha", "0.2"}, ExitPass, "alpha 0.2"},
		{[]string{"--expect-status", "403", "--counts", "403=9500,200=50"}, ExitPass, "  status 403  9,500  99.5%"},
		{[]string{"--expect-status", "403", "--counts", "403=50,200=950"}, ExitFail, "  - status 403: 5% ["},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=0,v2=0"}, ExitInconclusive, "INCONCLUSIVE after 0 requests"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errLine := judgeExec(t, append([]string{"judge"}, c.args...)...)
			if code != c.code || errLine != "" {
				t.Errorf("exit %d (error %q), want %d", code, errLine, c.code)
			}
			if !strings.Contains(out, c.out) {
				t.Errorf("output lacks %q:\n%s", c.out, out)
			}
		})
	}
}

func TestJudgeInputErrors(t *testing.T) {
	base := []string{"--counts", "v1=740,v2=260"}
	cases := []struct {
		args []string
		want string // the error must contain it
	}{
		{[]string{"--expect", "v1=75,v2=15", "--counts", "v1=15,v2=5"}, `invalid argument "v1=75,v2=15" for "--expect" flag: weights sum to 90: they must sum to 100`},
		{append([]string{"--expect", "v1:75,v2:25"}, base...), `for "--expect" flag: "v1:75" is not version=weight`},
		{append([]string{"--expect", "v1=75,v1=25"}, base...), `for "--expect" flag: version v1 is given twice`},
		{append([]string{"--expect", "v1=75.5,v2=24.5"}, base...), `for "--expect" flag: weight v1=75.5: a weight is a whole number`},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=-740,v2=260"}, `for "--counts" flag: count v1=-740: a count is a whole number of at least 0`},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=74.5,v2=260"}, `for "--counts" flag: count v1=74.5: a count is a whole number of at least 0`},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=740,v1=260"}, `for "--counts" flag: version v1 is given twice`},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1:740"}, `for "--counts" flag: "v1:740" is not version=count`},
		{append([]string{"--expect", "v1=75,v2=25", "--alpha", "0.5"}, base...), `invalid argument "0.5" for "--alpha" flag: a number in (0, 0.5)`},
		{append([]string{"--expect", "v1=75,v2=25", "--alpha", "0"}, base...), `for "--alpha" flag: a number in (0, 0.5)`},
		{append([]string{"--expect", "v1=75,v2=25", "--alpha", "abc"}, base...), `for "--alpha" flag: a number in (0, 0.5)`},
		{append([]string{"--expect", "v1=75,v2=25", "--tolerance", "1"}, base...), `invalid argument "1" for "--tolerance" flag: a number in (0, 1)`},
		{append([]string{"--expect", "v1=75,v2=25", "--tolerance", "-0.1"}, base...), `for "--tolerance" flag: a number in (0, 1)`},
		{append([]string{"--expect", "v1=75,v2=25", "--error-budget", "1"}, base...), `for "--error-budget" flag: a number in [0, 1)`},
		{append([]string{"--expect", "v1=75,v2=25", "--errors", "-1"}, base...), `invalid argument "-1" for "--errors" flag: a whole number of at least 0`},
		{append([]string{"--expect", "v1=75,v2=25", "--errors", "2.5"}, base...), `for "--errors" flag: a whole number of at least 0`},
		{append([]string{"--expect", "v1=75,v2=25", "--unexpected-budget", "-2"}, base...), `for "--unexpected-budget" flag: a whole number from 0 to 2147483647`},
		{append([]string{"--expect", "v1=75,v2=25", "--unexpected-budget", "99999999999"}, base...), `invalid argument "99999999999" for "--unexpected-budget" flag: a whole number from 0 to 2147483647`},
		{append([]string{"--expect", "v1=75,v2=25", "-o", "yaml"}, base...), `invalid argument "yaml" for "-o, --output" flag: want text, json, junit, markdown or html`},
		{append([]string{"--expect-status", "700"}, base...), `for "--expect-status" flag: an HTTP status from 100 to 599`},
		{append([]string{"--expect", "v1=75,v2=25", "--expect-status", "403"}, base...), `--expect and --expect-status: give one of them, not both`},
		{base, `--expect is required`},
		{[]string{"--expect", "v1=75,v2=25"}, `--counts is required`},
		{[]string{"--expect-status", "403", "--counts", "v1=5"}, `--counts and --errors: count v1=5: with an expected status the keys are HTTP statuses from 100 to 599`},
		{[]string{"--expect", "v1=75,v2=25", "--counts", "v1=999999999999999999,v2=1"}, `--counts and --errors: `},
		{append([]string{"--expect", "v1=75,v2=25", "results.ndjson"}, base...), "give a results file or counts, not both"},
		{append([]string{"--expect", "v1=75,v2=25", "--bogus"}, base...), `unknown flag: --bogus`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errLine := judgeExec(t, append([]string{"judge"}, c.args...)...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d (usage)", code, ExitUsage)
			}
			if !strings.Contains(errLine, c.want) {
				t.Errorf("error %q, want it to contain %q", errLine, c.want)
			}
			if strings.Contains(errLine, "\n") {
				t.Errorf("error is not one line: %q", errLine)
			}
			if out != "" {
				t.Errorf("stdout on an input error: %q", out)
			}
		})
	}
}

func TestJudgeJSON(t *testing.T) {
	code, out, _ := judgeExec(t, "judge", "--expect", "v1=75,v2=25", "--counts", "v1=1000,v2=1000,v9=2", "--errors", "3",
		"--unexpected-budget", "5", "-o", "json")
	if code != ExitFail {
		t.Fatalf("exit %d, want %d", code, ExitFail)
	}
	run, err := report.Decode(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatalf("output is not a report: %v\n%s", err, out)
	}
	if run.Command != report.CommandJudge || len(run.Probes) != 1 || run.Verdict != verify.Fail || run.Probes[0].Stats.Requests != 0 {
		t.Fatalf("report: %+v", run)
	}
	r := run.Probes[0].Result
	if r.Verdict != verify.Fail || r.Requests != 2005 || r.Errors.Transport != 3 || r.Expectation.UnexpectedBudget != 5 || r.Method != verify.Method {
		t.Errorf("decoded result %+v", r)
	}
	names := []string{}
	for _, l := range r.Lines {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, ","); got != "v1,v2,v9,errors" {
		t.Errorf("lines %s, want v1,v2,v9,errors", got)
	}
	if len(r.Failures()) != 2 {
		t.Errorf("failures %q, want v1 and v2", r.Failures())
	}
}

func TestJudgeHelpDocumentsStatusMode(t *testing.T) {
	code, out, _ := judgeExec(t, "judge", "--help")
	if code != ExitPass {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--expect-status 403", "--counts 403=950,200=50", "Exit codes: 0 pass, 1 fail, 2 usage or input error, 3 inconclusive"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
