package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/istio"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/env/kube"
	"github.com/meshcheck/meshcheck/env/local"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/runner"
	"github.com/meshcheck/meshcheck/scenario"
)

func init() { register(newRunCommand) }

// runEnvFlags names the flags that only some environments read; giving one
// to another environment is a usage error.
var runEnvFlags = map[string][]string{
	"kubeconfig":         {env.Existing},
	"context":            {env.Existing},
	"ingress-url":        {env.Existing},
	"agent-image":        {env.Existing},
	"image-registry":     {env.Existing},
	"name":               {env.Kind},
	"kubeconfig-dir":     {env.Kind},
	"source":             {env.Kind},
	"istioctl":           {env.Kind},
	"keep":               {env.Kind},
	"keep-on-failure":    {env.Kind},
	"readiness-timeout":  {env.Kind, env.Existing},
	"programmed-timeout": {env.Kind, env.Existing},
	"dry-run":            {env.Kind, env.Existing},

	"istioctl-any-version": {env.Kind},
	"openfaas-chart":       {env.Kind},
	"knative-manifests":    {env.Kind},
}

type runFlags struct {
	env           string
	report        reportFlags
	save          string
	saveFormat    string
	force         bool
	quiet         bool
	rate          int
	maxRequests   int
	settleTimeout time.Duration
	familyAlpha   bool

	kubeconfig        string
	context           string
	ingressURL        string
	agentImage        string
	imageRegistry     string
	name              string
	kubeconfigDir     string
	source            string
	istioctl          string
	openfaasChart     string
	knativeManifests  string
	anyIstioctl       bool
	keep              bool
	keepOnFailure     bool
	readinessTimeout  time.Duration
	programmedTimeout time.Duration
	dryRun            bool
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
  kind      a kind cluster with Istio and meshcheck's images (needs Docker,
            Podman or nerdctl). The cluster "meshcheck up" created (--name) is
            reused and stays; if there is none, run creates it and deletes it
            at the end unless --keep (or --keep-on-failure when the run fails).
            Ingress probes go to the gateway's nodePort mapped to 127.0.0.1.
  existing  the cluster of a kubeconfig (--kubeconfig, --context; only read,
            never written), which must run Istio. The ingress gateway is
            --ingress-url, else its load balancer address, else a port-forward.
            meshcheck's own images (agent, fixtures) must be pullable there:
            push them with "meshcheck images push --registry REG" and give
            --image-registry REG (or --agent-image for the agent alone).

On kind and existing clusters meshcheck applies the scenario's manifests
server-side (field manager meshcheck, label app.kubernetes.io/managed-by=
meshcheck), make-before-break, waits for the workloads and their sidecars, runs
probes from the mesh through an in-mesh agent pod (meshcheck agent) in the
scenario's namespace, and at the end deletes what it applied and nothing else.
--dry-run prints what it would apply (for kind first the cluster plan) and
changes nothing.

Every probe first runs an unjudged settle phase (20 consecutive good responses,
bounded by the scenario's settle, default 60s, or --settle-timeout) and then
judges its responses in the order the requests were sent.

Error rates: each probe PASSes a wrong split, and FAILs a correct one, with
probability at most its alpha. A run of k probes can then FAIL a correct mesh
with probability up to k times alpha; --family-alpha splits FAIL's alpha over
the run's probes so that the whole run does so with at most alpha (PASS stays
at alpha per probe). The report's method line says which is in force.

