package kind

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/knative"
	"github.com/meshcheck/meshcheck/scenario"
)

// testKnativeFiles are small stand-ins for the Knative release files:
// the Service CRD, Knative's namespace with config-network,
// config-deployment and one Deployment, and net-istio's controller.
var testKnativeFiles = map[string]string{
	knative.FileCRDs: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: services.serving.knative.dev
spec:
  group: serving.knative.dev
  scope: Namespaced
  names: {plural: services, singular: service, kind: Service, listKind: ServiceList}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
	knative.FileCore: `apiVersion: v1
kind: Namespace
metadata:
  name: knative-serving
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-network
  namespace: knative-serving
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-deployment
  namespace: knative-serving
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: controller
  namespace: knative-serving
spec:
  selector: {matchLabels: {app: controller}}
  template:
    metadata: {labels: {app: controller}}
    spec:
      containers: [{name: controller, image: registry.example/controller:v1}]
`,
	knative.FileNetIstio: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: net-istio-controller
  namespace: knative-serving
spec:
  selector: {matchLabels: {app: net-istio-controller}}
  template:
    metadata: {labels: {app: net-istio-controller}}
    spec:
      containers: [{name: controller, image: registry.example/net-istio:v1}]
`,
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// writeKnativeRelease writes testKnativeFiles and their SHA256SUMS into a
// new folder.
func writeKnativeRelease(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sums strings.Builder
	for _, f := range knative.Files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(testKnativeFiles[f]), 0o600); err != nil {
			t.Fatal(err)
		}
		sums.WriteString(sha(testKnativeFiles[f]) + "  " + f + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, knative.FileDigests), []byte(sums.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDryRunShowsTheKnativeInstall: a scenario with backend knative makes
// the plan show the release pair, the files with their URLs and digests,
// where they come from, the ConfigMap data set and the Knative Services
// each step applies, exactly; without --knative-manifests it says the
// scenarios are skipped and why; a scenario without the backend shows none
// of it. Nothing is written.
func TestDryRunShowsTheKnativeInstall(t *testing.T) {
	ks, _, err := scenario.Load("../../scenarios/hello-knative")
	if err != nil {
		t.Fatal(err)
	}
	rel := writeKnativeRelease(t)
	dir := t.TempDir()
	k, err := New(WithStateDir(dir), WithSourceDir(sourceDir(t)), WithDeps(Deps{}), WithKnativeManifests(rel))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := k.DryRun(&out, []*scenario.Scenario{ks}); err != nil {
		t.Fatal(err)
	}
	want := `---
# Knative Serving with net-istio, installed once per cluster before the first scenario with spec.backend knative, after Istio
# (the release files applied with meshcheck's server-side apply, labelled meshcheck.dev/scenario=backend.knative)
# Knative Serving knative-v1.21.0, net-istio knative-v1.21.3
# serving-crds.yaml: https://github.com/knative/serving/releases/download/knative-v1.21.0/serving-crds.yaml, sha256 ` + sha(testKnativeFiles[knative.FileCRDs]) + ` (checked)
# serving-core.yaml: https://github.com/knative/serving/releases/download/knative-v1.21.0/serving-core.yaml, sha256 ` + sha(testKnativeFiles[knative.FileCore]) + ` (checked)
# net-istio.yaml: https://github.com/knative-extensions/net-istio/releases/download/knative-v1.21.3/net-istio.yaml, sha256 ` + sha(testKnativeFiles[knative.FileNetIstio]) + ` (checked)
# from --knative-manifests ` + rel + `
# knative-serving/config-network data: ingress-class: istio.ingress.networking.knative.dev
# knative-serving/config-deployment data: registries-skipping-tag-resolving: <the file's list>,meshcheck.local
# then: a wait until the API serves services in serving.knative.dev/v1, and for every Deployment of the release files to be ready
# scenario hello-knative, step split-100-0: Knative Service hello/hello-v1 (applied as an object; answers at http://hello-v1.hello.svc.cluster.local): image meshcheck.local/fixture:v0.1.0, args ["hello","--message","Hello V1"], port 8080
# scenario hello-knative, step split-100-0: Knative Service hello/hello-v2 (applied as an object; answers at http://hello-v2.hello.svc.cluster.local): image meshcheck.local/fixture:v0.1.0, args ["hello","--message","Hello V2"], port 8080
`
	if !strings.Contains(out.String(), want) {
		t.Errorf("dry run lacks the Knative install:\n%s\nwant:\n%s", out.String(), want)
	}
	if !strings.Contains(out.String(), "phase make: apply Service hello/hello-v1\napiVersion: serving.knative.dev/v1\n") || strings.Contains(out.String(), "step split-50-50: Knative Service") {
		t.Errorf("dry run lacks the Knative Services among the objects, or lists one for a step that does not apply it:\n%s", out.String())
	}

	k, err = New(WithStateDir(dir), WithSourceDir(sourceDir(t)), WithDeps(Deps{}))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := k.DryRun(&out, []*scenario.Scenario{ks}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"# serving-core.yaml: https://github.com/knative/serving/releases/download/knative-v1.21.0/serving-core.yaml, sha256 from SHA256SUMS of --knative-manifests\n",
		"# not installed: no --knative-manifests DIR: ",
		"; a run skips these scenarios\n",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run without --knative-manifests lacks %q:\n%s", w, out.String())
		}
	}

	echo, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := k.DryRun(&out, []*scenario.Scenario{echo}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "# Knative") || strings.Contains(out.String(), "knative-manifests") {
		t.Errorf("dry run of a scenario without backend knative mentions Knative:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run created %d entries in %s", len(entries), dir)
	}
}

// TestKnativeManifestsFlag: a --knative-manifests folder that is missing,
// lacks a file or holds a file whose sha256 is not SHA256SUMS's is the
// user's input error (exit 2), named, before anything runs.
func TestKnativeManifestsFlag(t *testing.T) {
	changed := writeKnativeRelease(t)
	if err := os.WriteFile(filepath.Join(changed, knative.FileNetIstio), []byte(testKnativeFiles[knative.FileNetIstio]+"# changed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	partial := writeKnativeRelease(t)
	if err := os.Remove(filepath.Join(partial, knative.FileCore)); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	for _, c := range []struct{ dir, want string }{
		{changed, "--knative-manifests " + filepath.Join(changed, knative.FileNetIstio) + ": sha256 " + sha(testKnativeFiles[knative.FileNetIstio]+"# changed\n") + ", but SHA256SUMS says " + sha(testKnativeFiles[knative.FileNetIstio])},
		{partial, "--knative-manifests " + filepath.Join(partial, knative.FileCore) + ": open "},
		{missing, "--knative-manifests " + filepath.Join(missing, knative.FileDigests) + ": open "},
	} {
		_, err := New(WithStateDir(t.TempDir()), WithSourceDir(sourceDir(t)), WithDeps(Deps{}), WithKnativeManifests(c.dir))
		if !errors.Is(err, env.ErrInvalidOptions) || !errors.Is(err, knative.ErrManifests) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(--knative-manifests %s) = %v, want an invalid-options error containing %q", c.dir, err, c.want)
		}
	}
	k, err := New(WithStateDir(t.TempDir()), WithSourceDir(sourceDir(t)), WithDeps(Deps{}), WithKnativeManifests(""))
	if err != nil || k.knative != nil {
		t.Errorf("New without --knative-manifests = %v", err)
	}
}
