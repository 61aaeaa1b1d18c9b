package report

import (
	"io"
	"strings"

	"github.com/meshcheck/meshcheck/verify"
)

// WriteMarkdown writes r as GitHub-flavoured Markdown, for a CI summary
// ($GITHUB_STEP_SUMMARY): a heading with the verdict, one table row per
// probe (verdict, requests, time, the verdict sentence), the phase times
// when timed, the error that
// stopped the run, then per probe its line table in a collapsed section.
func WriteMarkdown(w io.Writer, r Run) error {
	ew := &errWriter{w: w}
	c := r.counts()
	ew.printf("### meshcheck %s: %s\n\n", r.Command, r.Verdict)
	ew.printf("%s: %d PASS, %d FAIL, %d INCONCLUSIVE", plural(int64(len(r.Probes)), "probe"), c[verify.Pass], c[verify.Fail], c[verify.Inconclusive])
	if where := r.where(); where != "" {
		ew.printf(" in environment %s", where)
	}
	ew.printf(".\n")
	if r.Emulated {
		ew.printf("Emulated: the local model answered, not a real Envoy.\n")
	}
	if len(r.Phases) > 0 {
		ew.printf("Phases: %s.\n", phasesText(r.Phases))
	}
	for _, s := range r.Scenarios {
		if c := s.MeshCost; c != nil {
			ew.printf("Mesh cost of %s (after %s, %s): %s.\n", mdEscape(s.Name), mdEscape(c.After), plural(int64(c.Nodes), "node"), costText(*c))
		}
	}
	if r.Error != nil {
		ew.printf("\n**%s**\n", mdEscape(r.Error.Text()))
	}
	if len(r.Probes) == 0 {
		return ew.err
	}
	ew.printf("\n| probe | verdict | requests | time | why |\n|---|---|---:|---:|---|\n")
	for _, p := range r.Probes {
		ew.printf("| %s | **%s** | %s | %s | %s |\n", mdEscape(p.label()), p.Result.Verdict, verify.Thousands(p.Result.Requests),
			probeDuration(p.Stats.Settle.Duration+p.Stats.Duration), mdEscape(p.Sentence()))
	}
	for _, p := range r.Probes {
		ew.printf("\n<details><summary>%s: %s</summary>\n\n", htmlEscape(p.label()), p.Result.Verdict)
		ew.printf("| line | count | share | interval | expected | state |\n|---|---:|---:|---|---|---|\n")
		for _, row := range lineRows(p.Result) {
			for i := range row {
				row[i] = mdEscape(row[i])
			}
			ew.printf("| %s |\n", strings.Join(row, " | "))
		}
		ew.printf("\n")
		if !p.countsOnly() {
			s := p.Stats
			ew.printf("- requests: %s judged in %s, stopped: %s\n", verify.Thousands(s.Requests), probeDuration(s.Duration), probeStopText(s.Stopped))
			if s.Settle.Requests > 0 {
				ew.printf("- settle: %s in %s before judging (%s)\n", plural(s.Settle.Requests, "request"),
					probeDuration(s.Settle.Duration), statusText(s.Settle.StatusCodes, ", "))
			}
		}
		for _, n := range p.Notes {
			ew.printf("- note: %s\n", mdEscape(n))
		}
		ew.printf("\n</details>\n")
	}
	return ew.err
}

// mdEscape makes s safe in one table cell: no pipe, no line break, no HTML.
func mdEscape(s string) string {
	s = htmlEscape(probeOneLine(s))
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`").Replace(s)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