Output: the text report of each probe as it finishes, then a summary line
(the other formats: the whole run, once, at the end). On a terminal, stderr
shows a live line for the running probe (settle phase, requests, rate, each
version's share with its interval); -q turns it and the info logs off, and
when stderr is not a terminal the progress is a log line every 10 s.

--save DIR writes a new folder per run, DIR/<start, UTC>-<scenarios>, with
one file per probe and format (--save-format meshcheck for meshcheck judge,
vegeta for vegeta report and vegeta plot) and a manifest.json naming them,
and prints its path on stderr. It never writes over a file without --force.
` + reportHelp + `

Exit codes: 0 every probe passed, 1 some probe failed, 2 usage or input
error, 3 some probe inconclusive (none failed) or the run was interrupted,
4 environment error.`,
		Example: `  meshcheck run scenarios/echo
  meshcheck run scenarios/echo scenarios/hello --env local -o json
  meshcheck run scenarios/echo --report-file results/meshcheck.xml
  meshcheck run scenarios/hello --rate 1000 --save results/
  meshcheck run scenarios/echo --save results/ --save-format meshcheck,vegeta
  meshcheck run scenarios/echo --env kind --dry-run
  meshcheck run scenarios/echo --env kind --keep-on-failure
  meshcheck run scenarios/echo --env existing --context staging --ingress-url http://203.0.113.7
  meshcheck run scenarios/hello --env existing --image-registry registry.example:5000/meshcheck`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(errors.New("no scenario folder: give one or more, e.g. meshcheck run scenarios/echo"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.env, "env", env.Local, "where to run: "+strings.Join(env.Names(), ", "))
	f.report.add(fl)
	fl.StringVar(&f.save, "save", "", "folder to save the run's records in: a new folder per run with a results file per probe and format and a manifest.json (replay with meshcheck judge)")
	fl.StringVar(&f.saveFormat, "save-format", string(runner.SaveMeshcheck), "formats of --save's files, comma-separated: meshcheck (NDJSON records, for meshcheck judge) and vegeta (vegeta's JSON results, for vegeta report and vegeta plot)")
	fl.BoolVar(&f.force, "force", false, "let --save write over a run folder and files that exist")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no live progress line and no info logs on stderr (warnings, errors and where --save wrote remain)")
	fl.IntVar(&f.rate, "rate", 0, "requests per second of every probe, overriding the scenarios' (0: theirs)")
	fl.IntVar(&f.maxRequests, "max-requests", 0, "request budget of every probe, overriding the scenarios' (0: theirs)")
	fl.DurationVar(&f.settleTimeout, "settle-timeout", 0, "bound on every probe's unjudged settle phase, overriding the scenarios' settle (0: theirs, default 60s)")
	fl.BoolVar(&f.familyAlpha, "family-alpha", false, "split FAIL's alpha over all probes of the run, so that a correct mesh fails the whole run with probability at most alpha (default: at most alpha per probe)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "existing: kubeconfig file, only read (default: $KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "existing: kubeconfig context (default: its current context)")
	fl.StringVar(&f.ingressURL, "ingress-url", "", "existing: http(s)://host[:port] of the ingress gateway's HTTP port (default: its load balancer address, else a port-forward)")
	fl.StringVar(&f.agentImage, "agent-image", "", "existing: image of the in-mesh agent, which the cluster must be able to pull (default: "+kube.AgentImage+")")
	fl.StringVar(&f.imageRegistry, "image-registry", "", "existing: deploy meshcheck's images (agent, fixtures) from this registry, pinned by digest (push them first: meshcheck images push --registry REG)")
	f.addKindFlags(fl)
	fl.BoolVar(&f.dryRun, "dry-run", false, "kind, existing: print what would be applied (kind: first the cluster plan), change nothing")
	return cmd
}

// addKindFlags registers the flags of the kind environment, shared by run
// and verify.
func (f *runFlags) addKindFlags(fl *pflag.FlagSet) {
	fl.StringVar(&f.name, "name", kind.DefaultName, "kind: cluster name (the one meshcheck up created is reused)")
	fl.StringVar(&f.kubeconfigDir, "kubeconfig-dir", "", "kind: folder of meshcheck's kubeconfig and cluster files (default: the user cache dir + /meshcheck)")
	fl.StringVar(&f.source, "source", "", "kind: meshcheck source tree to build the images from (default: the checkout around the working directory)")
	fl.StringVar(&f.istioctl, "istioctl", "", "kind: istioctl to use instead of the pinned release; its Istio minor version must be the pinned one's (default: the pinned release, downloaded and verified; never istioctl on PATH)")
	fl.BoolVar(&f.anyIstioctl, "istioctl-any-version", false, "kind: accept an --istioctl of another Istio minor version than the pinned release, with a warning")
	fl.StringVar(&f.openfaasChart, "openfaas-chart", "", "kind: local archive (.tgz) of the pinned OpenFaaS chart, for scenarios with spec.backend openfaas; its sha256 must be the pinned one's (default: downloaded from the chart repository, verified and cached)")
	fl.StringVar(&f.knativeManifests, "knative-manifests", "", "kind: folder with the Knative release files serving-crds.yaml, serving-core.yaml and net-istio.yaml and their sha256 in SHA256SUMS, for scenarios with spec.backend knative (checked before anything runs; without it those scenarios are skipped)")
	fl.BoolVar(&f.keep, "keep", false, "kind: keep a cluster this run creates")
	fl.BoolVar(&f.keepOnFailure, "keep-on-failure", false, "kind: keep a cluster this run creates when the run fails (an error, or a verdict other than PASS)")
	fl.DurationVar(&f.readinessTimeout, "readiness-timeout", istio.DefaultReadinessTimeout, "kind, existing: how long to wait for workloads to be ready (kind: also for nodes and Istio)")
	fl.DurationVar(&f.programmedTimeout, "programmed-timeout", existing.DefaultProgrammedTimeout, "kind, existing: how long to wait, before each probe, for its proxies (ingress gateway pods, the agent's sidecar) to route as the step says")
}

// check validates the flags, naming the flag and what is allowed.
func (f runFlags) check(cmd *cobra.Command) error {
	switch {
	case !contains(env.Names(), f.env):
		return fmt.Errorf("--env %q: want one of %s", f.env, strings.Join(env.Names(), ", "))
	case f.rate < 0 || f.rate > loadgen.MaxRate:
		return fmt.Errorf("--rate %d: want 1 to %d requests per second (0 keeps each probe's rate)", f.rate, loadgen.MaxRate)
	case f.maxRequests < 0:
		return fmt.Errorf("--max-requests %d: want at least 1 (0 keeps each probe's budget)", f.maxRequests)
	case f.settleTimeout < 0:
		return fmt.Errorf("--settle-timeout %s: want a positive duration such as 60s (0 keeps each probe's)", f.settleTimeout)
	case f.dryRun && f.report.stdout() != report.FormatText:
		return fmt.Errorf("--dry-run prints the YAML it would apply: -o %s does not apply to it", f.report.output)
	case f.dryRun && f.report.file != "":
		return errors.New("--dry-run runs no probe: --report-file does not apply to it")
	case f.dryRun && f.save != "":
		return errors.New("--dry-run runs no probe: --save does not apply to it")
	case f.save == "" && (cmd.Flags().Changed("save-format") || f.force):
		return errors.New("--save-format and --force apply to --save: give --save DIR too")
	}
	if err := f.report.check(); err != nil {
		return err
	}
	var misplaced []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if envs, ok := runEnvFlags[fl.Name]; ok && !contains(envs, f.env) {
			misplaced = append(misplaced, fmt.Sprintf("--%s is for --env %s", fl.Name, strings.Join(envs, " or --env ")))
		}
	})
	if len(misplaced) > 0 {
		return fmt.Errorf("with --env %s: %s", f.env, strings.Join(misplaced, "; "))
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

// opener is the one place --env chooses the environment: the flags become
// that environment's typed options, which its constructor validates.
func (f runFlags) opener(log *slog.Logger) (env.Opener, error) {
	switch f.env {
	case env.Kind:
		opts := []kind.Option{
			kind.WithName(f.name),
			kind.WithStateDir(f.kubeconfigDir),
			kind.WithIstioctl(f.istioctl),
			kind.WithIstioctlAnyVersion(f.anyIstioctl),
			kind.WithOpenFaaSChart(f.openfaasChart),
			kind.WithKnativeManifests(f.knativeManifests),
			kind.WithKeep(f.keep),
			kind.WithKeepOnFailure(f.keepOnFailure),
			kind.WithReadyTimeout(f.readinessTimeout),
			kind.WithProgrammedTimeout(f.programmedTimeout),
			kind.WithLogger(log),
		}
		if f.source != "" {
			opts = append(opts, kind.WithSourceDir(f.source))
		}
		return kind.New(opts...)
	case env.Existing:
		return existing.New(
			existing.WithKubeconfig(f.kubeconfig),
			existing.WithContext(f.context),
			existing.WithIngressURL(f.ingressURL),
			existing.WithAgentImage(f.agentImage),
			existing.WithImageRegistry(f.imageRegistry),
			existing.WithReadyTimeout(f.readinessTimeout),
			existing.WithProgrammedTimeout(f.programmedTimeout),
			existing.WithLogger(log),
		)
	}
	return local.NewOpener(local.WithLogger(log)), nil
}

// runRun loads the scenarios and hands them with the environment to the
// runner; its error carries the exit code.
func runRun(cmd *cobra.Command, f runFlags, dirs []string) error {
	if err := f.check(cmd); err != nil {
		return usageError(err)
	}
	saveFormats, err := runner.ParseSaveFormats(f.saveFormat)
	if err != nil {
		return usageError(fmt.Errorf("--save-format %q: %w", f.saveFormat, err))
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
	live := report.NewLive(stderr, f.quiet)
	logOpts := &slog.HandlerOptions{}
	if f.quiet {
		logOpts.Level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(live, logOpts))
	o, err := f.opener(log)
	if err != nil {
		return usageError(err)
	}
	leftBehind.set(f.leftBehind)
	if f.dryRun {
		return runError(runner.DryRun(cmd.OutOrStdout(), o, scenarios))
	}
	var progress func(report.Progress)
	if live.Drawn() {
		progress = live.Update
	}
	run, err := runner.Execute(cmd.Context(), o, scenarios, runner.Options{
		Output:        f.report.stdout(),
		Out:           cmd.OutOrStdout(),
		Save:          f.save,
		SaveFormats:   saveFormats,
		Force:         f.force,
		Notices:       live,
		Progress:      progress,
		Rate:          f.rate,
		MaxRequests:   f.maxRequests,
		SettleTimeout: f.settleTimeout,
		FamilyAlpha:   f.familyAlpha,
		Log:           log,
	})
	if ferr := f.report.files(run); ferr != nil {
		if err == nil {
			err = &runner.Error{Kind: runner.EnvironmentError, Err: ferr}
		} else {
			log.Error("writing the report files failed", "error", ferr)
		}
	}
	if err == nil {
		return verdictError(run.Verdict)
	}
	return runError(err)
}

// runError maps a runner error to its exit code.
func runError(err error) error {
	var re *runner.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.Kind == runner.InputError:
		return usageError(err)
	case errors.As(err, &re) && re.Kind == runner.Interrupted:
		return &exitError{code: ExitInconclusive, err: fmt.Errorf("interrupted, no verdict: %w", err)}
	}
	return envError(err)
}
