package scenario

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// nodeReader reads typed values out of a YAML node tree with strict rules,
// reporting every problem as an *Error naming file, line and field, and
// recording the line of every field it reads.
type nodeReader struct {
	file  string
	lines map[string]int
}

// errorf reports a problem with node n, the value of field. A mapping or
// list is reported at the line of its key, where the reader sees the field.
func (r *nodeReader) errorf(n *yaml.Node, field, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
		if keyLine, ok := r.lines[field]; ok && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
			line = keyLine
		}
	}
	return &Error{File: r.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// missingf reports that field sub of the mapping n (the value of field) is
// missing, at the line of field's key, or of the mapping for list items.
func (r *nodeReader) missingf(n *yaml.Node, field, sub, format string, args ...any) *Error {
	e := r.errorf(n, join(field, sub), format, args...)
	if keyLine, ok := r.lines[field]; ok {
		e.Line = keyLine
	}
	return e
}

// entry is one key/value pair of a mapping, in file order.
type entry struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// fields reads a mapping whose keys must be among allowed (in the order the
// documentation lists them). It rejects other node kinds, unknown and
// repeated keys, and returns the pairs by key.
func (r *nodeReader) fields(n *yaml.Node, field string, allowed ...string) (map[string]*yaml.Node, error) {
	entries, err := r.entries(n, field)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*yaml.Node, len(entries))
	for _, e := range entries {
		sub := join(field, e.key)
		if !contains(allowed, e.key) {
			msg := fmt.Sprintf("unknown field %q; allowed here: %s", e.key, strings.Join(allowed, ", "))
			if s := closest(e.key, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, r.errorf(e.keyN, sub, "%s", msg)
		}
		out[e.key] = e.value
		r.lines[sub] = e.keyN.Line
	}
	return out, nil
}

// entries reads a mapping's pairs in order; keys are plain strings and may
// not repeat. A null node is an empty mapping.
func (r *nodeReader) entries(n *yaml.Node, field string) ([]entry, error) {
	if err := r.plain(n, field); err != nil {
		return nil, err
	}
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, r.errorf(n, field, "want a mapping of field: value pairs, not %s", describe(n))
	}
	seen := map[string]int{}
	out := make([]entry, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := r.plain(k, field); err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			return nil, r.errorf(k, field, "want a plain key, not %s", describe(k))
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			return nil, r.errorf(k, field, "merge keys (<<) are not supported: write the fields out")
		}
		if first, dup := seen[k.Value]; dup {
			return nil, r.errorf(k, join(field, k.Value), "given twice (first on line %d): give each field once", first)
		}
		seen[k.Value] = k.Line
		out = append(out, entry{key: k.Value, keyN: k, value: v})
	}
	return out, nil
}

// list reads a sequence; a null node is an empty list.
func (r *nodeReader) list(n *yaml.Node, field string) ([]*yaml.Node, error) {
	if err := r.plain(n, field); err != nil {
		return nil, err
	}
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, r.errorf(n, field, "want a list, not %s", describe(n))
	}
	return n.Content, nil
}

// plain rejects anchors, aliases and custom tags, which scenario files do
// not need and which would let a small file expand into a huge tree.
func (r *nodeReader) plain(n *yaml.Node, field string) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return r.errorf(n, field, "anchors and aliases (&x, *x) are not supported: write the value out")
	}
	if n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
		return r.errorf(n, field, "custom tag %s is not supported: remove it", n.Tag)
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// scalar returns a scalar node's text, rejecting other kinds and null.
func (r *nodeReader) scalar(n *yaml.Node, field, want string) (string, error) {
	if err := r.plain(n, field); err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", r.errorf(n, field, "want %s, not %s", want, describe(n))
	}
	return n.Value, nil
}

// str reads a string; numbers and booleans written without quotes are taken
// as their text.
func (r *nodeReader) str(n *yaml.Node, field string) (string, error) {
	return r.scalar(n, field, "a string")
}

// boolean reads true or false.
func (r *nodeReader) boolean(n *yaml.Node, field string) (bool, error) {
	s, err := r.scalar(n, field, "true or false")
	if err != nil {
		return false, err
	}
	if n.Tag != "!!bool" {
		return false, r.errorf(n, field, "%q: want true or false", s)
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, r.errorf(n, field, "%q: want true or false", s)
	}
	return b, nil
}

// integer reads a whole number in [lo, hi].
func (r *nodeReader) integer(n *yaml.Node, field string, lo, hi int) (int, error) {
	s, err := r.scalar(n, field, "a whole number")
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseInt(s, 0, 64)
	if n.Tag != "!!int" || perr != nil {
		return 0, r.errorf(n, field, "%q: want a whole number from %d to %d", s, lo, hi)
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, r.errorf(n, field, "%d: want a whole number from %d to %d", v, lo, hi)
	}
	return int(v), nil
}

// number reads a finite decimal number.
func (r *nodeReader) number(n *yaml.Node, field, allowed string) (float64, error) {
	s, err := r.scalar(n, field, "a number")
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseFloat(s, 64)
	if (n.Tag != "!!float" && n.Tag != "!!int") || perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, r.errorf(n, field, "%q: want a number %s", s, allowed)
	}
	return v, nil
}

// duration reads a Go duration such as "120s" or "2m", greater than 0 and
// at most hi.
func (r *nodeReader) duration(n *yaml.Node, field string, hi time.Duration) (time.Duration, error) {
	s, err := r.scalar(n, field, "a duration such as 120s or 2m")
	if err != nil {
		return 0, err
	}
	d, perr := time.ParseDuration(s)
	if perr != nil || n.Tag != "!!str" {
		return 0, r.errorf(n, field, "%q: want a duration with a unit, such as 90s or 2m (units: ms, s, m, h)", s)
	}
	if d <= 0 || d > hi {
		return 0, r.errorf(n, field, "%s: want a duration above 0 and at most %s", s, hi)
	}
	return d, nil
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!null":
		return "an empty value"
	case "!!bool":
		return "the boolean " + n.Value
	case "!!int", "!!float":
		return "the number " + n.Value
	}
	return fmt.Sprintf("the string %q", n.Value)
}

// join appends a key to a field path.
func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// index appends a list index to a field path.
func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closest returns the allowed name nearest to s when it is close enough to
// be a likely misspelling (edit distance at most 2, or equal ignoring case).
func closest(s string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if strings.EqualFold(a, s) {
			return a
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// yamlLine extracts the line number from a go.yaml.in/yaml/v3 error
// ("yaml: line 7: mapping values are not allowed in this context") and the
// message without its prefix. The parser leaves the line out when its mark
// is on the first line (it prints only non-zero 0-based marks), so an error
// without one is on line 1; errors without a mark at all (invalid encoding,
// control characters) are caught by checkText first.
func yamlLine(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	line = 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(msg, m[0])
	}
	return max(line, 1), msg
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): `)

// checkText finds the first character YAML does not allow in a document
// (invalid UTF-8, or a control character other than tab, line feed and
// carriage return; YAML 1.2 section 5.1) and returns its 1-based line and a
// message, or 0 and "" when the text is clean. The YAML parser reports such
// characters without a line.
func checkText(data []byte) (int, string) {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, fmt.Sprintf("byte 0x%02x is not valid UTF-8: save the file as UTF-8", data[i])
		case r == '\n':
			line++
		case r == '\t' || r == '\r':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0 && r != 0x85) || r == 0xfffe || r == 0xffff || (r >= 0xd800 && r <= 0xdfff):
			return line, fmt.Sprintf("control character %U is not allowed in YAML: remove it", r)
		}
		i += size
	}
	return 0, ""
}
