package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/internal/buildinfo"
	"github.com/meshcheck/meshcheck/internal/cliflag"
	"github.com/meshcheck/meshcheck/internal/versioninfo"
)

func init() { register(newVersionCommand) }

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
			if err := versioninfo.Write(cmd.OutOrStdout(), output, versioninfo.Current(buildinfo.Read())); err != nil {
				return envError(err)
			}
			return nil
		},
	}
	cmd.Flags().VarP(cliflag.Choice{P: &output, Choices: versioninfo.Formats}, "output", "o", "format: text or json")
	return cmd
}
