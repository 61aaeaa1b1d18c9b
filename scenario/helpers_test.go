package scenario

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies the regular files under src into a new temporary folder
// named like src and returns its path.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}

// edit replaces the n-th (1-based) occurrence of old in file by new; n = 0
// replaces every occurrence. The test fails when old does not occur.
func edit(t *testing.T, file, old, new string, n int) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if n == 0 {
		s = strings.ReplaceAll(s, old, new)
	} else {
		at := -1
		for i := 0; i < n; i++ {
			next := strings.Index(s[at+1:], old)
			if next < 0 {
				t.Fatalf("%s has fewer than %d occurrences of %q", file, n, old)
			}
			at += 1 + next
		}
		s = s[:at] + new + s[at+len(old):]
	}
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineOf returns the 1-based line of the n-th (1-based) line of file that
// contains substr.
func lineOf(t *testing.T, file, substr string, n int) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, substr) {
			seen++
			if seen == n {
				return i + 1
			}
		}
	}
	t.Fatalf("%s has no line %d containing %q", file, n, substr)
	return 0
}

// wantError asserts that err is a *LoadError holding exactly one error, at
// file:line naming field, whose message contains every one of msgs: one
// mistake is reported once.
func wantError(t *testing.T, err error, file string, line int, field string, msgs ...string) {
	t.Helper()
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got error %v (%T), want a *scenario.LoadError", err, err)
	}
	if len(le.Errors) != 1 {
		t.Errorf("got %d errors, want 1:\n%v", len(le.Errors), err)
	}
	e := le.Errors[0]
	if e.Severity != SeverityError || e.File != file || e.Line != line || e.Field != field {
		t.Errorf("got %s %s:%d field %q, want an error at %s:%d field %q\n(%v)", e.Severity, e.File, e.Line, e.Field, file, line, field, e)
	}
	for _, m := range msgs {
		if !strings.Contains(e.Msg, m) {
			t.Errorf("message %q does not contain %q", e.Msg, m)
		}
	}
}

// writeScenario writes a scenario folder with the given files (path ->
// content) and returns it.
func writeScenario(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sc")
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// warningsContaining returns the warnings whose String contains substr.
func warningsContaining(ws []Diagnostic, substr string) []Diagnostic {
	var out []Diagnostic
	for _, w := range ws {
		if strings.Contains(w.String(), substr) {
			out = append(out, w)
		}
	}
	return out
}
