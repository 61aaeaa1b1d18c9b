package scenario

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxScenarioBytes bounds scenario.yaml.
const maxScenarioBytes = 1 << 20

// Load reads, decodes and validates the scenario in folder dir (a path to
// its scenario.yaml is taken as its folder): its scenario.yaml and every
// manifest it names. It returns the warnings, problems that let the
// scenario run but likely make it fail or show something unintended, each
// with its reason; and, when the scenario is unusable or sure to fail, a
// *LoadError holding every error found, each naming file, line and field.
func Load(dir string) (*Scenario, []Diagnostic, error) {
	ds := &diagnostics{}
	s := load(dir, ds)
	warnings, err := ds.split()
	if err != nil {
		return nil, warnings, err
	}
	return s, warnings, nil
}

func load(dir string, ds *diagnostics) *Scenario {
	dir, file, problem := locate(dir)
	if problem != "" {
		ds.add(Diagnostic{Severity: SeverityError, File: file, Msg: problem})
		return nil
	}
	data, err := readFile(file, maxScenarioBytes)
	if err != nil {
		ds.add(Diagnostic{Severity: SeverityError, File: file, Msg: err.Error()})
		return nil
	}
	d := parse(file, data, ds)
	if d == nil {
		return nil
	}
	d.s.Dir = dir
	loadManifests(d, ds)
	if ds.failed() {
		return nil
	}
	crossCheck(d.s, d, ds)
	return d.s
}

// locate finds the scenario folder and file a path given by the user
// names: a scenario folder, or its scenario.yaml. For any other path it
// says what is wrong, naming scenario folders that would work.
func locate(given string) (dir, file, problem string) {
	file = filepath.Join(given, FileName)
	info, err := os.Stat(given)
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		msg := fmt.Sprintf("does not exist: give a scenario folder (one holding %s)", FileName)
		if hint := scenarioFolders(filepath.Dir(given)); hint != "" {
			msg += "; " + filepath.Dir(given) + " " + hint
		}
		return given, given, msg
	case err != nil:
		return given, given, fmt.Sprintf("cannot read: %v", err)
	case !info.IsDir() && filepath.Base(given) == FileName:
		return filepath.Dir(given), given, ""
	case !info.IsDir():
		return given, given, fmt.Sprintf("a file, not a scenario folder: give the folder that holds %s", FileName)
	}
	if _, err := os.Stat(file); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return given, file, ""
	}
	if hint := scenarioFolders(given); hint != "" {
		return given, given, fmt.Sprintf("not a scenario folder (it has no %s), but it %s", FileName, hint)
	}
	return given, given, fmt.Sprintf("not a scenario folder: it has no %s (a scenario folder holds %s and the manifests it names)", FileName, FileName)
}

// scenarioFolders says which sub-folders of dir are scenario folders
// ("holds scenario folders: give one of scenarios/echo, scenarios/hello"),
// or "" when none is.
func scenarioFolders(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var found []string
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if info, err := os.Stat(filepath.Join(sub, FileName)); err == nil && info.Mode().IsRegular() {
			found = append(found, sub)
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	return "holds scenario folders: give one of " + strings.Join(found, ", ")
}

// readFile reads a regular file of at most limit bytes.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no such file")
		}
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// loadManifests reads and decodes every manifest the steps name. A file
// named by several steps is decoded once.
func loadManifests(d *decoded, ds *diagnostics) {
	s := d.s
	root, err := filepath.EvalSymlinks(s.Dir)
	if err != nil {
		ds.add(Diagnostic{Severity: SeverityError, File: s.File, Msg: fmt.Sprintf("cannot resolve the scenario folder %s: %v", s.Dir, err)})
		return
	}
	cache := map[string][]Object{}
	failed := map[string]bool{}
	load := func(ref manifestRef) (Manifest, bool) {
		if objs, ok := cache[ref.file]; ok {
			return Manifest{File: ref.file, Objects: objs}, true
		}
		if failed[ref.file] {
			return Manifest{}, false
		}
		failed[ref.file] = true
		path := filepath.Join(s.Dir, filepath.FromSlash(ref.file))
		refErr := func(format string, args ...any) (Manifest, bool) {
			ds.add(Diagnostic{Severity: SeverityError, File: s.File, Line: ref.line, Field: ref.field, Msg: fmt.Sprintf(format, args...)})
			return Manifest{}, false
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return refErr("%s does not exist in the scenario folder %s", ref.file, s.Dir)
			}
			return refErr("cannot read %s: %v", ref.file, err)
		}
		if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return refErr("%s resolves outside the scenario folder (through a symbolic link): keep manifests inside %s", ref.file, s.Dir)
		}
		data, err := readFile(path, maxManifestBytes)
		if err != nil {
			return refErr("%s: %v", ref.file, err)
		}
		objs, problems := decodeManifest(path, data)
		for _, p := range problems {
			ds.add(p)
		}
		if len(problems) > 0 {
			return Manifest{}, false
		}
		delete(failed, ref.file)
		cache[ref.file] = objs
		return Manifest{File: ref.file, Objects: objs}, true
	}
	for i := range s.Steps {
		for _, ref := range d.apply[i] {
			if m, ok := load(ref); ok {
				s.Steps[i].Apply = append(s.Steps[i].Apply, m)
			}
		}
		for _, ref := range d.delete[i] {
			if m, ok := load(ref); ok {
				s.Steps[i].Delete = append(s.Steps[i].Delete, m)
			}
		}
	}
}
