package main

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
)

// writeResults writes n records of a seeded 75/25 split, the way --save does.
func writeResults(t *testing.T, n int) string {
	t.Helper()
	return writeResultsFile(t, n, loadgen.Header{URL: "http://127.0.0.1:8080/echo", Host: "echo.local", Rate: 1000})
}

// writeResultsFile writes n records of a seeded 75/25 split after header h.
func writeResultsFile(t *testing.T, n int, h loadgen.Header) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := loadgen.NewRecordWriter(f, h)
	rnd := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := "v1"
		if rnd.Float64() < 0.25 {
			v = "v2"
		}
		rec := loadgen.Record{Seq: uint64(i), Phase: loadgen.PhaseJudged, Time: start.Add(time.Duration(i) * time.Millisecond),
			Latency: time.Millisecond, Status: 200, Version: v}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJudgeResultsFile(t *testing.T) {
	path := writeResults(t, 5000)
	code, out, errLine := judgeExec(t, "judge", path, "--expect", "v1=75,v2=25")
	if code != ExitPass || errLine != "" {
		t.Fatalf("exit %d (%q), want 0:\n%s", code, errLine, out)
	}
	if !strings.Contains(out, "PASS after") {
		t.Errorf("no verdict line:\n%s", out)
	}
	// The same traffic against another expectation fails.
	if code, out, _ := judgeExec(t, "judge", path, "--expect", "v1=50,v2=50"); code != ExitFail {
		t.Errorf("50/50: exit %d, want 1:\n%s", code, out)
	}
	// Too few records to decide.
	short := writeResults(t, 30)
	if code, _, _ := judgeExec(t, "judge", short, "--expect", "v1=75,v2=25"); code != ExitInconclusive {
		t.Errorf("30 records: exit %d, want 3", code)
	}
}

func TestJudgeResultsFileErrors(t *testing.T) {
	path := writeResults(t, 10)
	broken := filepath.Join(t.TempDir(), "broken.ndjson")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, append(data, []byte("{not json\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"judge", path, "--expect", "v1=75,v2=25", "--counts", "v1=1,v2=1"}, "give a results file or counts, not both"},
		{[]string{"judge", filepath.Join(t.TempDir(), "missing.ndjson"), "--expect", "v1=75,v2=25"}, "missing.ndjson"},
		{[]string{"judge", broken, "--expect", "v1=75,v2=25"}, "broken.ndjson:12"},
		{[]string{"judge", path, "other.ndjson", "--expect", "v1=75,v2=25"}, "accepts at most 1 arg"},
	}
	for _, c := range cases {
		code, _, errLine := judgeExec(t, c.args...)
		if code != ExitUsage || !strings.Contains(errLine, c.want) {
			t.Errorf("%v: exit %d, error %q; want 2 and %q", c.args, code, errLine, c.want)
		}
	}
}

// TestJudgeResultsFileEmulated: a local run's results file says it was
// emulated, and re-judging it reports so again, in text and JSON, with its
// environment and probe; a file without a header (an older meshcheck) is
// judged with a note that this is not recorded.
func TestJudgeResultsFileEmulated(t *testing.T) {
	path := writeResultsFile(t, 5000, loadgen.Header{Environment: "local", Emulated: true, Scenario: "echo",
		Step: "split-75-25", Probe: "ingress", From: "ingress", URL: "http://127.0.0.1:8080/echo", Host: "echo.local", Rate: 200})
	code, out, _ := judgeExec(t, "judge", path, "--expect", "v1=75,v2=25")
	if code != ExitPass || !strings.Contains(out, "emulated: the local model answered") || !strings.Contains(out, "echo / split-75-25 / ingress") {
		t.Fatalf("exit %d, text report lacks emulated or the probe:\n%s", code, out)
	}
	code, out, _ = judgeExec(t, "judge", path, "--expect", "v1=75,v2=25", "-o", "json")
	run, err := report.Decode(strings.NewReader(out), "stdout")
	if code != ExitPass || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if !run.Emulated || run.Environment != "local" || !run.Probes[0].Emulated || run.Probes[0].Stats.RateAsked != 200 {
		t.Errorf("JSON report: emulated %v, environment %q, probe emulated %v, rate asked %v", run.Emulated, run.Environment,
			run.Probes[0].Emulated, run.Probes[0].Stats.RateAsked)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, records, _ := strings.Cut(string(data), "\n")
	old := filepath.Join(t.TempDir(), "old.ndjson")
	if err := os.WriteFile(old, []byte(records), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = judgeExec(t, "judge", old, "--expect", "v1=75,v2=25")
	if code != ExitPass || strings.Contains(out, "emulated:") || !strings.Contains(out, "has no header") {
		t.Errorf("file without header: exit %d:\n%s", code, out)
	}
}

// TestJudgeLocalRunSaysEmulated: a results file saved by a local run, found
// wherever --save puts it, re-judges as emulated, in environment local, on
// its own (copied elsewhere).
func TestJudgeLocalRunSaysEmulated(t *testing.T) {
	save := filepath.Join(t.TempDir(), "results")
	if code, out, errOut := runExec(t, "run", "../../scenarios/echo", "--rate", runRate(), "--max-requests", "5000", "--save", save); code != ExitPass {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	var files []string
	err := filepath.WalkDir(save, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".ndjson") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no results file under --save: %v", err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "copied.ndjson")
	if err := os.WriteFile(copied, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := judgeExec(t, "judge", copied, "--expect", "v1=75,v2=25", "-o", "json")
	if code == ExitUsage {
		t.Fatalf("judge: exit %d: %s", code, errOut)
	}
	run, err := report.Decode(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatalf("judge -o json: %v\n%s", err, out)
	}
	if !run.Emulated || run.Environment != "local" || !run.Probes[0].Emulated || run.Probes[0].Scenario != "echo" {
		t.Errorf("re-judged %s: emulated %v, environment %q, probe %+v", files[0], run.Emulated, run.Environment, run.Probes[0])
	}
}
