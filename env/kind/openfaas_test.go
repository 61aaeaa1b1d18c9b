package kind

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/scenario"
)

// TestDryRunShowsTheOpenFaaSInstall: a scenario with backend openfaas
// makes the plan show the chart (name, repository, version, digest, where
// it comes from), the values set and the namespaces, exactly, before the
// scenario's objects; a scenario without it shows none of it.
func TestDryRunShowsTheOpenFaaSInstall(t *testing.T) {
	dir := t.TempDir()
	k, err := New(WithStateDir(dir), WithSourceDir(sourceDir(t)), WithDeps(Deps{}))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := scenario.Load("../kube/testdata/openfaas")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := k.DryRun(&out, []*scenario.Scenario{fs}); err != nil {
		t.Fatal(err)
	}
	want := `---
# OpenFaaS CE, installed once per cluster before the first scenario with spec.backend openfaas
# (Helm Go SDK: rendered client-only, no helm binary and no release Secrets; applied with meshcheck's server-side apply)
# chart openfaas 15.0.6 from the repository https://openfaas.github.io/faas-netes/
# archive openfaas-15.0.6.tgz sha256 937d0672524fefb7177e0153f45d44ba0cde026ed8d0bfb723207e39c1119d6c (checked before loading)
# downloaded from https://openfaas.github.io/faas-netes/openfaas-15.0.6.tgz and cached in the user's cache folder (or give --openfaas-chart FILE.tgz)
# pinned from github.com/openfaas/faas-netes commit 662ce9ce36ec4a32467773c308807bd5d58f5ae6 (docs/index.yaml)
# release openfaas in namespace openfaas; namespaces openfaas and openfaas-fn labelled istio-injection=enabled
# then: the pre-install hooks (Secret basic-auth) unless they exist, the chart's objects, and a wait for every Deployment of the chart (the gateway among them) to be ready
# values set (the chart's values.yaml gives the rest):
#   exposeServices: false
#   functionNamespace: openfaas-fn
#   gateway:
#     directFunctions: true
#   generateBasicAuth: true
#   istio:
#     mtls: false
#   openfaasPro: false
---
# scenario fnsplit, setup: phase make: apply Namespace openfaas-fn
`
	if !strings.Contains(out.String(), want) {
		t.Errorf("dry run lacks the OpenFaaS install:\n%s\nwant:\n%s", out.String(), want)
	}
	if !strings.Contains(out.String(), "deploy through the OpenFaaS gateway (POST /system/functions, PUT when it exists; then wait for availableReplicas >= 1): function hello-v1 in namespace openfaas-fn: image 10.96.0.200:5000/fixture:v0.1.0, labels app=hello,version=v1") {
		t.Errorf("dry run lacks the function deployments, their image from the in-cluster registry:\n%s", out.String())
	}

	echo, _, err := scenario.Load("../../scenarios/echo")
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := k.DryRun(&out, []*scenario.Scenario{echo}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "# OpenFaaS CE") || strings.Contains(out.String(), "OpenFaaS gateway") || strings.Contains(out.String(), "in-cluster registry") {
		t.Errorf("dry run of a scenario without backend openfaas mentions OpenFaaS:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--dry-run created %d entries in %s", len(entries), dir)
	}
}

// TestOpenFaaSChartFlag: --openfaas-chart must be the pinned archive; a
// missing file or another archive is the user's input error (exit 2),
// named, before anything runs.
func TestOpenFaaSChartFlag(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "openfaas-14.0.0.tgz")
	if err := os.WriteFile(other, []byte("another archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{other, "--openfaas-chart " + other + ": sha256 "},
		{filepath.Join(dir, "none.tgz"), "--openfaas-chart: open "},
	} {
		_, err := New(WithStateDir(dir), WithSourceDir(sourceDir(t)), WithDeps(Deps{}), WithOpenFaaSChart(c.path))
		if !errors.Is(err, env.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(--openfaas-chart %s) = %v, want an invalid-options error containing %q", c.path, err, c.want)
		}
	}
	k, err := New(WithStateDir(t.TempDir()), WithSourceDir(sourceDir(t)), WithDeps(Deps{}), WithOpenFaaSChart(""))
	if err != nil || k.openfaas.Local != "" {
		t.Errorf("New without --openfaas-chart = %v", err)
	}
}
