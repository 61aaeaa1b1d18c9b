package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env"
	_ "github.com/meshcheck/meshcheck/env/local" // registers --env local
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/runner"
	"github.com/meshcheck/meshcheck/scenario"
)

func init() { register(newRunCommand) }

// runEnvironments are the values --env accepts.
var runEnvironments = []string{env.Local, env.Kind, env.Existing}

type runFlags struct {
	env         string
	output      string
	save        string
	rate        int
	maxRequests int
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run <scenario-dir>...",
		Short: "Run scenarios: apply each step, drive load, verify every probe",
		Long: `Run one or more scenario folders in an environment. Every scenario is loaded
and validated first (warnings go to stderr, errors stop the run with exit 2).
Then, per scenario: set up, and for each step apply its manifests, wait until
they are in effect, and run each probe: constant-rate load from the ingress
gateway or from inside the mesh, each response classified to a version, and a
sequential verdict that stops as soon as the evidence decides. The report of
each probe shows its verdict table and the requests and time it took.

Environments:
  local     (default) runs the workloads in-process and emulates the mesh with
            meshcheck's routing model: no container engine, no cluster. It
            checks a scenario's intent against Istio's documented routing
            semantics, not a real Envoy; its reports say "emulated".
  kind      a kind cluster with Istio (needs Docker).
  existing  the cluster of a kubeconfig.

Output: the reports as each probe finishes (-o json: one document at the end).
Exit codes: 0 every probe passed, 1 some probe failed, 2 usage or input
error, 3 some probe inconclusive (none failed) or the run was interrupted,
4 environment error.`,
		Example: `  meshcheck run scenarios/echo
  meshcheck run scenarios/echo scenarios/hello --env local -o json
  meshcheck run scenarios/hello --rate 1000 --save results/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(errors.New("no scenario folder: give one or more, e.g. meshcheck run scenarios/echo"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.env, "env", env.Local, "where to run: "+strings.Join(runEnvironments, ", "))
	fl.StringVarP(&f.output, "output", "o", runner.OutputText, "output format: text or json")
	fl.StringVar(&f.save, "save", "", "folder for one NDJSON results file per probe (replay with meshcheck judge)")
	fl.IntVar(&f.rate, "rate", 0, "requests per second of every probe, overriding the scenarios' (0: theirs)")
	fl.IntVar(&f.maxRequests, "max-requests", 0, "request budget of every probe, overriding the scenarios' (0: theirs)")
	return cmd
}

// check validates the flags, naming the flag and what is allowed.
func (f runFlags) check() error {
	switch {
	case !contains(runEnvironments, f.env):
		return fmt.Errorf("--env %q: want one of %s", f.env, strings.Join(runEnvironments, ", "))
	case f.output != runner.OutputText && f.output != runner.OutputJSON:
		return fmt.Errorf("--output %q: want text or json", f.output)
	case f.rate < 0 || f.rate > loadgen.MaxRate:
		return fmt.Errorf("--rate %d: want 1 to %d requests per second (0 keeps each probe's rate)", f.rate, loadgen.MaxRate)
	case f.maxRequests < 0:
		return fmt.Errorf("--max-requests %d: want at least 1 (0 keeps each probe's budget)", f.maxRequests)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runRun loads the scenarios, creates the environment and runs; its error
// carries the exit code.
func runRun(cmd *cobra.Command, f runFlags, dirs []string) error {
	if err := f.check(); err != nil {
		return usageError(err)
	}
	stderr := cmd.ErrOrStderr()
	var scenarios []*scenario.Scenario
	for _, dir := range dirs {
		s, warnings, err := scenario.Load(dir)
		for _, w := range warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		if err != nil {
			return usageError(err)
		}
		scenarios = append(scenarios, s)
	}
	if !env.Registered(f.env) {
		return envError(fmt.Errorf("--env %s needs the %s environment, which is not wired into meshcheck run yet; use --env local", f.env, f.env))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	e, err := env.New(f.env, env.Options{Log: log})
	if err != nil {
		return envError(err)
	}
	probes, err := runner.Run(cmd.Context(), e, scenarios, runner.Options{
		Output:      f.output,
		Out:         cmd.OutOrStdout(),
		Save:        f.save,
		Rate:        f.rate,
		MaxRequests: f.maxRequests,
		Log:         log,
	})
	var re *runner.Error
	switch {
	case err == nil:
		return verdictError(runner.Verdict(probes))
	case errors.As(err, &re) && re.Kind == runner.InputError:
		return usageError(err)
	case errors.As(err, &re) && re.Kind == runner.Interrupted:
		return &exitError{code: ExitInconclusive, err: fmt.Errorf("interrupted, no verdict: %w", err)}
	}
	return envError(err)
}
