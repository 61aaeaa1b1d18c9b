package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	deps := []*debug.Module{
		{Path: "sigs.k8s.io/kind", Version: "v0.30.0"},
		{Path: "example.com/replaced", Version: "v1.0.0", Replace: &debug.Module{Path: "../fork", Version: "v1.0.1"}},
		{Path: "example.com/local", Version: "v1.0.0", Replace: &debug.Module{Path: "../local"}},
	}
	rev := "0f6a16701234567890abcdef0123456789abcdef"
	for _, c := range []struct {
		name     string
		bi       *debug.BuildInfo
		stamp    string
		version  string
		modified bool
	}{
		{"release", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.3.0"}, Deps: deps}, "", "v0.3.0", false},
		{"release wins over the revision", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.3.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}}, Deps: deps}, "", "v0.3.0", false},
		{"checkout", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}, Deps: deps}, "", "devel+0f6a16701234", false},
		{"dirty checkout", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}, Deps: deps}, "", "devel+0f6a16701234-modified", true},
		{"the linker's stamp wins", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.3.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}}, Deps: deps}, "v0.3.0-2-g0f6a167-dirty", "v0.3.0-2-g0f6a167-dirty", false},
		{"no stamp", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Deps: deps}, "", Devel, false},
	} {
		info := From(c.bi, c.stamp)
		if info.Version != c.version || info.Modified != c.modified || info.Go != "go1.26.1" {
			t.Errorf("%s: %+v; want version %s, modified %v, go1.26.1", c.name, info, c.version, c.modified)
		}
		if got := info.Dep("sigs.k8s.io/kind"); got != "v0.30.0" {
			t.Errorf("%s: kind %s", c.name, got)
		}
		if got := info.Dep("example.com/replaced"); got != "v1.0.1" {
			t.Errorf("%s: a replaced module: %s, want the replacement's v1.0.1", c.name, got)
		}
		if got := info.Dep("example.com/local"); got != "v1.0.0" {
			t.Errorf("%s: a module replaced by a folder: %s, want its required v1.0.0", c.name, got)
		}
		if got := info.Dep("example.com/absent"); got != Unknown {
			t.Errorf("%s: an absent module: %s", c.name, got)
		}
	}
}

func TestFromNothing(t *testing.T) {
	info := From(nil, "")
	if info.Version != Unknown || info.Go != runtime.Version() || info.Dep("sigs.k8s.io/kind") != Unknown {
		t.Errorf("%+v", info)
	}
	if info := From(nil, "v0.3.0"); info.Version != "v0.3.0" {
		t.Errorf("with a stamp and no build information: %+v", info)
	}
}

func TestReadThisBinary(t *testing.T) {
	info := Read()
	if info.Go != runtime.Version() {
		t.Errorf("go %q, want %q", info.Go, runtime.Version())
	}
	if info.Version == "" {
		t.Error("empty version")
	}
}
