package main

import (
	"github.com/spf13/cobra"
)

// subcommands holds the constructors of meshcheck's commands; each command's
// file adds its own in an init function.
var subcommands []func() *cobra.Command

func register(newCommand func() *cobra.Command) { subcommands = append(subcommands, newCommand) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "meshcheck",
		Short: "Prove that a service mesh routes traffic the way its config says",
		Long: `meshcheck deploys routing scenarios, drives constant-rate load through the
ingress gateway and from inside the mesh, and decides with stated error rates
whether the observed per-version distribution matches the configured weights.

Exit codes: 0 pass, 1 fail, 2 usage or input error, 3 inconclusive,
4 environment error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	for _, newCommand := range subcommands {
		root.AddCommand(newCommand())
	}
	return root
}
