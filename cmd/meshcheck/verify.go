package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/internal/validate"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/runner"
	"github.com/meshcheck/meshcheck/scenario"
)

func init() { register(newVerifyCommand) }

// defaultOutDir is where verify writes its reports.
const defaultOutDir = "_out"

type verifyFlags struct {
	run       runFlags
	scenarios string
	out       string
}

func newVerifyCommand() *cobra.Command {
	f := verifyFlags{run: runFlags{env: env.Kind}}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Run every scenario on a kind cluster with Istio and save the reports (what make verify runs)",
		Long: `Create a kind cluster with Istio and meshcheck's images (or reuse the one
"meshcheck up" left, --name), run every scenario under --scenarios (default
scenarios/) in it, as "meshcheck run --env kind" would, and delete the cluster
at the end unless --keep, or --keep-on-failure when the run fails. A scenario
the environment cannot run is skipped, with the reason on stderr.

The terminal shows each probe's report as it finishes. The whole run's report
is written to --out (default _out/), replacing what is there, in every format:
report.txt, report.json (schema meshcheck.dev/report/v1), junit.xml and
summary.md (Markdown). At the end it prints how long each phase took:
cluster, images, istio (creating the cluster, building and loading the
images, installing Istio), deploy (the scenarios' namespaces and steps),
programmed (waiting for the proxies' routes), settle and sampling (the
probes' unjudged and judged requests), down and the total; report.json has
them too.

When a probe FAILs or the environment fails (exit 1 or 4), a debug bundle is
collected into --out/debug/ before the cluster is deleted (or kept): for
meshcheck's namespaces and istio-system the pods (YAML), events, a summary
per pod, the logs of istiod, the ingress gateway and the in-mesh agents, each
vantage proxy's route config_dump and istioctl proxy-status. Ctrl-C deletes
a cluster the run created at once; a second Ctrl-C stops without cleaning up
and says what is left behind.

Exit codes: 0 every probe passed, 1 some probe failed, 2 usage or input
error, 3 some probe inconclusive (none failed) or the run was interrupted,
4 environment error.`,
		Example: `  meshcheck verify
  meshcheck verify --keep-on-failure
  meshcheck verify --scenarios testdata/scenarios --out results/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVerify(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.scenarios, "scenarios", defaultScenariosDir, "folder whose sub-folders holding a scenario.yaml are run")
	fl.StringVar(&f.out, "out", defaultOutDir, "folder the reports are written to (created if missing)")
	fl.BoolVarP(&f.run.quiet, "quiet", "q", false, "no live progress line and no info logs on stderr (warnings and errors remain)")
	f.run.addKindFlags(fl)
	return cmd
}

// runVerify finds and loads the scenarios and hands them with the kind
// environment to runner.Verify; its error carries the exit code.
func runVerify(cmd *cobra.Command, f verifyFlags) error {
	if f.out == "" {
		return usageError(fmt.Errorf("--out: want a folder, such as %s", defaultOutDir))
	}
	stderr := cmd.ErrOrStderr()
	listing, err := validate.Find(f.scenarios)
	if err != nil {
		return usageError(fmt.Errorf("--scenarios %s: %w", f.scenarios, err))
	}
	var scenarios []*scenario.Scenario
	for _, e := range listing.Entries {
		if e.Err != nil {
			fmt.Fprintf(stderr, "error: %v\n", e.Err)
			continue
		}
		scenarios = append(scenarios, e.Scenario)
	}
	if n := listing.Failed(); n > 0 {
		return usageError(fmt.Errorf("--scenarios %s: %d of %d scenarios do not load (above)", f.scenarios, n, len(listing.Entries)))
	}
	live := report.NewLive(stderr, f.run.quiet)
	logOpts := &slog.HandlerOptions{}
	if f.run.quiet {
		logOpts.Level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(live, logOpts))
	o, err := f.run.opener(log)
	if err != nil {
		return usageError(err)
	}
	leftBehind.set(f.run.leftBehind)
	var progress func(report.Progress)
	if live.Drawn() {
		progress = live.Update
	}
	run, err := runner.Verify(cmd.Context(), o, scenarios, runner.VerifyOptions{
		OutDir: f.out,
		Options: runner.Options{
			Output:   report.FormatText,
			Out:      cmd.OutOrStdout(),
			Notices:  live,
			Progress: progress,
			Log:      log,
		},
	})
	if err == nil {
		return verdictError(run.Verdict)
	}
	return runError(err)
}
