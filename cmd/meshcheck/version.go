package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/internal/buildinfo"
	"github.com/meshcheck/meshcheck/internal/cliflag"
)

func init() { register(newVersionCommand) }

// kindModule is the module of the kind library meshcheck drives clusters
// with (no kind binary is needed).
const kindModule = "sigs.k8s.io/kind"

// versionInfo is what `meshcheck version` prints: the binary, and the pinned
// versions of what it installs and runs.
type versionInfo struct {
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

func currentVersion(bi buildinfo.Info) versionInfo {
	return versionInfo{
		Meshcheck: bi.Version, Revision: bi.Revision, Modified: bi.Modified, Go: bi.Go,
		Istio: istio.DefaultVersion, Kind: bi.Dep(kindModule), KindNodeImage: kind.DefaultNodeImage, AgentImage: kube.AgentImage,
	}
}

func newVersionCommand() *cobra.Command {
	output := "text"
	cmd := &cobra.Command{
		Use:   "version [-o text|json]",
		Short: "Print meshcheck's version and the versions it pins (Istio, kind, images)",
		Long: `Print the version of this meshcheck binary (its module version, or "devel+"
and the VCS revision it was built from, "-modified" when the work tree had
uncommitted changes), the Go toolchain that built it, and what it pins: the
Istio release it installs, the kind library and node image of the clusters
it creates, and the image of the in-mesh agent. Include it in bug reports.

Exit codes: 0 printed, 2 usage error, 4 the output could not be written.`,
		Example: `  meshcheck version
  meshcheck version -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usageError(errors.New("version takes no arguments"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := writeVersion(cmd.OutOrStdout(), output, currentVersion(buildinfo.Read())); err != nil {
				return envError(fmt.Errorf("writing the version: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().VarP(cliflag.Choice{P: &output, Choices: []string{"text", "json"}}, "output", "o", "format: text or json")
	return cmd
}

// writeVersion prints v as aligned text or as one JSON object.
func writeVersion(w io.Writer, format string, v versionInfo) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
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
	return tw.Flush()
}
