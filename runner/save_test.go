package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// readRecords decodes a meshcheck results file: its header line, then the
// records.
func readRecords(t *testing.T, path string) []loadgen.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []loadgen.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("%s: empty, want a header line", path)
	}
	var header struct {
		Results string `json:"results"`
	}
	if err := json.Unmarshal(sc.Bytes(), &header); err != nil || header.Results == "" {
		t.Fatalf("%s: first line %q is not a results header (%v)", path, sc.Bytes(), err)
	}
	for sc.Scan() {
		var r loadgen.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readVegeta decodes a vegeta results file with vegeta's own decoder.
func readVegeta(t *testing.T, path string) []vegeta.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewJSONDecoder(f)
	var out []vegeta.Result
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: vegeta cannot read result %d: %v", path, len(out), err)
		}
		out = append(out, r)
	}
}

func readManifest(t *testing.T, dir string) Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, data)
	}
	return m
}

// TestSaveTwoScenariosOfOneName runs the same scenario twice in one run:
// each probe gets files of its own, in both formats, and the manifest
// names them; vegeta's decoder reads the vegeta files back, record for
// record.
func TestSaveTwoScenariosOfOneName(t *testing.T) {
	f := &fakeEnv{url: split75(t).URL}
	var scenarios []*scenario.Scenario
	for range 2 {
		s := loadScenario(t)
		s.Steps = s.Steps[:1]
		scenarios = append(scenarios, s)
	}
	root := filepath.Join(t.TempDir(), "results")
	var notices bytes.Buffer
	run, err := Run(context.Background(), f, scenarios, Options{Output: report.FormatJSON, Rate: 2000, MaxRequests: 3000,
		Save: root, SaveFormats: []SaveFormat{SaveMeshcheck, SaveVegeta}, Notices: &notices})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil || len(entries) != 1 {
		t.Fatalf("save root holds %v (%v), want one run folder", entries, err)
	}
	name := entries[0].Name()
	if !regexp.MustCompile(`^\d{8}T\d{6}Z-echo\+echo$`).MatchString(name) {
		t.Errorf("run folder %q, want <start>-echo+echo", name)
	}
	dir := filepath.Join(root, name)
	if want := "meshcheck: results saved in " + dir + " (manifest.json)\n"; notices.String() != want {
		t.Errorf("notice %q, want %q", notices.String(), want)
	}

	m := readManifest(t, dir)
	if m.Schema != ManifestSchema || m.Meshcheck == "" || m.Environment != "fake" || m.Emulated ||
		!slices.Equal(m.Formats, []SaveFormat{SaveMeshcheck, SaveVegeta}) || m.Verdict != run.Verdict.String() ||
		!m.Finished.After(m.Started) || m.Error != "" || len(m.Scenarios) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	files := map[string]bool{}
	for si, sc := range m.Scenarios {
		if sc.Name != "echo" || sc.Dir != "testdata/echo" || len(sc.Steps) != 1 || len(sc.Steps[0].Probes) != 1 {
			t.Fatalf("scenario %d: %+v", si, sc)
		}
		p := sc.Steps[0].Probes[0]
		if p.Name != "ingress" || p.Verdict != run.Probes[si].Result.Verdict.String() || len(p.Files) != 2 {
			t.Errorf("scenario %d probe: %+v", si, p)
		}
		for _, file := range p.Files {
			if files[file] {
				t.Errorf("file %s named twice", file)
			}
			files[file] = true
		}
		recs := readRecords(t, filepath.Join(dir, p.Files[SaveMeshcheck]))
		judged := 0
		for _, r := range recs {
			if r.Phase == loadgen.PhaseJudged {
				judged++
			}
		}
		if int64(judged) != run.Probes[si].Stats.Requests {
			t.Errorf("%s: %d judged records, the verdict saw %d", p.Files[SaveMeshcheck], judged, run.Probes[si].Stats.Requests)
		}
		results := readVegeta(t, filepath.Join(dir, p.Files[SaveVegeta]))
		if len(results) != len(recs) {
			t.Fatalf("%s: %d vegeta results for %d records", p.Files[SaveVegeta], len(results), len(recs))
		}
		for i, res := range results {
			r := recs[i]
			if res.Seq != r.Seq || int(res.Code) != r.Status || !res.Timestamp.Equal(r.Time) || res.Latency != r.Latency ||
				res.Error != r.Error || res.Attack != "echo/split-75-25/ingress" || res.Method != "GET" || res.URL != f.url+"/echo" {
				t.Fatalf("%s result %d: %+v, record %+v", p.Files[SaveVegeta], i, res, r)
			}
		}
	}
	if len(files) != 4 {
		t.Errorf("%d files, want 2 probes x 2 formats", len(files))
	}
}

