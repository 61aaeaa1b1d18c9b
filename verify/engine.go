package verify

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Method names the statistical method in results.
const Method = "beta-binomial mixture confidence sequences (Robbins 1970; Howard et al. 2021), weighted Bonferroni over lines"

// Verdict is the decision on a probe or on one line of it.
type Verdict int

// The verdicts. The zero value is Inconclusive: nothing decided yet.
const (
	Inconclusive Verdict = iota
	Pass
	Fail
)

// String returns "PASS", "FAIL" or "INCONCLUSIVE".
func (v Verdict) String() string {
	switch v {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	}
	return "INCONCLUSIVE"
}

// MarshalText writes the verdict as its String.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict written by MarshalText.
func (v *Verdict) UnmarshalText(b []byte) error {
	switch string(b) {
	case "PASS":
		*v = Pass
	case "FAIL":
		*v = Fail
	case "INCONCLUSIVE":
		*v = Inconclusive
	default:
		return fmt.Errorf("verdict %q: want PASS, FAIL or INCONCLUSIVE", b)
	}
	return nil
}

// Observation is what one request produced.
type Observation struct {
	// Status is the HTTP status; 0 means the request failed before a
	// response (connection refused, timeout, reset).
	Status int
	// Version is what the classifier read; "" when it could read nothing.
	Version string
}

// LineKind says what a result line counts.
type LineKind string

// The kinds of line.
const (
	KindVersion    LineKind = "version"    // a configured version
	KindUnexpected LineKind = "unexpected" // a version not in the expectation
	KindStatus     LineKind = "status"     // the expected status's share
	KindErrors     LineKind = "errors"     // errors among all requests
)

// Line is the verdict on one share.
type Line struct {
	Name  string   `json:"name"`
	Kind  LineKind `json:"kind"`
	Count int64    `json:"count"`
	// Of is the denominator: classified responses for versions, responses
	// for a status, all requests for errors.
	Of    int64   `json:"of"`
	Share float64 `json:"share"`
	// Lower and Upper bound the confidence sequence at the stopping point.
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	Expected float64 `json:"expected"`
	BandLow  float64 `json:"bandLow"`
	BandHigh float64 `json:"bandHigh"`
	State    Verdict `json:"state"`
	// Reason is one sentence on a failing line.
	Reason string `json:"reason,omitempty"`
}

// ErrorCounts splits the errors line by cause.
type ErrorCounts struct {
	Transport    int64 `json:"transport"`
	BadStatus    int64 `json:"badStatus"`
	Unclassified int64 `json:"unclassified"`
}

// Result is the state of a probe's verdict: final once Verdict is not
// Inconclusive.
type Result struct {
	Verdict     Verdict     `json:"verdict"`
	Requests    int64       `json:"requests"`
	Lines       []Line      `json:"lines"`
	Errors      ErrorCounts `json:"errors"`
	Expectation Expectation `json:"expectation"`
	Method      string      `json:"method"`
}

// Failures returns the Reason of every failing line.
func (r Result) Failures() []string {
	var out []string
	for _, l := range r.Lines {
		if l.State == Fail {
			out = append(out, l.Reason)
		}
	}
	return out
}

// line is the engine's running state for one tested or exact share.
type line struct {
	name     string
	kind     LineKind
	count    int64
	expected float64
	lo, hi   float64 // band
	tested   bool    // judged by its confidence sequence (else by an exact rule)
	cs       mixtureCS
	tr       tracker // follows cs over the line's counts (tested lines)
	// twin, on the second line of a complementary pair, is the first: its
	// sequence is this one's mirror, so its running mixture serves both.
	twin *line
	// logs of the band edges and their complements, for the decision rule
	logLo, log1mLo, logHi, log1mHi float64
	state                          Verdict // as of the last judgement
}

func newLine(name string, kind LineKind, expected, lo, hi float64, tested bool, cs mixtureCS) *line {
	l := &line{name: name, kind: kind, expected: expected, lo: lo, hi: hi, tested: tested, cs: cs,
		logLo: math.Log(lo), log1mLo: math.Log1p(-lo), logHi: math.Log(hi), log1mHi: math.Log1p(-hi)}
	if tested {
		l.tr = newTracker(&l.cs)
	}
	return l
}

