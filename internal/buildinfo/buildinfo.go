// Package buildinfo says which meshcheck this binary is: its module version,
// or the VCS revision it was built from, read from the build information the
// Go toolchain embeds (runtime/debug.ReadBuildInfo). `meshcheck version`
// prints it, and the manifest of a --save folder records it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Unknown stands for what the binary's build information does not say.
const Unknown = "unknown"

// Devel is the version of a build from a source tree that carries no VCS
// stamp and no linker stamp (go build in a git worktree, or with
// -buildvcs=false).
const Devel = "devel"

// stamp is set by the linker (make build: -ldflags "-X
// github.com/meshcheck/meshcheck/internal/buildinfo.stamp=$(git describe
// --tags --always --dirty)"); it wins over everything the build information
// says, since the builder asked for it.
var stamp string

// Info is what the build information says about this binary.
type Info struct {
	// Version is the linker's stamp when make build set one, else the main
	// module's version (v1.2.3, or a pseudo-version when built with go
	// install from a commit), else "devel" followed by "+" and the first 12
	// digits of the VCS revision, and "-modified" when the work tree had
	// uncommitted changes; Devel without either, Unknown without build
	// information.
	Version string `json:"version"`
	// Revision is the full VCS revision ("" when not stamped).
	Revision string `json:"revision,omitempty"`
	// Modified is true when the work tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Go is the Go toolchain that built the binary.
	Go string `json:"go"`
	// deps maps each dependency's module path to its version.
	deps map[string]string
}

// Read returns the build information of the running binary.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return From(bi, stamp)
}

// From interprets bi (nil: a binary built without module support) and the
// linker's stamp ("" when there is none).
func From(bi *debug.BuildInfo, stamp string) Info {
	info := Info{Version: Unknown, Go: runtime.Version()}
	if bi == nil {
		if stamp != "" {
			info.Version = stamp
		}
		return info
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	switch v := bi.Main.Version; {
	case stamp != "":
		info.Version = stamp
	case v != "" && v != "(devel)":
		info.Version = v
	case info.Revision != "":
		info.Version = "devel+" + info.Revision[:min(12, len(info.Revision))]
		if info.Modified {
			info.Version += "-modified"
		}
	default:
		info.Version = Devel
	}
	info.deps = map[string]string{}
	for _, d := range bi.Deps {
		if d.Replace != nil && d.Replace.Version != "" {
			info.deps[d.Path] = d.Replace.Version
			continue
		}
		info.deps[d.Path] = d.Version
	}
	return info
}

// Dep returns the version of the dependency with module path path, or
// Unknown when the build information does not list it.
func (i Info) Dep(path string) string {
	if v, ok := i.deps[path]; ok && v != "" {
		return v
	}
	return Unknown
}
