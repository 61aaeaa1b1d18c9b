package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

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
	path   []string       // json
	re     *regexp.Regexp // regex
	header string         // header, canonical
}

// ParseClassifier parses a classifier spec:
//
//	json:<dotted.path>   a field of a JSON body, e.g. json:os.hostname;
//	                     numeric segments index arrays (json:items.0.name)
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
		return Classifier{kind: kindJSON, spec: spec, path: path}, nil
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

// MarshalText writes the spec.
func (c Classifier) MarshalText() ([]byte, error) { return []byte(c.spec), nil }

// UnmarshalText parses a spec written by MarshalText; an empty spec gives the
// zero Classifier.
func (c *Classifier) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*c = Classifier{}
		return nil
	}
	parsed, err := ParseClassifier(string(b))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// Classify returns the raw value a response carries, or why it carries none.
// The body may be truncated to the probe's body limit.
func (c Classifier) Classify(status int, header http.Header, body []byte) (string, error) {
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
		return jsonPath(body, c.path)
	}
	return "", errors.New("no classifier configured")
}

// jsonPath reads the scalar at path in a JSON document. It walks the bytes
// without decoding: values off the path are skipped by their brackets and
// strings, and the document is checked only as far as the walk goes, so a
// body cut at the read limit after the value still classifies.
func jsonPath(doc []byte, path []string) (string, error) {
	s := jsonScanner{b: doc}
	full := func() string { return strings.Join(path, ".") }
	for i, seg := range path {
		where := func() string {
			if i == 0 {
				return "the body"
			}
			return strings.Join(path[:i], ".")
		}
		s.space()
		if s.i >= len(s.b) {
			return "", fmt.Errorf("JSON path %s: %s is empty or cut short", full(), where())
		}
		switch s.b[s.i] {
		case '{':
			found, err := s.findKey(seg)
			if err != nil {
				return "", fmt.Errorf("JSON path %s: %s is not valid JSON: %w", full(), where(), err)
			}
			if !found {
				return "", fmt.Errorf("JSON path %s: %s has no field %q", full(), where(), seg)
			}
		case '[':
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 {
				return "", fmt.Errorf("JSON path %s: %s is an array, and %q is not an index", full(), where(), seg)
			}
			n, err := s.findIndex(idx)
			if err != nil {
				return "", fmt.Errorf("JSON path %s: %s is not valid JSON: %w", full(), where(), err)
			}
			if n <= idx {
				return "", fmt.Errorf("JSON path %s: %s has %d elements, no index %d", full(), where(), n, idx)
			}
		default:
			return "", fmt.Errorf("JSON path %s: %s is not an object or an array", full(), where())
		}
	}
	return s.scalar(full)
}

// jsonScanner walks a JSON document.
type jsonScanner struct {
	b []byte
	i int
}

var errJSONSyntax = errors.New("syntax error")

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips space and one expected byte.
func (s *jsonScanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str scans the string at s.i and returns it with its quotes, and whether it
// holds escapes.
func (s *jsonScanner) str() (tok []byte, escaped bool, err error) {
	start := s.i
	s.i++
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\\':
			escaped = true
			s.i += 2
			continue
		case c == '"':
			s.i++
			return s.b[start:s.i], escaped, nil
		case c < 0x20:
			return nil, false, errJSONSyntax
		}
		s.i++
	}
	return nil, false, errJSONSyntax
}

// skip passes over one value.
func (s *jsonScanner) skip() error {
	s.space()
	if s.i >= len(s.b) {
		return errJSONSyntax
	}
	switch s.b[s.i] {
	case '"':
		_, _, err := s.str()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, err := s.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errJSONSyntax
	}
	start := s.i
	for s.i < len(s.b) && !jsonDelimiter(s.b[s.i]) {
		s.i++
	}
	if s.i == start {
		return errJSONSyntax
	}
	return nil
}

func jsonDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// findKey moves from an object's '{' to the value of key.
func (s *jsonScanner) findKey(key string) (bool, error) {
	s.i++
	if s.consume('}') {
		return false, nil
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false, errJSONSyntax
		}
		tok, escaped, err := s.str()
		if err != nil {
			return false, err
		}
		if !s.consume(':') {
			return false, errJSONSyntax
		}
		if jsonKeyIs(tok, escaped, key) {
			return true, nil
		}
		if err := s.skip(); err != nil {
			return false, err
		}
		switch {
		case s.consume(','):
		case s.consume('}'):
			return false, nil
		default:
			return false, errJSONSyntax
		}
	}
}

func jsonKeyIs(tok []byte, escaped bool, key string) bool {
	if !escaped {
		return string(tok[1:len(tok)-1]) == key
	}
	var k string
	return json.Unmarshal(tok, &k) == nil && k == key
}

// findIndex moves from an array's '[' to element idx, returning how many
// elements it saw (idx+1 when found).
func (s *jsonScanner) findIndex(idx int) (int, error) {
	s.i++
	if s.consume(']') {
		return 0, nil
	}
	for n := 0; ; n++ {
		if n == idx {
			return n + 1, nil
		}
		if err := s.skip(); err != nil {
			return n, err
		}
		switch {
		case s.consume(','):
		case s.consume(']'):
			return n + 1, nil
		default:
			return n, errJSONSyntax
		}
	}
}

// scalar reads the value at s.i: a string, a number or a boolean.
func (s *jsonScanner) scalar(pathText func() string) (string, error) {
	s.space()
	if s.i >= len(s.b) {
		return "", fmt.Errorf("JSON path %s: the body is cut short", pathText())
	}
	switch s.b[s.i] {
	case '"':
		tok, escaped, err := s.str()
		if err != nil {
			return "", fmt.Errorf("JSON path %s: invalid string", pathText())
		}
		v := string(tok[1 : len(tok)-1])
		if escaped || !utf8.ValidString(v) {
			if err := json.Unmarshal(tok, &v); err != nil {
				return "", fmt.Errorf("JSON path %s: invalid string: %w", pathText(), err)
			}
		}
		if v == "" {
			return "", fmt.Errorf("JSON path %s is an empty string", pathText())
		}
		return v, nil
	case '{', '[':
		return "", fmt.Errorf("JSON path %s is an object or array, not a value", pathText())
	}
	start := s.i
	if err := s.skip(); err != nil {
		return "", fmt.Errorf("JSON path %s: invalid value", pathText())
	}
	tok := s.b[start:s.i]
	switch {
	case string(tok) == "null":
		return "", fmt.Errorf("JSON path %s is null", pathText())
	case !json.Valid(tok):
		return "", fmt.Errorf("JSON path %s: invalid value %q", pathText(), truncate(string(tok), 40))
	}
	return string(tok), nil // a number or a boolean, as written
}