// Engine folds observations into counts and decides, after each one, whether
// the evidence settles the verdict. It is not safe for concurrent use.
type Engine struct {
	exp        Expectation
	lines      []*line // versions (or the status line), in order
	index      map[string]*line
	unexpected []*line
	errLine    *line

	requests     int64
	classified   int64 // responses with a version (expected or not)
	responses    int64 // requests with a status (status mode)
	unexpCount   int64
	errs         ErrorCounts
	decided      bool
	verdict      Verdict // the decision, once decided
	final        *Result // the frozen result, built on first request
	statusMisses int64
}

// New returns an engine for exp, or the reason exp is invalid.
func New(exp Expectation) (*Engine, error) {
	if err := exp.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{exp: exp, index: map[string]*line{}}
	// α is split over the tested lines in proportion to their shares:
	// 1 per version sequence (or the status line), errorsAlphaShare for
	// the errors line.
	shares := 0.0
	if exp.ErrorBudget > 0 {
		shares += errorsAlphaShare
	}
	pair := false
	if exp.Status != 0 {
		shares++
	} else {
		positive := countPositive(exp.Weights)
		pair = positive == 2 && exp.UnexpectedBudget == 0
		shares += float64(positive)
		if pair {
			shares-- // the two shares are complementary: one sequence serves both
		}
	}
	unit := exp.Alpha / shares

	if exp.Status != 0 {
		// The status line tests the share of responses with the status;
		// its sequence is the budget sequence of the misses, mirrored.
		lo := clamp01(1 - exp.Tolerance)
		e.lines = append(e.lines, newLine("status "+strconv.Itoa(exp.Status), KindStatus, 1, lo, 1, true,
			budgetCS(exp.Tolerance, unit).mirror()))
	} else {
		var first *line
		for _, w := range exp.Weights {
			p := float64(w.Percent) / 100
			lo, hi := exp.band(p)
			var cs mixtureCS
			switch {
			case w.Percent == 0:
				cs = budgetCS(exp.Tolerance, exp.Alpha) // reported only
			case pair && first != nil:
				cs = first.cs.mirror()
			default:
				cs = versionCS(p, lo, hi, unit)
			}
			l := newLine(w.Version, KindVersion, p, lo, hi, w.Percent > 0, cs)
			switch {
			case l.tested && first == nil:
				first = l
			case l.tested && pair:
				l.twin = first
			}
			e.lines = append(e.lines, l)
			e.index[w.Version] = l
		}
	}
	if exp.ErrorBudget > 0 {
		e.errLine = newLine("errors", KindErrors, 0, 0, exp.ErrorBudget, true, budgetCS(exp.ErrorBudget, errorsAlphaShare*unit))
	} else {
		e.errLine = newLine("errors", KindErrors, 0, 0, 0, false, budgetCS(DefaultErrorBudget, exp.Alpha)) // reported only
	}
	return e, nil
}

func countPositive(ws []Weight) int {
	n := 0
	for _, w := range ws {
		if w.Percent > 0 {
			n++
		}
	}
	return n
}

// Observe records one observation and returns the verdict so far. Once the
// verdict is decided it is final: later observations are ignored.
func (e *Engine) Observe(o Observation) Verdict {
	if e.decided {
		return e.verdict
	}
	e.Record(o, 1)
	return e.Evaluate()
}

// Record adds n identical observations without judging them; call Evaluate
// afterwards. It is how a batch of counts is judged as one sample. Once the
// verdict is decided, Record ignores its arguments.
func (e *Engine) Record(o Observation, n int64) {
	if e.decided || n <= 0 {
		return
	}
	e.requests += n
	switch {
	case o.Status == 0:
		e.errs.Transport += n
		e.errLine.count += n
		return
	case e.exp.Status != 0:
		e.responses += n
		if o.Status == e.exp.Status {
			e.lines[0].count += n
		} else {
			e.statusMisses += n
		}
		return
	case o.Status < 100 || o.Status > 399:
		e.errs.BadStatus += n
		e.errLine.count += n
		return
	case o.Version == "":
		e.errs.Unclassified += n
		e.errLine.count += n
		return
	}
	e.classified += n
	if l, ok := e.index[o.Version]; ok {
		l.count += n
		if l.kind == KindUnexpected {
			e.unexpCount += n // every response of an unexpected version counts against the budget
		}
		return
	}
	l := newLine(o.Version, KindUnexpected, 0, 0, 0, false, budgetCS(e.exp.Tolerance, e.exp.Alpha))
	e.index[o.Version] = l
	e.unexpected = append(e.unexpected, l)
	l.count += n
	e.unexpCount += n
}

