package versioninfo

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/internal/buildinfo"
)

func fixedInfo() Info {
	bi := buildinfo.From(&debug.BuildInfo{
		GoVersion: "go1.99",
		Main:      debug.Module{Version: "(devel)"},
		Deps:      []*debug.Module{{Path: KindModule, Version: "v0.99.0"}},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}},
	}, "")
	return Current(bi)
}

func TestCurrent(t *testing.T) {
	v := fixedInfo()
	if v.Go != "go1.99" || v.Kind != "v0.99.0" || v.Revision != "0123456789abcdef" || !v.Modified || v.Istio != istio.DefaultVersion {
		t.Errorf("%+v", v)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "text", fixedInfo()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"revision         0123456789abcdef (modified)\n", "go               go1.99\n", "kind             v0.99.0 (library; no kind binary needed)\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	v := fixedInfo()
	v.Revision = ""
	b.Reset()
	if err := Write(&b, "text", v); err != nil || strings.Contains(b.String(), "revision") {
		t.Errorf("%v: without a revision:\n%s", err, b.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	want := fixedInfo()
	if err := Write(&b, "json", want); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	var got Info
	if err := dec.Decode(&got); err != nil || got != want {
		t.Errorf("%v: got %+v, want %+v", err, got, want)
	}
}

func TestWriteRejectsOtherFormats(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, "yaml", fixedInfo())
	if err == nil || !strings.Contains(err.Error(), "text or json") || b.Len() != 0 {
		t.Errorf("%v, wrote %q", err, b.String())
	}
}
