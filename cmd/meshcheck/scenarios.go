package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/scenario"
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
			return listScenarios(cmd.OutOrStdout(), cmd.ErrOrStderr(), dir)
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
			return validateScenarios(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, src.Path, strict)
		},
	}
	cmd.Flags().StringVar(&istioctlFlag, "istioctl", "", "istioctl to analyze each step's manifests with (default: istioctl on PATH, if any)")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings that predict a probe fails as errors (exit 2)")
	return cmd
}

// validateScenarios loads every dir, reporting each result and, with an
// istioctl, its analysis; it fails with a usage error (exit 2) when any
// does not load (or, strict, has a warning that predicts failure), with an
// environment error (exit 4) when istioctl fails.
func validateScenarios(ctx context.Context, stdout, stderr io.Writer, dirs []string, istioctl string, strict bool) error {
	failed := 0
	for _, dir := range dirs {
		s, warnings, err := scenario.Load(dir)
		var le *scenario.LoadError
		if errors.As(err, &le) {
			for _, e := range le.Errors {
				fmt.Fprintf(stderr, "error: %s\n", e)
			}
		} else if err != nil {
			fmt.Fprintf(stderr, "error: %s\n", err)
		}
		fatal := 0
		for _, w := range warnings {
			if strict && w.PredictsFailure {
				fatal++
				fmt.Fprintf(stderr, "error: %s (--strict: the routing model predicts the probe fails)\n", w)
				continue
			}
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		if err != nil {
			failed++
			continue
		}
		analysis := ""
		if istioctl != "" {
			findings, err := istio.AnalyzeScenario(ctx, istio.ExecRunner{}, istioctl, s)
			if err != nil {
				return envError(fmt.Errorf("%s: %w", dir, err))
			}
			for _, f := range findings {
				fmt.Fprintf(stderr, "istioctl: %s\n", f)
			}
			analysis = ", " + scenarioPlural(len(findings), "istioctl finding")
		}
		verdict := "ok"
		if fatal > 0 {
			failed++
			verdict = fmt.Sprintf("failed (--strict: %s predict failure)", scenarioPlural(fatal, "warning"))
		}
		fmt.Fprintf(stdout, "%s: %s: scenario %s, %s, %s, %s%s\n", dir, verdict, s.Metadata.Name,
			scenarioPlural(len(s.Steps), "step"), scenarioPlural(scenarioProbeCount(s), "probe"), scenarioPlural(len(warnings), "warning"), analysis)
	}
	if failed > 0 {
		return usageError(fmt.Errorf("%s of %d did not validate", scenarioPlural(failed, "scenario"), len(dirs)))
	}
	return nil
}

// listScenarios prints a table of the scenarios in the sub-folders of dir.
func listScenarios(stdout, stderr io.Writer, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return usageError(fmt.Errorf("scenarios folder %s does not exist: give the folder that holds scenario folders", dir))
		}
		return usageError(fmt.Errorf("reading scenarios folder %s: %w", dir, err))
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), scenario.FileName)); err == nil {
			dirs = append(dirs, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return usageError(fmt.Errorf("no scenarios in %s: a scenario is a folder with a %s", dir, scenario.FileName))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTEPS\tPROBES\tDIR\tTITLE")
	failed := 0
	for _, d := range dirs {
		s, _, err := scenario.Load(d)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed++
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", s.Metadata.Name, len(s.Steps), scenarioProbeCount(s), d, s.Metadata.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return usageError(fmt.Errorf("%s in %s did not load; run meshcheck scenarios validate on it for details", scenarioPlural(failed, "scenario"), dir))
	}
	return nil
}

func scenarioProbeCount(s *scenario.Scenario) int {
	n := 0
	for _, st := range s.Steps {
		n += len(st.Probes)
	}
	return n
}

// scenarioPlural formats a count with its noun: "1 step", "3 steps".
func scenarioPlural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