// Evaluate judges the counts recorded so far and returns the verdict; a
// decided verdict is frozen with its intervals. Evaluating after every
// observation costs O(lines) per observation.
func (e *Engine) Evaluate() Verdict {
	if !e.decided {
		if v := e.judgeAll(); v != Inconclusive {
			// Frozen: counts and line states no longer change, so the
			// result (intervals and all) is built when first asked for.
			e.decided, e.verdict = true, v
		}
	}
	return e.verdict
}

// judgeAll judges every line, caching each line's state, and combines them:
// FAIL if any line fails, PASS if all pass.
func (e *Engine) judgeAll() Verdict {
	allPass, anyFail := true, false
	add := func(l *line) {
		l.state = e.judge(l)
		switch l.state {
		case Fail:
			anyFail = true
		case Inconclusive:
			allPass = false
		}
	}
	for _, l := range e.lines {
		add(l)
	}
	for _, l := range e.unexpected {
		add(l)
	}
	add(e.errLine)
	switch {
	case anyFail:
		return Fail
	case allPass:
		return Pass
	}
	return Inconclusive
}

// Decided reports whether the verdict is final.
func (e *Engine) Decided() bool { return e.decided }

// Requests returns how many observations were recorded.
func (e *Engine) Requests() int64 { return e.requests }

// Result returns the verdict with every line's counts and intervals: frozen
// at the stopping point once decided, else the current, inconclusive state
// (whose lines are judged on the counts recorded so far).
func (e *Engine) Result() Result {
	if e.decided {
		if e.final == nil {
			r := e.snapshot(e.verdict)
			e.final = &r
		}
		r := *e.final
		r.Lines = slices.Clone(r.Lines)
		return r
	}
	e.judgeAll()
	return e.snapshot(Inconclusive)
}

func (e *Engine) allLines() []*line {
	out := make([]*line, 0, len(e.lines)+len(e.unexpected)+1)
	out = append(out, e.lines...)
	out = append(out, e.unexpected...)
	return append(out, e.errLine)
}

// denominator returns the number of trials behind a line's share.
func (e *Engine) denominator(l *line) int64 {
	switch l.kind {
	case KindErrors:
		return e.requests
	case KindStatus:
		return e.responses
	}
	return e.classified
}

// judge judges one line by its exact rule or its confidence sequence.
func (e *Engine) judge(l *line) Verdict {
	n := e.denominator(l)
	switch {
	case l.kind == KindUnexpected:
		if e.unexpCount > int64(e.exp.UnexpectedBudget) {
			return Fail
		}
		return Pass
	case !l.tested: // weight 0, or an error budget of 0
		if l.count > 0 {
			return Fail
		}
		return Pass
	case n == 0:
		return Inconclusive
	}
	s := l.count
	tr := &l.tr
	if t := l.twin; t != nil && s == n-t.count && t.tr.s == t.count && t.tr.n == n {
		tr = &t.tr // judged just before: same martingale, complementary counts
	} else {
		tr.follow(s, n)
	}
	v, near := l.decide(tr.mix, s, n)
	if near && tr.steps > 0 {
		// The running mixture may have drifted by rounding: take a
		// decision this close to the threshold on the exact one.
		tr.sync(tr.s, tr.n)
		v, _ = l.decide(tr.mix, s, n)
	}
	return v
}

