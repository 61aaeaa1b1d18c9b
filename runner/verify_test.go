package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// unsupportedFirst is a closingEnv whose first Setup fails as a scenario
// the environment cannot run.
type unsupportedFirst struct {
	*closingEnv
	setups int
}

// Timings is how the fake was opened.
func (u *unsupportedFirst) Timings() []env.Timing {
	return []env.Timing{{Phase: report.PhaseCluster, Duration: 42 * time.Second}}
}

func (u *unsupportedFirst) Setup(ctx context.Context, s *scenario.Scenario) error {
	u.setups++
	if u.setups == 1 {
		return fmt.Errorf("image example.invalid/x: %w", env.ErrUnsupported)
	}
	return u.fakeEnv.Setup(ctx, s)
}

// TestReportFilesNameEveryFormat: every format has its file in Verify's
// folder, and no two share one.
func TestReportFilesNameEveryFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range report.Formats {
		name := ReportFiles[f]
		if name == "" || seen[name] {
			t.Errorf("format %s: file %q, want a name of its own", f, name)
		}
		seen[name] = true
	}
}

// TestVerify: a scenario the environment cannot run is skipped with its
// reason, the next one runs, the environment is closed, and the run's
// report is in the folder in every format.
func TestVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "_out")
	e := &unsupportedFirst{closingEnv: &closingEnv{fakeEnv: &fakeEnv{url: split75(t).URL, via: forwardProxy(t)}}}
	var out, notices bytes.Buffer
	run, err := Verify(t.Context(), &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t), loadScenario(t)}, VerifyOptions{
		OutDir:  dir,
		Options: Options{Out: &out, Notices: &notices, Rate: testRate(), MaxRequests: 200},
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !strings.Contains(notices.String(), "scenario echo skipped, the fake environment cannot run it: image example.invalid/x: "+env.ErrUnsupported.Error()) ||
		!strings.Contains(notices.String(), "reports written to "+dir) {
		t.Errorf("notices %q, want the skipped scenario with its reason and the folder", notices.String())
	}
	if len(run.Probes) == 0 || strings.Join(e.closed, ",") == "" {
		t.Errorf("probes %d, closes %q: want the second scenario's probes and a Close", len(run.Probes), e.closed)
	}
	var names []string
	for _, p := range run.Phases {
		names = append(names, p.Name)
		positive := p.Name != report.PhaseProgrammed && p.Name != report.PhaseDown
		if p.Duration < 0 || (positive && p.Duration == 0) {
			t.Errorf("phase %s took %s, want a positive time", p.Name, p.Duration)
		}
	}
	if got, want := strings.Join(names, ","), "cluster,deploy,programmed,settle,sampling,down,total"; got != want {
		t.Errorf("phases %s, want %s", got, want)
	}
	if !strings.Contains(out.String(), "\nphases       cluster 42s, deploy ") {
		t.Errorf("stdout %q, want the phase times at the end", out.String())
	}
	for _, f := range report.Formats {
		b, err := os.ReadFile(filepath.Join(dir, ReportFiles[f]))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v, %d bytes; want the report", f, err, len(b))
		}
	}
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := report.Decode(f, "report.json")
	if err != nil || len(doc.Probes) != len(run.Probes) {
		t.Errorf("report.json: %v, %d probes, want %d", err, len(doc.Probes), len(run.Probes))
	}
}

// TestVerifyUnwritableFolder: an output folder that cannot be created is
// an input error before the environment is opened.
func TestVerifyUnwritableFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := &fakeOpener{err: errors.New("opened")}
	_, err := Verify(t.Context(), o, []*scenario.Scenario{loadScenario(t)}, VerifyOptions{OutDir: filepath.Join(file, "_out")})
	var re *Error
	if !errors.As(err, &re) || re.Kind != InputError || strings.Contains(err.Error(), "opened") {
		t.Errorf("error %v, want an input error about the folder, before opening", err)
	}
}

// debugEnv is a closingEnv that can write a debug bundle; it records the
// folders it was asked for, and Close sees whether the bundle came first.
type debugEnv struct {
	*closingEnv
	bundles []string
}

func (d *debugEnv) CollectDebug(_ context.Context, dir string) error {
	if len(d.closed) > 0 {
		return errors.New("asked after Close")
	}
	d.bundles = append(d.bundles, dir)
	return nil
}

// TestExecuteDebugBundle: the debug bundle is collected before Close after
// an environment error, and neither after an input error nor after an
// interruption, nor without Options.Debug.
func TestExecuteDebugBundle(t *testing.T) {
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range []struct {
		name  string
		ctx   context.Context
		setup error
		debug string
		want  string
	}{
		{"environment error", t.Context(), errors.New("pods never ready"), "out/debug", "out/debug"},
		{"no folder", t.Context(), errors.New("pods never ready"), "", ""},
		{"input error", t.Context(), fmt.Errorf("image: %w", env.ErrUnsupported), "out/debug", ""},
		{"interrupted", ended, errors.New("interrupted"), "out/debug", ""},
	} {
		e := &debugEnv{closingEnv: &closingEnv{fakeEnv: &fakeEnv{url: "http://127.0.0.1:1", failSetup: c.setup}}}
		if _, err := Execute(c.ctx, &fakeOpener{e: e}, []*scenario.Scenario{loadScenario(t)}, Options{Debug: c.debug}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
		if got := strings.Join(e.bundles, ","); got != c.want || len(e.closed) != 1 {
			t.Errorf("%s: bundles %q, closes %q; want %q before one Close", c.name, got, e.closed, c.want)
		}
	}
}

// TestVerifyRemovesAnOldBundle: a debug bundle of an earlier run does not
// survive into this one's folder.
func TestVerifyRemovesAnOldBundle(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, DebugDir, "istio-system", "events.txt")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(t.Context(), &fakeOpener{err: errors.New("no engine")}, []*scenario.Scenario{loadScenario(t)}, VerifyOptions{OutDir: dir}); err == nil {
		t.Fatal("no error from an environment that does not open")
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("%s survived", stale)
	}
}
