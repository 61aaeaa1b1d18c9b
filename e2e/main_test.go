//go:build e2e

package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	e2eenv "sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/meshcheck/meshcheck/e2e/matchers"
	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/env/existing"
	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/env/local"
	"github.com/meshcheck/meshcheck/internal/validate"
	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/runner"
	"github.com/meshcheck/meshcheck/scenario"
)

// The suite's own flags, beside e2e-framework's (--kubeconfig, --context,
// --labels, --feature, --assess, ...) and go test's.
var (
	envFlag = flag.String("meshcheck.env", env.Kind,
		"where the scenarios run: "+strings.Join(env.Names(), ", ")+" (existing: the cluster of --kubeconfig and --context)")
	scenariosFlag = flag.String("meshcheck.scenarios", filepath.Join("..", "scenarios"),
		"folder whose sub-folders holding a scenario.yaml are run, one feature each")
	outFlag = flag.String("meshcheck.out", filepath.Join("..", "_out", "e2e"),
		"folder the run's reports are written to (created if missing): "+reportFileList())
	rateFlag = flag.Int("meshcheck.rate", 0,
		"requests per second of every probe, overriding the scenarios' (0: theirs)")
	programmedFlag = flag.Duration("meshcheck.programmed-timeout", existing.DefaultProgrammedTimeout,
		"kind, existing: how long each probe's Eventually waits for its proxies to route as the step says")
	ingressURLFlag = flag.String("meshcheck.ingress-url", "",
		"existing: http(s)://host[:port] of the ingress gateway's HTTP port (default: its load balancer address, else a port-forward)")
	registryFlag = flag.String("meshcheck.image-registry", "",
		"existing: deploy meshcheck's images from this registry (push them first: meshcheck images push --registry REG)")
)

// programmedAttempt bounds one of the environment's waits for the data
// plane; the probe's Eventually repeats them up to
// -meshcheck.programmed-timeout.
const programmedAttempt = 15 * time.Second

// programmedPolling is the pause between two of those waits.
const programmedPolling = time.Second

// theSuite is the run the tests drive; TestMain makes it.
var theSuite *suite

func TestMain(m *testing.M) {
	// e2e-framework parses the command line: its flags, go test's and
	// the suite's.
	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(2)
	}
	s, err := newSuite(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(2)
	}
	theSuite = s
	// Ctrl-C (and the SIGTERM CI sends) ends the run's context: the
	// session stops, the feature's Teardown and the Finish function still
	// run (deleting a cluster the run created).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal the default handling is back: a second
		// Ctrl-C stops the suite at once, without cleaning up.
		<-ctx.Done()
		stop()
	}()
	testenv, err := e2eenv.NewWithContext(ctx, cfg)
	if err != nil {
		stop()
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(2)
	}
	testenv.Setup(s.open).Finish(s.close)
	s.testenv = testenv
	code := testenv.Run(m)
	stop()
	if s.finishErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", s.finishErr)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// reportFileList names the report files, as -meshcheck.out's help says.
func reportFileList() string {
	var names []string
	for _, f := range report.Formats {
		names = append(names, runner.ReportFiles[f])
	}
	return strings.Join(names, ", ")
}

// suite is one run of the scenarios: the environment's opener, the
// session that runs them once the environment is open, and what stopped
// the run.
type suite struct {
	opener    env.Opener
	scenarios []*scenario.Scenario
	opts      runner.Options
	out       string
	started   time.Time
	testenv   types.Environment

	e    env.Environment // nil until open
	doc  report.Run      // the plan, and the error when the environment did not open
	sess *runner.Session

	// stopErr is the first error of the session: the run's report has
	// it, and closing the environment counts the run as failed.
	stopErr error
	// finishErr is closing's or writing the reports' error: the suite
	// then exits 1.
	finishErr error
}

