package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantWarning asserts that exactly one warning sits at file:line on field
// and that it contains every one of msgs.
func wantWarning(t *testing.T, ws []Diagnostic, file string, line int, field string, msgs ...string) {
	t.Helper()
	var found []Diagnostic
	for _, w := range ws {
		if w.Severity != SeverityWarning {
			t.Errorf("warning %s has severity %s", w, w.Severity)
		}
		if w.File == file && w.Line == line && w.Field == field {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Errorf("want one warning at %s:%d on %s, got %d among:\n%s", file, line, field, len(found), joinWarnings(ws))
		return
	}
	for _, m := range msgs {
		if !strings.Contains(found[0].Msg, m) {
			t.Errorf("warning %q does not contain %q", found[0], m)
		}
	}
}

func joinWarnings(ws []Diagnostic) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString("  ")
		b.WriteString(w.String())
		b.WriteString("\n")
	}
	return b.String()
}

// A VirtualService naming an undefined subset yields a warning before the
// run (issue 4 acceptance), at the line of the subset, and each probe's
// warning says that share will be errors.
func TestScenarioUndefinedSubsetWarns(t *testing.T) {
	dir := "testdata/undefined-subset"
	s, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	routing := filepath.Join(dir, "manifests", "routing.yaml")
	wantWarning(t, ws, routing, lineOf(t, routing, "subset: v2", 1), "spec.http[0].route[1].destination.subset",
		"VirtualService echo/echo-route", "subset v2", "503")
	wantWarning(t, ws, s.File, lineOf(t, s.File, "weights:", 1), "spec.steps[0].probes[0].expect.weights",
		"probe ingress expects v1 75%, v2 25%", "errors 25%", "503")
	wantWarning(t, ws, s.File, lineOf(t, s.File, "weights:", 2), "spec.steps[0].probes[1].expect.weights",
		"probe in-mesh", "errors 25%")
	if len(ws) != 3 {
		t.Errorf("got %d warnings, want 3:\n%s", len(ws), joinWarnings(ws))
	}
}

// Tutorial 003's lesson: without the mesh gateway, in-mesh requests ignore
// the VirtualService; the warning says so in one sentence.
func TestScenarioNoMeshGatewayWarns(t *testing.T) {
	dir := "testdata/no-mesh-gateway"
	s, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, ws, s.File, lineOf(t, s.File, "weights:", 2), "spec.steps[0].probes[1].expect.weights",
		"probe in-mesh expects v1 75%, v2 25% but the routing model predicts v1 50%, v2 50%",
		"ignore VirtualService echo/echo-route: its gateways do not include mesh")
	if len(ws) != 1 {
		t.Errorf("got %d warnings, want only the in-mesh one:\n%s", len(ws), joinWarnings(ws))
	}
}

func TestScenarioVirtualServiceWeightsWarn(t *testing.T) {
	dir := "testdata/vs-weights-75-15"
	s, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	routing := filepath.Join(dir, "manifests", "routing.yaml")
	wantWarning(t, ws, routing, lineOf(t, routing, "    route:", 1), "spec.http[0].route", "sum to 90, not 100")
	for i, name := range []string{"ingress", "in-mesh"} {
		wantWarning(t, ws, s.File, lineOf(t, s.File, "weights:", i+1), "spec.steps[0].probes["+string(rune('0'+i))+"].expect.weights",
			"probe "+name+" expects v1 75%, v2 25% but the routing model predicts v1 83.3%, v2 16.7%")
	}
}

// A host nothing serves is sure to fail a probe that expects versions:
// both probes' hosts are errors, reported together.
func TestScenarioUnknownProbeHostFails(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "host: echo.local", "host: other.local", 1)
	edit(t, file, "url: http://echo-service.echo", "url: http://nothing.echo", 1)
	_, _, err := Load(dir)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Errors) != 2 {
		t.Fatalf("got %v, want two errors", err)
	}
	for i, want := range []struct{ at, field, msg string }{
		{"host: other.local", "spec.steps[0].probes[0].request.host", "probe ingress: nothing serves this request"},
		{"url: http://nothing", "spec.steps[0].probes[1].request.url", "probe in-mesh: nothing serves this request"},
	} {
		e := le.Errors[i]
		if e.File != file || e.Line != lineOf(t, file, want.at, 1) || e.Field != want.field || !strings.Contains(e.Msg, want.msg) || !strings.Contains(e.Msg, "404") {
			t.Errorf("error %d: %v, want %s at %q on %s", i, e, want.msg, want.at, want.field)
		}
	}
}

