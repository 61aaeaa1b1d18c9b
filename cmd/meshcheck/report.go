package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/internal/cliflag"
	"github.com/meshcheck/meshcheck/report"
)

func init() { register(newReportCommand) }

func newReportCommand() *cobra.Command {
	format := string(report.FormatText)
	cmd := &cobra.Command{
		Use:   "report <saved.json> [--format text|json|junit|markdown|html]",
		Short: "Re-render a saved JSON report as text, JSON, JUnit XML or Markdown",
		Long: `Read a report that run, probe or judge wrote with -o json (or to a
--report-file ending in .json) and render it again in another format, on
stdout. The file must be a valid meshcheck.dev/report/v1 document
(docs/report.schema.json): an unknown or missing field, a wrong type or an
older or newer schema is an input error that names the file and the field.

Exit codes: 0 rendered (whatever the saved verdict: it is in the report),
2 usage or input error (the file is missing or not such a report), 4 the
output could not be written.`,
		Example: `  meshcheck run scenarios/echo -o json > run.json
  meshcheck report run.json --format junit > junit.xml
  meshcheck report run.json --format markdown >> "$GITHUB_STEP_SUMMARY"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(errors.New("give one saved JSON report, e.g. meshcheck report run.json --format junit"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return usageError(err)
			}
			defer f.Close()
			run, err := report.Decode(f, args[0])
			if err != nil {
				return usageError(err)
			}
			if err := report.Write(cmd.OutOrStdout(), report.Format(format), run); err != nil {
				return envError(fmt.Errorf("writing the report: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().Var(cliflag.Choice{P: &format, Choices: formatNames}, "format", "output format: text, json, junit, markdown or html")
	return cmd
}
