package report

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/loadgen"
	"github.com/meshcheck/meshcheck/verify"
)

// WriteText writes the human report of a run: each probe's report, a blank
// line between them, and for `meshcheck run` the summary.
func WriteText(w io.Writer, r Run) error {
	for i, p := range r.Probes {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := WriteProbeText(w, p); err != nil {
			return err
		}
	}
	if r.Command != CommandRun {
		return nil
	}
	if len(r.Probes) > 0 {
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return WriteSummary(w, r)
}

// WriteSummary writes the last lines of a run's text report: the verdict
// with the count of probes per verdict and the environment, then the error
// that stopped the run, if any, the times of its phases, if timed, and the
// mesh's cost per scenario, where read.
func WriteSummary(w io.Writer, r Run) error {
	ew := &errWriter{w: w}
	c := r.counts()
	ew.printf("%-13s%s: %s (%d PASS, %d FAIL, %d INCONCLUSIVE) in environment %s\n", "summary", r.Verdict,
		plural(int64(len(r.Probes)), "probe"), c[verify.Pass], c[verify.Fail], c[verify.Inconclusive], r.where())
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			ew.printf("%-13sscenario %s: %s\n", "skipped", s.Name, s.Skipped)
		}
	}
	if r.Error != nil {
		ew.printf("%-13s%s\n", "error", r.Error.Text())
	}
	if ew.err != nil {
		return ew.err
	}
	if err := WritePhases(w, r); err != nil {
		return err
	}
	return writeCosts(w, r)
}

// WriteProbeText writes the human report of a probe: the target (when
// known), the verdict table, then the traffic (rates, requests, status codes, latency, error and
// unclassified samples) and the notes. A judgement of counts has only the
// verdict table.
func WriteProbeText(w io.Writer, p Probe) error {
	ew := &errWriter{w: w}
	if p.Target.URL != "" {
		ew.printf("%-13s%s\n", "target", targetText(p.Target))
	}
	if p.Vantage != "" {
		ew.printf("%-13s%s\n", "from", p.Vantage)
	}
	if p.Emulated {
		ew.printf("%-13s%s\n", "environment", "emulated: "+emulatedNote)
	}
	if ew.err != nil {
		return ew.err
	}
	if err := WriteVerdict(w, p.Title(), p.Result); err != nil {
		return err
	}
	if !p.countsOnly() {
		writeProbeStats(ew, p.Stats)
	}
	for _, n := range p.Notes {
		ew.printf("%-13s%s\n", "note", n)
	}
	return ew.err
}

// emulatedNote says what an emulated run means.
const emulatedNote = "the local model answered, not a real Envoy"

// targetText writes the request a probe sends: "GET http://x/echo  (Host:
// echo.local)".
func targetText(t loadgen.Target) string {
	method := t.Method
	if method == "" {
		method = "GET"
	}
	s := method + " " + t.URL
	if t.Host != "" {
		s += "  (Host: " + t.Host + ")"
	}
	return s
}

func writeProbeStats(ew *errWriter, s loadgen.Stats) {
	for _, row := range statsRows(s, "   ") {
		ew.printf("%-13s%s\n", row[0], row[1])
	}
	if s.Requests > 0 {
		ew.printf("%-13sp50 %s   p90 %s   p99 %s   max %s\n", "latency", probeDuration(s.Latency.P50),
			probeDuration(s.Latency.P90), probeDuration(s.Latency.P99), probeDuration(s.Latency.Max))
	}
	writeProbeSamples(ew, "errors", s.Errors, s.ErrorSamples)
	writeProbeSamples(ew, "unclassified", s.Unclassified, s.UnclassifiedSamples)
	writeProbeSamples(ew, "headers", s.Unmet, s.UnmetSamples)
}

// statsRows returns a probe's traffic as label and text: the rates, the
// settle phase (when there was one), the judged requests and the status
// codes (joined by sep), as the text report writes them.
func statsRows(s loadgen.Stats, sep string) [][2]string {
	rate := fmt.Sprintf("%s/s achieved", probeRate(s.RateAchieved))
	if s.RateAsked > 0 {
		rate = fmt.Sprintf("%s/s asked, %s", probeRate(s.RateAsked), rate)
	}
	rows := [][2]string{{"rate", rate}}
	if s.Settle.Requests > 0 {
		rows = append(rows, [2]string{"settle", fmt.Sprintf("%s in %s before judging (%s)", plural(s.Settle.Requests, "request"),
			probeDuration(s.Settle.Duration), statusText(s.Settle.StatusCodes, ", "))})
	}
	req := fmt.Sprintf("%s in %s", verify.Thousands(s.Requests), probeDuration(s.Duration))
	if s.Stopped != "" {
		req += ", stopped: " + probeStopText(s.Stopped)
	}
	if s.Ignored > 0 {
		req += fmt.Sprintf(" (%s more sent, not judged: in flight at the stop, or behind one that was)", verify.Thousands(s.Ignored))
	}
	rows = append(rows, [2]string{"requests", req})
	if len(s.StatusCodes) > 0 {
		rows = append(rows, [2]string{"status", statusText(s.StatusCodes, sep)})
	}
	return rows
}

// statusText writes counts per status, "200: 1,300" joined by sep; 0 is
// "no response".
func statusText(codes map[int]int64, sep string) string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no response"
		}
		parts = append(parts, fmt.Sprintf("%s: %s", name, verify.Thousands(codes[c])))
	}
	return strings.Join(parts, sep)
}

func writeProbeSamples(ew *errWriter, label string, n int64, samples []loadgen.Sample) {
	if n == 0 {
		return
	}
	ew.printf("%-13s%s\n", label, verify.Thousands(n))
	for _, s := range samples {
		status := strconv.Itoa(s.Status)
		if s.Status == 0 {
			status = "no response"
		}
		ew.printf("%-13s%s x%s: %s\n", "", status, verify.Thousands(s.Count), probeOneLine(s.Text))
		if s.Body != "" {
			ew.printf("%-13s  body: %s\n", "", strconv.Quote(s.Body))
		}
	}
}

func probeStopText(r loadgen.StopReason) string {
	switch r {
	case loadgen.StopDecided:
		return "verdict decided"
	case loadgen.StopMaxRequests:
		return "request budget spent"
	case loadgen.StopDuration:
		return "duration spent"
	case loadgen.StopCanceled:
		return "interrupted"
	case loadgen.StopError:
		return "error"
	case loadgen.StopEnd:
		return "end of file"
	}
	return string(r)
}

func probeOneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func probeRate(r float64) string {
	if r == math.Trunc(r) && r < math.MaxInt64 {
		return verify.Thousands(int64(r))
	}
	s := strconv.FormatFloat(r, 'f', 1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return s
	}
	return verify.Thousands(n) + "." + frac
}

// probeDuration rounds to three significant digits or so: 1.23ms, 45.6µs, 9.2s.
func probeDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
