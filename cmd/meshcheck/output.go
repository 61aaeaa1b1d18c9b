package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/meshcheck/meshcheck/internal/cliflag"
	"github.com/meshcheck/meshcheck/report"
)

// stepSummaryEnv names the file GitHub Actions shows as the job's summary;
// run, probe and judge append their Markdown report to it when it is set.
const stepSummaryEnv = "GITHUB_STEP_SUMMARY"

// reportHelp is the help text of the report flags, shared by run, probe and
// judge.
const reportHelp = `Reports: -o picks the format of stdout: text (default), json (the versioned
schema meshcheck.dev/report/v1, docs/report.schema.json), junit (JUnit XML:
a testsuite per scenario, a testcase per probe; FAIL and INCONCLUSIVE are
failures, an environment error is an error), markdown or html (one
self-contained page with a chart per probe). --report-file F writes the
report to F as well (mode 0644, replaced), in the format its extension
names (.json, .xml for JUnit, .md, .html, .txt) or --report-format; stdout
keeps -o's format. When $GITHUB_STEP_SUMMARY is set, the Markdown report is
appended to that file (never truncated). meshcheck report re-renders a saved
JSON report.`

// reportFlags are the flags that say where a command's report goes: -o for
// stdout, --report-file and --report-format for a file.
type reportFlags struct {
	output     string
	file       string
	fileFormat string
}

// formatNames are the values -o and --report-format accept.
var formatNames = func() []string {
	var names []string
	for _, f := range report.Formats {
		names = append(names, string(f))
	}
	return names
}()

func (f *reportFlags) add(fl *pflag.FlagSet) {
	f.output = string(report.FormatText)
	fl.VarP(cliflag.Choice{P: &f.output, Choices: formatNames}, "output", "o", "format of stdout: text, json, junit, markdown or html")
	fl.StringVar(&f.file, "report-file", "", "also write the report to this file, in the format of its extension (.json, .xml = JUnit, .md = Markdown, .html, .txt) or of --report-format")
	fl.Var(cliflag.Choice{P: &f.fileFormat, Choices: formatNames}, "report-format", "format of --report-file, whatever its extension: text, json, junit, markdown or html")
}

// stdout is the format of stdout.
func (f reportFlags) stdout() report.Format { return report.Format(f.output) }

// check validates --report-file: a format follows from it, and its folder
// exists (so that a long run does not end unable to write it).
func (f reportFlags) check() error {
	if f.file == "" {
		if f.fileFormat != "" {
			return fmt.Errorf("--report-format %s: give --report-file too", f.fileFormat)
		}
		return nil
	}
	if _, err := f.format(); err != nil {
		return err
	}
	if st, err := os.Stat(filepath.Dir(f.file)); err != nil || !st.IsDir() {
		return fmt.Errorf("--report-file %s: its folder %s does not exist", f.file, filepath.Dir(f.file))
	}
	return nil
}

// format is --report-file's format.
func (f reportFlags) format() (report.Format, error) {
	if f.fileFormat != "" {
		return report.Format(f.fileFormat), nil
	}
	return report.FormatOf(f.file)
}

// write renders r on w in -o's format, then writes the files (see files).
func (f reportFlags) write(w io.Writer, r report.Run) error {
	if err := report.Write(w, f.stdout(), r); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return f.files(r)
}

// failed reports a run that ended in an error before it had a report of
// its own: stdout gets it in a machine format (in text, the error line on
// stderr says it all), the files as always.
func (f reportFlags) failed(w io.Writer, r report.Run) error {
	if f.stdout() != report.FormatText {
		if err := report.Write(w, f.stdout(), r); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	return f.files(r)
}

// files writes r to --report-file and appends it, as Markdown, to
// $GITHUB_STEP_SUMMARY when that is set.
func (f reportFlags) files(r report.Run) error {
	if f.file != "" {
		format, err := f.format()
		if err != nil {
			return err
		}
		if err := report.WriteFile(f.file, format, r); err != nil {
			return err
		}
	}
	if path := os.Getenv(stepSummaryEnv); path != "" {
		if err := report.AppendFile(path, report.FormatMarkdown, r); err != nil {
			return fmt.Errorf("$%s: %w", stepSummaryEnv, err)
		}
	}
	return nil
}
