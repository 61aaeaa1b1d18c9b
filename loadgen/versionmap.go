package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/meshcheck/meshcheck/internal/versionname"
)

// maxVersionMapBytes bounds a version map file.
const maxVersionMapBytes = 4 << 20

// VersionMap turns raw classified values into versions: pod name -> version
// label, "Hello V1" -> v1. With a map, a raw value it does not hold is
// unclassified; without one, the raw value is the version when it is a valid
// version name.
type VersionMap map[string]string

// Validate checks that every key is non-empty and every value is a version
// name.
func (m VersionMap) Validate() error {
	for k, v := range m {
		if k == "" {
			return errors.New("version map: a key is empty: keys are the raw values the classifier reads")
		}
		if !versionname.Valid(v) {
			return fmt.Errorf("version map: %q -> %q: %s", k, v, versionname.Rule)
		}
	}
	return nil
}

// LoadVersionMap reads a version map file of at most 4 MiB: a JSON object
// of raw value -> version, such as {"echo-v1-7d9f": "v1"}. Errors start with
// path:line; keys may not repeat and values must be version names.
func LoadVersionMap(path string) (VersionMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("version map: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxVersionMapBytes+1))
	if err != nil {
		return nil, fmt.Errorf("version map %s: %w", path, err)
	}
	if len(data) > maxVersionMapBytes {
		return nil, fmt.Errorf("version map %s: larger than %d bytes", path, maxVersionMapBytes)
	}
	return parseVersionMap(path, data)
}

// parseVersionMap parses a JSON object of raw value -> version, such as
// {"echo-v1-7d9f": "v1", "echo-v2-5c8b": "v2"}. Errors start with
// name:line. Keys may not repeat and values must be version names.
func parseVersionMap(name string, data []byte) (VersionMap, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	at := func() string { return fmt.Sprintf("%s:%d", name, lineAt(data, dec.InputOffset())) }
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: not a JSON object of raw value -> version: %w", at(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s: want a JSON object of raw value -> version, like {\"echo-v1-7d9f\": \"v1\"}", at())
	}
	m := VersionMap{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at(), err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want a string key", at())
		}
		line := at()
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: value of %q: %w", line, key, err)
		}
		value, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: value of %q is not a string: want a version name such as \"v1\"", line, key)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("%s: key %q is given twice", line, key)
		}
		if key == "" {
			return nil, fmt.Errorf("%s: empty key: keys are the raw values the classifier reads", line)
		}
		if !versionname.Valid(value) {
			return nil, fmt.Errorf("%s: %q -> %q: %s", line, key, value, versionname.Rule)
		}
		m[key] = value
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%s: %w", at(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected data after the object", at())
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: the map is empty: give at least one raw value -> version", at())
	}
	return m, nil
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}
