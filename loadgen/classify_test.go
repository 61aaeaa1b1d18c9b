package loadgen

import (
	"net/http"
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
		got, err := c.Classify(201, h, body)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %q, %v; want error %q", tc.spec, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %q, %v; want %q", tc.spec, got, err, tc.want)
		}
	}
	if _, err := mustClassifier(t, "json:a").Classify(200, nil, []byte("not json")); err == nil {
		t.Error("json classifier read a value from a non-JSON body")
	}
	// A body cut after the value still classifies; one cut before does not.
	if v, err := mustClassifier(t, "json:a").Classify(200, nil, []byte(`{"a":"x","b":[1,`)); v != "x" || err != nil {
		t.Errorf("body cut after the value: %q, %v", v, err)
	}
	for _, cut := range []string{`{"a":`, `{"a":"x`, `{"b":[1,2`, `{"b":"x\"}`, `{"b" 1, "a":"x"}`, `{"b":1 "a":"x"}`, `[`, ``} {
		if v, err := mustClassifier(t, "json:a").Classify(200, nil, []byte(cut)); err == nil {
			t.Errorf("json:a read %q from %q", v, cut)
		}
	}
	// Escaped keys and values, and the first of duplicate keys.
	if v, err := mustClassifier(t, "json:a").Classify(200, nil, []byte(`{"x":{"a":"no"},"\u0061":"v\u0031","a":"v2"}`)); v != "v1" || err != nil {
		t.Errorf("escaped key: %q, %v", v, err)
	}
	if v, err := mustClassifier(t, "json:a.1").Classify(200, nil, []byte(` { "a" : [ {"x":"]"} , 12.5e1 ] } `)); v != "12.5e1" || err != nil {
		t.Errorf("spaced document: %q, %v", v, err)
	}
}

func TestClassifierText(t *testing.T) {
	c := mustClassifier(t, "regex:Hello (V[0-9]+)")
	b, err := c.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back Classifier
	if err := back.UnmarshalText(b); err != nil || back.String() != c.String() {
		t.Fatalf("round trip: %q, %v", back.String(), err)
	}
	if err := back.UnmarshalText(nil); err != nil || !back.IsZero() {
		t.Fatalf("empty text: %v, zero=%v", err, back.IsZero())
	}
	if err := back.UnmarshalText([]byte("nope")); err == nil {
		t.Fatal("bad text accepted")
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
		v, err := c.Classify(200, http.Header{"X-Version": {"v1"}}, body)
		if err == nil && v == "" {
			t.Fatalf("%q classified %q as an empty value without an error", spec, body)
		}
	})
}
