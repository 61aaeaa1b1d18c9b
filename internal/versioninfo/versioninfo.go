// Package versioninfo is what `meshcheck version` prints: the binary's
// build information (package internal/buildinfo, which stays free of
// dependencies) and the versions meshcheck pins, taken from the packages
// that use them (env/istio, env/kind, env/kube).
package versioninfo

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/buildinfo"
)

// KindModule is the module of the kind library meshcheck drives clusters
// with (no kind binary is needed).
const KindModule = "sigs.k8s.io/kind"

// Formats are the values Write accepts.
var Formats = []string{"text", "json"}

// Info is the binary and the pinned versions of what it installs and runs.
type Info struct {
	// Meshcheck, Revision, Modified and Go are buildinfo.Info's Version,
	// Revision, Modified and Go.
	Meshcheck string `json:"meshcheck"`
	Revision  string `json:"revision,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	Go        string `json:"go"`
	// Istio is the release meshcheck installs on kind (and downloads
	// istioctl of).
	Istio string `json:"istio"`
	// Kind is the version of the kind library meshcheck is built with.
	Kind string `json:"kind"`
	// KindNodeImage is the node image of the clusters it creates.
	KindNodeImage string `json:"kindNodeImage"`
	// AgentImage is the image of the in-mesh agent.
	AgentImage string `json:"agentImage"`
}

// Current combines bi (buildinfo.Read for the running binary) with the
// pins.
func Current(bi buildinfo.Info) Info {
	return Info{
		Meshcheck: bi.Version, Revision: bi.Revision, Modified: bi.Modified, Go: bi.Go,
		Istio: istio.DefaultVersion, Kind: bi.Dep(KindModule), KindNodeImage: kind.DefaultNodeImage, AgentImage: kube.AgentImage,
	}
}

// Write prints v in format: "text", aligned rows of name and value, or
// "json", one indented JSON object. Another format is an error.
func Write(w io.Writer, format string, v Info) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("writing the version as JSON: %w", err)
		}
		return nil
	case "text":
		return writeText(w, v)
	}
	return fmt.Errorf("version format %q: allowed are text or json", format)
}

func writeText(w io.Writer, v Info) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{{"meshcheck", v.Meshcheck}}
	if v.Revision != "" {
		rev := v.Revision
		if v.Modified {
			rev += " (modified)"
		}
		rows = append(rows, [2]string{"revision", rev})
	}
	rows = append(rows,
		[2]string{"go", v.Go},
		[2]string{"istio", v.Istio},
		[2]string{"kind", v.Kind + " (library; no kind binary needed)"},
		[2]string{"kind node image", v.KindNodeImage},
		[2]string{"agent image", v.AgentImage},
	)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the version: %w", err)
	}
	return nil
}
