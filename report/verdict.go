// Package report holds meshcheck's one result model, Run, and its
// renderers: text (verdict tables and probe reports, for people), JSON (one
// versioned schema, docs/report.schema.json, for machines and for
// re-rendering), JUnit XML (for CI test reports) and Markdown (for CI
// summaries such as GitHub's $GITHUB_STEP_SUMMARY), and the live status
// line of a running probe on a terminal (Live, from Progress snapshots). It
// computes no statistics: verify decides, report renders.
package report

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meshcheck/meshcheck/verify"
)

// WriteVerdict writes the human verdict table of r under title: one row per
// line (name, count, share, confidence interval at the stopping point,
// expected share and band, state), then the overall verdict with the requests
// it used and one sentence per failing line, then the method and alpha. An
// empty title is left out.
//
//	v1=75,v2=25
//	  LINE     COUNT  SHARE  INTERVAL        EXPECTED  STATE
//	  v1       1,076  58.8%  [54.9%, 62.6%]  75% ± 5%  FAIL
//	  ...
//	verdict      FAIL after 1,830 requests
//	  - v2: 41.2% [37.4%, 45.1%] of 1,830, expected 25% ± 5%
//	method       beta-binomial mixture confidence sequences (...), alpha 0.001
func WriteVerdict(w io.Writer, title string, r verify.Result) error {
	vw := &errWriter{w: w}
	if title != "" {
		vw.printf("%s\n", title)
	}
	rows := append([][]string{{"LINE", "COUNT", "SHARE", "INTERVAL", "EXPECTED", "STATE"}}, lineRows(r)...)
	// Count is right-aligned, the other columns left-aligned.
	writeTable(vw, rows, map[int]bool{1: true})

	vw.printf("%-13s%s after %s\n", "verdict", r.Verdict, plural(r.Requests, "request"))
	switch r.Verdict {
	case verify.Fail:
		for _, reason := range r.Failures() {
			vw.printf("  - %s\n", reason)
		}
	case verify.Inconclusive:
		if s := undecidedText(r); s != "" {
			vw.printf("  - %s\n", s)
		}
	}
	vw.printf("%-13s%s\n", "method", methodText(r))
	return vw.err
}

// methodText names the method of r with its alpha, and FAIL's family alpha
// when it differs: the verdict table's last line.
func methodText(r verify.Result) string {
	method := r.Method
	if method == "" {
		method = verify.Method
	}
	failAlpha := ""
	if r.Expectation.FailAlpha > 0 && r.Expectation.FailAlpha != r.Expectation.Alpha {
		failAlpha = ", FAIL at alpha " + strconv.FormatFloat(r.Expectation.FailAlpha, 'g', -1, 64) + " (family)"
	}
	return method + ", alpha " + strconv.FormatFloat(r.Expectation.Alpha, 'g', -1, 64) + failAlpha
}

// undecidedText names the lines of r still INCONCLUSIVE and what would
// decide them; "" when none is.
func undecidedText(r verify.Result) string {
	open := undecided(r)
	if len(open) == 0 {
		return ""
	}
	return "undecided: " + strings.Join(open, ", ") + "; more requests would narrow their intervals"
}

// lineRows returns one row per line of r: name, count, share, interval,
// expected share and state, as the text and Markdown tables show them.
func lineRows(r verify.Result) [][]string {
	var rows [][]string
	for _, l := range r.Lines {
		rows = append(rows, []string{l.Name, verify.Thousands(l.Count), share(l), interval(l), expected(l, r.Expectation), l.State.String()})
	}
	return rows
}

// writeTable writes rows indented by two spaces, columns separated by two
// spaces and padded to their widest cell (in runes).
func writeTable(vw *errWriter, rows [][]string, right map[int]bool) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			last := i == len(row)-1
			switch {
			case right[i]:
				b.WriteString(pad + cell)
			case last:
				b.WriteString(cell)
			default:
				b.WriteString(cell + pad)
			}
			if !last {
				b.WriteString("  ")
			}
		}
		vw.printf("%s\n", b.String())
	}
}

// exact reports whether a line is judged by an exact rule, not by its
// confidence sequence: weight 0, unexpected versions, an error budget of 0.
func exact(l verify.Line) bool {
	switch l.Kind {
	case verify.KindUnexpected:
		return true
	case verify.KindVersion:
		return l.Expected == 0
	case verify.KindErrors:
		return l.BandHigh == 0
	}
	return false
}

func share(l verify.Line) string {
	if l.Of == 0 {
		return "-"
	}
	return verify.Percent(l.Share)
}

func interval(l verify.Line) string {
	switch {
	case exact(l):
		return "exact rule"
	case l.Of == 0:
		return "-"
	}
	return "[" + verify.Percent(l.Lower) + ", " + verify.Percent(l.Upper) + "]"
}

// expected writes what a line should show: a share and its band, a bound, or
// none at all.
func expected(l verify.Line, e verify.Expectation) string {
	switch l.Kind {
	case verify.KindUnexpected:
		if e.UnexpectedBudget == 0 {
			return "none"
		}
		return "≤ " + verify.Thousands(int64(e.UnexpectedBudget)) + " in all"
	case verify.KindErrors:
		if l.BandHigh == 0 {
			return "none"
		}
		return "≤ " + verify.Percent(l.BandHigh)
	case verify.KindStatus:
		return "≥ " + verify.Percent(l.BandLow)
	}
	if l.Expected == 0 {
		return "none (weight 0)"
	}
	half := e.Tolerance
	if e.Relative {
		half *= l.Expected
	}
	return verify.Percent(l.Expected) + " ± " + verify.Percent(half)
}

// plural writes n with the noun, "1 request" or "1,830 requests".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return verify.Thousands(n) + " " + noun + "s"
}
