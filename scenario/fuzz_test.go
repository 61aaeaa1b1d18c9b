package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/verify"
)

// scenarioSeeds are the scenario files the fuzz targets start from.
func scenarioSeeds(f *testing.F) [][]byte {
	f.Helper()
	files, err := filepath.Glob("../scenarios/*/scenario.yaml")
	if err != nil {
		f.Fatal(err)
	}
	more, err := filepath.Glob("testdata/*/scenario.yaml")
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	if len(seeds) < 2 {
		f.Fatalf("found %d seed scenarios", len(seeds))
	}
	return seeds
}

// FuzzLoad feeds arbitrary scenario.yaml text to Load in a folder holding
// the manifests of the real scenarios. Load must not panic; every error is
// a Diagnostic at a line of scenario.yaml (or of a manifest), each reported
// once; a scenario that loads is complete.
func FuzzLoad(f *testing.F) {
	for _, s := range scenarioSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("apiVersion: meshcheck.dev/v1alpha1\nkind: Scenario\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("spec: {steps: [{name: a, probes: [{name: p, from: mesh, request: {url: 'http://a/'}, expect: {status: 200}}]}]}"))
	// Several mistakes at once, and values of the wrong kind everywhere.
	f.Add([]byte("apiVersion: x\nkinds: Scenario\nmetadata: {name: A, titel: t}\nspec:\n  defaults: {rate: fast, settle: 5}\n  steps:\n    - name: s\n      apply: [../x.yaml, manifests/echo.yaml, manifests/echo.yaml]\n      probes:\n        - {name: p, from: mesh, request: {url: 'http://a/', host: h}, classify: {by: 'xml:a', podLabel: v, values: {}}, expect: {weights: {v1: 50, v1: 50, v2: x}, status: 200}}\n"))
	f.Add([]byte("spec: {namespaces: [{name: n}], steps: [{name: s, apply: [manifests/echo.yaml, manifests/routing.yaml], probes: [{name: p, from: mesh, request: {url: 'http://echo-service.echo.svc.cluster.local/'}, classify: {by: status, podLabel: verison}, expect: {fromConfig: true}}]}]}\n"))

	dir := filepath.Join(f.TempDir(), "fuzz")
	if err := os.MkdirAll(filepath.Join(dir, "manifests"), 0o755); err != nil {
		f.Fatal(err)
	}
	manifests, err := filepath.Glob("../scenarios/*/manifests/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range manifests {
		data, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifests", filepath.Base(m)), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	file := filepath.Join(dir, "scenario.yaml")

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, ws, err := Load(dir)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || len(le.Errors) == 0 {
				t.Fatalf("error %v is a %T, not a *scenario.LoadError with errors", err, err)
			}
			seen := map[Diagnostic]bool{}
			for _, e := range le.Errors {
				if e.Severity != SeverityError || e.Line < 1 || (e.File != file && !strings.HasPrefix(e.File, filepath.Join(dir, "manifests"))) {
					t.Fatalf("error %q (%s) does not name a line of %s or a manifest", e, e.Severity, file)
				}
				if !strings.HasPrefix(e.Error(), e.File+":"+strconv.Itoa(e.Line)+": ") {
					t.Fatalf("error %q does not start with file:line", e)
				}
				if seen[e] {
					t.Fatalf("error %q reported twice", e)
				}
				seen[e] = true
			}
			return
		}
		if len(s.Steps) == 0 || s.Metadata.Name == "" {
			t.Fatalf("loaded an incomplete scenario: %+v", s)
		}
		for _, st := range s.Steps {
			for _, p := range st.Probes {
				if err := p.Expectation([]verify.Weight{{Version: "v", Percent: 100}}).Validate(); err != nil {
					t.Fatalf("probe %s loaded with an invalid expectation: %v", p.Name, err)
				}
			}
		}
		for _, w := range ws {
			if w.Severity != SeverityWarning || w.File == "" || w.Msg == "" {
				t.Fatalf("warning without a file or message: %+v", w)
			}
		}
	})
}

// FuzzDecodeManifest feeds arbitrary text to the manifest decoder. It must
// not panic; every problem is an error Diagnostic at a line of the file (or about the
// file as a whole when it holds no object).
func FuzzDecodeManifest(f *testing.F) {
	manifests, err := filepath.Glob("../scenarios/*/manifests/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range manifests {
		data, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: []\n"))
	f.Add([]byte("apiVersion: networking.istio.io/v1\nkind: VirtualService\nspec: {http: [{route: [{destination: {host: a}, weight: x}]}]}\n"))
	f.Add([]byte("a: &a [*a, *a]\n---\n- b\n"))
	f.Add([]byte(functionManifest))
	f.Add([]byte("apiVersion: openfaas.com/v1\nkind: Function\nmetadata: {name: f}\nspec: {name: f, image: i, labels: {faas_function: g, com.openfaas.scale.min: '0'}, limits: {cpu: x}, environment: {fprocess: a}, handler: b}\n"))
	f.Add([]byte(knativeManifest))
	f.Add([]byte("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: K}\nspec: {traffic: [{percent: 50}], template: {metadata: {labels: {serving.knative.dev/service: x}}, spec: {volumes: [{name: v}], containers: [{image: '', env: [{name: PORT}], ports: [{containerPort: 0}, {name: h}]}]}}}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		objs, problems := decodeManifest("m.yaml", data)
		if len(problems) > 0 {
			if objs != nil {
				t.Fatalf("objects %v returned with problems %v", objs, problems)
			}
			for _, e := range problems {
				if e.Severity != SeverityError || e.File != "m.yaml" || (e.Line < 1 && !strings.HasPrefix(e.Msg, "no objects")) {
					t.Fatalf("error %q does not name a line of m.yaml", e)
				}
			}
			return
		}
		for _, o := range objs {
			if o.Object == nil || o.Line < 1 || len(o.Raw) == 0 {
				t.Fatalf("incomplete object %+v", o)
			}
		}
	})
}