// TestSaveNeverOverwrites: a run folder that exists is an error naming
// --force, and so is an existing file; --force writes over both.
func TestSaveNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	s := loadScenario(t)
	doc := Plan("fake", false, []*scenario.Scenario{s})
	doc.Started = time.Date(2026, 12, 2, 0, 15, 30, 0, time.UTC)
	first, err := newSaver(root, nil, false, doc, []*scenario.Scenario{s})
	if err != nil {
		t.Fatal(err)
	}
	if first.dir != filepath.Join(root, "20261202T001530Z-echo") || !slices.Equal(first.formats, []SaveFormat{SaveMeshcheck}) {
		t.Errorf("folder %s, formats %v", first.dir, first.formats)
	}
	ps, err := first.probe(0, 0, "ingress", loadgen.Target{URL: "http://x/echo"}, loadgen.Header{Environment: "local", Emulated: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.write(loadgen.Record{Seq: 0, Status: 200, Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := ps.done("PASS"); err != nil {
		t.Fatal(err)
	}
	if _, err := newSaver(root, nil, false, doc, []*scenario.Scenario{s}); err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a second run folder of the same name: %v", err)
	}
	// A file that exists in the folder is refused too.
	first.force = false
	if _, err := first.probe(0, 0, "ingress", loadgen.Target{URL: "http://x/echo"}, loadgen.Header{Environment: "local", Emulated: true}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("an existing results file: %v", err)
	}
	forced, err := newSaver(root, nil, true, doc, []*scenario.Scenario{s})
	if err != nil {
		t.Fatalf("--force: %v", err)
	}
	ps, err = forced.probe(0, 0, "ingress", loadgen.Target{URL: "http://x/echo"}, loadgen.Header{Environment: "local", Emulated: true})
	if err != nil {
		t.Fatalf("--force over a results file: %v", err)
	}
	if err := ps.done(""); err != nil {
		t.Fatal(err)
	}
	if recs := readRecords(t, filepath.Join(forced.dir, "1-echo.split-75-25.ingress.ndjson")); len(recs) != 0 {
		t.Errorf("--force left %d old records", len(recs))
	}
	m := readManifest(t, forced.dir)
	if len(m.Scenarios[0].Steps[0].Probes) != 1 || !m.Finished.IsZero() {
		t.Errorf("manifest of an unfinished run: %+v", m)
	}
}

func TestRunFolderName(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 2, 3, 0, time.FixedZone("CET", 3600))
	mk := func(names ...string) []*scenario.Scenario {
		var out []*scenario.Scenario
		for _, n := range names {
			out = append(out, &scenario.Scenario{Metadata: scenario.Metadata{Name: n}})
		}
		return out
	}
	if got := runFolderName(at, mk("echo", "hello")); got != "20261202T000203Z-echo+hello" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("a", 30)
	got := runFolderName(at, mk(long, long, long, long, long))
	if want := "20261202T000203Z-" + long + "+" + long + "+3-more"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseSaveFormats(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []SaveFormat
		err  string
	}{
		{"meshcheck", []SaveFormat{SaveMeshcheck}, ""},
		{"vegeta", []SaveFormat{SaveVegeta}, ""},
		{"meshcheck, vegeta", []SaveFormat{SaveMeshcheck, SaveVegeta}, ""},
		{"vegeta,meshcheck", []SaveFormat{SaveVegeta, SaveMeshcheck}, ""},
		{"", nil, "want a comma-separated list of meshcheck or vegeta"},
		{"csv", nil, `format "csv": want meshcheck or vegeta`},
		{"meshcheck,", nil, `format "": want`},
		{"vegeta,vegeta", nil, "named twice"},
	} {
		got, err := ParseSaveFormats(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseSaveFormats(f *testing.F) {
	for _, s := range []string{"meshcheck", "meshcheck,vegeta", " vegeta ", "", ",", "vegeta,vegeta", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSaveFormats(s)
		if err != nil {
			return
		}
		if len(got) == 0 {
			t.Fatalf("%q: no format and no error", s)
		}
		var names []string
		for _, g := range got {
			if !slices.Contains(SaveFormats, g) {
				t.Fatalf("%q: unknown format %q", s, g)
			}
			names = append(names, string(g))
		}
		again, err := ParseSaveFormats(strings.Join(names, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("%q: %v does not parse back: %v, %v", s, got, again, err)
		}
	})
}
