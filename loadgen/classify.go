package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"golang.org/x/net/http/httpguts"
)

// maxSpecLen bounds a classifier spec; longer specs are rejected.
const maxSpecLen = 1024

// classifierKind says what a Classifier reads.
type classifierKind int

const (
	kindNone classifierKind = iota
	kindJSON
	kindRegex
	kindHeader
	kindStatus
)

// Classifier reads the raw value that names a response's version: a field of
// a JSON body, a regular expression's capture on the body, a header, or the
// status code. The zero Classifier reads nothing; it serves status
// expectations, which need no version. Make one with ParseClassifier.
type Classifier struct {
	kind   classifierKind
	spec   string
	path   []string       // json: the segments
	gpath  []string       // json: gjson paths of the first 1, 2, ... segments, escaped
	re     *regexp.Regexp // regex
	header string         // header, canonical
}

// ParseClassifier parses a classifier spec:
//
//	json:<dotted.path>   a field of a JSON body, e.g. json:os.hostname;
//	                     segments of digits index arrays (json:items.0.name);
//	                     every other character is literal (no wildcards)
//	regex:<expr>         the one capture group of an RE2 expression on the
//	                     body, e.g. regex:Hello (V[0-9]+)
//	header:<name>        a response header, e.g. header:x-version
//	status               the status code, e.g. "200"
func ParseClassifier(spec string) (Classifier, error) {
	if len(spec) > maxSpecLen {
		return Classifier{}, fmt.Errorf("classifier is %d bytes long: the limit is %d", len(spec), maxSpecLen)
	}
	if !utf8.ValidString(spec) {
		return Classifier{}, fmt.Errorf("classifier %q is not valid UTF-8", spec)
	}
	kind, arg, hasArg := strings.Cut(spec, ":")
	switch {
	case kind == "status" && !hasArg:
		return Classifier{kind: kindStatus, spec: spec}, nil
	case kind == "json" && hasArg:
		path, err := parseJSONPath(arg)
		if err != nil {
			return Classifier{}, fmt.Errorf("classifier %q: %w", spec, err)
		}
		gpath := make([]string, len(path))
		var b strings.Builder
		for i, seg := range path {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(gjson.Escape(seg))
			gpath[i] = b.String()
		}
		return Classifier{kind: kindJSON, spec: spec, path: path, gpath: gpath}, nil
	case kind == "regex" && hasArg:
		if arg == "" {
			return Classifier{}, fmt.Errorf("classifier %q: give an expression with one capture group after regex:, e.g. regex:Hello (V[0-9]+)", spec)
		}
		re, err := regexp.Compile(arg)
		if err != nil {
			return Classifier{}, fmt.Errorf("classifier %q: %w", spec, err)
		}
		if n := re.NumSubexp(); n != 1 {
			return Classifier{}, fmt.Errorf("classifier %q has %d capture groups: write exactly one, e.g. regex:Hello (V[0-9]+), and (?:...) for any other group", spec, n)
		}
		return Classifier{kind: kindRegex, spec: spec, re: re}, nil
	case kind == "header" && hasArg:
		if !httpguts.ValidHeaderFieldName(arg) {
			return Classifier{}, fmt.Errorf("classifier %q: %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", spec, arg)
		}
		return Classifier{kind: kindHeader, spec: spec, header: http.CanonicalHeaderKey(arg)}, nil
	}
	return Classifier{}, fmt.Errorf("classifier %q: want json:<dotted.path>, regex:<expr with one capture group>, header:<name> or status", spec)
}

func parseJSONPath(arg string) ([]string, error) {
	if arg == "" {
		return nil, errors.New("give a dotted path after json:, e.g. json:os.hostname")
	}
	path := strings.Split(arg, ".")
	for i, seg := range path {
		if seg == "" {
			return nil, fmt.Errorf("path %q has an empty segment %d: write names separated by single dots, e.g. os.hostname", arg, i+1)
		}
	}
	return path, nil
}

// String returns the spec the Classifier was parsed from ("" for the zero
// Classifier).
func (c Classifier) String() string { return c.spec }

// IsZero reports whether c is the zero Classifier, which reads nothing.
func (c Classifier) IsZero() bool { return c.kind == kindNone }

// classify returns the raw value a response carries, or why it carries none.
// The body may be truncated to the probe's body limit.
func (c Classifier) classify(status int, header http.Header, body []byte) (string, error) {
	switch c.kind {
	case kindStatus:
		return strconv.Itoa(status), nil
	case kindHeader:
		v := header.Get(c.header)
		if v == "" {
			return "", fmt.Errorf("no %s header", c.header)
		}
		return v, nil
	case kindRegex:
		m := c.re.FindSubmatch(body)
		if m == nil {
			return "", fmt.Errorf("body does not match %s", c.re)
		}
		if len(m[1]) == 0 {
			return "", fmt.Errorf("the capture group of %s matched nothing", c.re)
		}
		return string(m[1]), nil
	case kindJSON:
		return c.jsonPath(body)
	}
	return "", errors.New("no classifier configured")
}

