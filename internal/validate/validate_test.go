package validate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/scenario"
)

const (
	echoDir      = "../../scenarios/echo"
	misspeltDir  = "../../scenario/testdata/misspelt-field"
	predictsDir  = "../../scenario/testdata/vs-weights-75-15"
	scenarioRoot = "../../scenarios"
)

func TestFolderLoads(t *testing.T) {
	r, err := Folder(context.Background(), echoDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Valid() || r.Scenario == nil || r.Analyzed || r.Fatal() != 0 {
		t.Fatalf("%+v", r)
	}
	var out, errs bytes.Buffer
	r.WriteText(&out, &errs)
	if want := echoDir + ": ok: scenario echo, 1 step, 2 probes, 0 warnings\n"; out.String() != want || errs.Len() != 0 {
		t.Errorf("stdout %q (want %q), stderr %q", out.String(), want, errs.String())
	}
}

func TestFolderDoesNotLoad(t *testing.T) {
	r, err := Folder(context.Background(), misspeltDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var le *scenario.LoadError
	if r.Valid() || r.Scenario != nil || !errors.As(r.LoadErr, &le) {
		t.Fatalf("%+v", r)
	}
	var out, errs bytes.Buffer
	r.WriteText(&out, &errs)
	if out.Len() != 0 || !strings.HasPrefix(errs.String(), "error: "+filepath.Join(misspeltDir, scenario.FileName)+":38: ") {
		t.Errorf("stdout %q, stderr %q", out.String(), errs.String())
	}
}

// Strict turns exactly the warnings that predict failure into errors.
func TestFolderStrict(t *testing.T) {
	lax, err := Folder(context.Background(), predictsDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	predicts := 0
	for _, w := range lax.Warnings {
		if w.PredictsFailure {
			predicts++
		}
	}
	if predicts == 0 || predicts == len(lax.Warnings) {
		t.Fatalf("%s: %d of %d warnings predict failure; the test needs some of each", predictsDir, predicts, len(lax.Warnings))
	}
	if !lax.Valid() || lax.Fatal() != 0 {
		t.Errorf("without strict: valid %v, fatal %d", lax.Valid(), lax.Fatal())
	}
	strict, err := Folder(context.Background(), predictsDir, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if strict.Valid() || strict.Fatal() != predicts {
		t.Errorf("strict: valid %v, fatal %d, want %d", strict.Valid(), strict.Fatal(), predicts)
	}
	var out, errs bytes.Buffer
	strict.WriteText(&out, &errs)
	if got := strings.Count(errs.String(), "(--strict: the routing model predicts the probe fails)\n"); got != predicts {
		t.Errorf("%d strict errors, want %d:\n%s", got, predicts, errs.String())
	}
	if got := strings.Count(errs.String(), "warning: "); got != len(lax.Warnings)-predicts {
		t.Errorf("%d warnings, want %d:\n%s", got, len(lax.Warnings)-predicts, errs.String())
	}
	if !strings.Contains(out.String(), ": failed (--strict: ") {
		t.Errorf("stdout %q", out.String())
	}
}

// failingRunner is an istioctl that cannot be started.
type failingRunner struct{ calls int }

func (r *failingRunner) Run(context.Context, istio.Cmd) error {
	r.calls++
	return errors.New("exec: no such file")
}

// An istioctl that fails stops Folders with an Environment error naming the
// folder, after the folders before it were written.
func TestFoldersIstioctlFails(t *testing.T) {
	runner := &failingRunner{}
	var out, errs bytes.Buffer
	err := Folders(context.Background(), &out, &errs, []string{misspeltDir, echoDir, echoDir}, Options{Istioctl: "istioctl", Runner: runner})
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != Environment || !strings.HasPrefix(err.Error(), echoDir+": ") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("error %v", err)
	}
	if runner.calls != 1 || out.Len() != 0 || !strings.Contains(errs.String(), ":38: ") {
		t.Errorf("%d istioctl runs, stdout %q, stderr %q", runner.calls, out.String(), errs.String())
	}
}

func TestFoldersCountsInvalid(t *testing.T) {
	var out, errs bytes.Buffer
	err := Folders(context.Background(), &out, &errs, []string{echoDir, misspeltDir, predictsDir}, Options{Strict: true})
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != Invalid || err.Error() != "2 scenarios of 3 did not validate" {
		t.Fatalf("error %v", err)
	}
	if err := Folders(context.Background(), &out, &errs, []string{echoDir}, Options{}); err != nil {
		t.Errorf("echo alone: %v", err)
	}
}

func TestList(t *testing.T) {
	l, err := Find(scenarioRoot)
	if err != nil {
		t.Fatal(err)
	}
	if l.Failed() != 0 || len(l.Entries) < 2 {
		t.Fatalf("%+v", l)
	}
	for i := 1; i < len(l.Entries); i++ {
		if l.Entries[i-1].Dir >= l.Entries[i].Dir {
			t.Errorf("entries not sorted: %s before %s", l.Entries[i-1].Dir, l.Entries[i].Dir)
		}
	}
	var out, errs bytes.Buffer
	if err := List(&out, &errs, scenarioRoot); err != nil || errs.Len() != 0 {
		t.Fatalf("%v, stderr %q", err, errs.String())
	}
	if lines := strings.Count(out.String(), "\n"); lines != len(l.Entries)+1 {
		t.Errorf("%d lines for %d scenarios:\n%s", lines, len(l.Entries), out.String())
	}
}

func TestListErrors(t *testing.T) {
	parent := t.TempDir()
	if err := os.MkdirAll(filepath.Join(parent, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		filepath.Join(parent, "missing"): "does not exist",
		filepath.Join(parent, "empty"):   "no scenarios in",
	} {
		_, err := Find(dir)
		var ve *Error
		if !errors.As(err, &ve) || ve.Kind != Invalid || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: %v, want an Invalid error with %q", dir, err, want)
		}
	}

	broken := filepath.Join(parent, "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, scenario.FileName), []byte("kind: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	err := List(&out, &errs, parent)
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != Invalid || !strings.HasPrefix(err.Error(), "1 scenario in "+parent+" did not load") {
		t.Errorf("error %v", err)
	}
	if !strings.Contains(errs.String(), broken) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("stdout %q, stderr %q", out.String(), errs.String())
	}
}