func TestScenarioNamespaceWarnings(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "manifests", "echo.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	extra := "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nowhere\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: other\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: cluster-wide\n"
	if err := os.WriteFile(file, append(data, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, ws, file, lineOf(t, file, "name: nowhere", 1)-1, "metadata.namespace", "ConfigMap nowhere has no namespace")
	wantWarning(t, ws, file, lineOf(t, file, "namespace: other", 1), "metadata.namespace", "namespace other is not in spec.namespaces")
	if len(ws) != 2 {
		t.Errorf("got %d warnings, want 2 (a Namespace needs none):\n%s", len(ws), joinWarnings(ws))
	}
}

func TestScenarioDeleteOfAbsentObjectWarns(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("    - name: remove-routing\n      delete: [manifests/routing.yaml]\n    - name: remove-again\n      delete: [manifests/routing.yaml]\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(t, file, "delete: [manifests/routing.yaml]", 2)
	if got := warningsContaining(ws, "is not in effect before step remove-again"); len(got) != 2 ||
		got[0].Line != line || got[0].Field != "spec.steps[2].delete[0]" {
		t.Errorf("want two warnings (Gateway, VirtualService) at %s:%d, got:\n%s", file, line, joinWarnings(ws))
	}
	if n := len(s.StateAt(1)); n != 4 {
		t.Errorf("after deleting the routing, %d objects remain, want 4", n)
	}
}

func TestScenarioFromConfig(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "            weights:\n              v1: 75\n              v2: 25\n", "            fromConfig: true\n", 0)
	s, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 0 {
		t.Errorf("unexpected warnings:\n%s", joinWarnings(ws))
	}
	for _, p := range s.Steps[0].Probes {
		if !p.Expect.FromConfig || p.Expect.Weights != nil || p.Expect.Status != 0 {
			t.Errorf("%s expect %+v", p.Name, p.Expect)
		}
	}

	// An undefined subset: fromConfig cannot pass either, as its share
	// will be 503 errors beyond the error budget.
	routing := filepath.Join(dir, "manifests", "routing.yaml")
	edit(t, routing, "subset: v2", "subset: v3", 1)
	_, ws, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, ws, file, lineOf(t, file, "fromConfig: true", 1), "spec.steps[0].probes[0].expect.fromConfig",
		"predicts 25% of requests answered with errors (503), above the error budget 1%", "subset v3")
}

// Kinds the routing model refuses (they change routing but are not
// modelled) make fromConfig an error and the cross-checks a warning.
func TestScenarioUnmodelledKinds(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "manifests", "routing.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	entry := "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\n  namespace: echo\nspec:\n  hosts: [example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n"
	if err := os.WriteFile(file, append(data, entry...), 0o644); err != nil {
		t.Fatal(err)
	}
	scenarioFile := filepath.Join(dir, "scenario.yaml")
	_, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, ws, scenarioFile, lineOf(t, scenarioFile, "- name: split-75-25", 1), "spec.steps[0]",
		"the routing model cannot check step split-75-25", "ServiceEntry")

	edit(t, scenarioFile, "            weights:\n              v1: 75\n              v2: 25\n", "            fromConfig: true\n", 1)
	_, _, err = Load(dir)
	wantError(t, err, scenarioFile, lineOf(t, scenarioFile, "fromConfig: true", 1), "spec.steps[0].probes[0].expect.fromConfig",
		"cannot derive the expected split", "give explicit weights")
}

func TestScenarioStatusProbe(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "          classify:\n            by: \"json:os.hostname\"\n            podLabel: version\n          expect:\n            weights:\n              v1: 75\n              v2: 25\n",
		"          expect:\n            status: 403\n", 1)
	s, ws, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 0 {
		t.Errorf("unexpected warnings:\n%s", joinWarnings(ws))
	}
	p := s.Steps[0].Probes[0]
	if p.Expect.Status != 403 || p.Classify.By != "" {
		t.Errorf("probe %+v", p)
	}
	// A route the model answers itself with another status is suspicious.
	edit(t, file, "path: /echo", "path: /other", 1)
	_, ws, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning(t, ws, file, lineOf(t, file, "host: echo.local", 1), "spec.steps[0].probes[0].request.host", "404")
}
