//go:build controlplane

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/internal/istiodtest"
)

// TestControlPlaneScenariosValidate runs `scenarios validate
// --istioctl` with the built istioctl: the echo scenario has no findings;
// a copy whose VirtualService names a subset no DestinationRule defines
// shows IST0101 at that destination, beside meshcheck's own warning, and
// still validates (exit 0).
func TestControlPlaneScenariosValidate(t *testing.T) {
	istioctl, err := istiodtest.Binary("istioctl")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := scenariosExec(t, "scenarios", "validate", "--istioctl", istioctl, "../../scenarios/echo")
	if code != ExitPass || !strings.Contains(out, "0 istioctl findings") || strings.Contains(errs, "istioctl:") {
		t.Fatalf("echo: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	dir := scenarioCopy(t, "../../scenarios/echo", "")
	routing := filepath.Join(dir, "manifests", "routing.yaml")
	data, err := os.ReadFile(routing)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	line := 0
	for i, l := range lines {
		if strings.TrimSpace(l) == "subset: v2" {
			lines[i] = strings.Replace(l, "v2", "v3", 1)
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatal("scenarios/echo/manifests/routing.yaml has no subset v2")
	}
	if err := os.WriteFile(routing, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = scenariosExec(t, "scenarios", "validate", "--istioctl", istioctl, dir)
	// istioctl places IST0101 at the destination's host, the line above.
	want := "istioctl: " + routing + ":" + strconv.Itoa(line-1) + ": IST0101 (Error) VirtualService echo/echo-route: "
	if code != ExitPass || !strings.Contains(errs, want) || !strings.Contains(out, "1 istioctl finding") {
		t.Errorf("exit %d, stdout %q, stderr %q; want stderr with %q", code, out, errs, want)
	}
	if !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "v3") {
		t.Errorf("meshcheck's own warning on subset v3 is missing: %q", errs)
	}

	code, _, errs = scenariosExec(t, "scenarios", "validate", "--istioctl", filepath.Join(dir, "no-istioctl"), dir)
	if code != ExitUsage || !strings.Contains(errs, "--istioctl") {
		t.Errorf("missing --istioctl: exit %d, stderr %q", code, errs)
	}
}