// newSuite checks the flags, loads the scenarios and makes the
// environment's opener; its errors name the flag or file at fault.
func newSuite(cfg *envconf.Config) (*suite, error) {
	if !slices.Contains(env.Names(), *envFlag) {
		return nil, fmt.Errorf("-meshcheck.env %q: want one of %s", *envFlag, strings.Join(env.Names(), ", "))
	}
	if cfg.ParallelTestEnabled() {
		return nil, errors.New("--parallel: the scenarios share one environment and run one after the other")
	}
	for name, given := range map[string]bool{
		"--kubeconfig": cfg.KubeconfigFile() != "", "--context": cfg.KubeContext() != "",
		"-meshcheck.ingress-url": *ingressURLFlag != "", "-meshcheck.image-registry": *registryFlag != "",
	} {
		if given && *envFlag != env.Existing {
			return nil, fmt.Errorf("%s is for -meshcheck.env=existing, not %s", name, *envFlag)
		}
	}
	if *rateFlag < 0 || *rateFlag > loadgen.MaxRate {
		return nil, fmt.Errorf("-meshcheck.rate %d: want 1 to %d requests per second (0 keeps each probe's rate)", *rateFlag, loadgen.MaxRate)
	}
	if *programmedFlag <= 0 {
		return nil, fmt.Errorf("-meshcheck.programmed-timeout %s: want a positive duration, such as 60s", *programmedFlag)
	}
	if *outFlag == "" {
		return nil, errors.New("-meshcheck.out: want a folder, such as ../_out/e2e")
	}
	listing, err := validate.Find(*scenariosFlag)
	if err != nil {
		return nil, fmt.Errorf("-meshcheck.scenarios %s: %w", *scenariosFlag, err)
	}
	s := &suite{out: *outFlag, started: time.Now()}
	var bad []string
	for _, e := range listing.Entries {
		if e.Err != nil {
			bad = append(bad, e.Err.Error())
			continue
		}
		s.scenarios = append(s.scenarios, e.Scenario)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("-meshcheck.scenarios %s: %d of %d scenarios do not load:\n%s", *scenariosFlag, len(bad), len(listing.Entries), strings.Join(bad, "\n"))
	}
	if len(s.scenarios) == 0 {
		return nil, fmt.Errorf("-meshcheck.scenarios %s: no sub-folder holds a scenario.yaml", *scenariosFlag)
	}

	level := slog.LevelWarn
	var out io.Writer
	if testing.Verbose() {
		// go test -v: the info logs and each probe's report as it
		// finishes, as meshcheck run prints them.
		level, out = slog.LevelInfo, os.Stdout
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if s.opener, err = opener(cfg, log); err != nil {
		return nil, err
	}
	// The report when the environment does not open, until open says why.
	s.doc = runner.Plan(s.opener.Name(), s.opener.Emulated(), s.scenarios)
	s.opts = runner.Options{Out: out, Notices: os.Stderr, Log: log, Rate: *rateFlag, Timings: true,
		Debug: filepath.Join(s.out, runner.DebugDir)}
	return s, nil
}

// opener makes the environment -meshcheck.env names with the constructors
// meshcheck run uses.
func opener(cfg *envconf.Config, log *slog.Logger) (env.Opener, error) {
	switch *envFlag {
	case env.Kind:
		return kind.New(kind.WithLogger(log), kind.WithProgrammedTimeout(programmedAttempt))
	case env.Existing:
		return existing.New(
			existing.WithKubeconfig(cfg.KubeconfigFile()),
			existing.WithContext(cfg.KubeContext()),
			existing.WithIngressURL(*ingressURLFlag),
			existing.WithImageRegistry(*registryFlag),
			existing.WithProgrammedTimeout(programmedAttempt),
			existing.WithLogger(log),
		)
	}
	return local.NewOpener(local.WithLogger(log)), nil
}

// open is the suite's Setup function: it opens the environment (for kind
// creating the cluster, or reusing the one meshcheck up left) and starts
// the session.
func (s *suite) open(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return ctx, fmt.Errorf("-meshcheck.out %s: %w", s.out, err)
	}
	// A debug bundle of an earlier run would pass for this one's; the
	// report files are replaced.
	if err := os.RemoveAll(s.opts.Debug); err != nil {
		return ctx, fmt.Errorf("-meshcheck.out %s: %w", s.out, err)
	}
	e, doc, err := runner.Open(ctx, s.opener, s.scenarios)
	if err != nil {
		s.doc = doc
		fmt.Fprintf(os.Stderr, "e2e: opening the %s environment: %v\n", s.opener.Name(), err)
		return ctx, err
	}
	s.e = e
	if s.sess, err = runner.NewSession(e, s.scenarios, s.opts); err != nil {
		s.stopErr = err
		return ctx, err
	}
	return ctx, nil
}

// close is the suite's Finish function, which e2e-framework runs however
// the tests ended: it finishes the session, closes the environment (for
// kind deleting a cluster the run created; after a failure first the
// debug bundle) and writes the run's reports to -meshcheck.out.
func (s *suite) close(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	run := s.doc
	var err error
	if s.e != nil {
		if s.sess != nil {
			run, err = s.sess.Finish(s.stopErr)
		} else {
			run, err = runner.Plan(s.e.Name(), s.e.Emulated(), s.scenarios), s.stopErr
		}
		run, err = runner.Close(ctx, s.e, run, err, s.opts)
	}
	run.Phases = append(run.Phases, report.Phase{Name: report.PhaseTotal, Duration: time.Since(s.started)})
	var errs []error
	if err != nil && !errors.Is(err, s.stopErr) {
		// The session's own error already failed its test.
		errs = append(errs, err)
	}
	if werr := runner.WriteReports(s.out, run); werr != nil {
		errs = append(errs, fmt.Errorf("writing the reports: %w", werr))
	} else {
		fmt.Fprintf(os.Stderr, "e2e: reports written to %s\n", s.out)
	}
	if ok, _ := matchers.HavePassed().Match(run); !ok && s.e != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s\n", matchers.HavePassed().FailureMessage(run))
	}
	s.finishErr = errors.Join(errs...)
	return ctx, s.finishErr
}

// stopped records the first error of the session.
func (s *suite) stopped(err error) {
	if s.stopErr == nil {
		s.stopErr = err
	}
}
