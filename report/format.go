package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Format is a rendering of a Run.
type Format string

// The formats.
const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatJUnit    Format = "junit"
	FormatMarkdown Format = "markdown"
	FormatHTML     Format = "html"
)

// Formats lists every format, in the order help texts name them.
var Formats = []Format{FormatText, FormatJSON, FormatJUnit, FormatMarkdown, FormatHTML}

// formatNames is "text, json, junit, markdown or html".
func formatNames() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseFormat reads a format's name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if s == string(f) {
			return f, nil
		}
	}
	return "", fmt.Errorf("format %q: want %s", s, formatNames())
}

// extensions maps a file's extension to the format it holds.
var extensions = map[string]Format{".txt": FormatText, ".json": FormatJSON, ".xml": FormatJUnit, ".md": FormatMarkdown,
	".html": FormatHTML, ".htm": FormatHTML}

// FormatOf returns the format a report file's name implies: .txt text,
// .json json, .xml junit, .md markdown, .html (or .htm) html.
func FormatOf(path string) (Format, error) {
	if f, ok := extensions[strings.ToLower(filepath.Ext(path))]; ok {
		return f, nil
	}
	return "", fmt.Errorf("report file %q: its extension names no format (.txt, .json, .xml for JUnit, .md, .html); name one with --report-format", path)
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r Run) error {
	switch f {
	case FormatText:
		return WriteText(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatJUnit:
		return WriteJUnit(w, r)
	case FormatMarkdown:
		return WriteMarkdown(w, r)
	case FormatHTML:
		return WriteHTML(w, r)
	}
	return fmt.Errorf("format %q: want %s", f, formatNames())
}

// WriteFile writes r in format f to the file path (mode 0644), replacing
// what it held.
func WriteFile(path string, f Format, r Run) error {
	return writeTo(path, os.O_TRUNC, f, r)
}

// AppendFile appends r in format f to the file path, creating it (mode
// 0644) when missing and never truncating it: what $GITHUB_STEP_SUMMARY
// asks for.
func AppendFile(path string, f Format, r Run) error {
	return writeTo(path, os.O_APPEND, f, r)
}

func writeTo(path string, mode int, f Format, r Run) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|mode, 0o644)
	if err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	err = Write(file, f, r)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report file %s: %w", path, err)
	}
	return nil
}