// decide applies the decision rule of the package doc to a line with s
// successes in n trials and log-mixture mix: FAIL when the sequence lies
// wholly outside the band, PASS when it lies inside. near reports whether a
// statistic the rule looked at lies within confirmMargin of the threshold.
func (l *line) decide(mix float64, s, n int64) (v Verdict, near bool) {
	fs, ff := float64(s), float64(n-s)
	phat := fs / float64(n)
	t := l.cs.threshold
	// gap returns log M_n(edge) - threshold, noting near misses.
	gap := func(logP, log1mP float64) float64 {
		g := mix - fs*logP - ff*log1mP - t
		if math.Abs(g) < confirmMargin {
			near = true
		}
		return g
	}
	switch {
	case phat < l.lo:
		if gap(l.logLo, l.log1mLo) >= 0 {
			return Fail, near
		}
		return Inconclusive, near
	case phat > l.hi:
		if gap(l.logHi, l.log1mHi) >= 0 {
			return Fail, near
		}
		return Inconclusive, near
	}
	if (l.lo <= 0 || gap(l.logLo, l.log1mLo) >= 0) && (l.hi >= 1 || gap(l.logHi, l.log1mHi) >= 0) {
		return Pass, near
	}
	return Inconclusive, near
}

func (e *Engine) snapshot(v Verdict) Result {
	r := Result{Verdict: v, Requests: e.requests, Errors: e.errs, Expectation: e.exp, Method: Method}
	for _, l := range e.allLines() {
		n := e.denominator(l)
		out := Line{Name: l.name, Kind: l.kind, Count: l.count, Of: n, Expected: l.expected,
			BandLow: l.lo, BandHigh: l.hi, State: l.state}
		if n > 0 {
			out.Share = float64(l.count) / float64(n)
		}
		out.Lower, out.Upper = l.cs.interval(l.count, n)
		if out.State == Fail {
			out.Reason = e.reason(l, out)
		}
		r.Lines = append(r.Lines, out)
	}
	return r
}

// reason writes the one sentence a failing line gets, such as
// "v2: 41.2% [38.9%, 43.6%] of 1,830, expected 25% ± 5%".
func (e *Engine) reason(l *line, out Line) string {
	switch {
	case l.kind == KindUnexpected:
		return fmt.Sprintf("%s: %s from a version the expectation does not name (%s from such versions in all, %s allowed)",
			l.name, plural(l.count, "response"), Thousands(e.unexpCount), Thousands(int64(e.exp.UnexpectedBudget)))
	case l.kind == KindVersion && !l.tested:
		return fmt.Sprintf("%s: %s, expected none (weight 0)", l.name, plural(l.count, "response"))
	case l.kind == KindErrors && !l.tested:
		return fmt.Sprintf("errors: %s of %s failed, expected none (error budget 0)", Thousands(l.count), plural(out.Of, "request"))
	case l.kind == KindErrors:
		return fmt.Sprintf("errors: %s [%s, %s] of %s requests, budget %s",
			Percent(out.Share), Percent(out.Lower), Percent(out.Upper), Thousands(out.Of), Percent(l.hi))
	case l.kind == KindStatus:
		return fmt.Sprintf("%s: %s [%s, %s] of %s responses, expected at least %s",
			l.name, Percent(out.Share), Percent(out.Lower), Percent(out.Upper), Thousands(out.Of), Percent(l.lo))
	}
	return fmt.Sprintf("%s: %s [%s, %s] of %s, expected %s",
		l.name, Percent(out.Share), Percent(out.Lower), Percent(out.Upper), Thousands(out.Of), e.expectedText(l))
}

func (e *Engine) expectedText(l *line) string {
	if e.exp.Relative {
		return fmt.Sprintf("%s ± %s (band %s to %s)", Percent(l.expected), Percent(e.exp.Tolerance*l.expected), Percent(l.lo), Percent(l.hi))
	}
	return fmt.Sprintf("%s ± %s", Percent(l.expected), Percent(e.exp.Tolerance))
}

// plural writes n with the noun, "1 response" or "1,830 responses".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Thousands(n) + " " + noun + "s"
}

// Percent formats a share as a percentage with at most one decimal, "25%"
// or "41.2%".
func Percent(x float64) string {
	s := strconv.FormatFloat(math.Round(x*1000)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// Thousands formats n with comma separators: 1830 -> "1,830".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