// jsonPath reads the scalar at a dotted path of a JSON document with
// github.com/tidwall/gjson, which reads only as far as the value: values off
// the path are skipped, and a body cut at the read limit after the value
// still classifies. The first of repeated keys counts. The value itself is
// checked strictly (a string, number or boolean, as JSON writes it); a miss
// is explained segment by segment.
func (c Classifier) jsonPath(doc []byte) (string, error) {
	if !startsContainer(doc) {
		if len(bytes.TrimLeft(doc, " \t\r\n")) == 0 {
			return "", fmt.Errorf("JSON path %s: the body is empty or cut short", c.dotted())
		}
		return "", fmt.Errorf("JSON path %s: the body is not an object or an array", c.dotted())
	}
	r := gjson.GetBytes(doc, c.gpath[len(c.gpath)-1])
	if !r.Exists() {
		return "", c.jsonMiss(doc)
	}
	raw := rawBytes(doc, r)
	switch r.Type {
	case gjson.String:
		v := r.Str
		if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
			// Escapes and invalid UTF-8 decode as encoding/json decodes
			// them (U+FFFD for what is not UTF-8).
			var decoded string
			if err := json.Unmarshal(raw, &decoded); err != nil {
				return "", fmt.Errorf("JSON path %s: invalid string", c.dotted())
			}
			v = decoded
		} else if !plainString(raw) {
			return "", fmt.Errorf("JSON path %s: invalid string", c.dotted())
		}
		if v == "" {
			return "", fmt.Errorf("JSON path %s is an empty string", c.dotted())
		}
		return v, nil
	case gjson.Null:
		if string(raw) == "null" {
			return "", fmt.Errorf("JSON path %s is null", c.dotted())
		}
	case gjson.JSON:
		return "", fmt.Errorf("JSON path %s is an object or array, not a value", c.dotted())
	}
	if !json.Valid(raw) {
		return "", fmt.Errorf("JSON path %s: invalid value %q", c.dotted(), truncate(r.Raw, 40))
	}
	return r.Raw, nil // a number or a boolean, as written
}

// plainString reports whether raw, valid UTF-8 without a backslash, is a
// complete JSON string: quoted at both ends (a body cut inside the value
// leaves it open) and free of control characters.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, b := range raw[1 : len(raw)-1] {
		if b < 0x20 || b == '"' {
			return false
		}
	}
	return true
}

// startsContainer reports whether doc's first non-space byte opens an object
// or an array.
func startsContainer(doc []byte) bool {
	for _, b := range doc {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// rawBytes returns r's raw text as a slice of doc, without a copy when gjson
// knows where it lies.
func rawBytes(doc []byte, r gjson.Result) []byte {
	if r.Index > 0 && r.Index+len(r.Raw) <= len(doc) {
		return doc[r.Index : r.Index+len(r.Raw)]
	}
	return []byte(r.Raw)
}

// dotted is the path as the spec wrote it.
func (c Classifier) dotted() string { return c.spec[len("json:"):] }

// jsonMiss explains why the path holds no value: the first segment whose
// parent lacks it, and why.
func (c Classifier) jsonMiss(doc []byte) error {
	parent := gjson.ParseBytes(doc)
	for i, seg := range c.path {
		where := "the body"
		if i > 0 {
			where = strings.Join(c.path[:i], ".")
			parent = gjson.GetBytes(doc, c.gpath[i-1])
		}
		if i == len(c.path)-1 || !gjson.GetBytes(doc, c.gpath[i]).Exists() {
			return c.missAt(parent, where, seg)
		}
	}
	return fmt.Errorf("JSON path %s: no value", c.dotted())
}

// missAt explains why parent (named where) has no value at seg.
func (c Classifier) missAt(parent gjson.Result, where, seg string) error {
	switch {
	case !parent.Exists() || parent.Raw == "":
		return fmt.Errorf("JSON path %s: %s is empty or cut short", c.dotted(), where)
	case !parent.IsObject() && !parent.IsArray():
		return fmt.Errorf("JSON path %s: %s is not an object or an array", c.dotted(), where)
	case !gjson.Valid(parent.Raw):
		return fmt.Errorf("JSON path %s: %s is not valid JSON (or cut short)", c.dotted(), where)
	case parent.IsObject():
		return fmt.Errorf("JSON path %s: %s has no field %q", c.dotted(), where, seg)
	}
	idx, err := strconv.Atoi(seg)
	if err != nil || idx < 0 || !allDigits(seg) {
		return fmt.Errorf("JSON path %s: %s is an array, and %q is not an index", c.dotted(), where, seg)
	}
	return fmt.Errorf("JSON path %s: %s has %d elements, no index %d", c.dotted(), where, len(parent.Array()), idx)
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
