package loadgen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshcheck/meshcheck/internal/textfmt"
)

// Defaults of the settle phase.
const (
	// DefaultSettleResponses is how many consecutive good responses end
	// the settle phase.
	DefaultSettleResponses = 20
	// DefaultSettleTimeout bounds the settle phase.
	DefaultSettleTimeout = 60 * time.Second
)

// ErrNotSettled marks the error of a probe whose target never gave a run of
// good responses within the settle timeout, or never answered at all: an
// environment error (exit 4), not a verdict.
var ErrNotSettled = errors.New("target did not settle")

// SettleStats describe the unjudged warm-up before the judged requests.
type SettleStats struct {
	// Requests is how many requests the settle phase took (0 without one).
	Requests int64
	// Duration runs from the first send to the send of the last settle
	// request.
	Duration time.Duration
	// StatusCodes counts the settle responses per status; 0 counts
	// requests that got no response.
	StatusCodes map[int]int64
}

// settler runs the settle phase on records in send order: it ends once need
// consecutive responses are good (successful and classified, any version;
// with Options.SettleAnyStatus, any response below 500), and fails when the
// target never answers or when timeout passes without such a run. The
// judged requests start right after the run: a stopping time chosen from
// unjudged data only (the records before it never reach the Sink), so the
// judged ones are as fresh a sample as if the attack had started there, and
// a sequential test fed from there keeps its error rates (see package verify
// on what feeds the engine).
type settler struct {
	need      int
	timeout   time.Duration
	anyStatus bool   // any response below 500 is good
	url       string // for the error
	run       int    // consecutive good responses so far
	done      bool
	stats     SettleStats
	first     time.Time
	last      time.Time
	answers   int64  // records with an HTTP status
	errText   string // the first transport error
	sample    string // the first body excerpt of a bad response
	unclass   string // the first unclassified reason
}

func newSettler(o Options, url string) settler {
	s := settler{need: o.SettleResponses, timeout: o.SettleTimeout, anyStatus: o.SettleAnyStatus, url: url}
	if s.need < 0 {
		s.done = true
	}
	return s
}

func (s *settler) good(r Record) bool {
	if s.anyStatus {
		return r.Status != 0 && r.Status < 500
	}
	return !r.isError() && r.Version != ""
}

// count adds r to the settle phase's statistics.
func (s *settler) count(r Record) {
	if s.stats.Requests == 0 {
		s.first = r.Time
		s.stats.StatusCodes = map[int]int64{}
	}
	s.stats.Requests++
	s.stats.StatusCodes[r.Status]++
	if r.Time.After(s.last) {
		s.last = r.Time
	}
	s.stats.Duration = s.last.Sub(s.first)
	switch {
	case r.Status == 0:
		if s.errText == "" {
			s.errText = r.Error
		}
	default:
		s.answers++
	}
	if r.Body != "" && s.sample == "" && !s.good(r) {
		s.sample = r.Body
	}
	if r.Unclassified != "" && s.unclass == "" {
		s.unclass = r.Unclassified
	}
}

// add takes the next record in send order and reports whether the settle
// phase is over with it, or the error that ends the probe.
func (s *settler) add(r Record) (settled bool, err error) {
	s.count(r)
	if s.good(r) {
		s.run++
	} else {
		s.run = 0
	}
	switch {
	case s.run >= s.need:
		s.done = true
		return true, nil
	case s.answers == 0 && s.stats.Requests >= int64(s.need):
		// Not one response: connection refused, DNS, TLS or proxy
		// failure. The endpoint is wrong or down, not misrouted.
		return false, fmt.Errorf("cannot reach %s: %s: %w", s.url, s.errText, ErrNotSettled)
	case r.Time.Sub(s.first) >= s.timeout:
		return false, fmt.Errorf("%s: no %d consecutive good responses within the settle timeout %s: %s: %w",
			s.url, s.need, s.timeout, s.saw(), ErrNotSettled)
	}
	return false, nil
}

// saw describes the settle phase's responses: counts per status, the first
// error, unclassified reason and body excerpt.
func (s *settler) saw() string {
	codes := slices.Sorted(maps.Keys(s.stats.StatusCodes))
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no response"
		}
		parts = append(parts, fmt.Sprintf("%s ×%s", name, textfmt.Thousands(s.stats.StatusCodes[c])))
	}
	out := fmt.Sprintf("saw %s in %s requests (%s)", strings.Join(parts, ", "), textfmt.Thousands(s.stats.Requests), s.stats.Duration.Round(time.Millisecond))
	if s.errText != "" {
		out += fmt.Sprintf("; first error %q", s.errText)
	}
	if s.unclass != "" {
		out += fmt.Sprintf("; unclassified: %s", s.unclass)
	}
	if s.sample != "" {
		out += fmt.Sprintf("; sample body %q", truncate(s.sample, 120))
	}
	return out
}
