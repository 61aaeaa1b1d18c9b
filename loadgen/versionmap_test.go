package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersionMap(t *testing.T) {
	m, err := parseVersionMap("pods.json", []byte("{\n  \"echo-v1-abc\": \"v1\",\n  \"Hello V2\": \"v2\"\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["echo-v1-abc"] != "v1" || m["Hello V2"] != "v2" {
		t.Fatalf("map = %v", m)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "pods.json:1: not a JSON object"},
		{"[]", "pods.json:1: want a JSON object"},
		{"{}", "the map is empty"},
		{"{\n\"a\": \"v1\",\n\"a\": \"v2\"}", `pods.json:3: key "a" is given twice`},
		{"{\n\"a\": 1}", `pods.json:2: value of "a" is not a string`},
		{"{\"a\": {\"b\": \"v1\"}}", "is not a string"},
		{"{\n\n\"a\": \"not a version\"}", `pods.json:3: "a" -> "not a version"`},
		{"{\"\": \"v1\"}", "empty key"},
		{"{\"a\": \"v1\"} {}", "unexpected data after the object"},
		{"{\"a\": \"v1\"", "pods.json:1"},
	} {
		_, err := parseVersionMap("pods.json", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseVersionMap(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestLoadVersionMap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pods.json")
	if err := os.WriteFile(path, []byte(`{"p1": "v1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadVersionMap(path)
	if err != nil || m["p1"] != "v1" {
		t.Fatalf("LoadVersionMap = %v, %v", m, err)
	}
	if _, err := LoadVersionMap(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzParseVersionMap(f *testing.F) {
	for _, s := range []string{`{"a":"v1"}`, `{"a":"v1","a":"v2"}`, `{"a":1}`, `[]`, `{}`, `{"a":"v1"} x`, "{\n\"p\":\"v-2\"\n}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseVersionMap("f.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		if len(m) == 0 {
			t.Fatal("empty map accepted")
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted map fails Validate: %v", err)
		}
	})
}
