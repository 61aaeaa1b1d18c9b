package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/meshcheck/meshcheck/env"
	"github.com/meshcheck/meshcheck/report"
	"github.com/meshcheck/meshcheck/scenario"
)

// ReportFiles names the file of each report format in Verify's output
// folder: one table for every format report.Formats lists (the
// conformance workflow reads summary.md and junit.xml).
var ReportFiles = map[report.Format]string{
	report.FormatText:     "report.txt",
	report.FormatJSON:     "report.json",
	report.FormatJUnit:    "junit.xml",
	report.FormatMarkdown: "summary.md",
	report.FormatHTML:     "report.html",
}

// DebugDir is the folder under Verify's output folder that receives the
// environment's debug bundle after a FAIL or an environment error.
const DebugDir = "debug"

// VerifyOptions shape Verify.
type VerifyOptions struct {
	// Options are the run's: Output and Out are what the terminal shows
	// while it runs.
	Options
	// OutDir is the folder that receives the run's reports, one file per
	// format named by ReportFiles; it is created (mode 0755) if missing, and
	// files in it are replaced.
	OutDir string
}

// Verify is `meshcheck verify`: it opens the environment o makes, runs
// every scenario in it, skipping those the environment cannot run
// (SkipUnsupported), closes it (Execute), prints the times of the run's
// phases (Timings, and the total) to Out and writes the run's report in
// every format to OutDir. Its errors are Execute's; a report that cannot be
// written is an EnvironmentError of a run that had none.
func Verify(ctx context.Context, o env.Opener, scenarios []*scenario.Scenario, vo VerifyOptions) (report.Run, error) {
	start := time.Now()
	if err := os.MkdirAll(vo.OutDir, 0o755); err != nil {
		return Plan(o.Name(), o.Emulated(), scenarios), &Error{Kind: InputError, Err: fmt.Errorf("output folder %s: %w", vo.OutDir, err)}
	}
	opts := vo.Options
	opts.SkipUnsupported, opts.Timings = true, true
	opts.Debug = filepath.Join(vo.OutDir, DebugDir)
	// A bundle of an earlier run would pass for this one's.
	if err := os.RemoveAll(opts.Debug); err != nil {
		return Plan(o.Name(), o.Emulated(), scenarios), &Error{Kind: InputError, Err: fmt.Errorf("output folder %s: %w", vo.OutDir, err)}
	}
	run, err := Execute(ctx, o, scenarios, opts)
	run.Phases = append(run.Phases, report.Phase{Name: report.PhaseTotal, Duration: time.Since(start)})
	if opts.Out != nil {
		if perr := report.WritePhases(opts.Out, run); perr != nil && opts.Log != nil {
			opts.Log.Error("writing the phase times failed", "error", perr)
		}
	}
	werr := WriteReports(vo.OutDir, run)
	if werr == nil && opts.Notices != nil {
		fmt.Fprintf(opts.Notices, "meshcheck: reports written to %s\n", vo.OutDir)
	}
	if werr != nil {
		if err == nil {
			return run, &Error{Kind: EnvironmentError, Err: fmt.Errorf("writing the reports: %w", werr)}
		}
		if opts.Log != nil {
			opts.Log.Error("writing the reports failed", "folder", vo.OutDir, "error", werr)
		}
	}
	return run, err
}

// WriteReports writes run's report to dir in every format report.Formats
// lists, one file per format named by ReportFiles, replacing files that
// exist; dir must exist. Verify and the e2e suite write their reports with
// it.
func WriteReports(dir string, run report.Run) error {
	var errs []error
	for _, f := range report.Formats {
		name, ok := ReportFiles[f]
		if !ok {
			errs = append(errs, fmt.Errorf("report format %s has no file name in runner.ReportFiles", f))
			continue
		}
		if err := report.WriteFile(filepath.Join(dir, name), f, run); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
