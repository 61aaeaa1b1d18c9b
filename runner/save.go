package runner

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshcheck/meshcheck/internal/buildinfo"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// SaveFormat names a format of the results files Options.Save writes.
type SaveFormat string

// The formats of the results files.
const (
	// SaveMeshcheck is loadgen's NDJSON records, every request with its
	// phase (settle, judged, after): `meshcheck judge` replays them.
	SaveMeshcheck SaveFormat = "meshcheck"
	// SaveVegeta is vegeta's JSON results format (one vegeta.Result per
	// line), every request the probe sent in send order, settle phase
	// included: `vegeta report` and `vegeta plot` read it. Records keep no
	// byte counts, so bytes_in and bytes_out are 0.
	SaveVegeta SaveFormat = "vegeta"
)

// SaveFormats are the formats Options.SaveFormats accepts.
var SaveFormats = []SaveFormat{SaveMeshcheck, SaveVegeta}

// saveExt is the file name ending of each format.
var saveExt = map[SaveFormat]string{SaveMeshcheck: ".ndjson", SaveVegeta: ".vegeta.json"}

// ParseSaveFormats reads a comma-separated list of formats, such as
// "meshcheck,vegeta", naming what is allowed when an item is not a format
// or comes twice.
func ParseSaveFormats(s string) ([]SaveFormat, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no format: want a comma-separated list of %s", saveFormatList())
	}
	var out []SaveFormat
	for item := range strings.SplitSeq(s, ",") {
		f := SaveFormat(strings.TrimSpace(item))
		switch {
		case !slices.Contains(SaveFormats, f):
			return nil, fmt.Errorf("format %q: want %s", string(f), saveFormatList())
		case slices.Contains(out, f):
			return nil, fmt.Errorf("format %s is named twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}

func saveFormatList() string {
	var names []string
	for _, f := range SaveFormats {
		names = append(names, string(f))
	}
	return strings.Join(names, " or ")
}

// ManifestFile is the name of the manifest in a run's save folder.
const ManifestFile = "manifest.json"

// ManifestSchema names the version of manifest.json.
const ManifestSchema = "meshcheck.dev/save/v1"

// Manifest describes a run's save folder: which meshcheck ran what where,
// and which file holds each probe's records. It is written when the folder
// is created (Finished zero, no verdict), again when each probe starts and
// ends, and when the run ends: a run cut short leaves a manifest of what it
// wrote.
type Manifest struct {
	Schema string `json:"schema"`
	// Meshcheck is the version of the binary that ran (buildinfo).
	Meshcheck   string `json:"meshcheck"`
	Environment string `json:"environment"`
	// Emulated is true when the mesh was emulated (--env local).
	Emulated bool         `json:"emulated"`
	Formats  []SaveFormat `json:"formats"`
	Started  time.Time    `json:"started"`
	// Finished is zero while the run is under way (or when it was killed).
	Finished time.Time `json:"finished,omitzero"`
	// Verdict is the run's verdict once it finished.
	Verdict string `json:"verdict,omitempty"`
	// Error is what stopped the run, if anything did.
	Error     string          `json:"error,omitempty"`
	Scenarios []SavedScenario `json:"scenarios"`
}

// SavedScenario is one scenario of a saved run, in the order it ran.
type SavedScenario struct {
	Name string `json:"name"`
	// Dir is the scenario folder as given on the command line.
	Dir   string      `json:"dir"`
	Steps []SavedStep `json:"steps"`
}

// SavedStep is one step of a saved scenario.
type SavedStep struct {
	Name string `json:"name"`
	// Probes are the probes whose records were saved, in the order they ran.
	Probes []SavedProbe `json:"probes"`
}

// SavedProbe names the files of one probe's records.
type SavedProbe struct {
	Name string `json:"name"`
	// Files maps each format to its file, relative to the folder.
	Files map[SaveFormat]string `json:"files"`
	// Verdict is the probe's verdict ("" when it did not finish).
	Verdict string `json:"verdict,omitempty"`
}

// saver writes one run's folder: a file per probe and format, and the
// manifest.
type saver struct {
	dir     string
	force   bool
	formats []SaveFormat
	man     Manifest
}

// runFolderName names a run's folder: its start (UTC, to the second) and
// its scenarios' names, "20261202T001530Z-echo+hello"; a long list of names
// is cut after the first ones.
func runFolderName(started time.Time, scenarios []*scenario.Scenario) string {
	const maxNames = 80
	var b strings.Builder
	b.WriteString(started.UTC().Format("20060102T150405Z"))
	for i, s := range scenarios {
		sep := "-"
		if i > 0 {
			sep = "+"
		}
		if b.Len()+len(sep)+len(s.Metadata.Name) > len("20060102T150405Z")+maxNames {
			fmt.Fprintf(&b, "+%d-more", len(scenarios)-i)
			break
		}
		b.WriteString(sep + s.Metadata.Name)
	}
	return b.String()
}

// newSaver creates the run's folder under root (root too when missing) and
// writes its first manifest. An existing folder of that name is an error
// unless force is set.
func newSaver(root string, formats []SaveFormat, force bool, doc report.Run, scenarios []*scenario.Scenario) (*saver, error) {
	if len(formats) == 0 {
		formats = []SaveFormat{SaveMeshcheck}
	}
	for _, f := range formats {
		if _, ok := saveExt[f]; !ok {
			return nil, fmt.Errorf("save format %q: want %s", string(f), saveFormatList())
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("save folder: %w", err)
	}
	dir := filepath.Join(root, runFolderName(doc.Started, scenarios))
	if err := os.Mkdir(dir, 0o755); err != nil {
		if !errors.Is(err, fs.ErrExist) || !force {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("save folder %s already exists (a run of the same scenarios started in the same second): wait a second, or give --force to write over its files", dir)
			}
			return nil, fmt.Errorf("save folder: %w", err)
		}
	}
	s := &saver{dir: dir, force: force, formats: formats, man: Manifest{
		Schema: ManifestSchema, Meshcheck: buildinfo.Read().Version, Environment: doc.Environment,
		Emulated: doc.Emulated, Formats: formats, Started: doc.Started, Scenarios: []SavedScenario{},
	}}
	for _, sc := range scenarios {
		ss := SavedScenario{Name: sc.Metadata.Name, Dir: sc.Dir, Steps: []SavedStep{}}
		for _, st := range sc.Steps {
			ss.Steps = append(ss.Steps, SavedStep{Name: st.Name, Probes: []SavedProbe{}})
		}
		s.man.Scenarios = append(s.man.Scenarios, ss)
	}
	if err := s.writeManifest(); err != nil {
		return nil, err
	}
	return s, nil
}

// probeFileBase is the name of a probe's files without their ending: the
// scenario's position in the run (two scenarios may share a name), then the
// scenario, step and probe names, which are DNS labels (no '.'), so that
// distinct probes never share a name.
func probeFileBase(scenarioIndex int, scenarioName, step, probe string) string {
	return fmt.Sprintf("%d-%s.%s.%s", scenarioIndex+1, scenarioName, step, probe)
}

// create opens a new file in the folder: an existing one is an error unless
// force is set.
func (s *saver) create(name string) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if s.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(s.dir, name), flags, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("save: %s already exists: give --force to write over it", filepath.Join(s.dir, name))
		}
		return nil, fmt.Errorf("save: %w", err)
	}
	return f, nil
}

