package loadgen

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"golang.org/x/net/http/httpguts"
)

// Where a HeaderCheck reads headers.
const (
	// HeadersInResponse reads the response's own headers.
	HeadersInResponse = "response"
	// headersInBodyPrefix starts "body:<json path>": the headers are the
	// members of the JSON object at that path of the body, as an echo
	// server writes the request headers it received (the echo fixture's
	// "headers").
	headersInBodyPrefix = "body:"
)

// maxCheckPatternLen bounds a HeaderCheck's regular expression.
const maxCheckPatternLen = 1024

// HeaderCheckSpec is what a HeaderCheck tests, in the form scenarios and
// the agent protocol write it.
type HeaderCheckSpec struct {
	// In is where the headers are read: "response" (the response headers)
	// or "body:<json path>" (the JSON object at that dotted path of the
	// body, keyed by header name, such as the headers an echo server saw).
	In string `json:"in"`
	// Present names headers that must be there (with any value).
	Present []string `json:"present,omitempty"`
	// Match maps header names to RE2 expressions their value must match
	// (anywhere in the value: anchor with ^ and $ for the whole).
	Match map[string]string `json:"match,omitempty"`
}

// HeaderCheck tests each response's headers: it is met when every Present
// header is there and every Match header's value matches its expression.
// The zero HeaderCheck tests nothing. Make one with NewHeaderCheck.
type HeaderCheck struct {
	spec    HeaderCheckSpec
	body    Classifier // for body:<path>: the JSON path to the headers object
	present []string   // lower-case names
	match   []headerMatch
}

type headerMatch struct {
	name string // lower case
	re   *regexp.Regexp
}

// NewHeaderCheck validates spec and compiles it. Header names are HTTP
// tokens (compared without regard to case); expressions are RE2; at least
// one condition is given.
func NewHeaderCheck(spec HeaderCheckSpec) (HeaderCheck, error) {
	c := HeaderCheck{spec: spec}
	switch {
	case spec.In == HeadersInResponse:
	case strings.HasPrefix(spec.In, headersInBodyPrefix):
		cl, err := ParseClassifier("json:" + strings.TrimPrefix(spec.In, headersInBodyPrefix))
		if err != nil {
			return HeaderCheck{}, fmt.Errorf("headers in %q: %w", spec.In, err)
		}
		c.body = cl
	default:
		return HeaderCheck{}, fmt.Errorf("headers in %q: want response (the response headers) or body:<json path> (headers echoed in the body, e.g. body:headers)", spec.In)
	}
	if len(spec.Present) == 0 && len(spec.Match) == 0 {
		return HeaderCheck{}, errors.New("headers: give present (names) or match (name: regex), or both")
	}
	seen := map[string]bool{}
	for _, n := range spec.Present {
		if !httpguts.ValidHeaderFieldName(n) {
			return HeaderCheck{}, fmt.Errorf("headers present %q: not a header name (letters, digits and !#$%%&'*+-.^_`|~)", n)
		}
		l := strings.ToLower(n)
		if seen[l] {
			return HeaderCheck{}, fmt.Errorf("headers present %q: given twice", n)
		}
		seen[l] = true
		c.present = append(c.present, l)
	}
	for _, n := range slices.Sorted(maps.Keys(spec.Match)) {
		if !httpguts.ValidHeaderFieldName(n) {
			return HeaderCheck{}, fmt.Errorf("headers match %q: not a header name (letters, digits and !#$%%&'*+-.^_`|~)", n)
		}
		expr := spec.Match[n]
		if len(expr) > maxCheckPatternLen {
			return HeaderCheck{}, fmt.Errorf("headers match %s: the expression is %d bytes long, the limit is %d", n, len(expr), maxCheckPatternLen)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return HeaderCheck{}, fmt.Errorf("headers match %s: %q is not an RE2 expression: %w", n, expr, err)
		}
		c.match = append(c.match, headerMatch{name: strings.ToLower(n), re: re})
	}
	return c, nil
}

// IsZero reports whether c tests nothing.
func (c HeaderCheck) IsZero() bool { return c.spec.In == "" }

// Spec returns what c was made from.
func (c HeaderCheck) Spec() HeaderCheckSpec { return c.spec }

// String describes c in words (HeaderCheckSpec.String).
func (c HeaderCheck) String() string { return c.spec.String() }

// String describes the check in words: "headers x-b3-traceid present,
// x-forwarded-client-cert ~ /URI=.../ (in body:headers)"; "" when it has
// no In.
func (s HeaderCheckSpec) String() string {
	if s.In == "" {
		return ""
	}
	var parts []string
	for _, n := range s.Present {
		parts = append(parts, strings.ToLower(n)+" present")
	}
	for _, n := range slices.Sorted(maps.Keys(s.Match)) {
		parts = append(parts, fmt.Sprintf("%s ~ /%s/", strings.ToLower(n), s.Match[n]))
	}
	return "headers " + strings.Join(parts, ", ") + " (in " + s.In + ")"
}

// unmet returns "" when the response meets c, else the first condition it
// fails, with the value seen. The body may be cut at the probe's limit.
func (c HeaderCheck) unmet(status int, header http.Header, body []byte) string {
	get, err := c.headers(status, header, body)
	if err != nil {
		return err.Error()
	}
	for _, n := range c.present {
		if _, ok := get(n); !ok {
			return fmt.Sprintf("header %s absent (in %s)", n, c.spec.In)
		}
	}
	for _, m := range c.match {
		v, ok := get(m.name)
		switch {
		case !ok:
			return fmt.Sprintf("header %s absent (in %s), want a value matching /%s/", m.name, c.spec.In, m.re)
		case !m.re.MatchString(v):
			return fmt.Sprintf("header %s is %q (in %s), which does not match /%s/", m.name, truncate(v, 200), c.spec.In, m.re)
		}
	}
	return ""
}

// headers returns the lookup of c's header source for one response.
func (c HeaderCheck) headers(status int, header http.Header, body []byte) (func(string) (string, bool), error) {
	if c.body.IsZero() {
		return func(name string) (string, bool) {
			vs := header.Values(name)
			return strings.Join(vs, ", "), len(vs) > 0
		}, nil
	}
	if !startsContainer(body) {
		return nil, fmt.Errorf("headers in %s: the body is not JSON (status %d)", c.spec.In, status)
	}
	obj := gjson.GetBytes(body, c.body.gpath[len(c.body.gpath)-1])
	if !obj.IsObject() {
		return nil, fmt.Errorf("headers in %s: the body has no JSON object there", c.spec.In)
	}
	members := map[string]string{}
	obj.ForEach(func(k, v gjson.Result) bool {
		name := strings.ToLower(k.String())
		val := v.String()
		if v.IsArray() {
			var vs []string
			for _, x := range v.Array() {
				vs = append(vs, x.String())
			}
			val = strings.Join(vs, ", ")
		}
		if prev, ok := members[name]; ok {
			val = prev + ", " + val
		}
		members[name] = val
		return true
	})
	return func(name string) (string, bool) {
		v, ok := members[name]
		return v, ok
	}, nil
}
