package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/internal/validate"
)

func init() { register(newScenariosCommand) }

// defaultScenariosDir is where `meshcheck scenarios` looks without an
// argument.
const defaultScenariosDir = "scenarios"

func newScenariosCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenarios [dir]",
		Short: "List the scenarios under a folder (default: scenarios/)",
		Long: `List the scenarios found in the sub-folders of dir (default: scenarios/):
every folder with a scenario.yaml, with its title and its numbers of steps and
probes. Each is loaded and validated; a scenario that does not load is named on
stderr with its error and the command exits 2.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := defaultScenariosDir
			if len(args) == 1 {
				dir = args[0]
			}
			return validateExit(validate.List(cmd.OutOrStdout(), cmd.ErrOrStderr(), dir))
		},
	}
	cmd.AddCommand(newScenariosValidateCommand())
	return cmd
}

func newScenariosValidateCommand() *cobra.Command {
	var istioctlFlag string
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate <scenario-dir>...",
		Short: "Validate scenarios without running them",
		Long: `Load each scenario folder strictly (scenario.yaml and its manifests) and run
the cross-checks of the routing model, without touching any cluster. When an
istioctl is found (--istioctl, else PATH), each step's state is also checked
with "istioctl analyze --use-kube=false -A" and its findings (IST codes) are
shown beside meshcheck's own.

Every problem goes to stderr as "error: file:line: field: message" or
"warning: file:line: field: message", all of them at once, and istioctl's
findings as "istioctl: file:line: IST0101 (Error) ...". Errors are mistakes and
configs sure to fail on a cluster (istiod rejects an object, a probe's host is
served by nothing, its podLabel is on no pod it reaches, a mesh probe would run
without a sidecar): the command exits 2. Warnings leave the scenario valid
(exit 0); with --strict, warnings where the routing model predicts a probe
fails are errors too. An istioctl that fails to run exits 4.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without --istioctl and none on PATH, src.Path stays "":
			// meshcheck's own checks only.
			src, err := (&istio.Locator{Flag: istioctlFlag}).Resolve()
			if err != nil && istioctlFlag != "" {
				return usageError(err)
			}
			opts := validate.Options{Istioctl: src.Path, Strict: strict}
			return validateExit(validate.Folders(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, opts))
		},
	}
	cmd.Flags().StringVar(&istioctlFlag, "istioctl", "", "istioctl to analyze each step's manifests with (default: istioctl on PATH, if any)")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings that predict a probe fails as errors (exit 2)")
	return cmd
}

// validateExit maps an error of package validate to its exit code: 2 for
// invalid input, 4 for istioctl failing; others pass through.
func validateExit(err error) error {
	var ve *validate.Error
	switch {
	case errors.As(err, &ve) && ve.Kind == validate.Invalid:
		return usageError(err)
	case errors.As(err, &ve) && ve.Kind == validate.Environment:
		return envError(err)
	}
	return err
}