// probe opens the files of the probe at scenario index si, step index step,
// and records them in the manifest.
func (s *saver) probe(si, step int, probe string, t loadgen.Target, h loadgen.Header) (*probeSaver, error) {
	sc := &s.man.Scenarios[si]
	st := &sc.Steps[step]
	base := probeFileBase(si, sc.Name, st.Name, probe)
	ps := &probeSaver{attack: sc.Name + "/" + st.Name + "/" + probe, method: t.Method, url: t.URL}
	if ps.method == "" {
		ps.method = http.MethodGet
	}
	files := map[SaveFormat]string{}
	for _, f := range s.formats {
		name := base + saveExt[f]
		file, err := s.create(name)
		if err != nil {
			ps.close()
			return nil, err
		}
		ps.files = append(ps.files, file)
		files[f] = name
		switch f {
		case SaveMeshcheck:
			ps.records = loadgen.NewRecordWriter(file, h)
		case SaveVegeta:
			ps.vbuf = bufio.NewWriterSize(file, 64<<10)
			ps.vegeta = vegeta.NewJSONEncoder(ps.vbuf)
		}
	}
	st.Probes = append(st.Probes, SavedProbe{Name: probe, Files: files})
	n := len(st.Probes) - 1
	ps.verdict = func(v string) error {
		s.man.Scenarios[si].Steps[step].Probes[n].Verdict = v
		return s.writeManifest()
	}
	if err := s.writeManifest(); err != nil {
		ps.close()
		return nil, err
	}
	return ps, nil
}

// finish records the run's end and verdict in the manifest.
func (s *saver) finish(doc report.Run) error {
	s.man.Finished = doc.Started.Add(doc.Duration)
	s.man.Verdict = doc.Verdict.String()
	if doc.Error != nil {
		s.man.Error = doc.Error.Message
	}
	return s.writeManifest()
}

// writeManifest replaces the manifest through a temporary file, so that
// the folder always holds a whole one.
func (s *saver) writeManifest() error {
	data, err := json.MarshalIndent(s.man, "", "  ")
	if err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	tmp := filepath.Join(s.dir, "."+ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, ManifestFile)); err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	return nil
}

// probeSaver writes one probe's records in every format asked for.
type probeSaver struct {
	attack      string // vegeta's attack name: scenario/step/probe
	method, url string
	files       []*os.File
	records     *loadgen.RecordWriter
	vbuf        *bufio.Writer
	vegeta      vegeta.Encoder
	verdict     func(string) error // sets the probe's verdict in the manifest
}

// write appends r to every file; it is a loadgen.OnRecord function.
func (p *probeSaver) write(r loadgen.Record) error {
	if p.records != nil {
		if err := p.records.Write(r); err != nil {
			return err
		}
	}
	if p.vegeta != nil {
		res := vegeta.Result{
			Attack: p.attack, Seq: r.Seq, Code: uint16(r.Status), Timestamp: r.Time, Latency: r.Latency,
			Error: r.Error, Method: p.method, URL: p.url,
		}
		if r.Body != "" {
			res.Body = []byte(r.Body)
		}
		if err := p.vegeta.Encode(&res); err != nil {
			return fmt.Errorf("write vegeta results: %w", err)
		}
	}
	return nil
}

// done closes the probe's files and sets its verdict in the manifest.
func (p *probeSaver) done(verdict string) error {
	return errors.Join(p.close(), p.verdict(verdict))
}

// close flushes and closes the files, returning the first error.
func (p *probeSaver) close() error {
	var errs []error
	if p.records != nil {
		errs = append(errs, p.records.Flush())
	}
	if p.vbuf != nil {
		if err := p.vbuf.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("write vegeta results: %w", err))
		}
	}
	for _, f := range p.files {
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("save: %w", err))
		}
	}
	return errors.Join(errs...)
}
