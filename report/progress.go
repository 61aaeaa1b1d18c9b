package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/meshcheck/meshcheck/verify"
)

// ProgressState says where a running probe is.
type ProgressState string

// The states of a running probe.
const (
	// ProgressSettling: the unjudged settle phase, waiting for a run of good
	// responses.
	ProgressSettling ProgressState = "settling"
	// ProgressJudging: the judged requests, until the verdict decides or
	// the budget ends.
	ProgressJudging ProgressState = "judging"
	// ProgressDone: the probe ended (its report follows).
	ProgressDone ProgressState = "done"
)

// Progress is a snapshot of a running probe, for a live status line.
type Progress struct {
	// Time is when the snapshot was taken: redraws are throttled on it.
	Time time.Time
	// Scenario, Step and Probe name the probe.
	Scenario, Step, Probe string
	// Index is the probe's position in the run, from 1, of Total.
	Index, Total int
	State        ProgressState
	// Elapsed runs from the probe's first request.
	Elapsed time.Duration
	// SettleRequests is how many requests the settle phase has taken.
	SettleRequests int64
	// Requests is how many requests the verdict has judged.
	Requests int64
	// Rate is the achieved send rate, in requests per second, of the
	// current phase.
	Rate float64
	// Result is the verdict so far: each line's share and interval.
	Result verify.Result
}

// DefaultRedrawInterval is the least time between two redraws of a Live
// line: at most 10 a second.
const DefaultRedrawInterval = 100 * time.Millisecond

// Live draws the progress of the running probe as one status line on a
// terminal, redrawn in place; it writes nothing when its writer is not a
// terminal. Its Write puts other output (log lines) above the status line.
// It is safe for concurrent use.
type Live struct {
	mu sync.Mutex
	w  io.Writer
	// tty: the line is drawn; width > 0 cuts it to width-1 columns.
	tty   bool
	width int
	// every is the least time between two redraws of the same state.
	every time.Duration
	last  time.Time     // the Time of the snapshot last drawn
	state ProgressState // the state last drawn
	index int           // the probe last drawn
	line  string        // the line on screen ("" when none)
}

// NewLive returns a Live line on w: drawn when w is a terminal (an *os.File
// for which golang.org/x/term says so) and quiet is false, cut to the
// terminal's width.
func NewLive(w io.Writer, quiet bool) *Live {
	tty, width := false, 0
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = cols
		}
	}
	return newLive(w, tty, width)
}

func newLive(w io.Writer, tty bool, width int) *Live {
	return &Live{w: w, tty: tty, width: width, every: DefaultRedrawInterval}
}

// Drawn reports whether the line is drawn at all (a terminal, not quiet).
func (l *Live) Drawn() bool { return l.tty }

// Update draws p in place of the line on screen: at once when the probe or
// its state changed, else only when p is at least the redraw interval newer
// than the snapshot last drawn. A done probe's line is cleared, to make way
// for its report.
func (l *Live) Update(p Progress) {
	if !l.tty {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.State == ProgressDone {
		l.clear()
		l.state, l.last, l.index = p.State, p.Time, p.Index
		return
	}
	if p.State == l.state && p.Index == l.index && l.line != "" && p.Time.Sub(l.last) < l.every {
		return
	}
	l.last, l.state, l.index = p.Time, p.State, p.Index
	l.draw(l.fit(ProgressLine(p)))
}

// Write writes b (whole lines, such as a log record) above the status line:
// it clears the line, writes b and draws the line again.
func (l *Live) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := l.line
	l.clear()
	n, err := l.w.Write(b)
	if err == nil && line != "" {
		l.draw(line)
	}
	return n, err
}

// clear erases the line on screen, if any: carriage return, erase to the
// end of the line (ANSI EL).
func (l *Live) clear() {
	if l.line == "" {
		return
	}
	io.WriteString(l.w, "\r\033[K")
	l.line = ""
}

// draw replaces the line on screen with s.
func (l *Live) draw(s string) {
	io.WriteString(l.w, "\r\033[K"+s)
	l.line = s
}

// fit cuts s to the terminal's width less one column, so that it never
// wraps (a wrapped line would not be erased by the next redraw).
func (l *Live) fit(s string) string {
	if l.width <= 1 {
		return s
	}
	r := []rune(s)
	if len(r) < l.width {
		return s
	}
	return string(r[:l.width-1])
}

// ProgressLine is the status line of p: which probe, its state, time,
// requests and rate, and each line's share with its interval, as in
//
//	[1/2] echo/split-75-25/ingress judging 4.2s settled in 20 · 1,830 req 200/s · v1 74.1% [70.2%, 77.9%] · ...
func ProgressLine(p Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d] %s/%s/%s %s %.1fs", p.Index, p.Total, p.Scenario, p.Step, p.Probe, p.State, p.Elapsed.Seconds())
	switch p.State {
	case ProgressSettling:
		fmt.Fprintf(&b, " %s req %.0f/s", verify.Thousands(p.SettleRequests), p.Rate)
	default:
		if p.SettleRequests > 0 {
			fmt.Fprintf(&b, " settled in %s ·", verify.Thousands(p.SettleRequests))
		}
		fmt.Fprintf(&b, " %s req %.0f/s", verify.Thousands(p.Requests), p.Rate)
		for _, ln := range p.Result.Lines {
			if ln.Of == 0 {
				continue
			}
			fmt.Fprintf(&b, " · %s %s [%s, %s]", ln.Name, verify.Percent(ln.Share), verify.Percent(ln.Lower), verify.Percent(ln.Upper))
		}
	}
	return b.String()
}
