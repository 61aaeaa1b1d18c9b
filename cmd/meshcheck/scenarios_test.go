package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// scenariosExec runs meshcheck in-process and returns its exit code, stdout
// and stderr (including the one-line error main would print).
func scenariosExec(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code = ExitPass
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		if ee.err != nil {
			errb.WriteString("meshcheck: " + ee.err.Error() + "\n")
		}
	case err != nil:
		code = ExitUsage
		errb.WriteString("meshcheck: " + err.Error() + "\n")
	}
	return code, out.String(), errb.String()
}

// scenarioCopy copies the scenario folder src into a temporary folder under
// parent (created when "") and returns the copy's path.
func scenarioCopy(t *testing.T, src, parent string) string {
	t.Helper()
	if parent == "" {
		parent = t.TempDir()
	}
	dst := filepath.Join(parent, filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestScenariosListsTheRepositoryScenarios(t *testing.T) {
	code, out, errs := scenariosExec(t, "scenarios", "../../scenarios")
	if code != ExitPass || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, re := range []string{
		`(?m)^NAME\s+STEPS\s+PROBES\s+DIR\s+TITLE$`,
		`(?m)^echo\s+1\s+2\s+\.\./\.\./scenarios/echo\s+Echo v1/v2 split 75/25`,
		`(?m)^hello\s+3\s+6\s+\.\./\.\./scenarios/hello\s+Hello functions`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

func TestScenariosListDefaultsToScenariosFolder(t *testing.T) {
	t.Chdir("../..")
	code, out, errs := scenariosExec(t, "scenarios")
	if code != ExitPass || !strings.Contains(out, "scenarios/echo") || !strings.Contains(out, "scenarios/hello") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestScenariosListReportsBrokenScenarios(t *testing.T) {
	parent := t.TempDir()
	scenarioCopy(t, "../../scenarios/echo", parent)
	broken := scenarioCopy(t, "../../scenario/testdata/misspelt-field", parent)
	if err := os.MkdirAll(filepath.Join(parent, "not-a-scenario"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := scenariosExec(t, "scenarios", parent)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if !regexp.MustCompile(`(?m)^echo\s+1\s+2\s`).MatchString(out) || strings.Contains(out, "misspelt") {
		t.Errorf("stdout %q should list echo only", out)
	}
	if want := filepath.Join(broken, "scenario.yaml") + ":38: spec.steps[0].probes[1].expect.wieghts: unknown field"; !strings.Contains(errs, want) {
		t.Errorf("stderr %q does not contain %q", errs, want)
	}
}

func TestScenariosListWithoutScenarios(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		code, _, errs := scenariosExec(t, "scenarios", dir)
		if code != ExitUsage || !strings.Contains(errs, dir) {
			t.Errorf("%s: exit %d, stderr %q", dir, code, errs)
		}
	}
}

func TestScenariosValidate(t *testing.T) {
	code, out, errs := scenariosExec(t, "scenarios", "validate", "../../scenarios/echo", "../../scenarios/hello")
	if code != ExitPass || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{
		"../../scenarios/echo: ok: scenario echo, 1 step, 2 probes, 0 warnings",
		"../../scenarios/hello: ok: scenario hello, 3 steps, 6 probes, 0 warnings",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout %q does not contain %q", out, want)
		}
	}
}

// A misspelt field exits 2 naming scenario.yaml:<line> and the field.
func TestScenariosValidateMisspeltField(t *testing.T) {
	dir := "../../scenario/testdata/misspelt-field"
	code, out, errs := scenariosExec(t, "scenarios", "validate", "../../scenarios/echo", dir)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	want := filepath.Join(dir, "scenario.yaml") + `:38: spec.steps[0].probes[1].expect.wieghts: unknown field "wieghts"; allowed here: weights, status, fromConfig`
	if !strings.Contains(errs, want) {
		t.Errorf("stderr %q does not contain %q", errs, want)
	}
	if !strings.Contains(errs, "1 scenario of 2 did not validate") || !strings.Contains(out, "scenarios/echo: ok") {
		t.Errorf("stdout %q, stderr %q", out, errs)
	}
}

// Warnings go to stderr and do not fail validation.
func TestScenariosValidateWarnsOfUndefinedSubset(t *testing.T) {
	code, out, errs := scenariosExec(t, "scenarios", "validate", "../../scenario/testdata/undefined-subset")
	if code != ExitPass {
		t.Errorf("exit %d, want 0; stderr %q", code, errs)
	}
	if !strings.Contains(out, "ok: scenario undefined-subset, 1 step, 2 probes, 3 warnings") {
		t.Errorf("stdout %q", out)
	}
	want := "warning: ../../scenario/testdata/undefined-subset/manifests/routing.yaml:45: spec.http[0].route[1].destination.subset: VirtualService echo/echo-route: subset v2 is defined by no DestinationRule"
	if !strings.Contains(errs, want) {
		t.Errorf("stderr %q does not contain %q", errs, want)
	}
}

func TestScenariosValidateNeedsAFolder(t *testing.T) {
	code, _, errs := scenariosExec(t, "scenarios", "validate")
	if code != ExitUsage || errs == "" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
