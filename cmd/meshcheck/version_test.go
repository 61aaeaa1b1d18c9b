package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/versioninfo"
)

func TestVersionText(t *testing.T) {
	code, out, errOut := runExec(t, "version")
	if code != ExitPass {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"meshcheck ", "go ", runtime.Version(), istio.DefaultVersion, kind.DefaultNodeImage, kube.AgentImage, "kind "} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines < 6 {
		t.Errorf("%d lines, want one per item:\n%s", lines, out)
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, errOut := runExec(t, "version", "-o", "json")
	if code != ExitPass {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var v versioninfo.Info
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Meshcheck == "" || v.Go != runtime.Version() || v.Istio != istio.DefaultVersion ||
		v.KindNodeImage != kind.DefaultNodeImage || v.AgentImage != kube.AgentImage || v.Kind == "" {
		t.Errorf("%+v", v)
	}
}

func TestVersionUsage(t *testing.T) {
	for _, args := range [][]string{{"version", "extra"}, {"version", "-o", "yaml"}} {
		code, _, errOut := runExec(t, args...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want 2: %s", args, code, errOut)
		}
	}
	_, _, errOut := runExec(t, "version", "-o", "yaml")
	if !strings.Contains(errOut, "text or json") {
		t.Errorf("-o yaml: %q does not say what is allowed", errOut)
	}
}
