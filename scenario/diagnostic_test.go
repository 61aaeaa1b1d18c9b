package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadErrors loads dir and returns the errors of its *LoadError.
func loadErrors(t *testing.T, dir string) []Diagnostic {
	t.Helper()
	_, _, err := Load(dir)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v (%T), want a *LoadError", err, err)
	}
	return le.Errors
}

// Three mistakes in different parts of scenario.yaml are three errors, each
// at its line, in line order: the loader does not stop at the first.
func TestScenarioReportsEveryError(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "  title:", "  titel:", 1)
	edit(t, file, "from: ingress", "from: outside", 1)
	edit(t, file, "v2: 25", "v2: lots", 2)
	errs := loadErrors(t, file)
	want := []struct{ at, field, msg string }{
		{"titel:", "metadata.titel", `unknown field "titel"; allowed here: name, title, source (did you mean "title"?)`},
		{"from: outside", "spec.steps[0].probes[0].from", `"outside": want ingress (through the ingress gateway) or mesh (from a pod with a sidecar)`},
		{"v2: lots", "spec.steps[0].probes[1].expect.weights.v2", `"lots": want a whole number`},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), &LoadError{Errors: errs})
	}
	for i, w := range want {
		e := errs[i]
		if e.File != file || e.Line != lineOf(t, file, w.at, 1) || e.Field != w.field || e.Msg != w.msg {
			t.Errorf("error %d:\n got %s\nwant %s:%d: %s: %s", i, e, file, lineOf(t, file, w.at, 1), w.field, w.msg)
		}
	}
}

// Mistakes in scenario.yaml and in several manifest documents are reported
// together: every document of every manifest is decoded.
func TestScenarioReportsEveryManifestError(t *testing.T) {
	dir := copyDir(t, echoDir)
	echo := filepath.Join(dir, "manifests", "echo.yaml")
	routing := filepath.Join(dir, "manifests", "routing.yaml")
	edit(t, echo, "replicas: 1", "replicas: one", 1)
	edit(t, echo, "replicas: 1", "replicas: two", 1)
	edit(t, routing, "weight: 25", "wieght: 25", 1)
	errs := loadErrors(t, dir)
	got := make([]string, len(errs))
	for i, e := range errs {
		got[i] = e.Field
	}
	if strings.Join(got, " ") != "spec.replicas spec.replicas spec.http[0].route[1].wieght" {
		t.Errorf("got errors on %q:\n%v", got, &LoadError{Errors: errs})
	}
	if errs[0].Line != lineOf(t, echo, "replicas: one", 1) || errs[1].Line != lineOf(t, echo, "replicas: two", 1) || errs[2].File != routing {
		t.Errorf("errors at the wrong places:\n%v", &LoadError{Errors: errs})
	}
}

