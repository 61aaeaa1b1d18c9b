package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/runner"
)

// TestRunSaveFolderAndNotice: --save writes a run folder with a manifest
// and both formats, and says where on stderr; stderr, not a terminal,
// carries no live line.
func TestRunSaveFolderAndNotice(t *testing.T) {
	save := filepath.Join(t.TempDir(), "results")
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--rate", runRate(), "--max-requests", "5000",
		"--save", save, "--save-format", "meshcheck,vegeta")
	if code != ExitPass && code != ExitFail && code != ExitInconclusive {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	dirs, _ := filepath.Glob(filepath.Join(save, "*-echo"))
	if len(dirs) != 1 {
		t.Fatalf("run folders %v, want one", dirs)
	}
	if want := "meshcheck: results saved in " + dirs[0] + " (manifest.json)\n"; strings.Count(errOut, want) != 1 {
		t.Errorf("stderr lacks one %q:\n%s", want, errOut)
	}
	if strings.ContainsAny(errOut, "\r\033") {
		t.Errorf("stderr is not a terminal, yet got a live line:\n%q", errOut)
	}
	if !strings.Contains(out, "summary ") {
		t.Errorf("stdout lacks the report:\n%s", out)
	}
	data, err := os.ReadFile(filepath.Join(dirs[0], runner.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m runner.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Environment != "local" || !m.Emulated || len(m.Scenarios) != 1 || len(m.Scenarios[0].Steps[0].Probes) != 2 {
		t.Fatalf("manifest %s", data)
	}
	for _, p := range m.Scenarios[0].Steps[0].Probes {
		for format, file := range p.Files {
			if st, err := os.Stat(filepath.Join(dirs[0], file)); err != nil || st.Size() == 0 {
				t.Errorf("probe %s %s file %s: %v", p.Name, format, file, err)
			}
		}
	}
}

// TestRunQuiet: -q leaves stderr without info logs, and stdout with the
// report.
func TestRunQuiet(t *testing.T) {
	code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--rate", runRate(), "--max-requests", "5000", "-q")
	if code != ExitPass && code != ExitFail && code != ExitInconclusive {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "level=INFO") || strings.ContainsAny(errOut, "\r\033") {
		t.Errorf("-q: stderr holds\n%s", errOut)
	}
	if !strings.Contains(out, "summary ") {
		t.Errorf("-q: stdout lacks the report:\n%s", out)
	}
}

func TestRunSaveFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--save", dir, "--save-format", "csv"}, `--save-format "csv": format "csv": want meshcheck or vegeta`},
		{[]string{"--save", dir, "--save-format", "vegeta,vegeta"}, "named twice"},
		{[]string{"--save-format", "vegeta"}, "give --save DIR too"},
		{[]string{"--force"}, "give --save DIR too"},
	} {
		code, _, errOut := runExec(t, append([]string{"run", "../../scenarios/echo"}, c.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %q", c.args, code, errOut, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused run wrote %v", entries)
	}
}
