package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshcheck/meshcheck/verify"
)

// clearLine is what Live writes to erase its line.
const clearLine = "\r\033[K"

func progressAt(t0 time.Time, ms int, state ProgressState, requests int64) Progress {
	return Progress{
		Time: t0.Add(time.Duration(ms) * time.Millisecond), Scenario: "echo", Step: "split-75-25", Probe: "ingress",
		Index: 1, Total: 2, State: state, Elapsed: time.Duration(ms) * time.Millisecond, SettleRequests: 20,
		Requests: requests, Rate: 200,
		Result: verify.Result{Lines: []verify.Line{
			{Name: "v1", Kind: verify.KindVersion, Count: 3 * requests / 4, Of: requests, Share: 0.75, Lower: 0.7, Upper: 0.8},
			{Name: "v2", Kind: verify.KindVersion, Count: requests / 4, Of: requests, Share: 0.25, Lower: 0.2, Upper: 0.3},
		}},
	}
}

func TestLiveThrottlesRedrawsOnEventTime(t *testing.T) {
	var term bytes.Buffer
	l := newLive(&term, true, 0)
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

	l.Update(progressAt(t0, 0, ProgressSettling, 0))
	if got := term.String(); !strings.HasPrefix(got, clearLine+"[1/2] echo/split-75-25/ingress settling") {
		t.Fatalf("first update drew %q", got)
	}
	// Within the interval, in the same state: no redraw.
	term.Reset()
	l.Update(progressAt(t0, 50, ProgressSettling, 0))
	if term.Len() != 0 {
		t.Errorf("a redraw 50ms after the last: %q", term.String())
	}
	// A change of state draws at once.
	l.Update(progressAt(t0, 60, ProgressJudging, 100))
	if got := term.String(); !strings.Contains(got, "judging") || !strings.Contains(got, "v1 75% [70%, 80%]") {
		t.Errorf("state change drew %q", got)
	}
	term.Reset()
	l.Update(progressAt(t0, 159, ProgressJudging, 200))
	if term.Len() != 0 {
		t.Errorf("a redraw 99ms after the last: %q", term.String())
	}
	l.Update(progressAt(t0, 160, ProgressJudging, 300))
	if got := term.String(); !strings.Contains(got, " 300 req ") {
		t.Errorf("a redraw 100ms after the last drew %q", got)
	}
	// So 10 s of snapshots every 10 ms draw at most 10 a second.
	term.Reset()
	for ms := 200; ms < 10200; ms += 10 {
		l.Update(progressAt(t0, ms, ProgressJudging, int64(ms)))
	}
	if n := strings.Count(term.String(), clearLine); n > 100 || n < 90 {
		t.Errorf("%d redraws in 10 s of snapshots, want about 100", n)
	}
	// Another probe draws at once.
	term.Reset()
	next := progressAt(t0, 10201, ProgressJudging, 5)
	next.Index, next.Probe = 2, "in-mesh"
	l.Update(next)
	if !strings.Contains(term.String(), "[2/2] echo/split-75-25/in-mesh") {
		t.Errorf("the next probe drew %q", term.String())
	}
	// Done clears the line for the report.
	term.Reset()
	l.Update(progressAt(t0, 10202, ProgressDone, 5))
	if term.String() != clearLine {
		t.Errorf("done wrote %q, want only the erase", term.String())
	}
	term.Reset()
	l.Update(progressAt(t0, 10203, ProgressDone, 5))
	if term.Len() != 0 {
		t.Errorf("a second done wrote %q to a clear line", term.String())
	}
}

func TestLiveWritesLogsAboveTheLine(t *testing.T) {
	var term bytes.Buffer
	l := newLive(&term, true, 0)
	l.Update(progressAt(time.Now(), 0, ProgressSettling, 0))
	line := strings.TrimPrefix(term.String(), clearLine)
	term.Reset()
	if _, err := l.Write([]byte("level=INFO msg=step\n")); err != nil {
		t.Fatal(err)
	}
	if want := clearLine + "level=INFO msg=step\n" + clearLine + line; term.String() != want {
		t.Errorf("log write: %q, want %q", term.String(), want)
	}
	term.Reset()
	l.Update(Progress{State: ProgressDone})
	if term.String() != clearLine {
		t.Errorf("done wrote %q", term.String())
	}
	// With no line on screen a log line is written as is.
	term.Reset()
	l.Write([]byte("x\n"))
	if term.String() != "x\n" {
		t.Errorf("log write without a line: %q", term.String())
	}
}

func TestLiveFitsTheTerminal(t *testing.T) {
	var term bytes.Buffer
	l := newLive(&term, true, 40)
	l.Update(progressAt(time.Now(), 0, ProgressJudging, 1000))
	line := strings.TrimPrefix(term.String(), clearLine)
	if n := len([]rune(line)); n != 39 {
		t.Errorf("a line of %d columns on a terminal of 40: %q", n, line)
	}
}

func TestLiveQuietWhenNotATerminal(t *testing.T) {
	var out bytes.Buffer
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, l := range map[string]*Live{
		"buffer": NewLive(&out, false), "file": NewLive(f, false), "quiet": NewLive(os.Stderr, true),
	} {
		if l.Drawn() {
			t.Errorf("%s: drawn", name)
		}
		l.Update(progressAt(time.Now(), 0, ProgressJudging, 10))
		l.Update(progressAt(time.Now(), 1, ProgressDone, 10))
	}
	if out.Len() != 0 {
		t.Errorf("not a terminal, yet wrote %q", out.String())
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("a file got %d bytes", st.Size())
	}
	l := NewLive(&out, false)
	l.Write([]byte("level=INFO msg=step\n"))
	if out.String() != "level=INFO msg=step\n" {
		t.Errorf("log lines pass through: %q", out.String())
	}
}

func TestProgressLine(t *testing.T) {
	t0 := time.Now()
	settling := progressAt(t0, 1500, ProgressSettling, 0)
	settling.SettleRequests, settling.Rate = 1234, 199.6
	if got, want := ProgressLine(settling), "[1/2] echo/split-75-25/ingress settling 1.5s 1,234 req 200/s"; got != want {
		t.Errorf("settling: %q, want %q", got, want)
	}
	judging := progressAt(t0, 4200, ProgressJudging, 1830)
	judging.Result.Lines = append(judging.Result.Lines, verify.Line{Name: "errors", Kind: verify.KindErrors, Of: 1830, Upper: 0.006})
	want := "[1/2] echo/split-75-25/ingress judging 4.2s settled in 20 · 1,830 req 200/s · v1 75% [70%, 80%] · v2 25% [20%, 30%] · errors 0% [0%, 0.6%]"
	if got := ProgressLine(judging); got != want {
		t.Errorf("judging: %q, want %q", got, want)
	}
	// Lines without a denominator yet say nothing.
	judging.Result.Lines[0].Of = 0
	if got := ProgressLine(judging); strings.Contains(got, "v1") {
		t.Errorf("a line of nothing shown: %q", got)
	}
}
