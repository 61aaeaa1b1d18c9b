package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/runner"
)

// TestVerifyUsageErrors: a scenarios folder that is missing, or holds a
// scenario that does not load, is exit 2 naming it, before any cluster.
func TestVerifyUsageErrors(t *testing.T) {
	broken := t.TempDir()
	if err := os.MkdirAll(filepath.Join(broken, "bad"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "bad", "scenario.yaml"), []byte("apiVersion: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--scenarios", filepath.Join(broken, "missing")}, "--scenarios " + filepath.Join(broken, "missing")},
		{[]string{"verify", "--scenarios", broken}, "1 of 1 scenarios do not load"},
		{[]string{"verify", "--out", ""}, "--out"},
		{[]string{"verify", "scenarios/echo"}, "unknown command"},
	} {
		code, _, errOut := runExec(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %q", c.args, code, errOut, c.want)
		}
	}
}

// TestVerifyWithoutEngine: without a container engine verify exits 4, and
// _out/ still has the run's report (the plan and the error) in every
// format.
func TestVerifyWithoutEngine(t *testing.T) {
	if e, err := (&kind.CommandProber{}).Probe(context.Background()); err == nil {
		t.Skipf("a container engine answers here (%s): verify would create a real cluster", e.Name)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "_out")
	code, _, errOut := runExec(t, "verify", "--scenarios", "../../scenarios", "--kubeconfig-dir", filepath.Join(dir, "state"), "--out", out, "--keep-on-failure", "-q")
	if code != ExitEnvironment || !strings.Contains(errOut, "no container engine answers") {
		t.Fatalf("exit %d, stderr %q; want 4 naming the missing engine", code, errOut)
	}
	for _, name := range runner.ReportFiles {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v; want the report", name, err)
		}
	}
	f, err := os.Open(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := report.Decode(f, "report.json")
	all, globErr := filepath.Glob("../../scenarios/*/scenario.yaml")
	if globErr != nil || len(all) == 0 {
		t.Fatalf("no scenarios under ../../scenarios (%v)", globErr)
	}
	if err != nil || doc.Error == nil || doc.Error.Kind != report.ErrorEnvironment || len(doc.Scenarios) != len(all) {
		t.Errorf("report.json: %v, error %+v, %d scenarios; want all %d scenarios and the environment error", err, doc.Error, len(doc.Scenarios), len(all))
	}
}
