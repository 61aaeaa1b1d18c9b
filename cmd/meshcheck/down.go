package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env/kind"
)

func init() { register(newDownCommand) }

type downFlags struct {
	name          string
	kubeconfigDir string
	dryRun        bool
}

func newDownCommand() *cobra.Command {
	var f downFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Delete the kind cluster meshcheck up created, and meshcheck's files of it",
		Long: `Delete the kind cluster of the name and remove meshcheck's kubeconfig, state
and image tarballs of it. A cluster that does not exist counts as deleted.

Exit codes: 0 deleted (or already gone), 2 usage error, 4 environment error
(no container engine, or the deletion failed).`,
		Example: `  meshcheck down
  meshcheck down --name ci-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDown(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", kind.DefaultName, "kind cluster name")
	fl.StringVar(&f.kubeconfigDir, "kubeconfig-dir", "", "folder of meshcheck's kubeconfig and cluster files (default: the user cache dir + /meshcheck)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be deleted, change nothing")
	return cmd
}

func runDown(cmd *cobra.Command, f downFlags) error {
	stateDir, err := kind.ResolveStateDir(f.kubeconfigDir)
	if err != nil {
		return usageError(err)
	}
	l := kind.Layout{StateDir: stateDir, Name: f.name}
	if err := l.Validate(); err != nil {
		return usageError(err)
	}
	out := cmd.OutOrStdout()
	if f.dryRun {
		fmt.Fprintf(out, "would delete kind cluster %q (if it exists), with kubeconfig %s\n", f.name, l.Kubeconfig())
		fmt.Fprintf(out, "would remove %s, %s, %s and %s\n", l.Kubeconfig(), l.State(), l.Operator(), l.Images())
		return nil
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	deps := upKindDeps(log)
	engine, err := deps.Prober.Probe(cmd.Context())
	if err != nil {
		return envError(err)
	}
	provider, err := deps.NewProvider(engine, log)
	if err != nil {
		return envError(err)
	}
	existed, err := kind.Delete(provider, l, log)
	if err != nil {
		return envError(err)
	}
	if existed {
		fmt.Fprintf(out, "kind cluster %q deleted\n", f.name)
	} else {
		fmt.Fprintf(out, "kind cluster %q does not exist; nothing to delete\n", f.name)
	}
	return nil
}
