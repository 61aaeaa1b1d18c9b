package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/internal/junittest"
	"github.com/meshcheck/meshcheck/report"
)

// TestMain keeps the tests from appending to the step summary of the CI
// job that runs them.
func TestMain(m *testing.M) {
	os.Unsetenv(stepSummaryEnv)
	os.Exit(m.Run())
}

// TestRunJUnitReportFile is the CI path: run a scenario in the local
// environment with -o junit and --report-file; stdout and the file hold
// JUnit that a CI system reads (a suite for the scenario, a case per probe,
// a failure per probe that did not pass), and the step summary gets the
// Markdown report appended. It checks the report, not the verdict: on a
// machine too loaded to serve 2,000 requests a second, timeouts can exceed
// the error budget, and the JUnit must then say so.
func TestRunJUnitReportFile(t *testing.T) {
	dir := t.TempDir()
	file, summary := filepath.Join(dir, "f.xml"), filepath.Join(dir, "summary.md")
	if err := os.WriteFile(summary, []byte("an earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(stepSummaryEnv, summary)
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--env", "local", "--rate", runRate(), "-o", "junit", "--report-file", file)
	if code != ExitPass && code != ExitFail && code != ExitInconclusive {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("report file mode: %v %v", st.Mode(), err)
	}
	if out != string(data) {
		t.Errorf("stdout and the report file differ:\n%s\n%s", out, data)
	}
	got, err := junittest.Check(data)
	if err != nil || got.Suites != 1 || got.Tests != 2 || got.Errors != 0 || (got.Failures == 0) != (code == ExitPass) {
		t.Errorf("exit %d, JUnit %+v, %v; want 1 suite of 2 tests, failing ones iff the exit is not 0\n%s", code, got, err, data)
	}
	if !strings.Contains(string(data), `<testsuite name="echo" tests="2"`) ||
		!strings.Contains(string(data), `<testcase name="split-75-25 / in-mesh" classname="echo.split-75-25"`) {
		t.Errorf("JUnit lacks the echo suite or its in-mesh case:\n%s", data)
	}
	sum, err := os.ReadFile(summary)
	if err != nil || !strings.HasPrefix(string(sum), "an earlier step\n### meshcheck run: ") || !strings.Contains(string(sum), "| echo / split-75-25 / in-mesh |") {
		t.Errorf("step summary (%v):\n%s", err, sum)
	}
}

// TestReportRerenders: a saved JSON report renders in every format; bad
// input is exit 2 naming the file and the field.
func TestReportRerenders(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, "judge.json")
	code, _, errLine := judgeExec(t, "judge", "--expect", "v1=75,v2=25", "--counts", "v1=1076,v2=754", "--report-file", saved)
	if code != ExitFail || errLine != "" {
		t.Fatalf("judge: exit %d, %q", code, errLine)
	}
	_, text, _ := judgeExec(t, "judge", "--expect", "v1=75,v2=25", "--counts", "v1=1076,v2=754")
	for _, c := range []struct{ format, want string }{
		{"text", text},
		{"json", `"schema": "` + report.Schema + `"`},
		{"junit", `<failure message="v1: 58.8% [53.4%, 64.1%] of 1,830, expected 75% ± 5%; v2: 41.2% [35.9%, 46.6%] of 1,830, expected 25% ± 5%" type="fail">`},
		{"markdown", "### meshcheck judge: FAIL\n"},
		{"html", `<header class="banner fail">`},
	} {
		code, out, errLine := judgeExec(t, "report", saved, "--format", c.format)
		if code != ExitPass || !strings.Contains(out, c.want) {
			t.Errorf("--format %s: exit %d (%q), output lacks %q:\n%s", c.format, code, errLine, c.want, out)
		}
	}
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), `"requests": 1830`, `"requests": -1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", bad}, bad + ": not a meshcheck.dev/report/v1 report: at /probes/0/result/requests: minimum: got -1, want 0"},
		{[]string{"report", filepath.Join(dir, "absent.json")}, "absent.json: no such file"},
		{[]string{"report", saved, "--format", "yaml"}, "want text, json, junit, markdown or html"},
		{[]string{"report"}, "give one saved JSON report"},
	} {
		code, out, errLine := judgeExec(t, c.args...)
		if code != ExitUsage || !strings.Contains(errLine, c.want) || out != "" {
			t.Errorf("%q: exit %d, %q, stdout %q; want 2 naming %q", c.args, code, errLine, out, c.want)
		}
	}
}
