package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// share304 is a scenario whose config sends v2 30.4% of requests while its
// probes expect 25 +- 5: outside the band, though 30.4 rounds to 30.
const share304 = "../../scenario/testdata/share-30-4"

// The 30.4% against 25 ± 5 case has one answer, from the exact shares:
// validate warns (and fails with --strict)...
func TestScenariosValidateShare304(t *testing.T) {
	const want = "probe in-mesh expects v1 75%, v2 25% but the routing model predicts v1 69.6%, v2 30.4%"
	code, out, errs := scenariosExec(t, "scenarios", "validate", share304)
	if code != ExitPass || !strings.Contains(out, "ok: scenario share-30-4, 1 step, 2 probes, 2 warnings") {
		t.Errorf("exit %d, stdout %q, want 0 and 2 warnings", code, out)
	}
	if !strings.Contains(errs, "warning: "+filepath.Join(share304, "scenario.yaml")+":40: spec.steps[0].probes[1].expect.weights: "+want) {
		t.Errorf("stderr %q lacks the in-mesh warning %q", errs, want)
	}
	code, out, errs = scenariosExec(t, "scenarios", "validate", "--strict", share304)
	if code != ExitUsage || !strings.Contains(out, "failed (--strict: 2 warnings predict failure)") {
		t.Errorf("--strict: exit %d, stdout %q, want %d", code, out, ExitUsage)
	}
	if !strings.Contains(errs, "error: "+filepath.Join(share304, "scenario.yaml")+":40: spec.steps[0].probes[1].expect.weights: "+want) ||
		strings.Contains(errs, "warning: ") {
		t.Errorf("--strict: stderr %q, want the warnings as errors", errs)
	}
}

// ...and run notes the same disagreement in the probe's report.
func TestRunShare304NotesTheDisagreement(t *testing.T) {
	_, out, errOut := runExec(t, "run", share304, "--env", "local", "--rate", runRate(), "--max-requests", "300")
	if !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "predicts v1 69.6%, v2 30.4%") {
		t.Errorf("stderr lacks the load warning:\n%s", errOut)
	}
	const note = "the config predicts v1 69.6%, v2 30.4%, not the expected v1 75%, v2 25%"
	if n := strings.Count(out, note); n != 2 {
		t.Errorf("%d probe reports note %q, want both:\n%s", n, note, out)
	}
}

// Configs sure to fail on a cluster are errors, reported all at once, and
// validate exits 2.
func TestScenariosValidateSureToFail(t *testing.T) {
	dir := scenarioCopy(t, "../../scenarios/echo", "")
	routing := filepath.Join(dir, "manifests", "routing.yaml")
	file := filepath.Join(dir, "scenario.yaml")
	replace(t, routing, "weight: 25", "weight: -25")
	replace(t, file, "host: echo.local", "host: nothing.local")
	replace(t, file, "injection: true", "injection: false")
	code, out, errs := scenariosExec(t, "scenarios", "validate", dir)
	if code != ExitUsage || strings.Contains(out, "ok:") {
		t.Errorf("exit %d, stdout %q, want %d", code, out, ExitUsage)
	}
	for _, want := range []string{
		"error: " + file + ":" + lineWith(t, file, "injection: false") + ": spec.namespaces[0].injection: namespace echo has no sidecar injection, but probe in-mesh (line " + lineWith(t, file, "from: mesh") + ") runs from the mesh",
		"error: " + file + ":" + lineWith(t, file, "host: nothing.local") + ": spec.steps[0].probes[0].request.host: probe ingress: nothing serves this request",
		"error: " + routing + ":" + lineWith(t, routing, "weight: -25") + ": spec.http[0].route[1].weight: VirtualService echo/echo-route: spec.http[0].route[1].weight is negative, so istiod's validation rejects the VirtualService",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func replace(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineWith returns the number of the first line of file containing substr.
func lineWith(t *testing.T, file, substr string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, substr) {
			return strconv.Itoa(i + 1)
		}
	}
	t.Fatalf("%s has no line containing %q", file, substr)
	return ""
}
