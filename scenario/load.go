package scenario

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxScenarioBytes bounds scenario.yaml.
const maxScenarioBytes = 1 << 20

// Load reads, decodes and validates the scenario in folder dir: its
// scenario.yaml and every manifest it names. Problems that make the scenario
// unusable are returned as an *Error naming file, line and field; problems
// that let it run but likely make it fail or show something unintended come
// back as warnings, each with its reason.
func Load(dir string) (*Scenario, []Warning, error) {
	file := filepath.Join(dir, FileName)
	data, err := readFile(file, maxScenarioBytes)
	if err != nil {
		return nil, nil, &Error{File: file, Msg: err.Error()}
	}
	s, refs, err := parse(file, data)
	if err != nil {
		return nil, nil, err
	}
	s.Dir = dir
	if err := loadManifests(s, refs); err != nil {
		return nil, nil, err
	}
	warnings, err := crossCheck(s, refs)
	if err != nil {
		return nil, nil, err
	}
	return s, warnings, nil
}

// parse decodes scenario.yaml (its text is data; file names it in errors)
// without reading manifests.
func parse(file string, data []byte) (*Scenario, *decoded, error) {
	r := &nodeReader{file: file, lines: map[string]int{}}
	if line, msg := checkText(data); line > 0 {
		return nil, nil, &Error{File: file, Line: line, Msg: msg}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &Error{File: file, Line: 1, Msg: "the file is empty: want a Scenario (apiVersion: " + APIVersion + ", kind: Scenario, metadata, spec)"}
		}
		line, msg := yamlLine(err)
		return nil, nil, &Error{File: file, Line: line, Msg: "not valid YAML: " + msg}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, &Error{File: file, Line: extra.Line, Msg: "a second YAML document: scenario.yaml holds one Scenario; put Kubernetes objects in manifest files"}
	} else if !errors.Is(err, io.EOF) {
		line, msg := yamlLine(err)
		return nil, nil, &Error{File: file, Line: line, Msg: "not valid YAML: " + msg}
	}
	d, err := r.decodeScenario(&doc)
	if err != nil {
		return nil, nil, err
	}
	d.s.File = file
	return d.s, d, nil
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
func loadManifests(s *Scenario, d *decoded) error {
	root, err := filepath.EvalSymlinks(s.Dir)
	if err != nil {
		return &Error{File: s.File, Msg: fmt.Sprintf("cannot resolve the scenario folder %s: %v", s.Dir, err)}
	}
	cache := map[string][]Object{}
	load := func(ref manifestRef) (Manifest, error) {
		if objs, ok := cache[ref.file]; ok {
			return Manifest{File: ref.file, Objects: objs}, nil
		}
		path := filepath.Join(s.Dir, filepath.FromSlash(ref.file))
		refErr := func(format string, args ...any) error {
			return &Error{File: s.File, Line: ref.node.Line, Field: ref.field, Msg: fmt.Sprintf(format, args...)}
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return Manifest{}, refErr("%s does not exist in the scenario folder %s", ref.file, s.Dir)
			}
			return Manifest{}, refErr("cannot read %s: %v", ref.file, err)
		}
		if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return Manifest{}, refErr("%s resolves outside the scenario folder (through a symbolic link): keep manifests inside %s", ref.file, s.Dir)
		}
		data, err := readFile(path, maxManifestBytes)
		if err != nil {
			return Manifest{}, refErr("%s: %v", ref.file, err)
		}
		objs, err := decodeManifest(path, data)
		if err != nil {
			return Manifest{}, err
		}
		cache[ref.file] = objs
		return Manifest{File: ref.file, Objects: objs}, nil
	}
	for i := range s.Steps {
		for _, ref := range d.apply[i] {
			m, err := load(ref)
			if err != nil {
				return err
			}
			s.Steps[i].Apply = append(s.Steps[i].Apply, m)
		}
		for _, ref := range d.delete[i] {
			m, err := load(ref)
			if err != nil {
				return err
			}
			s.Steps[i].Delete = append(s.Steps[i].Delete, m)
		}
	}
	return nil
}
