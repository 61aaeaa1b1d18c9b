package loadgen

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestParseClassifierErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "want json:<dotted.path>"},
		{"xml:a", "want json:<dotted.path>"},
		{"status:200", "want json:<dotted.path>"},
		{"json:", "give a dotted path"},
		{"json:os..hostname", "empty segment 2"},
		{"json:.a", "empty segment 1"},
		{"regex:", "one capture group"},
		{"regex:Hello V[0-9]+", "has 0 capture groups"},
		{"regex:(a)(b)", "has 2 capture groups"},
		{"regex:(a", "missing closing )"},
		{"header:", "is not a header name"},
		{"header:x version", "is not a header name"},
		{"json:" + strings.Repeat("a", maxSpecLen), "the limit is"},
		{"json:\xff", "not valid UTF-8"},
	} {
		_, err := ParseClassifier(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseClassifier(%q) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	body := []byte(`{"os":{"hostname":"echo-v1-abc"},"message":"Hello V2","n":3,"ok":true,"nil":null,"obj":{},"items":[{"v":"a"},{"v":"b"}],"empty":""}`)
	h := http.Header{"X-Version": {"v3"}}
	for _, tc := range []struct {
		spec, want, err string
	}{
		{spec: "json:os.hostname", want: "echo-v1-abc"},
		{spec: "json:message", want: "Hello V2"},
		{spec: "json:n", want: "3"},
		{spec: "json:ok", want: "true"},
		{spec: "json:items.1.v", want: "b"},
		{spec: "json:items.2.v", err: "has 2 elements, no index 2"},
		{spec: "json:items.x", err: "is not an index"},
		{spec: "json:os.pod", err: `has no field "pod"`},
		{spec: "json:message.x", err: "is not an object or an array"},
		{spec: "json:nil", err: "is null"},
		{spec: "json:obj", err: "is an object or array"},
		{spec: "json:empty", err: "is an empty string"},
		{spec: "regex:Hello (V[0-9]+)", want: "V2"},
		{spec: "regex:Bye (V[0-9]+)", err: "does not match"},
		{spec: "regex:Hello (x*)V", err: "matched nothing"},
		{spec: "header:x-version", want: "v3"},
		{spec: "header:x-pod", err: "no X-Pod header"},
		{spec: "status", want: "201"},
	} {
		c := mustClassifier(t, tc.spec)
		got, err := c.classify(201, h, body)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %q, %v; want error %q", tc.spec, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %q, %v; want %q", tc.spec, got, err, tc.want)
		}
	}
	if _, err := mustClassifier(t, "json:a").classify(200, nil, []byte("not json")); err == nil {
		t.Error("json classifier read a value from a non-JSON body")
	}
	// A body cut after the value still classifies; one cut before does not.
	if v, err := mustClassifier(t, "json:a").classify(200, nil, []byte(`{"a":"x","b":[1,`)); v != "x" || err != nil {
		t.Errorf("body cut after the value: %q, %v", v, err)
	}
	for _, cut := range []string{`{"a":`, `{"a":"x`, `{"a":tru`, `{"a":1e`, `{"a":"x\`, `{"b":[1,2`, `{"b":"x\"}`, `[`, ``, ` `, `"a"`, `Hello {"a":"x"}`} {
		if v, err := mustClassifier(t, "json:a").classify(200, nil, []byte(cut)); err == nil {
			t.Errorf("json:a read %q from %q", v, cut)
		}
	}
	// gjson reads only what the path needs: syntax off the path, before the
	// value, is not checked (FuzzJSONPathMatchesEncodingJSON holds every
	// valid document to encoding/json).
	for _, lenient := range []string{`{"b" 1, "a":"x"}`, `{"b":1 "a":"x"}`} {
		if v, err := mustClassifier(t, "json:a").classify(200, nil, []byte(lenient)); v != "x" || err != nil {
			t.Errorf("json:a on %q: %q, %v", lenient, v, err)
		}
	}
	// Characters gjson reads as syntax are literal in a segment.
	for path, want := range map[string]string{"a*": "star", "#": "hash", "@this": "at", "b|c": "pipe", "x\\y": "backslash", "q?": "query"} {
		body := `{"a*":"star","#":"hash","@this":"at","b|c":"pipe","x\\y":"backslash","q?":"query","ab":"no"}`
		if v, err := mustClassifier(t, "json:"+path).classify(200, nil, []byte(body)); v != want || err != nil {
			t.Errorf("json:%s: %q, %v; want %q", path, v, err, want)
		}
	}
	// A miss names the segment and why.
	for body, want := range map[string]string{
		``:                  "JSON path a.b: the body is empty or cut short",
		`42`:                "JSON path a.b: the body is not an object or an array",
		`{"a":{"c":1}}`:     `JSON path a.b: a has no field "b"`,
		`{"x":1}`:           `JSON path a.b: the body has no field "a"`,
		`{"a":[1]}`:         `JSON path a.b: a is an array, and "b" is not an index`,
		`{"a":"s"}`:         "JSON path a.b: a is not an object or an array",
		`{"a":{"c":1`:       "JSON path a.b: a is not valid JSON (or cut short)",
		`{"a":{"b":[]}}`:    "JSON path a.b is an object or array, not a value",
		`{"a":{"b":"x\u"}}`: "JSON path a.b: invalid string",
	} {
		if _, err := mustClassifier(t, "json:a.b").classify(200, nil, []byte(body)); err == nil || err.Error() != want {
			t.Errorf("json:a.b on %q: %v, want %q", body, err, want)
		}
	}
	if _, err := mustClassifier(t, "json:a.3").classify(200, nil, []byte(`{"a":[1,2]}`)); err == nil || err.Error() != "JSON path a.3: a has 2 elements, no index 3" {
		t.Errorf("index past the end: %v", err)
	}
	// Escaped keys and values, and the first of duplicate keys.
	if v, err := mustClassifier(t, "json:a").classify(200, nil, []byte(`{"x":{"a":"no"},"\u0061":"v\u0031","a":"v2"}`)); v != "v1" || err != nil {
		t.Errorf("escaped key: %q, %v", v, err)
	}
	if v, err := mustClassifier(t, "json:a.1").classify(200, nil, []byte(` { "a" : [ {"x":"]"} , 12.5e1 ] } `)); v != "12.5e1" || err != nil {
		t.Errorf("spaced document: %q, %v", v, err)
	}
}

func FuzzParseClassifier(f *testing.F) {
	for _, s := range []string{"json:os.hostname", "json:items.0.v", "regex:Hello (V[0-9]+)", "regex:(a)(b)",
		"header:x-version", "status", "json:", "json:a..b", "regex:(", "header:", ""} {
		f.Add(s, []byte(`{"os":{"hostname":"p"},"items":[{"v":1}]}`))
	}
	f.Fuzz(func(t *testing.T, spec string, body []byte) {
		c, err := ParseClassifier(spec)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		again, err := ParseClassifier(c.String())
		if err != nil || again.String() != spec {
			t.Fatalf("re-parse of %q: %q, %v", spec, again.String(), err)
		}
		v, err := c.classify(200, http.Header{"X-Version": {"v1"}}, body)
		if err == nil && v == "" {
			t.Fatalf("%q classified %q as an empty value without an error", spec, body)
		}
	})
}

// referencePath reads the scalar at path with encoding/json's token stream,
// the first of repeated keys counting: the meaning json:<path> promises.
func referencePath(doc []byte, path []string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for _, seg := range path {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch tok {
		case json.Delim('{'):
			found := false
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return "", false
				}
				if k.(string) == seg {
					found = true
					break
				}
				var skip json.RawMessage
				if dec.Decode(&skip) != nil {
					return "", false
				}
			}
			if !found {
				return "", false
			}
		case json.Delim('['):
			if !allDigits(seg) {
				return "", false
			}
			idx, err := strconv.Atoi(seg)
			if err != nil {
				return "", false
			}
			n := 0
			for ; n < idx && dec.More(); n++ {
				var skip json.RawMessage
				if dec.Decode(&skip) != nil {
					return "", false
				}
			}
			if n < idx || !dec.More() {
				return "", false
			}
		default:
			return "", false
		}
	}
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	switch v := tok.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// FuzzJSONPathMatchesEncodingJSON: on every valid JSON document, json:<path>
// reads exactly what encoding/json reads at that path (or fails where it
// finds no scalar); on any other body it never panics and never returns an
// empty value.
func FuzzJSONPathMatchesEncodingJSON(f *testing.F) {
	for _, tc := range []struct{ path, doc string }{
		{"os.hostname", `{"os":{"hostname":"echo-v1"}}`},
		{"a", `{"a":"x","a":"y"}`},
		{"a", `{"\u0061":"v\u0031"}`},
		{"a.1", `{"a":[{"x":"]"},12.5e1]}`},
		{"a.0", `{"a":{"0":true}}`},
		{"a", `{"a":"\ud83d\ude00 \udc00"}`},
		{"a.b", `{"a":null}`},
		{"x*", `{"x*":1,"xy":2}`},
		{"a", `{"a":"x\u"}`},
		{"k", "{\"k\":\"\xff\"}"},
	} {
		f.Add(tc.path, []byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, path string, doc []byte) {
		c, err := ParseClassifier("json:" + path)
		if err != nil {
			return
		}
		got, err := c.classify(200, nil, doc)
		if err == nil && got == "" {
			t.Fatalf("json:%s read an empty value from %q", path, doc)
		}
		if !json.Valid(doc) {
			return
		}
		want, ok := referencePath(doc, c.path)
		if ok != (err == nil) || got != want {
			t.Fatalf("json:%s on %q: got %q, %v; encoding/json reads %q (found %v)", path, doc, got, err, want, ok)
		}
	})
}