// Configs sure to fail on a cluster are errors, each with the exact
// message; a look-alike that can pass is not.
func TestScenarioSureToFail(t *testing.T) {
	const probe0 = "spec.steps[0].probes[0]"
	for _, tc := range []struct {
		name    string
		file    string      // edited file, relative to the scenario folder
		edits   [][2]string // first occurrence of old -> new
		at      string      // text on the error's line
		inFile  string      // file of the error, if not scenario.yaml
		field   string
		msg     string // the whole message; "" for no error
		warning string // with msg "": a warning containing this
	}{
		{name: "negative weight", file: "manifests/routing.yaml", edits: [][2]string{{"weight: 25", "weight: -25"}},
			at: "weight: -25", inFile: "manifests/routing.yaml", field: "spec.http[0].route[1].weight",
			msg: "VirtualService echo/echo-route: spec.http[0].route[1].weight is negative, so istiod's validation rejects the VirtualService (at step split-75-25)"},
		{name: "host nothing serves", edits: [][2]string{{"host: echo.local", "host: other.local"}},
			at: "host: other.local", field: probe0 + ".request.host",
			msg: "probe ingress: nothing serves this request: no Service or VirtualService routes it, so every request gets 404: the ingress gateway answers 404: host other.local matches no host that a VirtualService binds to a Gateway server on port 80"},
		{name: "a 404 expected is fine", edits: [][2]string{{"host: echo.local", "host: other.local"},
			{"          classify:\n            by: \"json:os.hostname\"\n            podLabel: version\n          expect:\n            weights:\n              v1: 75\n              v2: 25\n", "          expect:\n            status: 404\n"}}},
		{name: "another status expected", edits: [][2]string{{"host: echo.local", "host: other.local"},
			{"          classify:\n            by: \"json:os.hostname\"\n            podLabel: version\n          expect:\n            weights:\n              v1: 75\n              v2: 25\n", "          expect:\n            status: 403\n"}},
			warning: "probe ingress: nothing serves this request"},
		{name: "podLabel typo", edits: [][2]string{{"podLabel: version", "podLabel: verison"}},
			at: "podLabel: verison", field: probe0 + ".classify.podLabel",
			msg: "probe ingress: no pod its requests reach carries label verison, so no response can be classified; they carry app, version (did you mean version?)"},
		{name: "injection false", edits: [][2]string{{"injection: true", "injection: false"}},
			at: "injection: false", field: "spec.namespaces[0].injection",
			msg: "namespace echo has no sidecar injection, but probe in-mesh (line 31) runs from the mesh: the in-mesh agent runs in echo (the first namespace, as none has injection), where it gets no sidecar, so the requests would bypass the mesh; set injection: true on echo"},
		{name: "injection left out", edits: [][2]string{{"      injection: true\n", ""}},
			at: "- name: echo", field: "spec.namespaces[0].name",
			msg: "namespace echo has no sidecar injection, but probe in-mesh (line 30) runs from the mesh: the in-mesh agent runs in echo (the first namespace, as none has injection), where it gets no sidecar, so the requests would bypass the mesh; set injection: true on echo"},
		{name: "no namespaces", edits: [][2]string{{"  namespaces:\n    - name: echo\n      injection: true\n", ""}},
			at: "spec:", field: "spec",
			msg: "probe in-mesh (line 28) runs from the mesh, but the scenario lists no namespace, so the in-mesh agent runs in namespace default, which meshcheck does not label for sidecar injection: the requests would bypass the mesh; list a namespace with injection: true in spec.namespaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, echoDir)
			file := filepath.Join(dir, "scenario.yaml")
			if tc.file != "" {
				file = filepath.Join(dir, filepath.FromSlash(tc.file))
			}
			for _, e := range tc.edits {
				edit(t, file, e[0], e[1], 1)
			}
			_, ws, err := Load(dir)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
				if tc.warning != "" && len(warningsContaining(ws, tc.warning)) == 0 {
					t.Errorf("no warning contains %q:\n%s", tc.warning, joinWarnings(ws))
				}
				return
			}
			errFile := filepath.Join(dir, "scenario.yaml")
			if tc.inFile != "" {
				errFile = filepath.Join(dir, filepath.FromSlash(tc.inFile))
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LoadError", err)
			}
			found := false
			for _, e := range le.Errors {
				if e.File == errFile && e.Line == lineOf(t, errFile, tc.at, 1) && e.Field == tc.field && e.Msg == tc.msg {
					found = true
				}
			}
			if !found {
				t.Errorf("want the error\n  %s:%d: %s: %s\ngot\n%v", errFile, lineOf(t, errFile, tc.at, 1), tc.field, tc.msg, err)
			}
		})
	}
}

// The in-mesh agent runs in the first namespace with injection, which is
// what the injection check relies on.
func TestScenarioInjectionOnLaterNamespace(t *testing.T) {
	dir := copyDir(t, echoDir)
	file := filepath.Join(dir, "scenario.yaml")
	edit(t, file, "      injection: true\n", "    - name: other\n      injection: true\n", 1)
	s, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.SourceNamespace(); got != "other" {
		t.Errorf("mesh probes run from %s, want other", got)
	}
}

// A path that is not a scenario folder gets a message naming folders that
// work; a path to scenario.yaml is taken as its folder.
func TestScenarioLoadPaths(t *testing.T) {
	root := t.TempDir()
	scenarios := filepath.Join(root, "scenarios")
	for _, name := range []string{"echo", "hello"} {
		if err := os.MkdirAll(filepath.Join(scenarios, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scenarios, name, FileName), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	echo, hello := filepath.Join(scenarios, "echo"), filepath.Join(scenarios, "hello")
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "notes.txt")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	hint := "holds scenario folders: give one of " + echo + ", " + hello
	for _, tc := range []struct{ path, want string }{
		{scenarios, scenarios + ": not a scenario folder (it has no scenario.yaml), but it " + hint},
		{filepath.Join(scenarios, "ech"), filepath.Join(scenarios, "ech") + ": does not exist: give a scenario folder (one holding scenario.yaml); " + scenarios + " " + hint},
		{empty, empty + ": not a scenario folder: it has no scenario.yaml (a scenario folder holds scenario.yaml and the manifests it names)"},
		{other, other + ": a file, not a scenario folder: give the folder that holds scenario.yaml"},
	} {
		_, _, err := Load(tc.path)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Load(%s):\n got %v\nwant %s", tc.path, err, tc.want)
		}
	}
	// scenario.yaml itself is read from its folder.
	s, _, err := Load(filepath.Join(echoDir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != echoDir || s.File != filepath.Join(echoDir, FileName) {
		t.Errorf("Dir %q File %q", s.Dir, s.File)
	}
}
